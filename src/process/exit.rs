//! How a child ended, decoded once from the wait status (never a magic number).

use nix::sys::signal::Signal;

/// The end of one child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitOutcome {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by a signal (any number, real-time signals included).
    Signaled {
        /// The signal number.
        signal: i32,
        /// A core file was written.
        core_dumped: bool,
    },
}

impl ExitOutcome {
    /// The outcome of a raw `waitpid` status, or `None` for stop/continue notifications.
    pub fn from_raw_status(status: libc::c_int) -> Option<ExitOutcome> {
        if libc::WIFEXITED(status) {
            Some(ExitOutcome::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(ExitOutcome::Signaled {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            })
        } else {
            None
        }
    }

    /// supervisord's `exitstatus`: the exit code, or -1 after a signal.
    pub fn exit_status(self) -> i32 {
        match self {
            ExitOutcome::Exited(code) => code,
            ExitOutcome::Signaled { .. } => -1,
        }
    }

    /// The status a shell reports for this end, as `$?`: the exit code, or 128 + the
    /// signal's number (what vigild exits with when an `essential` process ends so).
    pub fn shell_status(self) -> u8 {
        match self {
            ExitOutcome::Exited(code) => u8::try_from(code & 0xff).unwrap_or(u8::MAX),
            ExitOutcome::Signaled { signal, .. } => {
                u8::try_from(128 + signal.clamp(0, 127)).unwrap_or(u8::MAX)
            }
        }
    }

    /// Whether `exitcodes` lists this end (a death by signal never is).
    pub fn is_expected(self, exitcodes: &[i32]) -> bool {
        match self {
            ExitOutcome::Exited(code) => exitcodes.contains(&code),
            ExitOutcome::Signaled { .. } => false,
        }
    }

    /// supervisord's wording: `exit status 1` or `terminated by SIGTERM (core dumped)`.
    pub fn describe(self) -> String {
        match self {
            ExitOutcome::Exited(code) => format!("exit status {code}"),
            ExitOutcome::Signaled {
                signal,
                core_dumped,
            } => {
                let core = if core_dumped { " (core dumped)" } else { "" };
                format!("terminated by {}{core}", signal_name(signal))
            }
        }
    }
}

/// `SIGTERM`, or `signal 40` for numbers without a name, as supervisord's `signame`.
pub fn signal_name(number: i32) -> String {
    match Signal::try_from(number) {
        Ok(signal) => signal.as_str().to_string(),
        Err(_) => format!("signal {number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_like_supervisord() {
        assert_eq!(ExitOutcome::Exited(1).describe(), "exit status 1");
        let killed = ExitOutcome::Signaled {
            signal: libc::SIGTERM,
            core_dumped: false,
        };
        assert_eq!(killed.describe(), "terminated by SIGTERM");
        assert_eq!(killed.exit_status(), -1);
        assert!(!killed.is_expected(&[0]));
        assert!(ExitOutcome::Exited(2).is_expected(&[0, 2]));
        let realtime = ExitOutcome::Signaled {
            signal: 40,
            core_dumped: true,
        };
        assert_eq!(realtime.describe(), "terminated by signal 40 (core dumped)");
    }

    #[test]
    fn the_shell_status_is_the_code_or_128_plus_the_signal() {
        assert_eq!(ExitOutcome::Exited(0).shell_status(), 0);
        assert_eq!(ExitOutcome::Exited(3).shell_status(), 3);
        let killed = |signal| ExitOutcome::Signaled {
            signal,
            core_dumped: false,
        };
        assert_eq!(killed(libc::SIGKILL).shell_status(), 137);
        assert_eq!(killed(libc::SIGTERM).shell_status(), 143);
        assert_eq!(killed(40).shell_status(), 168);
    }

    #[test]
    fn decodes_raw_statuses() {
        assert_eq!(
            ExitOutcome::from_raw_status(3 << 8),
            Some(ExitOutcome::Exited(3))
        );
        assert_eq!(
            ExitOutcome::from_raw_status(40),
            Some(ExitOutcome::Signaled {
                signal: 40,
                core_dumped: false
            })
        );
        assert_eq!(
            ExitOutcome::from_raw_status(0x137f),
            None,
            "stopped, not ended"
        );
    }
}
