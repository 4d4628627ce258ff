//! TLS for vigil's TCP servers and for vigilctl (rustls on the ring provider, TLS 1.2 and
//! 1.3): PEM files into rustls configs with errors that name the file and the reason, a
//! server config that SIGHUP/SIGUSR2 reload in place ([`Reloadable`]), the listener that
//! does handshakes beside each other ([`listener`]), and vigilctl's client config
//! ([`client`]).
//!
//! It owns no socket of its own and knows nothing of HTTP: the http module hands it TCP
//! connections and serves what comes out.

pub mod client;
mod expiry;
pub mod listener;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::{Config, TlsFiles};

/// Why a certificate, key or CA file cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The option that names it.
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file has no `CERTIFICATE` block.
    #[error("{} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The option that names it.
        option: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The file has no private key block.
    #[error("{} holds no PEM private key", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The server's certificate is past its end of validity.
    #[error("the certificate in {} expired on {not_after}", path.display())]
    Expired {
        /// The file.
        path: PathBuf,
        /// Its notAfter, as `YYYY-MM-DD HH:MM:SS UTC`.
        not_after: String,
    },
    /// The key is not the certificate's.
    #[error("the key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The TLS provider cannot make a config (it lacks the protocol versions asked for).
    #[error("the TLS provider: {0}")]
    Provider(#[source] rustls::Error),
    /// Anything else rustls refuses in the file.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The option that names it.
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// What rustls or the PEM reader said.
        reason: String,
    },
}

impl TlsError {
    /// The config option whose file is at fault.
    pub fn option(&self) -> &'static str {
        match self {
            TlsError::Read { option, .. }
            | TlsError::NoCertificate { option, .. }
            | TlsError::Invalid { option, .. } => option,
            TlsError::Expired { .. } | TlsError::Provider(_) => "tls_cert",
            TlsError::NoKey { .. } | TlsError::KeyMismatch { .. } => "tls_key",
        }
    }

    /// Whether a file could not be read for want of permission: a vigild that has given up
    /// root reading again a key that root alone may read.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, TlsError::Read { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied)
    }
}

/// The provider every config here uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(option: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        option,
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in the PEM file at `path`, in order (at least one).
fn certificates(
    option: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(option, path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::Invalid {
            option,
            path: path.to_path_buf(),
            reason: err.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            option,
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// The private key in the PEM file at `path` (PKCS#8, PKCS#1 or SEC1).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("tls_key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| match err {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_path_buf(),
        },
        other => TlsError::Invalid {
            option: "tls_key",
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    })
}

/// The roots in the PEM file at `path`, for verifying the other side's certificate.
fn roots(option: &'static str, path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut store = rustls::RootCertStore::empty();
    for certificate in certificates(option, path)? {
        store.add(certificate).map_err(|err| TlsError::Invalid {
            option,
            path: path.to_path_buf(),
            reason: err.to_string(),
        })?;
    }
    Ok(store)
}

/// A server config from `files`: their chain and key (which must match, the leaf not
/// expired), asking clients for a certificate their CA signed when `tls_client_ca` is set.
/// Reads the files (blocking).
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let chain = certificates("tls_cert", &files.cert)?;
    if let Some(not_after) = chain.first().and_then(|leaf| expiry::not_after(leaf)) {
        if not_after < chrono::Utc::now().timestamp() {
            return Err(TlsError::Expired {
                path: files.cert.clone(),
                not_after: expiry::utc(not_after),
            });
        }
    }
    let key = private_key(&files.key)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Provider)?;
    let builder = match &files.client_ca {
        Some(path) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots("tls_client_ca", path)?),
                provider,
            )
            .build()
            .map_err(|err| TlsError::Invalid {
                option: "tls_client_ca",
                path: path.clone(),
                reason: err.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(chain, key)
        .map_err(|err| key_error(err, "tls_key", &files.cert, &files.key))
}

/// rustls's refusal of a certificate and key pair: a key that is not the certificate's, or
/// whatever else is wrong with the key named by `option`.
fn key_error(err: rustls::Error, option: &'static str, cert: &Path, key: &Path) -> TlsError {
    match err {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        },
        other => TlsError::Invalid {
            option,
            path: key.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// The TLS files `config` names for `server` (`inet_http_server` or `metrics`), if any.
pub fn files_in<'a>(server: &str, config: &'a Config) -> Option<&'a TlsFiles> {
    match server {
        "metrics" => config.metrics_server.as_ref()?.tls.as_ref(),
        _ => config.inet_http_server.as_ref()?.tls.as_ref(),
    }
}

/// A server's TLS config, which a reload replaces while the listener goes on: each new
/// connection takes the config current when it arrives; those already open keep theirs.
#[derive(Clone)]
pub struct Reloadable {
    /// The section it serves (`inet_http_server`, `metrics`), for the log and the config.
    server: &'static str,
    /// The files in use, locked for the whole of a reload: two reloads (a SIGHUP and a
    /// SIGUSR2 close together) read and swap one after the other, the later one last.
    files: Arc<Mutex<TlsFiles>>,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl Reloadable {
    /// Loads `files` for `server` (blocking).
    pub fn load(server: &'static str, files: &TlsFiles) -> Result<Self, TlsError> {
        Ok(Reloadable {
            server,
            files: Arc::new(Mutex::new(files.clone())),
            current: Arc::new(RwLock::new(Arc::new(server_config(files)?))),
        })
    }

    /// The config for the next connection.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads the files again, those `config` names now when it is given (a SIGHUP's reload),
    /// else those in use, and if they serve puts them in use; on an error the config in use
    /// stays. Blocking: the files may sit on a slow disk.
    pub fn reload(&self, config: Option<&Config>) -> Result<(), TlsError> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let wanted = match config.map(|config| files_in(self.server, config)) {
            Some(Some(named)) => named.clone(),
            Some(None) => {
                tracing::warn!(
                    "{}: the config has no tls_cert= now; serving without TLS takes `vigilctl reexec` or a restart, the certificate in use is read again",
                    self.server
                );
                files.clone()
            }
            None => files.clone(),
        };
        let fresh = Arc::new(server_config(&wanted)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        *files = wanted;
        Ok(())
    }

    /// Reloads, saying in the main log what came of it.
    pub fn reload_logged(&self, config: Option<&Config>) {
        match self.reload(config) {
            Ok(()) => tracing::info!(
                "{}: reloaded the TLS certificate {}",
                self.server,
                self.files
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .cert
                    .display()
            ),
            Err(err) => tracing::error!(
                "{}: cannot reload the TLS certificate ({err}): keeping the one in use",
                self.server
            ),
        }
    }
}
