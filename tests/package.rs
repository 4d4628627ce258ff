//! The Debian package: `packaging/build-deb` (cargo-deb) on this run's debug binaries, the
//! package's contents and control files, the shipped config checked by the packaged vigild
//! from a scratch root (`dpkg -x`), and, as root on a host without vigil installed, a real
//! `dpkg -i`: the packaged vigild and vigilctl (and Python's supervisorctl) on
//! `/etc/vigil/vigil.conf` with a program in `conf.d`, then `dpkg --purge`.
//!
//! A test binary of its own: cargo runs test binaries one after another, so the real install
//! (which puts `/etc/vigil/vigil.conf` on the search path) never overlaps the other tests.

#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{exit_and_text, new_session, supervisorctl_bin, wait_until, SessionGuard, Workspace};

/// cargo-deb from the PATH or where `scripts/test` installs it; `None` says why not.
fn cargo_deb() -> Result<PathBuf, String> {
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/cargo-deb");
    if installed.is_file() {
        return Ok(installed);
    }
    let on_path = Command::new("cargo-deb")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    match on_path {
        Ok(status) if status.success() => Ok(PathBuf::from("cargo-deb")),
        _ => {
            Err("cargo-deb is not installed (./scripts/test installs it under target/tools)".into())
        }
    }
}

/// Runs `program args`; returns (exit code, stdout+stderr).
fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> (i32, String) {
    run_in(Path::new("."), program, args)
}

/// Builds the package into `out`; returns the .deb's path.
fn build_deb(out: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/build-deb");
    let out_arg = out.to_str().expect("utf-8 temp dir");
    let (code, text) = run(
        &script,
        &["--profile", "dev", "--no-build", "--output", out_arg],
    );
    assert_eq!(code, 0, "packaging/build-deb failed:\n{text}");
    std::fs::read_dir(out)
        .expect("read the output dir")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .unwrap_or_else(|| panic!("no .deb in {}:\n{text}", out.display()))
}

/// Removes the package again, even when the test fails half way.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["--purge", "vigil"]);
        let _ = std::fs::remove_dir_all("/etc/vigil");
    }
}

