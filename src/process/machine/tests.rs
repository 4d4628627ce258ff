//! The state machine's transitions, without processes.

use super::*;
use crate::config::{LogTarget, StreamLog};
use crate::process::state::Retry;
use crate::process::step::CrashFacts;

/// BACKOFF with a retry in a second.
fn backoff() -> State {
    State::Backoff {
        retry: Retry {
            at: Instant::now(),
            delay: Duration::from_secs(1),
            crash_loop: false,
        },
    }
}

fn config() -> ProcessConfig {
    let log = StreamLog {
        target: LogTarget::None,
        maxbytes: 0,
        backups: 0,
        rotate_every: None,
        compress: None,
        json: false,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
        timestamps: false,
        tail_bytes: 0,
    };
    ProcessConfig {
        name: "app".into(),
        group: "app".into(),
        program: "app".into(),
        priority: 999,
        command: "/bin/true".into(),
        autostart: true,
        autorestart: AutoRestart::Unexpected,
        startsecs: 1,
        startretries: Some(3),
        backoff_max: None,
        exitcodes: vec![0],
        stopsignal: Signal::SIGTERM,
        stopwaitsecs: 10,
        stopasgroup: false,
        killasgroup: false,
        user: None,
        redirect_stderr: false,
        stdout: log.clone(),
        stderr: log,
        environment: vec![],
        environment_file: None,
        directory: None,
        umask: None,
        serverurl: None,
        fcgi_socket: None,
        listener: None,
        log_markers: false,
        memory_limit: None,
        crash_loop: crate::config::CrashLoopPolicy {
            threshold: 0,
            window: Duration::from_secs(60),
            delay: Duration::from_secs(1),
            delay_max: Duration::from_secs(300),
            reset: Duration::from_secs(600),
            giveup: None,
        },
        crash_records: crate::config::CrashRecordPolicy {
            tail_lines: 50,
            history: 20,
        },
        previous_tail_bytes: 64 << 10,
        health_check: None,
        depends_on: Vec::new(),
        essential: false,
        ready: crate::config::Readiness::StartSecs,
        ready_timeout: Duration::from_secs(90),
        watchdog: None,
        reload_signal: None,
        controls: crate::config::ResourceControls::default(),
        schedules: crate::config::Schedules::default(),
    }
}

fn at(base: Instant, secs: u64) -> Clock {
    Clock {
        now: base + Duration::from_secs(secs),
        wall: SystemTime::now(),
    }
}

fn names(step: &Step) -> Vec<&'static str> {
    step.changes.iter().map(|c| c.to.name()).collect()
}

fn logs(step: &Step) -> Vec<String> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn spawn_then_startsecs_reaches_running() {
    let cfg = config();
    let base = Instant::now();
    let mut p = Process::default();
    let step = p
        .apply(Input::Spawned { pid: 42 }, &cfg, at(base, 0))
        .expect("spawn");
    assert_eq!(names(&step), ["STARTING"]);
    assert_eq!(logs(&step), ["spawned: 'app' with pid 42"]);
    assert!(step.effects.contains(&Effect::Arm {
        timer: Timer::StartSecs,
        after: Duration::from_secs(1)
    }));
    let step = p
        .apply(Input::StartSecsElapsed, &cfg, at(base, 1))
        .expect("running");
    assert_eq!(
        p.state,
        State::Running {
            pid: 42,
            health: None
        }
    );
    assert_eq!(
        logs(&step),
        ["success: app entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"]
    );
}

#[test]
fn quick_exits_back_off_linearly_then_go_fatal() {
    let cfg = ProcessConfig {
        startretries: Some(2),
        ..config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    let mut delays = Vec::new();
    for attempt in 0..3 {
        p.apply(Input::Spawned { pid: 10 + attempt }, &cfg, at(base, 0))
            .expect("spawn");
        let step = p
            .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 0))
            .expect("exit");
        assert_eq!(logs(&step)[0], "exited: app (exit status 1; not expected)");
        for effect in &step.effects {
            if let Effect::Arm {
                timer: Timer::Retry,
                after,
            } = effect
            {
                delays.push(after.as_secs());
            }
        }
        if attempt == 2 {
            assert_eq!(names(&step), ["BACKOFF", "FATAL"]);
            assert!(logs(&step).contains(
                &"gave up: app entered FATAL state, too many start retries too quickly".to_string()
            ));
        } else {
            assert_eq!(names(&step), ["BACKOFF"]);
        }
    }
    assert_eq!(delays, [1, 2]);
    assert_eq!(p.state, State::Fatal);
    assert_eq!(p.backoff, 0);
    assert_eq!(p.spawnerr, Some(SpawnError::ExitedTooQuickly));
}

