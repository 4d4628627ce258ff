//! vigilctl's log commands: `tail` (with `-f` and a byte count), `fg` (the process's output
//! with stdin forwarded), `maintail`, over the log methods and `/logtail`, and vigil's
//! `rotate`.

use super::client::ClientError;
use super::processes::signal_result;
use super::{array, exit, text, Ctl, FaultCode, Value};

impl Ctl {
    /// `tail` without a name: supervisorctl's error, then the usage.
    fn tail_needs_a_name(&mut self) {
        println!("Error: too few arguments");
        println!("{}", super::help::of("tail").unwrap_or_default());
        self.exit = exit::GENERIC;
    }

    /// The last output of `name`'s run before the current one (`vigil.readPreviousLog`).
    fn tail_previous(&mut self, args: &[&str]) {
        let rest: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| *a != "--previous")
            .collect();
        let Some(name) = rest.first() else {
            self.tail_needs_a_name();
            return;
        };
        let channel = rest.get(1).copied().unwrap_or("stdout");
        match self.client.call(
            "vigil.readPreviousLog",
            &[Value::from(*name), Value::from(channel)],
        ) {
            Ok(value) => print!("{}", text(Some(&value))),
            Err(ClientError::Fault(code, _)) if code == FaultCode::BadName.code() => {
                println!("{name}: ERROR (no such process name)");
                self.exit = exit::GENERIC;
            }
            Err(err) => self.fail(&err),
        }
    }

    /// vigil `rotate name…|group:*|all|--main`: the logs rotated now, whatever their size.
    pub(super) fn rotate(&mut self, args: &[&str]) {
        if args.is_empty() {
            println!("Error: rotate requires a process name, all or --main");
            self.exit = exit::GENERIC;
            return;
        }
        let render = |spec: &str, code: i64, description: &str| {
            signal_result(spec, code, description, "rotated")
        };
        for arg in args {
            if *arg == "--main" {
                match self.client.call("vigil.rotateMainLog", &[]) {
                    Ok(_) => println!("main log: rotated"),
                    Err(ClientError::Fault(code, _)) if code == FaultCode::NoFile.code() => {
                        println!("main log: ERROR (no log file)");
                        self.exit = exit::GENERIC;
                    }
                    Err(err) => self.fail(&err),
                }
                continue;
            }
            match self.client.call("vigil.rotateLogs", &[Value::from(*arg)]) {
                Ok(results) => self.results(array(results), render, FaultCode::Success),
                Err(ClientError::Fault(code, _)) if code == FaultCode::BadName.code() => {
                    println!("{arg}: ERROR (no such process)");
                    self.exit = exit::GENERIC;
                }
                Err(err) => self.fail(&err),
            }
        }
    }

    /// `tail [-f|-N] name [stdout|stderr]`; vigil's `tail --previous name [stdout|stderr]`.
    pub(super) fn tail(&mut self, args: &[&str]) {
        if args.contains(&"--previous") {
            self.tail_previous(args);
            return;
        }
        let (follow, bytes, rest) = tail_flags(args);
        let Some(name) = rest.first() else {
            self.tail_needs_a_name();
            return;
        };
        let channel = rest.get(1).copied().unwrap_or("stdout");
        if follow {
            println!("==> Press Ctrl-C to exit <==");
            let path = format!("/logtail/{name}/{channel}");
            self.stream(&path);
            return;
        }
        let method = if channel == "stderr" {
            "supervisor.readProcessStderrLog"
        } else {
            "supervisor.readProcessStdoutLog"
        };
        match self.client.call(
            method,
            &[Value::from(*name), Value::Int(-bytes), Value::Int(0)],
        ) {
            Ok(value) => println!("{}", text(Some(&value))),
            Err(ClientError::Fault(code, _)) => {
                let why = match code {
                    c if c == FaultCode::NoFile.code() => "no log file",
                    c if c == FaultCode::BadName.code() => "no such process name",
                    _ => "unknown error reading log",
                };
                println!("{name}: ERROR ({why})");
                self.exit = exit::GENERIC;
            }
            Err(err) => self.fail(&err),
        }
    }

    /// `fg name`: the process's stdout and stderr are followed while typed lines go to its
    /// stdin, until end of input.
    pub(super) fn fg(&mut self, args: &[&str]) {
        let name = match args {
            [] => {
                println!("ERROR: no process name supplied");
                self.exit = exit::GENERIC;
                return;
            }
            [name] => *name,
            _ => {
                println!("ERROR: too many process names supplied");
                self.exit = exit::GENERIC;
                return;
            }
        };
        match self
            .client
            .call("supervisor.getProcessInfo", &[Value::from(name)])
        {
            Ok(info) if text(info.member("statename")) == "RUNNING" => {}
            Ok(_) => {
                println!("ERROR: process not running");
                self.exit = exit::GENERIC;
                return;
            }
            Err(ClientError::Fault(code, _)) if code == FaultCode::BadName.code() => {
                println!("ERROR: bad process name supplied");
                self.exit = exit::GENERIC;
                return;
            }
            Err(err) => return self.fail(&err),
        }
        println!("==> Press Ctrl-C to exit <==");
        for channel in ["stdout", "stderr"] {
            let client = self.client.clone();
            let path = format!("/logtail/{name}/{channel}");
            // The followers end with the process (vigilctl exits when input ends).
            std::thread::spawn(move || {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = client.follow(&path, |data| {
                    out.write_all(data).and_then(|()| out.flush()).is_ok()
                });
            });
        }
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Err(err) = self.client.call(
                "supervisor.sendProcessStdin",
                &[Value::from(name), Value::from(line.as_str())],
            ) {
                println!("ERROR: {err}");
                self.exit = exit::GENERIC;
                break;
            }
            line.clear();
        }
        println!("Exiting foreground");
    }

    pub(super) fn maintail(&mut self, args: &[&str]) {
        let (follow, bytes, _) = tail_flags(args);
        if follow {
            println!("==> Press Ctrl-C to exit <==");
            self.stream("/mainlogtail");
            return;
        }
        match self
            .client
            .call("supervisor.readLog", &[Value::Int(-bytes), Value::Int(0)])
        {
            Ok(value) => println!("{}", text(Some(&value))),
            Err(err) => self.fail(&err),
        }
    }

    pub(super) fn stream(&mut self, path: &str) {
        use std::io::Write;
        let mut stdout = std::io::stdout();
        let outcome = self.client.follow(path, |data| {
            stdout.write_all(data).and_then(|()| stdout.flush()).is_ok()
        });
        if let Err(err) = outcome {
            self.fail(&err);
        }
    }
}

/// `-f` and `-N` of tail/maintail; the default is the last 1600 bytes.
fn tail_flags<'a>(args: &[&'a str]) -> (bool, i64, Vec<&'a str>) {
    let mut follow = false;
    let mut bytes = 1600;
    let mut rest = Vec::new();
    for arg in args {
        if *arg == "-f" {
            follow = true;
        } else if let Some(n) = arg.strip_prefix('-').and_then(|n| n.parse().ok()) {
            bytes = n;
        } else {
            rest.push(*arg);
        }
    }
    (follow, bytes, rest)
}
