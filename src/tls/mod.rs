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
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::TlsFiles;

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
            TlsError::Expired { .. } => "tls_cert",
            TlsError::NoKey { .. } | TlsError::KeyMismatch { .. } => "tls_key",
        }
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
    let invalid = |option: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |err: rustls::Error| TlsError::Invalid {
            option,
            path,
            reason: err.to_string(),
        }
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(invalid("tls_cert", &files.cert))?;
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
        .map_err(|err| match err {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            },
            other => invalid("tls_key", &files.key)(other),
        })
}

/// A server's TLS config, which a reload replaces while the listener goes on: each new
/// connection takes the config current when it arrives; those already open keep theirs.
#[derive(Clone)]
pub struct Reloadable {
    /// The section it serves (`inet_http_server`, `metrics`), for the log.
    server: &'static str,
    files: TlsFiles,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl Reloadable {
    /// Loads `files` for `server` (blocking).
    pub fn load(server: &'static str, files: &TlsFiles) -> Result<Self, TlsError> {
        Ok(Reloadable {
            server,
            files: files.clone(),
            current: Arc::new(RwLock::new(Arc::new(server_config(files)?))),
        })
    }

    /// The config for the next connection.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads the files again and, if they serve, puts them in use; on an error the
    /// config in use stays (blocking: the files may sit on a slow disk).
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(server_config(&self.files)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// Reloads, saying in the main log what came of it.
    pub fn reload_logged(&self) {
        match self.reload() {
            Ok(()) => tracing::info!(
                "{}: reloaded the TLS certificate {}",
                self.server,
                self.files.cert.display()
            ),
            Err(err) => tracing::error!(
                "{}: cannot reload the TLS certificate ({err}): keeping the one in use",
                self.server
            ),
        }
    }
}