#[test]
fn spawn_errors_back_off_and_keep_spawnerr() {
    let cfg = ProcessConfig {
        startretries: Some(0),
        ..config()
    };
    let mut p = Process::default();
    let error = SpawnError::CommandNotFound {
        argv0: "nope".into(),
    };
    let step = p
        .apply(
            Input::SpawnFailed {
                error: error.clone(),
            },
            &cfg,
            Clock::now(),
        )
        .expect("applies");
    assert_eq!(names(&step), ["STARTING", "BACKOFF", "FATAL"]);
    assert_eq!(p.spawnerr, Some(error));
    let chain: Vec<_> = step.changes.iter().map(|c| (c.from, c.to, c.pid)).collect();
    assert_eq!(
        chain,
        [
            (StateKind::Stopped, StateKind::Starting, None),
            (StateKind::Starting, StateKind::Backoff, None),
            (StateKind::Backoff, StateKind::Fatal, None),
        ],
        "states passed through chain, and no child is named"
    );
    assert_eq!(p.state, State::Fatal);
}

#[test]
fn health_verdicts_belong_to_the_child_and_end_with_it() {
    let cfg = ProcessConfig {
        health_check: Some(crate::config::HealthCheck {
            probe: crate::config::Probe::Command("true".into()),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            retries: 3,
            start_period: Duration::ZERO,
        }),
        ..config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 5 }, &cfg, at(base, 0))
        .expect("spawn");
    assert_eq!(p.state.health(), Some(Health::Starting));
    let step = p
        .apply(Input::Health(Health::Healthy), &cfg, at(base, 0))
        .expect("verdict");
    assert!(step.changes.is_empty(), "a verdict is no state change");
    p.apply(Input::StartSecsElapsed, &cfg, at(base, 1))
        .expect("running");
    assert_eq!(
        p.state,
        State::Running {
            pid: 5,
            health: Some(Health::Healthy)
        },
        "the verdict carries into RUNNING"
    );
    p.apply(Input::Health(Health::Unhealthy), &cfg, at(base, 2))
        .expect("verdict");
    p.apply(Input::Restart(ExitReason::Unhealthy), &cfg, at(base, 2))
        .expect("restart");
    assert_eq!(
        p.state.health(),
        Some(Health::Unhealthy),
        "shown while stopping"
    );
    let step = p
        .apply(Input::Exited(ExitOutcome::Exited(0)), &cfg, at(base, 3))
        .expect("exit");
    assert!(step.effects.contains(&Effect::Respawn));
    assert_eq!(p.state.health(), None, "no child, no health");
    assert_eq!(
        p.apply(Input::Health(Health::Healthy), &cfg, at(base, 3)),
        Err(Refused::Ignored),
        "a late verdict on a gone child"
    );
}

#[test]
fn a_signal_failure_keeps_the_reason_of_the_stop() {
    let cfg = config();
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 6 }, &cfg, Clock::now())
        .expect("spawn");
    p.apply(Input::Restart(ExitReason::MemoryLimit), &cfg, Clock::now())
        .expect("restart");
    let failed = Input::SignalFailed {
        error: "EPERM".into(),
    };
    p.apply(failed.clone(), &cfg, Clock::now())
        .expect("unknown");
    assert_eq!(
        p.state,
        State::Unknown {
            pid: 6,
            reason: ExitReason::MemoryLimit
        }
    );
    let step = p
        .apply(Input::Exited(ExitOutcome::Exited(0)), &cfg, Clock::now())
        .expect("exit");
    assert_eq!(step.exit_reason, Some(ExitReason::MemoryLimit));
    assert!(step.effects.contains(&Effect::Respawn));
    assert_eq!(
        p.apply(failed, &cfg, Clock::now()),
        Err(Refused::Ignored),
        "no child to fail to signal"
    );
}

#[test]
fn signalled_children_and_held_starts_are_recorded_through_apply() {
    let cfg = config();
    let mut p = Process::default();
    assert_eq!(
        p.apply(Input::Signalled, &cfg, Clock::now()),
        Err(Refused::Ignored),
        "no child to have signalled"
    );
    p.apply(Input::Spawned { pid: 9 }, &cfg, Clock::now())
        .expect("spawn");
    p.apply(Input::Signalled, &cfg, Clock::now())
        .expect("signalled");
    let killed = ExitOutcome::Signaled {
        signal: libc::SIGUSR1,
        core_dumped: false,
    };
    let step = p
        .apply(Input::Exited(killed), &cfg, Clock::now())
        .expect("exit");
    assert_eq!(
        step.exit_reason,
        Some(ExitReason::Stopped),
        "a death by signalProcess is no crash"
    );
    assert!(p.spawnerr.is_some());
    let why = SpawnError::DependencyFatal {
        dependency: "db".into(),
    };
    p.apply(
        Input::StartHeld {
            why: Some(why.clone()),
        },
        &cfg,
        Clock::now(),
    )
    .expect("held");
    assert_eq!(p.spawnerr(), Some(&why));
    p.apply(Input::StartHeld { why: None }, &cfg, Clock::now())
        .expect("held");
    assert_eq!((p.spawnerr(), p.reached_running()), (None, false));
}

