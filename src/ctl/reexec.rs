//! `vigilctl reexec [--binary PATH]`: hands vigild's fleet to a new vigild image
//! (`vigil.reexec`), then waits for the new image to answer (`vigil.getDaemonInfo`, whose
//! handover count grows by one) and says which vigil runs now.

use std::time::{Duration, Instant};

use super::{exit, int, text, Ctl, Value};

/// How long the new image may take to answer.
const ANSWER_LIMIT: Duration = Duration::from_secs(60);
/// How often it is asked meanwhile.
const POLL: Duration = Duration::from_millis(50);

impl Ctl {
    pub(super) fn reexec(&mut self, args: &[&str]) {
        let path = match args {
            [] => "",
            ["--binary", path] => path,
            _ => {
                println!("Error: reexec takes no argument but --binary PATH");
                println!("{}", super::help::of("reexec").unwrap_or_default());
                self.exit = exit::INVALID_ARGS;
                return;
            }
        };
        let Some(before) = self.daemon_info() else {
            return;
        };
        if let Err(err) = self.client.call("vigil.reexec", &[Value::from(path)]) {
            println!("ERROR: {err}");
            self.exit = exit::GENERIC;
            return;
        }
        let shown = if path.is_empty() {
            "the binary it runs (read again from disk)"
        } else {
            path
        };
        println!(
            "reexec: vigild (pid {}) hands its fleet over to {shown}",
            int(before.member("pid"))
        );
        let end = Instant::now() + ANSWER_LIMIT;
        while Instant::now() < end {
            if let Ok(info) = self.client.call("vigil.getDaemonInfo", &[]) {
                if int(info.member("reexecs")) > int(before.member("reexecs")) {
                    println!(
                        "reexec: vigild (pid {}) runs vigil {} now",
                        int(info.member("pid")),
                        text(info.member("version"))
                    );
                    return;
                }
            }
            std::thread::sleep(POLL);
        }
        println!(
            "ERROR: reexec: the new vigild did not answer within {} s (see vigild's log)",
            ANSWER_LIMIT.as_secs()
        );
        self.exit = exit::GENERIC;
    }

    /// `vigil.getDaemonInfo`, or None after saying why not.
    fn daemon_info(&mut self) -> Option<Value> {
        match self.client.call("vigil.getDaemonInfo", &[]) {
            Ok(info) => Some(info),
            Err(err) => {
                println!("ERROR: {err}");
                self.exit = exit::GENERIC;
                None
            }
        }
    }
}
