//! Chaos, bounded: 50 programs under random kill -9 of children and grandchildren and
//! SIGSTOP/SIGCONT, some forking a few grandchildren, some closing their output, some
//! flooding stderr. vigild must not crash, every program must end as the rules say (here
//! RUNNING again: autorestart, damping off), no zombie may remain, and no line of a program
//! that was only paused may be lost.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::*;

/// The session's processes with their state letter and command line.
fn members(sid: i32) -> Vec<(i32, String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let fields = stat_fields(pid)?;
            (fields.get(3)?.parse::<i32>().ok()? == sid).then_some(())?;
            let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .replace('\0', " ");
            Some((pid, fields.first()?.clone(), cmdline))
        })
        .collect()
}

/// A small deterministic generator (no dependency needed for picking victims).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % sides.max(1)
    }
}

#[test]
fn fifty_programs_under_chaos_end_as_the_rules_say() {
    let config = format!(
        "{CONTROL_SECTIONS}\
         [program:steady]\ncommand=/bin/sh -c 'i=0; while :; do i=$((i+1)); echo \"n $i\"; sleep 0.01; done'\n\
         process_name=steady_%(process_num)d\nnumprocs=20\nstartsecs=0\n\
         stdout_logfile={{dir}}/steady_%(process_num)d.log\n\n\
         [program:victim]\ncommand=/bin/sleep 1000\nprocess_name=victim_%(process_num)d\nnumprocs=10\n\
         startsecs=0\nautorestart=true\ncrashloop_threshold=0\n\n\
         [program:forker]\ncommand=/bin/sh -c 'for i in 1 2 3 4 5; do sleep 1001 & done; wait'\n\
         process_name=forker_%(process_num)d\nnumprocs=10\nstartsecs=0\nautorestart=true\n\
         crashloop_threshold=0\nstopasgroup=true\n\n\
         [program:closer]\ncommand=/bin/sh -c 'exec >&- 2>&-; exec sleep 1002'\n\
         process_name=closer_%(process_num)d\nnumprocs=5\nstartsecs=0\n\n\
         [program:flood]\ncommand=/bin/sh -c 'while :; do head -c 200000 /dev/zero | tr \"\\\\000\" e >&2; sleep 0.05; done'\n\
         process_name=flood_%(process_num)d\nnumprocs=5\nstartsecs=0\n\
         stderr_logfile={{dir}}/flood_%(process_num)d.err\nstderr_logfile_maxbytes=1MB\nstderr_logfile_backups=1\n"
    );
    let mut vigild = Vigild::with_config(&config);
    vigild.wait_log_count("entered RUNNING state", 50);
    let sid = vigild.pid();
    // A failure is replayed with VIGIL_CHAOS_SEED=<the seed printed here>.
    let seed = std::env::var("VIGIL_CHAOS_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        });
    println!("chaos seed: {seed}");
    let mut dice = Dice(seed);
    let mut paused: Vec<i32> = Vec::new();
    let mut kills = 0;
    let end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < end {
        let all = members(sid);
        let sleepers: Vec<i32> = all
            .iter()
            .filter(|(_, state, cmd)| {
                state != "Z" && (cmd.starts_with("/bin/sleep 100") || cmd.starts_with("sleep 100"))
            })
            .map(|(pid, _, _)| *pid)
            .collect();
        let steady: Vec<i32> = all
            .iter()
            .filter(|(_, _, cmd)| cmd.contains("echo \"n $i\"") || cmd.contains("n $i"))
            .map(|(pid, _, _)| *pid)
            .collect();
        match dice.roll(3) {
            // kill -9 a child (victim) or a grandchild (a forker's sleep).
            0 | 1 if !sleepers.is_empty() => {
                let pid = sleepers[dice.roll(sleepers.len())];
                if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                    kills += 1;
                }
            }
            // Pause a steady writer for a moment, or wake one.
            _ if !paused.is_empty() && dice.roll(2) == 0 => {
                let pid = paused.swap_remove(dice.roll(paused.len()));
                let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
            }
            _ if !steady.is_empty() => {
                let pid = steady[dice.roll(steady.len())];
                if kill(Pid::from_raw(pid), Signal::SIGSTOP).is_ok() {
                    paused.push(pid);
                }
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in paused.drain(..) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
    }
    assert!(kills > 20, "the chaos killed only {kills}");

    // vigild is alive, and every program is RUNNING again.
    let mut status = String::new();
    assert!(
        wait_until(|| {
            status = vigild.vigilctl(&["status"]).1;
            status.lines().count() == 50 && status.lines().all(|l| l.contains("RUNNING"))
        }),
        "{status}"
    );
    // No zombie is left behind: vigild reaps its children, and the grandchildren whose
    // parent died are reaped by init.
    assert!(
        wait_until(|| members(sid).iter().all(|(_, state, _)| state != "Z")),
        "zombies: {:?}",
        members(sid)
            .iter()
            .filter(|(_, s, _)| s == "Z")
            .collect::<Vec<_>>()
    );
    // The steady writers were only paused: every line is there, in order. (One writer may
    // have been paused for most of the run, so only the total must be large.)
    let mut total = 0;
    for n in 0..20 {
        let log = std::fs::read_to_string(vigild.ws.path().join(format!("steady_{n}.log")))
            .expect("steady log");
        let numbers: Vec<u64> = log
            .lines()
            .map(|line| {
                line.strip_prefix("n ")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("steady_{n}: {line:?}"))
            })
            .collect();
        assert!(!numbers.is_empty(), "steady_{n} wrote nothing");
        total += numbers.len();
        assert!(
            numbers.iter().zip(1..).all(|(got, want)| *got == want),
            "steady_{n} lost or repeated lines"
        );
    }
    assert!(total > 2000, "the steady writers wrote only {total} lines");
    let log = vigild.shutdown();
    assert!(!log.contains("panicked"), "{log}");
}