#[test]
fn autorestart_policies_after_running() {
    let base = Instant::now();
    let cases = [
        (AutoRestart::Unexpected, 0, false),
        (AutoRestart::Unexpected, 1, true),
        (AutoRestart::Always, 0, true),
        (AutoRestart::Never, 1, false),
    ];
    for (policy, code, respawn) in cases {
        let cfg = ProcessConfig {
            autorestart: policy,
            ..config()
        };
        let mut p = Process::default();
        p.apply(Input::Spawned { pid: 5 }, &cfg, at(base, 0))
            .expect("spawn");
        p.apply(Input::StartSecsElapsed, &cfg, at(base, 1))
            .expect("running");
        let step = p
            .apply(Input::Exited(ExitOutcome::Exited(code)), &cfg, at(base, 5))
            .expect("exit");
        assert_eq!(p.state, State::Exited);
        assert_eq!(
            step.changes.last().and_then(|c| c.expected),
            Some(code == 0)
        );
        assert_eq!(
            step.effects.contains(&Effect::Respawn),
            respawn,
            "{policy:?} {code}"
        );
        // vigil `essential`: an exit with no restart coming is the end nobody asked for.
        let unasked = (!respawn).then_some(StateKind::Exited);
        assert_eq!(step.unasked_end(), unasked, "{policy:?} {code}");
    }
}

#[test]
fn the_ends_nobody_asked_for_are_fatal_and_exited_for_good_never_a_stop() {
    let base = Instant::now();
    let cfg = ProcessConfig {
        startretries: Some(0),
        ..config()
    };
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 5 }, &cfg, at(base, 0))
        .expect("spawn");
    let step = p
        .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 0))
        .expect("quick exit");
    assert_eq!(names(&step), ["BACKOFF", "FATAL"]);
    assert_eq!(step.unasked_end(), Some(StateKind::Fatal));

    // A stop by hand ends in STOPPED, whatever the exit.
    let never = ProcessConfig {
        autorestart: AutoRestart::Never,
        ..config()
    };
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 6 }, &never, at(base, 0))
        .expect("spawn");
    p.apply(Input::StartSecsElapsed, &never, at(base, 1))
        .expect("running");
    let step = p.apply(Input::Stop, &never, at(base, 2)).expect("stop");
    assert_eq!(step.unasked_end(), None);
    let step = p
        .apply(Input::Exited(ExitOutcome::Exited(1)), &never, at(base, 3))
        .expect("stopped");
    assert_eq!(names(&step), ["STOPPED"]);
    assert_eq!(step.unasked_end(), None);
}

#[test]
fn exit_after_startsecs_before_timer_goes_running_then_exited() {
    let cfg = config();
    let base = Instant::now();
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 5 }, &cfg, at(base, 0))
        .expect("spawn");
    let step = p
        .apply(Input::Exited(ExitOutcome::Exited(0)), &cfg, at(base, 2))
        .expect("exit");
    assert_eq!(names(&step), ["RUNNING", "EXITED"]);
}

#[test]
fn stop_escalates_to_sigkill_for_the_group() {
    let cfg = ProcessConfig {
        stopasgroup: true,
        killasgroup: true,
        stopsignal: Signal::SIGINT,
        ..config()
    };
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 7 }, &cfg, Clock::now())
        .expect("spawn");
    let step = p.apply(Input::Stop, &cfg, Clock::now()).expect("stop");
    assert_eq!(
        p.state,
        State::Stopping {
            pid: 7,
            reason: ExitReason::Stopped,
            health: None
        }
    );
    assert!(step.effects.contains(&Effect::Signal {
        signal: Signal::SIGINT,
        to_group: true
    }));
    let step = p
        .apply(Input::StopTimeout, &cfg, Clock::now())
        .expect("kill");
    assert!(step.effects.contains(&Effect::Signal {
        signal: Signal::SIGKILL,
        to_group: true
    }));
    assert_eq!(logs(&step), ["killing 'app' (7) with SIGKILL"]);
    let killed = ExitOutcome::Signaled {
        signal: libc::SIGKILL,
        core_dumped: false,
    };
    let step = p
        .apply(Input::Exited(killed), &cfg, Clock::now())
        .expect("reaped");
    assert_eq!(p.state, State::Stopped);
    assert_eq!(logs(&step), ["stopped: app (terminated by SIGKILL)"]);
    assert_eq!(p.exitstatus, -1);
}

#[test]
fn stop_in_backoff_goes_straight_to_stopped_and_others_refuse() {
    let cfg = config();
    let mut p = Process {
        state: backoff(),
        ..Process::default()
    };
    let step = p.apply(Input::Stop, &cfg, Clock::now()).expect("stop");
    assert_eq!(names(&step), ["STOPPED"]);
    assert_eq!(
        p.apply(Input::Stop, &cfg, Clock::now()),
        Err(Refused::NotRunning)
    );
    let mut fatal = Process {
        state: State::Fatal,
        ..Process::default()
    };
    assert_eq!(
        fatal.apply(Input::Stop, &cfg, Clock::now()),
        Err(Refused::NotRunning)
    );
}

#[test]
fn stale_inputs_are_ignored() {
    let cfg = config();
    let mut p = Process::default();
    assert_eq!(
        p.apply(Input::StartSecsElapsed, &cfg, Clock::now()),
        Err(Refused::Ignored)
    );
    assert_eq!(
        p.apply(Input::StopTimeout, &cfg, Clock::now()),
        Err(Refused::Ignored)
    );
    let mut running = Process {
        state: State::Running {
            pid: 3,
            health: None,
        },
        ..Process::default()
    };
    assert_eq!(
        running.apply(Input::Spawned { pid: 4 }, &cfg, Clock::now()),
        Err(Refused::Ignored)
    );
}