#[test]
fn the_debian_package_installs_binaries_config_unit_man_pages_and_completions() {
    let cargo_deb = match cargo_deb() {
        Ok(path) => path,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    // build-deb finds cargo-deb the same way; say which one for the log.
    eprintln!("cargo-deb: {}", cargo_deb.display());
    let ws = Workspace::new();
    let deb = build_deb(&ws.path().join("out"));
    let deb_arg = deb.to_str().expect("utf-8 path");

    let (code, contents) = run("dpkg-deb", &["--contents", deb_arg]);
    assert_eq!(code, 0, "{contents}");
    for path in [
        "./usr/bin/vigild",
        "./usr/bin/vigilctl",
        "./etc/vigil/vigil.conf",
        "./usr/lib/systemd/system/vigild.service",
        "./usr/share/man/man1/vigild.1.gz",
        "./usr/share/man/man1/vigilctl.1.gz",
        "./usr/share/bash-completion/completions/vigilctl",
        "./usr/share/zsh/vendor-completions/_vigilctl",
        "./usr/share/fish/vendor_completions.d/vigilctl.fish",
        "./usr/share/doc/vigil/copyright",
    ] {
        assert!(
            contents.lines().any(|line| line.ends_with(path)),
            "{path} is not in the package:\n{contents}"
        );
    }
    let (_, fields) = run("dpkg-deb", &["--field", deb_arg, "Package", "Depends"]);
    assert!(fields.contains("Package: vigil"), "{fields}");
    assert!(fields.contains("libc6"), "{fields}");

    // Control files: the config is a conffile (kept on upgrade), the unit enabled and
    // started by the maintainer scripts, the directories made for hosts without systemd.
    let control = ws.path().join("control");
    let (code, text) = run(
        "dpkg-deb",
        &["--control", deb_arg, control.to_str().unwrap_or_default()],
    );
    assert_eq!(code, 0, "{text}");
    let conffiles = std::fs::read_to_string(control.join("conffiles")).expect("conffiles");
    assert_eq!(conffiles.trim(), "/etc/vigil/vigil.conf");
    let postinst = std::fs::read_to_string(control.join("postinst")).expect("postinst");
    assert!(postinst.contains("deb-systemd-helper"), "{postinst}");
    assert!(postinst.contains("vigild.service"), "{postinst}");
    // An upgrade leaves vigild running (vigilctl reexec hands the fleet over).
    let prerm = std::fs::read_to_string(control.join("prerm")).unwrap_or_default();
    assert!(
        prerm.contains("[ \"$1\" = remove ]") && !prerm.contains("upgrade"),
        "{prerm}"
    );
    assert!(!postinst.contains("restart"), "{postinst}");
    assert!(
        postinst.contains("mkdir -p /etc/vigil/conf.d /var/log/vigil"),
        "{postinst}"
    );

    // A scratch root: the packaged vigild checks the packaged config, in a mount namespace
    // where the directories the postinst (or the unit) makes exist; where no namespace can
    // be made, bare, where it may only miss those directories.
    let root = ws.path().join("root");
    let (code, text) = run(
        "dpkg-deb",
        &["-x", deb_arg, root.to_str().unwrap_or_default()],
    );
    assert_eq!(code, 0, "{text}");
    let vigild = root.join("usr/bin/vigild");
    let conf = root.join("etc/vigil/vigil.conf");
    let check = format!(
        "'{}' --check-config -c '{}'",
        vigild.display(),
        conf.display()
    );
    let with_dirs = format!(
        "mount -t tmpfs vigil /run && mkdir /run/vigil && mount -t tmpfs vigil /var/log \
         && mkdir /var/log/vigil && {check}"
    );
    let unshare: &[&str] = if nix::unistd::geteuid().is_root() {
        &["--mount"]
    } else {
        &["--mount", "--map-root-user"]
    };
    let (code, text) = run("unshare", &[unshare, &["sh", "-c", &with_dirs]].concat());
    if text.contains("unshare failed") {
        eprintln!("no mount namespace here ({text}): checking the config bare");
        let (code, text) = run("sh", &["-c", &check]);
        let others: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("Error:"))
            .filter(|l| !l.contains("/var/log/vigil") && !l.contains("/run/vigil"))
            .collect();
        assert!(code == 0 || others.is_empty(), "{text}");
    } else {
        assert_eq!(code, 0, "the shipped config does not check:\n{text}");
        assert!(text.contains("config OK"), "{text}");
    }
    let (code, text) = run(root.join("usr/bin/vigilctl"), &["-v"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    // The man pages render, the unit names the packaged config, bash loads the completion.
    let man = root.join("usr/share/man/man1/vigilctl.1.gz");
    let (code, page) = run(
        "sh",
        &[
            "-c",
            &format!("zcat '{}' | groff -man -Tutf8", man.display()),
        ],
    );
    assert_eq!(code, 0, "{page}");
    assert!(page.contains("vigilctl"), "{page}");
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/vigild.service"))
        .expect("the unit");
    assert!(
        unit.contains("ExecStart=/usr/bin/vigild -n -c /etc/vigil/vigil.conf"),
        "{unit}"
    );
    assert!(unit.contains("Type=notify"), "{unit}");
    let completion = root.join("usr/share/bash-completion/completions/vigilctl");
    let (code, text) = run(
        "bash",
        &[
            "-c",
            &format!("source '{}' && complete -p vigilctl", completion.display()),
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("vigilctl"), "{text}");

    install_for_real(&deb, &ws);
}

/// `dpkg -i` on this host, as root only and only where vigil is not installed already.
fn install_for_real(deb: &Path, ws: &Workspace) {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped the real install: dpkg -i needs root");
        return;
    }
    if Path::new("/run/systemd/system").exists() {
        eprintln!("skipped the real install: this host runs systemd, where dpkg -i would start vigild.service on the host");
        return;
    }
    if run("dpkg", &["--status", "vigil"]).0 == 0 || Path::new("/etc/vigil").exists() {
        eprintln!("skipped the real install: vigil is installed on this host already");
        return;
    }
    let deb_arg = deb.to_str().expect("utf-8 path");
    let installed = Installed;
    let (code, text) = run("dpkg", &["--install", deb_arg]);
    assert_eq!(code, 0, "dpkg -i failed:\n{text}");
    for dir in ["/etc/vigil/conf.d", "/var/log/vigil", "/run/vigil"] {
        assert!(Path::new(dir).is_dir(), "postinst did not make {dir}");
    }
    let (code, text) = run(
        "systemd-analyze",
        &["verify", "/usr/lib/systemd/system/vigild.service"],
    );
    assert_eq!(code, 0, "systemd-analyze verify:\n{text}");

    // A program in conf.d; vigild and vigilctl find /etc/vigil/vigil.conf with no -c.
    std::fs::write(
        "/etc/vigil/conf.d/hello.conf",
        "[program:hello]\ncommand=sleep 600\n",
    )
    .expect("write conf.d/hello.conf");
    let (code, list) = run_in(ws.path(), "/usr/bin/vigild", &["--check-config", "--list"]);
    assert_eq!((code, list.trim()), (0, "hello:hello"), "{list}");
    let mut command = Command::new("/usr/bin/vigild");
    command
        .arg("-n")
        .current_dir(ws.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    new_session(&mut command);
    let mut child = command.spawn().expect("start the packaged vigild");
    let _guard = SessionGuard(child.id() as i32);
    let mut status = String::new();
    let running = wait_until(|| {
        status = run_in(ws.path(), "/usr/bin/vigilctl", &["status", "hello"]).1;
        status.contains("RUNNING")
    });
    assert!(running, "vigilctl with no -c: {status}");
    let (_, by_supervisorctl) = run(
        supervisorctl_bin(),
        &["-c", "/etc/vigil/vigil.conf", "status", "hello"],
    );
    assert!(by_supervisorctl.contains("RUNNING"), "{by_supervisorctl}");
    let (code, text) = run_in(ws.path(), "/usr/bin/vigilctl", &["shutdown"]);
    assert_eq!(code, 0, "{text}");
    let exited = child.wait().expect("wait for the packaged vigild");
    assert!(exited.success(), "{exited}");
    let log = std::fs::read_to_string("/var/log/vigil/vigild.log").unwrap_or_default();
    assert!(
        log.contains("success: hello entered RUNNING state"),
        "{log}"
    );

    std::fs::remove_file("/etc/vigil/conf.d/hello.conf").expect("remove conf.d/hello.conf");
    let (code, text) = run("dpkg", &["--purge", "vigil"]);
    assert_eq!(code, 0, "dpkg --purge:\n{text}");
    assert!(!Path::new("/usr/bin/vigild").exists());
    for gone in ["/etc/vigil", "/var/log/vigil", "/run/vigil"] {
        assert!(!Path::new(gone).exists(), "{gone} is left after the purge");
    }
    drop(installed);
}

/// [`run`] in `dir`.
fn run_in(dir: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> (i32, String) {
    exit_and_text(Command::new(program).args(args).current_dir(dir))
}
