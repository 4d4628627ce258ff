//! vigild under systemd (`Type=notify`, `packaging/vigild.service`): when its own
//! environment has `NOTIFY_SOCKET`, vigild tells its manager `READY=1` once the autostart
//! fleet has reached its first states (nothing STARTING, no start on its way), `STATUS=`
//! with counts (`12 running, 1 backoff`, at most every 2 s), `RELOADING=1` and `READY=1`
//! around a reload, `STOPPING=1` at shutdown, and `WATCHDOG=1` at half of `WATCHDOG_USEC`
//! while the supervisor still answers. Programs inherit the variables with the rest of
//! vigild's environment, as under supervisord (a `ready=notify` program gets vigild's own
//! socket instead); with `NotifyAccess=main` systemd ignores what they send.
//!
//! It only reads the snapshot and asks the supervisor whether it is alive; every send is
//! a non-blocking datagram, and one that fails is dropped.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::process::state::StateKind;
use crate::supervisor::{Control, Handle, Snapshot, SupervisorState};

/// The least time between two `STATUS=` updates.
const STATUS_EVERY: Duration = Duration::from_secs(2);
/// The least time between two looks at whether a starting fleet has settled.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// vigild's service manager, as its environment names it.
pub struct Manager {
    socket: UnixDatagram,
    address: SocketAddr,
    /// Half of `WATCHDOG_USEC`, when the watchdog is on for vigild.
    watchdog: Option<Duration>,
}

impl Manager {
    /// The manager `env` names (`NOTIFY_SOCKET`: a path, or `@name` in the abstract
    /// namespace), if any and reachable.
    pub fn from_env(env: &[(String, String)]) -> Option<Manager> {
        let get = |name: &str| env.iter().find(|(key, _)| key == name).map(|(_, v)| v);
        let target = get("NOTIFY_SOCKET")?;
        let address = match target.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
            None => SocketAddr::from_pathname(target),
        }
        .ok()?;
        let socket = UnixDatagram::unbound().ok()?;
        socket.set_nonblocking(true).ok()?;
        let for_us =
            get("WATCHDOG_PID").is_none_or(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = get("WATCHDOG_USEC")
            .filter(|_| for_us)
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0)
            .map(|usec| Duration::from_micros(usec / 2));
        Some(Manager {
            socket,
            address,
            watchdog,
        })
    }

    fn send(&self, text: &str) {
        if let Err(err) = self.socket.send_to_addr(text.as_bytes(), &self.address) {
            tracing::debug!("could not notify the service manager ({err}): {text}");
        }
    }
}

/// Where vigild is in its manager's eyes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Ready,
    Reloading,
    Stopping,
}

/// Tells `manager` how vigild is doing, following the supervisor behind `handle`, until
/// the supervisor ends.
pub async fn follow(manager: Manager, handle: Handle) {
    let mut snapshots = handle.watch();
    let mut phase = Phase::Starting;
    let mut last_status = (String::new(), Instant::now());
    let mut watchdog = manager.watchdog.map(tokio::time::interval);
    loop {
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
                let snapshot = snapshots.borrow_and_update().clone();
                phase = step(&manager, phase, &snapshot, &mut last_status);
                if matches!(phase, Phase::Starting | Phase::Reloading) {
                    // Whether the fleet has settled is a look at every process: at most
                    // every LOOK_EVERY, however fast a big autostart publishes.
                    tokio::time::sleep(LOOK_EVERY).await;
                }
            }
            () = tick(&mut watchdog) => {
                if alive(&handle).await {
                    manager.send("WATCHDOG=1");
                }
            }
        }
    }
}

/// What one snapshot changes in what the manager is told.
fn step(
    manager: &Manager,
    phase: Phase,
    snapshot: &Snapshot,
    last_status: &mut (String, Instant),
) -> Phase {
    match (phase, snapshot.state) {
        (Phase::Stopping, _) => Phase::Stopping,
        (_, SupervisorState::Shutdown) => {
            manager.send("STOPPING=1\nSTATUS=stopping");
            Phase::Stopping
        }
        (Phase::Ready, SupervisorState::Restarting) => {
            manager.send(&format!(
                "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading",
                monotonic_usec()
            ));
            Phase::Reloading
        }
        (Phase::Starting | Phase::Reloading, SupervisorState::Running)
            if snapshot.autostarted && settled(snapshot) =>
        {
            let status = status(snapshot);
            manager.send(&format!("READY=1\nSTATUS={status}"));
            *last_status = (status, Instant::now());
            Phase::Ready
        }
        (Phase::Ready, SupervisorState::Running) => {
            if last_status.1.elapsed() >= STATUS_EVERY {
                let status = status(snapshot);
                if status != last_status.0 {
                    manager.send(&format!("STATUS={status}"));
                }
                *last_status = (status, Instant::now());
            }
            Phase::Ready
        }
        (phase, _) => phase,
    }
}

/// Every process has reached a first state: none STARTING, no start on its way.
fn settled(snapshot: &Snapshot) -> bool {
    snapshot
        .processes
        .iter()
        .all(|p| !p.start_pending && p.state.kind() != StateKind::Starting)
}

/// `12 running, 1 backoff`: the count of each state present, in a fixed order.
fn status(snapshot: &Snapshot) -> String {
    const ORDER: [StateKind; 8] = [
        StateKind::Running,
        StateKind::Starting,
        StateKind::Backoff,
        StateKind::Stopping,
        StateKind::Exited,
        StateKind::Fatal,
        StateKind::Stopped,
        StateKind::Unknown,
    ];
    let mut counts = [0usize; ORDER.len()];
    for process in snapshot.processes.iter() {
        if let Some(at) = ORDER.iter().position(|kind| *kind == process.state.kind()) {
            counts[at] += 1;
        }
    }
    let parts: Vec<String> = ORDER
        .iter()
        .zip(counts)
        .filter(|(_, count)| *count > 0)
        .map(|(kind, count)| format!("{count} {}", kind.name().to_ascii_lowercase()))
        .collect();
    if parts.is_empty() {
        "no processes".to_string()
    } else {
        parts.join(", ")
    }
}

async fn tick(watchdog: &mut Option<tokio::time::Interval>) {
    match watchdog {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Whether the supervisor answers within a second.
async fn alive(handle: &Handle) -> bool {
    let (reply, answer) = oneshot::channel();
    handle.send(Control::Alive(reply))
        && tokio::time::timeout(Duration::from_secs(1), answer)
            .await
            .is_ok_and(|answered| answered.is_ok())
}

/// `CLOCK_MONOTONIC` in microseconds, as `MONOTONIC_USEC=` wants it.
fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |now| {
        u64::try_from(now.tv_sec()).unwrap_or(0) * 1_000_000
            + u64::try_from(now.tv_nsec()).unwrap_or(0) / 1000
    })
}