#[test]
fn give_up_during_shutdown() {
    let cfg = config();
    let mut p = Process {
        state: backoff(),
        backoff: 2,
        ..Process::default()
    };
    let step = p.apply(Input::GiveUp, &cfg, Clock::now()).expect("give up");
    assert_eq!(names(&step), ["FATAL"]);
    assert_eq!(p.backoff, 0);
}

#[test]
fn tally_counts_spawns_exits_by_reason_and_crashes() {
    let cfg = config();
    let base = Instant::now();
    let mut p = Process::default();
    let run = |p: &mut Process, pid: i32, t: u64| {
        p.apply(Input::Spawned { pid }, &cfg, at(base, t))
            .expect("spawn");
        p.apply(Input::StartSecsElapsed, &cfg, at(base, t + 1))
            .expect("running");
    };
    run(&mut p, 10, 0);
    p.apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 5))
        .expect("exit");
    run(&mut p, 11, 6);
    let killed = ExitOutcome::Signaled {
        signal: 9,
        core_dumped: false,
    };
    p.apply(Input::Exited(killed), &cfg, at(base, 9))
        .expect("kill");
    run(&mut p, 12, 10);
    p.apply(Input::Stop, &cfg, at(base, 12)).expect("stop");
    p.apply(Input::Exited(ExitOutcome::Exited(0)), &cfg, at(base, 12))
        .expect("stopped");

    assert_eq!(p.tally.spawns, 3);
    assert_eq!(p.tally.restarts(), 2);
    assert_eq!(p.tally.exits(ExitReason::Unexpected), 1);
    assert_eq!(p.tally.exits(ExitReason::Signal), 1);
    assert_eq!(p.tally.exits(ExitReason::Stopped), 1);
    assert_eq!(p.tally.exits(ExitReason::Expected), 0);
    assert_eq!(p.tally.crashes, 2, "a stop asked for is no crash");
}

#[test]
fn memory_limit_restart_stops_then_respawns_and_counts_its_reason() {
    let cfg = config();
    let base = Instant::now();
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 7 }, &cfg, at(base, 0))
        .expect("spawn");
    p.apply(Input::StartSecsElapsed, &cfg, at(base, 1))
        .expect("running");
    let step = p
        .apply(Input::Restart(ExitReason::MemoryLimit), &cfg, at(base, 2))
        .expect("restart");
    assert_eq!(
        p.state,
        State::Stopping {
            pid: 7,
            reason: ExitReason::MemoryLimit,
            health: None
        }
    );
    assert!(step.effects.contains(&Effect::Signal {
        signal: Signal::SIGTERM,
        to_group: false
    }));
    let killed = ExitOutcome::Signaled {
        signal: 15,
        core_dumped: false,
    };
    let step = p
        .apply(Input::Exited(killed), &cfg, at(base, 2))
        .expect("exit");
    assert_eq!(p.state, State::Stopped);
    assert!(step.effects.contains(&Effect::Respawn));
    assert_eq!(p.tally.exits(ExitReason::MemoryLimit), 1);
    assert_eq!(p.tally.crashes, 0);
    p.apply(Input::Spawned { pid: 8 }, &cfg, at(base, 3))
        .expect("respawn");
    p.apply(Input::Stop, &cfg, at(base, 4)).expect("stop");
    assert!(
        matches!(
            p.state,
            State::Stopping {
                reason: ExitReason::Stopped,
                ..
            }
        ),
        "the next stop is a plain one"
    );
}

/// A config with the crash-loop detector on: 3 crashes in 60 s, delays from 1 s.
fn looping_config() -> ProcessConfig {
    let mut cfg = ProcessConfig {
        autorestart: AutoRestart::Always,
        ..config()
    };
    cfg.crash_loop.threshold = 3;
    cfg
}

/// Spawns at `start` (seconds from `base`), reaches RUNNING a second later and exits
/// with `code` at `start + 2`; returns the exit's step.
fn run_and_exit(
    p: &mut Process,
    cfg: &ProcessConfig,
    base: Instant,
    start: u64,
    code: i32,
) -> Step {
    p.apply(
        Input::Spawned {
            pid: 100 + start as i32,
        },
        cfg,
        at(base, start),
    )
    .expect("spawn");
    p.apply(Input::StartSecsElapsed, cfg, at(base, start + 1))
        .expect("running");
    p.apply(
        Input::Exited(ExitOutcome::Exited(code)),
        cfg,
        at(base, start + 2),
    )
    .expect("exit")
}

fn retry_delay(step: &Step) -> Option<u64> {
    step.effects.iter().find_map(|e| match e {
        Effect::Arm {
            timer: Timer::Retry,
            after,
        } => Some(after.as_secs()),
        _ => None,
    })
}

