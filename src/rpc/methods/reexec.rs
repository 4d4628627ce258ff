//! `vigil.reexec(path)`: hands the fleet to a new vigild image without touching a program.
//! The pre-flight runs here, off the supervisor and bounded in time: the binary exists and
//! is executable, answers `--version`, reads this vigild's handover records, and passes
//! `--check-config` on the command line vigild runs with, and the TCP servers' TLS files
//! load as vigild runs now (as `user=`, maybe); only then is the supervisor asked
//! (it refuses while the fleet is in a state a handover does not carry). The answer comes
//! once the record is made; the exec follows it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Outcome;
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::faults::{Fault, FaultCode};
use crate::rpc::Api;
use crate::supervisor::Control;

/// How long each pre-flight command may take.
const PREFLIGHT_LIMIT: Duration = Duration::from_secs(30);
/// The most of a pre-flight command's output kept.
const OUTPUT_LIMIT: u64 = 64 * 1024;

/// `vigil.reexec(path)`: `path` empty means the binary vigild runs now, read again from
/// disk (a package upgrade replaced it).
pub(super) async fn reexec(api: &Api, args: Args<'_>) -> Outcome {
    let path = args.string()?;
    let binary = if path.is_empty() {
        crate::handover::running_binary()
            .map_err(|err| failed(format!("cannot tell which binary runs: {err}")))?
    } else {
        PathBuf::from(path)
    };
    if let Some(under_way) = api.sequences.first() {
        return Err(failed(format!(
            "{under_way} is under way: try again once it is done"
        )));
    }
    let version = preflight(api, &binary).await?;
    // The pre-flight took a while: a sequence may have begun meanwhile.
    if let Some(under_way) = api.sequences.first() {
        return Err(failed(format!(
            "{under_way} is under way: try again once it is done"
        )));
    }
    // The file as the new image will read it, at the sizes groups are scaled to now.
    let file = super::daemon::reread(api, None).await?;
    let file = tls_loads(file).await?;
    api.handle
        .request(move |reply| Control::Reexec {
            binary,
            version,
            file: Box::new(file),
            reply,
        })
        .await
        .map_err(|refusal| Fault::refused(refusal, "reexec"))?;
    Ok(Value::Bool(true))
}

fn failed(why: String) -> Fault {
    Fault::with(FaultCode::Failed, format!("reexec: {why}"))
}

/// The checks before anything is frozen; the binary's `--version` when they pass.
async fn preflight(api: &Api, binary: &Path) -> Result<String, Fault> {
    let relaunch = &api.relaunch;
    if !binary.is_absolute() {
        return Err(failed(format!(
            "{} is not an absolute path",
            binary.display()
        )));
    }
    let metadata = tokio::fs::metadata(binary)
        .await
        .map_err(|err| failed(format!("{}: {err}", binary.display())))?;
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        return Err(failed(format!(
            "{} is not an executable file",
            binary.display()
        )));
    }
    let version = run(api, binary, &["--version".into()])
        .await
        .map_err(failed)?;
    let reads = run(api, binary, &["--handover-version".into()])
        .await
        .map_err(failed)?;
    if reads.parse::<u32>().unwrap_or(0) < crate::handover::VERSION {
        return Err(failed(format!(
            "{} ({version}) reads handover records up to version {reads}; this vigild \
             writes version {}",
            binary.display(),
            crate::handover::VERSION
        )));
    }
    let mut check: Vec<String> = relaunch.args.clone();
    check.push("--check-config".into());
    run(api, binary, &check).await.map_err(|why| {
        failed(format!(
            "the config does not pass the new binary's check ({why})"
        ))
    })?;
    Ok(version)
}

/// `file` when the new image, running as vigild runs now, can load the TCP servers' TLS
/// from it (a vigild that gave up root for `user=` cannot read a key that root alone may;
/// the new image would serve that server without it).
async fn tls_loads(file: crate::config::Config) -> Result<crate::config::Config, Fault> {
    let (file, failures) = tokio::task::spawn_blocking(move || {
        let (_, failures) = crate::http::load_tls(&file);
        (file, failures)
    })
    .await
    .map_err(|err| failed(err.to_string()))?;
    match failures.first() {
        None => Ok(file),
        Some(failure) => Err(failed(format!(
            "the new image, running as uid {}, could not load {failure}",
            nix::unistd::geteuid()
        ))),
    }
}

/// Runs `binary args` as a child of vigild (stdin from /dev/null, at most
/// [`PREFLIGHT_LIMIT`]); its output, trimmed, when it exits 0, else what went wrong.
async fn run(api: &Api, binary: &Path, args: &[String]) -> Result<String, String> {
    let shown = format!("{} {}", binary.display(), args.join(" "));
    let mut argv = vec![binary.display().to_string()];
    argv.extend(args.iter().cloned());
    let (reply, answer) = tokio::sync::oneshot::channel();
    if !api.handle.send(Control::RunCommand { argv, reply }) {
        return Err("vigild is stopping".into());
    }
    let child = answer
        .await
        .map_err(|_| "vigild is stopping".to_string())?
        .map_err(|err| format!("cannot run {shown}: {err}"))?;
    let pid = child.pid;
    let reading = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut kept = Vec::new();
        let _ = std::fs::File::from(child.output)
            .take(OUTPUT_LIMIT)
            .read_to_end(&mut kept);
        kept
    });
    let Ok(Ok(outcome)) = tokio::time::timeout(PREFLIGHT_LIMIT, child.exit).await else {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        return Err(format!(
            "{shown} did not answer within {}s",
            PREFLIGHT_LIMIT.as_secs()
        ));
    };
    // A grandchild may hold the pipe: what came by the exit and a moment more is kept.
    let output = tokio::time::timeout(Duration::from_secs(1), reading)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&output).trim().to_string();
    match outcome {
        crate::process::exit::ExitOutcome::Exited(0) => Ok(text),
        other => Err(format!("{shown}: {}, {text}", other.describe())),
    }
}
