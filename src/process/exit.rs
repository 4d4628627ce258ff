//! How a child ended, decoded once from the wait status (never a magic number).

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

/// The end of one child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitOutcome {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by a signal.
    Signaled {
        /// The signal.
        signal: Signal,
        /// A core file was written.
        core_dumped: bool,
    },
}

impl ExitOutcome {
    /// The outcome of a `waitpid` status, or `None` for stop/continue notifications.
    pub fn from_wait_status(status: WaitStatus) -> Option<(i32, ExitOutcome)> {
        match status {
            WaitStatus::Exited(pid, code) => Some((pid.as_raw(), ExitOutcome::Exited(code))),
            WaitStatus::Signaled(pid, signal, core_dumped) => Some((
                pid.as_raw(),
                ExitOutcome::Signaled {
                    signal,
                    core_dumped,
                },
            )),
            _ => None,
        }
    }

    /// supervisord's `exitstatus`: the exit code, or -1 after a signal.
    pub fn exit_status(self) -> i32 {
        match self {
            ExitOutcome::Exited(code) => code,
            ExitOutcome::Signaled { .. } => -1,
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
                format!("terminated by {}{core}", signal.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_like_supervisord() {
        assert_eq!(ExitOutcome::Exited(1).describe(), "exit status 1");
        let killed = ExitOutcome::Signaled {
            signal: Signal::SIGTERM,
            core_dumped: false,
        };
        assert_eq!(killed.describe(), "terminated by SIGTERM");
        assert_eq!(killed.exit_status(), -1);
        assert!(!killed.is_expected(&[0]));
        assert!(ExitOutcome::Exited(2).is_expected(&[0, 2]));
    }
}