fn crash_facts(step: &Step) -> Option<CrashFacts> {
    step.effects.iter().find_map(|e| match e {
        Effect::RecordCrash(facts) => Some(*facts),
        _ => None,
    })
}

#[test]
fn below_the_threshold_crashes_restart_at_once_as_in_supervisord() {
    let cfg = ProcessConfig {
        crash_loop: crate::config::CrashLoopPolicy {
            threshold: 5,
            ..looping_config().crash_loop
        },
        ..looping_config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    for run in 0..4 {
        let step = run_and_exit(&mut p, &cfg, base, run * 3, 1);
        assert_eq!(names(&step), ["EXITED"]);
        assert!(step.effects.contains(&Effect::Respawn), "run {run}");
        assert_eq!(retry_delay(&step), None);
        let facts = crash_facts(&step).expect("every crash is recorded");
        assert!(!facts.crash_loop);
        assert_eq!(facts.recent_crashes, run as usize + 1);
    }
}

#[test]
fn a_crash_loop_delays_restarts_doubling_and_starts_by_hand_at_once() {
    let cfg = looping_config();
    let base = Instant::now();
    let mut p = Process::default();
    run_and_exit(&mut p, &cfg, base, 0, 1);
    run_and_exit(&mut p, &cfg, base, 3, 1);
    let step = run_and_exit(&mut p, &cfg, base, 6, 1);
    assert_eq!(names(&step), ["EXITED", "BACKOFF"]);
    assert!(!step.effects.contains(&Effect::Respawn));
    assert_eq!(retry_delay(&step), Some(1));
    assert!(logs(&step).contains(&"crash loop: app crashed 3 times within 60s".to_string()));
    assert!(logs(&step)
        .contains(&"crash loop: app crashed 3 times in 60s, next start in 1s".to_string()));
    let facts = crash_facts(&step).expect("recorded");
    assert!(facts.crash_loop);
    assert_eq!(facts.next_start, Some(Duration::from_secs(1)));
    assert_eq!(facts.ran, Duration::from_secs(2));
    assert!(p.state.retry().is_some_and(|r| r.crash_loop));

    let mut delays = Vec::new();
    for start in [9, 12, 15] {
        delays.push(retry_delay(&run_and_exit(&mut p, &cfg, base, start, 1)));
    }
    assert_eq!(delays, [Some(2), Some(4), Some(8)]);
    // The Retry timer or a start by hand: both are a spawn from BACKOFF.
    p.apply(Input::Spawned { pid: 9 }, &cfg, at(base, 16))
        .expect("a start from a crash-loop BACKOFF");
    assert_eq!(p.state.retry(), None);
}

#[test]
fn expected_exits_never_count_as_crashes() {
    let cfg = looping_config();
    let base = Instant::now();
    let mut p = Process::default();
    for run in 0..6 {
        let step = run_and_exit(&mut p, &cfg, base, run * 3, 0);
        assert!(step.effects.contains(&Effect::Respawn));
        assert_eq!(crash_facts(&step), None);
    }
    assert_eq!(p.crash_loop.recent_crashes(), 0);
    assert_eq!(p.tally.crashes, 0);
}

#[test]
fn a_stable_run_ends_the_loop_and_a_stop_by_hand_does_too() {
    let mut cfg = looping_config();
    cfg.crash_loop.reset = Duration::from_secs(30);
    let base = Instant::now();
    let mut p = Process::default();
    for start in [0, 3, 6] {
        run_and_exit(&mut p, &cfg, base, start, 1);
    }
    p.apply(Input::Spawned { pid: 50 }, &cfg, at(base, 10))
        .expect("spawn");
    let step = p
        .apply(Input::StartSecsElapsed, &cfg, at(base, 11))
        .expect("running");
    assert!(step.effects.contains(&Effect::Arm {
        timer: Timer::CrashLoopReset,
        after: Duration::from_secs(29)
    }));
    let step = p
        .apply(Input::CrashLoopReset, &cfg, at(base, 40))
        .expect("reset");
    assert_eq!(
        logs(&step),
        ["crash loop over: app has stayed up for 30s (crashloop_reset)"]
    );
    assert!(p.crash_loop.looping().is_none());

    let step = p
        .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 41))
        .expect("exit");
    assert!(step.effects.contains(&Effect::Respawn), "counting afresh");
    for start in [50, 53] {
        run_and_exit(&mut p, &cfg, base, start, 1);
    }
    assert_eq!(p.state.kind(), StateKind::Backoff);
    let step = p.apply(Input::Stop, &cfg, at(base, 59)).expect("stop");
    assert_eq!(names(&step), ["STOPPED"]);
    assert_eq!(logs(&step), ["crash loop over: app was stopped"]);
    assert!(p.crash_loop.looping().is_none() && p.state.retry().is_none());
}

