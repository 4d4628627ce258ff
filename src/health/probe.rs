//! One probe of a health check, under its timeout: `Ok` with what it saw when healthy,
//! [`Unhealthy`] with what it saw (the text a crash record keeps) when not.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{HealthCheck, Probe};
use crate::supervisor::{Control, Handle, ProbeChild, ProcKey};

/// A probe that failed, with what it saw: the connection error, the HTTP status line, the
/// command's exit and output, or the timeout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unhealthy(pub String);

/// Output kept from a probe.
const OUTPUT_LIMIT: usize = 16 * 1024;

/// Runs `check`'s probe once for the process `key`.
pub async fn run(handle: &Handle, key: &ProcKey, check: &HealthCheck) -> Result<String, Unhealthy> {
    let timeout = check.timeout;
    match &check.probe {
        Probe::Tcp { host, port } => {
            match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), *port))).await {
                Ok(Ok(_)) => Ok(format!("connected to {host}:{port}")),
                Ok(Err(err)) => Err(Unhealthy(format!(
                    "could not connect to {host}:{port}: {err}"
                ))),
                Err(_) => Err(timed_out(timeout, &format!("connecting to {host}:{port}"))),
            }
        }
        Probe::Http { host, port, path } => {
            let url = format!("http://{host}:{port}{path}");
            match tokio::time::timeout(timeout, http_get(host, *port, path)).await {
                Ok(Ok((status, head))) if (200..400).contains(&status) => {
                    Ok(format!("GET {url}: {head}"))
                }
                Ok(Ok((_, head))) => Err(Unhealthy(format!("GET {url}: {head}"))),
                Ok(Err(err)) => Err(Unhealthy(format!("GET {url}: {err}"))),
                Err(_) => Err(timed_out(timeout, &format!("GET {url}"))),
            }
        }
        Probe::Command(command) => run_command(handle, key, command, timeout).await,
    }
}

fn timed_out(timeout: Duration, what: &str) -> Unhealthy {
    Unhealthy(format!(
        "{what}: no answer within {}s",
        timeout.as_secs_f64()
    ))
}

/// What a probe sees when the supervisor is gone.
fn supervisor_stopped() -> Unhealthy {
    Unhealthy("the supervisor has stopped".into())
}

/// `GET path`; the status code and the response's first line.
async fn http_get(host: &str, port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect((host, port)).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: vigil-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while !response.contains(&b'\n') && response.len() < OUTPUT_LIMIT {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..read]);
    }
    let text = String::from_utf8_lossy(&response);
    let line = text.lines().next().unwrap_or_default().trim().to_string();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: '{line}'")))?;
    Ok((status, line))
}

/// Has the supervisor start `command` (as the program's user, in its directory and
/// environment) and waits for its exit; a probe over its time is killed with its group.
async fn run_command(
    handle: &Handle,
    key: &ProcKey,
    command: &str,
    timeout: Duration,
) -> Result<String, Unhealthy> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    if !handle.send(Control::RunProbe {
        key: key.clone(),
        command: command.to_string(),
        reply,
    }) {
        return Err(supervisor_stopped());
    }
    let ProbeChild { pid, output, exit } = answer
        .await
        .map_err(|_| supervisor_stopped())?
        .map_err(|refused| Unhealthy(refused.to_string()))?;
    let started = tokio::time::Instant::now();
    let reading = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        // All of it is read (a probe must not die of a closed pipe), the start kept.
        let mut kept = Vec::new();
        let mut chunk = [0u8; 8192];
        let mut pipe = std::fs::File::from(output);
        while let Ok(read) = pipe.read(&mut chunk) {
            if read == 0 {
                break;
            }
            let room = OUTPUT_LIMIT.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..read.min(room)]);
        }
        String::from_utf8_lossy(&kept).trim_end().to_string()
    });
    match tokio::time::timeout(timeout, exit).await {
        Ok(Ok(outcome)) => {
            // Something the probe started may hold its output open: wait no longer than
            // the probe's own time.
            let left = timeout.saturating_sub(started.elapsed());
            let output = match tokio::time::timeout(left, reading).await {
                Ok(Ok(output)) => output,
                _ => String::from("(its output was still open when it ended)"),
            };
            if outcome.exit_status() == 0 && outcome.is_expected(&[0]) {
                Ok(output)
            } else {
                Err(Unhealthy(format!(
                    "{} ({}): {output}",
                    command,
                    outcome.describe()
                )))
            }
        }
        Ok(Err(_)) => Err(supervisor_stopped()),
        Err(_) => {
            // The probe and whatever it started: its pid leads its own process group.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            Err(timed_out(timeout, command))
        }
    }
}
