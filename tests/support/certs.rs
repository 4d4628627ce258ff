//! Certificates for the TLS tests, made by the real `openssl` command line in a temp dir: a
//! test CA, a server certificate it signed for `localhost` and `127.0.0.1`, client
//! certificates (one signed by the CA, one self-signed), and an expired server certificate.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A set of PEM files in a temp dir of their own.
pub struct Certs {
    dir: TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A new P-256 key in `key` and a request for `cn` in `csr`.
fn request(dir: &Path, key: &str, csr: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            key,
            "-out",
            csr,
        ],
    );
}

impl Certs {
    /// Makes the CA, `server`, `client` (CA-signed), `rogue` (self-signed) and `expired`
    /// (CA-signed, its end of validity yesterday); `server2` is a second server
    /// certificate for the same names (a renewal).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let at = dir.path();
        openssl(
            at,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=vigil test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        std::fs::write(
            at.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .expect("server.ext");
        std::fs::write(at.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("client.ext");
        for (name, ext, days) in [
            ("server", "server.ext", "2"),
            ("server2", "server.ext", "2"),
            ("client", "client.ext", "2"),
            ("expired", "server.ext", "-1"),
        ] {
            let (key, csr, pem) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
            );
            request(
                at,
                &key,
                &csr,
                if name == "client" {
                    "vigilctl"
                } else {
                    "localhost"
                },
            );
            openssl(
                at,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    days,
                    "-extfile",
                    ext,
                    "-out",
                    &pem,
                ],
            );
        }
        request(at, "rogue.key", "rogue.csr", "rogue");
        openssl(
            at,
            &[
                "x509",
                "-req",
                "-in",
                "rogue.csr",
                "-signkey",
                "rogue.key",
                "-days",
                "2",
                "-extfile",
                "client.ext",
                "-out",
                "rogue.pem",
            ],
        );
        Certs { dir }
    }

    /// The path of one of the files (`ca.pem`, `server.key`, …).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// [`Certs::path`] as text, for configs and command lines.
    pub fn file(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}