#[test]
fn crashloop_giveup_goes_fatal() {
    let mut cfg = looping_config();
    cfg.crash_loop.giveup = Some(1);
    let base = Instant::now();
    let mut p = Process::default();
    for start in [0, 3, 6] {
        run_and_exit(&mut p, &cfg, base, start, 1);
    }
    let step = run_and_exit(&mut p, &cfg, base, 9, 1);
    assert_eq!(names(&step), ["EXITED", "FATAL"]);
    assert_eq!(
        p.spawnerr.as_ref().map(ToString::to_string).as_deref(),
        Some("crash loop: gave up after 1 delayed restarts")
    );
    assert!(!step.effects.contains(&Effect::Respawn));
    assert!(
        p.crash_loop.looping().is_none(),
        "FATAL ends the loop: a start by hand counts afresh"
    );
}

#[test]
fn a_death_by_signalprocess_is_no_crash_and_no_restart_ends_the_loop() {
    let mut cfg = looping_config();
    cfg.autorestart = AutoRestart::Unexpected;
    let base = Instant::now();
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 5 }, &cfg, at(base, 0))
        .expect("spawn");
    p.signalled = true;
    let killed = ExitOutcome::Signaled {
        signal: 9,
        core_dumped: false,
    };
    let step = p
        .apply(Input::Exited(killed), &cfg, at(base, 2))
        .expect("exit");
    assert_eq!(crash_facts(&step), None);
    assert_eq!(p.tally.exits(ExitReason::Stopped), 1);
    assert!(
        step.effects.contains(&Effect::Respawn),
        "still supervisord's autorestart"
    );
    p.apply(Input::Spawned { pid: 6 }, &cfg, at(base, 2))
        .expect("spawn");
    assert!(!p.signalled, "each child starts unsignalled");

    p.apply(Input::StartSecsElapsed, &cfg, at(base, 3))
        .expect("running");
    p.apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 4))
        .expect("crash 1");
    run_and_exit(&mut p, &cfg, base, 5, 1);
    run_and_exit(&mut p, &cfg, base, 8, 1);
    assert!(p.crash_loop.looping().is_some());
    let mut never = looping_config();
    never.autorestart = AutoRestart::Never;
    run_and_exit(&mut p, &never, base, 12, 1);
    assert_eq!(p.state, State::Exited);
    assert!(p.crash_loop.looping().is_none(), "nothing restarts it");
}

#[test]
fn quick_crashes_count_but_keep_supervisords_backoff() {
    let cfg = ProcessConfig {
        startretries: Some(10),
        ..looping_config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    let mut delays = Vec::new();
    for attempt in 0..4 {
        p.apply(Input::Spawned { pid: 10 + attempt }, &cfg, at(base, 0))
            .expect("spawn");
        let step = p
            .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 0))
            .expect("exit");
        assert!(crash_facts(&step).is_some());
        delays.push(retry_delay(&step));
    }
    assert_eq!(delays, [Some(1), Some(2), Some(3), Some(4)]);
    assert!(p.crash_loop.looping().is_some(), "counted by the detector");
    assert!(p.state.retry().is_some_and(|r| !r.crash_loop));
}

#[test]
fn startretries_minus_one_retries_forever_with_backoff_max_capping_the_wait() {
    let cfg = ProcessConfig {
        startretries: None,
        backoff_max: Some(2),
        ..config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    let mut delays = Vec::new();
    for attempt in 0..6 {
        p.apply(Input::Spawned { pid: 10 + attempt }, &cfg, at(base, 0))
            .expect("spawn");
        let step = p
            .apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 0))
            .expect("exit");
        delays.push(retry_delay(&step));
    }
    assert_eq!(
        delays,
        [Some(1), Some(2), Some(2), Some(2), Some(2), Some(2)]
    );
    assert_eq!(p.state.kind(), StateKind::Backoff, "never FATAL");
}

