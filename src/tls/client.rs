//! vigilctl's side of TLS: which roots it trusts (`--cacert`/`cacert=`, else the system's),
//! its own certificate for servers that ask for one (`--client-cert`/`--client-key`), and
//! the words for a handshake that failed, saying how to fix it.
//!
//! It makes configs and reads errors; the connection itself is the client's.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ClientConfig;

use super::{certificates, key_error, private_key, provider, roots, TlsError};

/// What vigilctl was told about TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// The CA certificates to trust instead of the system's.
    pub cacert: Option<PathBuf>,
    /// vigilctl's own certificate and key, for `tls_client_ca` servers.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// A client config from `tls` (reads the files named).
pub fn config(tls: &ClientTls) -> Result<Arc<ClientConfig>, TlsError> {
    let store = match &tls.cacert {
        Some(path) => roots("cacert", path)?,
        None => system_roots(),
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Provider)?
        .with_root_certificates(store);
    let config = match &tls.identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(certificates("client_cert", cert)?, private_key(key)?)
            .map_err(|err| key_error(err, "client_key", cert, key))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The system's trusted roots (what it has; none is not an error here, the handshake will
/// say the server is not trusted).
fn system_roots() -> rustls::RootCertStore {
    let mut store = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    store.add_parsable_certificates(found.certs);
    store
}

/// Why a handshake with a server failed, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeFailure {
    /// No root vigilctl trusts signed the server's certificate.
    #[error("the server's certificate is not signed by a CA vigilctl trusts: give the CA's certificate with --cacert FILE (or cacert= in [supervisorctl])")]
    Untrusted,
    /// The server's certificate is past its end.
    #[error("the server's certificate has expired: renew it (tls_cert=, tls_key=) and send vigild SIGHUP")]
    Expired,
    /// The certificate is for other names.
    #[error("the server's certificate is not for {host}: use a name it was issued for in -s, or reissue it with {host} among its names")]
    OtherName {
        /// The name vigilctl asked for.
        host: String,
    },
    /// The server asks for a client certificate and none was given.
    #[error("the server wants a client certificate it trusts: give --client-cert FILE --client-key FILE (or client_cert= and client_key= in [supervisorctl])")]
    CertificateWanted,
    /// The server refused the client certificate given.
    #[error("the server did not accept vigilctl's client certificate (is it signed by the server's tls_client_ca?)")]
    CertificateRefused,
    /// Anything else.
    #[error("TLS failed: {0}")]
    Other(rustls::Error),
}

/// What failed when the exchange with `host` failed with `err`, if it was TLS that failed;
/// `identified` says whether vigilctl showed a client certificate.
pub fn failure(host: &str, identified: bool, err: &std::io::Error) -> Option<HandshakeFailure> {
    use rustls::{AlertDescription, CertificateError, Error};
    let tls = err.get_ref()?.downcast_ref::<Error>()?;
    Some(match tls {
        Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => HandshakeFailure::Untrusted,
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => HandshakeFailure::Expired,
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => HandshakeFailure::OtherName {
            host: host.to_string(),
        },
        Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::HandshakeFailure
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA,
        ) => {
            if identified {
                HandshakeFailure::CertificateRefused
            } else {
                HandshakeFailure::CertificateWanted
            }
        }
        other => HandshakeFailure::Other(other.clone()),
    })
}

/// The host part of `address` (`host:port`, `[v6]:port`), for the certificate's name.
pub fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    address.rsplit_once(':').map_or(address, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_address_is_what_the_certificate_must_name() {
        assert_eq!(host_of("127.0.0.1:9001"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9001"), "::1");
        assert_eq!(host_of("vigil.example:443"), "vigil.example");
        assert_eq!(host_of("localhost"), "localhost");
    }
}