#[test]
fn a_program_that_says_when_it_is_ready_is_starting_until_it_does() {
    let cfg = ProcessConfig {
        ready: crate::config::Readiness::Notify,
        ..config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    let step = p
        .apply(Input::Spawned { pid: 7 }, &cfg, at(base, 0))
        .expect("spawn");
    assert!(step.effects.contains(&Effect::Arm {
        timer: Timer::ReadyTimeout,
        after: Duration::from_secs(90)
    }));
    assert!(!step.effects.iter().any(|e| matches!(
        e,
        Effect::Arm {
            timer: Timer::StartSecs,
            ..
        }
    )));
    assert_eq!(
        p.apply(Input::StartSecsElapsed, &cfg, at(base, 1)),
        Err(Refused::Ignored),
        "startsecs does not end STARTING"
    );
    let status = crate::notify::parse(b"STATUS=loading").expect("parses");
    let step = p
        .apply(Input::Notified(status), &cfg, at(base, 2))
        .expect("status");
    assert!(step.changes.is_empty());
    assert_eq!(p.announced().status.as_deref(), Some("loading"));
    let ready = crate::notify::parse(b"READY=1\nSTATUS=serving").expect("parses");
    let step = p
        .apply(Input::Notified(ready), &cfg, at(base, 3))
        .expect("ready");
    assert_eq!(names(&step), ["RUNNING"]);
    assert_eq!(
        logs(&step),
        ["success: app entered RUNNING state, process is ready (ready=notify)"]
    );
    assert_eq!(p.announced().status.as_deref(), Some("serving"));
}

#[test]
fn not_ready_in_time_is_a_failed_start_and_an_exit_before_ready_is_too_quick() {
    let cfg = ProcessConfig {
        ready: crate::config::Readiness::Notify,
        ready_timeout: Duration::from_secs(5),
        startretries: Some(1),
        ..config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 8 }, &cfg, at(base, 0))
        .expect("spawn");
    let step = p
        .apply(Input::ReadyTimedOut, &cfg, at(base, 5))
        .expect("timed out");
    assert_eq!(names(&step), ["STOPPING"]);
    assert!(step.effects.contains(&Effect::Signal {
        signal: Signal::SIGTERM,
        to_group: false
    }));
    assert_eq!(
        logs(&step)[0],
        "not ready: app did not become ready within 5s (ready=notify); stopping it"
    );
    let step = p
        .apply(
            Input::Exited(ExitOutcome::Signaled {
                signal: libc::SIGTERM,
                core_dumped: false,
            }),
            &cfg,
            at(base, 5),
        )
        .expect("stopped");
    assert_eq!(names(&step), ["BACKOFF"]);
    assert_eq!(step.exit_reason, Some(ExitReason::NotReady));
    assert_eq!(
        p.spawnerr().map(ToString::to_string).as_deref(),
        Some("not ready within 5s (ready=notify)")
    );
    // The retry: its child exits long after startsecs, but before it was ready.
    p.apply(Input::Spawned { pid: 9 }, &cfg, at(base, 7))
        .expect("spawn");
    let step = p
        .apply(Input::Exited(ExitOutcome::Exited(0)), &cfg, at(base, 60))
        .expect("exit");
    assert_eq!(names(&step), ["BACKOFF", "FATAL"]);
    assert_eq!(p.spawnerr(), Some(&SpawnError::ExitedTooQuickly));
}

#[test]
fn a_watchdog_fed_in_time_is_quiet_and_a_starved_one_restarts_the_process_as_a_crash() {
    let cfg = ProcessConfig {
        ready: crate::config::Readiness::Notify,
        watchdog: Some(Duration::from_secs(2)),
        ..config()
    };
    let base = Instant::now();
    let notice = |text: &str| Input::Notified(crate::notify::parse(text.as_bytes()).expect("ok"));
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 3 }, &cfg, at(base, 0))
        .expect("spawn");
    let step = p
        .apply(notice("READY=1"), &cfg, at(base, 0))
        .expect("ready");
    assert!(step.effects.contains(&Effect::Arm {
        timer: Timer::Watchdog,
        after: Duration::from_secs(2)
    }));
    p.apply(notice("WATCHDOG=1"), &cfg, at(base, 1))
        .expect("fed");
    let step = p
        .apply(Input::WatchdogDue, &cfg, at(base, 2))
        .expect("looked");
    assert!(step.changes.is_empty(), "fed at 1 s: due at 3 s");
    assert_eq!(
        step.effects,
        [Effect::Arm {
            timer: Timer::Watchdog,
            after: Duration::from_secs(1)
        }],
        "one timer, armed again for what is left"
    );
    let step = p
        .apply(Input::WatchdogDue, &cfg, at(base, 3))
        .expect("starved");
    assert_eq!(names(&step), ["STOPPING"]);
    let step = p
        .apply(
            Input::Exited(ExitOutcome::Signaled {
                signal: libc::SIGTERM,
                core_dumped: false,
            }),
            &cfg,
            at(base, 3),
        )
        .expect("stopped");
    assert_eq!(step.exit_reason, Some(ExitReason::Watchdog));
    assert!(step.effects.contains(&Effect::Respawn));
    assert!(step
        .effects
        .iter()
        .any(|e| matches!(e, Effect::RecordCrash(facts) if facts.pid == 3)));
}

#[test]
fn a_mainpid_moves_the_child_and_its_group_and_needs_a_child() {
    let cfg = ProcessConfig {
        ready: crate::config::Readiness::Notify,
        ..config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    assert_eq!(
        p.apply(Input::MainPid { pid: 9, group: 9 }, &cfg, at(base, 0)),
        Err(Refused::Ignored),
        "no child to move"
    );
    p.apply(Input::Spawned { pid: 3 }, &cfg, at(base, 0))
        .expect("spawn");
    assert_eq!(p.process_group(), Some(3), "as spawned: its own group");
    let step = p
        .apply(Input::MainPid { pid: 7, group: 5 }, &cfg, at(base, 1))
        .expect("moved");
    assert!(step.changes.is_empty(), "no state change, no event");
    assert_eq!(
        logs(&step),
        ["app: main pid is now 7 (was 3), as its MAINPID= said"]
    );
    assert_eq!(p.state().live_pid(), Some(7));
    assert_eq!(p.process_group(), Some(5));
    // The new pid is the one that becomes RUNNING, is stopped, and whose exit counts.
    let ready = Input::Notified(crate::notify::parse(b"READY=1").expect("ok"));
    p.apply(ready, &cfg, at(base, 1)).expect("ready");
    assert!(matches!(p.state(), State::Running { pid: 7, .. }));
    p.apply(Input::Stop, &cfg, at(base, 2)).expect("stop");
    assert!(matches!(p.state(), State::Stopping { pid: 7, .. }));
    p.apply(Input::Exited(ExitOutcome::Exited(0)), &cfg, at(base, 2))
        .expect("exit");
    assert_eq!(p.state(), State::Stopped);
    assert_eq!(p.process_group(), None);
}

#[test]
fn an_oom_kill_in_the_cgroup_is_an_oom_exit_and_a_crash_that_says_so() {
    let cfg = config();
    let base = Instant::now();
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 7 }, &cfg, at(base, 0))
        .expect("spawned");
    p.apply(Input::StartSecsElapsed, &cfg, at(base, 1))
        .expect("running");
    p.apply(Input::OomKilled, &cfg, at(base, 5)).expect("noted");
    let killed = ExitOutcome::Signaled {
        signal: libc::SIGKILL,
        core_dumped: false,
    };
    let step = p
        .apply(Input::Exited(killed), &cfg, at(base, 5))
        .expect("exited");
    assert_eq!(step.exit_reason, Some(ExitReason::Oom));
    assert!(ExitReason::Oom.is_crash());
    assert!(step.effects.iter().any(|e| matches!(
        e,
        Effect::RecordCrash(facts) if facts.cause == Some(ExitReason::Oom)
    )));
    assert_eq!(p.tally().exits(ExitReason::Oom), 1);
    // The next child starts with a clean slate: its own SIGKILL is a signal death.
    p.apply(Input::Spawned { pid: 8 }, &cfg, at(base, 6))
        .expect("spawned again");
    p.apply(Input::StartSecsElapsed, &cfg, at(base, 7))
        .expect("running");
    let step = p
        .apply(Input::Exited(killed), &cfg, at(base, 8))
        .expect("exited");
    assert_eq!(step.exit_reason, Some(ExitReason::Signal));
}

#[test]
fn a_handover_record_gives_back_the_same_process() {
    let cfg = ProcessConfig {
        startretries: Some(5),
        ..config()
    };
    let base = Instant::now();
    let mut p = Process::default();
    p.apply(Input::Spawned { pid: 42 }, &cfg, at(base, 0))
        .expect("spawn");
    p.apply(Input::StartSecsElapsed, &cfg, at(base, 1))
        .expect("running");
    p.apply(Input::Exited(ExitOutcome::Exited(3)), &cfg, at(base, 5))
        .expect("crash");
    p.apply(Input::Spawned { pid: 43 }, &cfg, at(base, 5))
        .expect("respawn");
    p.apply(Input::Exited(ExitOutcome::Exited(1)), &cfg, at(base, 5))
        .expect("quick exit");
    assert!(matches!(p.state, State::Backoff { .. }), "{:?}", p.state);
    let clock = at(base, 5);
    let record = p.to_record(clock).expect("BACKOFF is carried");
    let json = serde_json::to_string(&record).expect("to JSON");
    assert!(json.contains(r#""state":{"name":"BACKOFF""#), "{json}");
    let read: ProcessRecord = serde_json::from_str(&json).expect("from JSON");
    assert_eq!(read, record);
    // Another image, a little later: the same state, times shifted by the same amount.
    let later = at(base, 7);
    let q = Process::from_record(&read, later);
    assert_eq!(q.backoff, p.backoff);
    assert_eq!(q.tally, p.tally);
    assert_eq!(q.exitstatus, p.exitstatus);
    let apart = |a: Option<SystemTime>, b: Option<SystemTime>| match (a, b) {
        (Some(a), Some(b)) => a.duration_since(b).or_else(|e| Ok::<_, ()>(e.duration())),
        _ => Err(()),
    };
    let drift = apart(q.laststart, p.laststart).expect("both have a laststart");
    assert!(drift < Duration::from_millis(1), "{drift:?}");
    assert_eq!(q.group, p.group);
    assert_eq!(
        q.spawnerr.as_ref().map(ToString::to_string),
        p.spawnerr.as_ref().map(ToString::to_string)
    );
    let (State::Backoff { retry: before }, State::Backoff { retry: after }) = (p.state, q.state)
    else {
        panic!("{:?} / {:?}", p.state, q.state);
    };
    assert_eq!(after.delay, before.delay);
    let left = |at: Instant, now: Instant| at.saturating_duration_since(now).as_secs_f64();
    let (after_left, before_left) = (left(after.at, later.now), left(before.at, clock.now));
    assert!(
        (after_left - before_left).abs() < 1e-6,
        "{after_left} / {before_left}"
    );
    assert_eq!(q.crash_loop.recent_crashes(), p.crash_loop.recent_crashes());
    // STOPPING is carried with its reason.
    let mut stopping = Process::default();
    stopping
        .apply(Input::Spawned { pid: 50 }, &cfg, at(base, 0))
        .expect("spawn");
    stopping
        .apply(Input::Stop, &cfg, at(base, 0))
        .expect("stop");
    let record = stopping
        .to_record(at(base, 0))
        .expect("STOPPING is carried");
    assert_eq!(
        Process::from_record(&record, at(base, 1)).state,
        stopping.state
    );
}
