//! A small blocking XML-RPC client over supervisord's transports: `unix:///path` sockets and
//! `http://host:port`, and vigil's `https://host:port` (rustls), with basic auth; plus the
//! streaming `GET` used by `tail -f`.
//!
//! It trusts nothing the server says about sizes: a response body is read piece by piece up
//! to [`MAX_BODY`], header and chunk-size lines up to [`MAX_LINE`], and connecting and every
//! read are bounded by the client's timeout (a hung server is an error naming its URL).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use crate::rpc::codec::{self, Value};

/// The largest response body a call accepts (a status of 10,000 processes is a few MiB).
pub const MAX_BODY: u64 = 64 << 20;

/// The longest status, header or chunk-size line accepted.
pub const MAX_LINE: u64 = 64 << 10;

/// Bytes read at a time from a body.
const PIECE: usize = 64 << 10;

/// supervisord's methods that wait for children to start or stop (with `wait=true`, as
/// vigilctl calls them): as with supervisorctl, their answer may take as long as the
/// programs' `startsecs`/`stopwaitsecs`, so only connecting and sending are bounded. Every
/// command checks the server with a bounded `getVersion` first, so a hung server is still
/// found.
const WAITING_METHODS: [&str; 10] = [
    "supervisor.startProcess",
    "supervisor.startProcessGroup",
    "supervisor.startAllProcesses",
    "supervisor.stopProcess",
    "supervisor.stopProcessGroup",
    "supervisor.stopAllProcesses",
    "vigil.startProcesses",
    "vigil.stopProcesses",
    "vigil.updateProcessGroup",
    "vigil.rollingRestart",
];

/// Why a call failed before a value came back.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a fault.
    #[error("{1}")]
    Fault(i64, String),
    /// A `vigil.*` method the server does not know: it is supervisord, or an older vigild.
    #[error("{method}: the server has no vigil.* methods (it is supervisord, not vigild); this command needs vigild")]
    NotVigild {
        /// The method called.
        method: String,
    },
    /// Connecting failed (refused, no such socket file).
    #[error("{0}")]
    Connect(io::Error),
    /// HTTP 401.
    #[error("Server requires authentication")]
    Unauthorized,
    /// The server did not accept the connection, or did not answer, within the timeout.
    #[error("{url}: no answer within {} s (vigilctl -t sets the timeout)", .after.as_secs_f64())]
    TimedOut {
        /// The server URL.
        url: String,
        /// The timeout that passed.
        after: Duration,
    },
    /// The server announced or sent more than the client accepts.
    #[error("{url}: {what} is larger than the {limit} bytes vigilctl accepts")]
    TooLarge {
        /// The server URL.
        url: String,
        /// What was too large (the response body, a header line, …).
        what: &'static str,
        /// The limit it passed.
        limit: u64,
    },
    /// The TLS handshake with the server failed: what went wrong and how to fix it.
    #[error("{url}: {failure}")]
    Tls {
        /// The server URL.
        url: String,
        /// Why, and what to do.
        failure: crate::tls::client::HandshakeFailure,
    },
    /// The TLS connection could not be set up (a server name rustls cannot check).
    #[error("{url}: {error}")]
    TlsSetup {
        /// The server URL.
        url: String,
        /// What rustls said.
        error: rustls::Error,
    },
    /// Anything else about the exchange.
    #[error("{0}")]
    Protocol(String),
}

/// Where and how to reach the server.
#[derive(Debug, Clone)]
pub struct Client {
    /// `unix:///path`, `http://host:port` or `https://host:port`.
    pub serverurl: String,
    /// Basic-auth user and password.
    pub credentials: Option<(String, String)>,
    /// How long connecting, and each read of an answer, may take (`None`: forever).
    pub timeout: Option<Duration>,
    /// The TLS config for `https://` servers (vigilctl builds it when a URL needs it).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Unsignalled>>),
}

/// A TCP stream whose every write is std's `send` with `MSG_NOSIGNAL`: rustls writes
/// records with `write_vectored`, which std does with `writev`, and a server that closed
/// the connection (refusing a client certificate, say) would end vigilctl with SIGPIPE.
struct Unsignalled(TcpStream);

impl Read for Unsignalled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Unsignalled {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Stream {
    fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(read).and(s.set_write_timeout(write)),
            Stream::Tcp(s) => s.set_read_timeout(read).and(s.set_write_timeout(write)),
            Stream::Tls(s) => {
                let s = &s.get_ref().0;
                s.set_read_timeout(read).and(s.set_write_timeout(write))
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    /// A server that has closed the connection is an error here, never a SIGPIPE
    /// (vigilctl lets SIGPIPE end it when its own output's reader goes away): `send` with
    /// `MSG_NOSIGNAL`, as std's TcpStream already writes.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => {
                use std::os::fd::AsRawFd;
                nix::sys::socket::send(s.as_raw_fd(), buf, nix::sys::socket::MsgFlags::MSG_NOSIGNAL)
                    .map_err(io::Error::from)
            }
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// How the response says its body ends.
#[derive(Debug, Clone, Copy)]
enum Framing {
    Chunked,
    Length(u64),
    /// At the end of the connection.
    Close,
}

/// A response whose status was 200, its headers read.
struct Response<'a> {
    client: &'a Client,
    reader: BufReader<Stream>,
    framing: Framing,
}

/// The `host:port` of a URL's part after its scheme (its path left off).
fn authority(rest: &str) -> &str {
    rest.split_once('/').map_or(rest, |(address, _)| address)
}

impl Client {
    /// An I/O error of the exchange as a client error: a timeout names the server, a
    /// failed TLS handshake says why and what to do.
    fn io_error(&self, err: io::Error) -> ClientError {
        if let Some(address) = self.serverurl.strip_prefix("https://") {
            let host = crate::tls::client::host_of(authority(address));
            let identified = self
                .tls
                .as_ref()
                .is_some_and(|tls| tls.client_auth_cert_resolver.has_certs());
            if let Some(failure) = crate::tls::client::failure(host, identified, &err) {
                return ClientError::Tls {
                    url: self.serverurl.clone(),
                    failure,
                };
            }
        }
        match (err.kind(), self.timeout) {
            (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(after)) => {
                ClientError::TimedOut {
                    url: self.serverurl.clone(),
                    after,
                }
            }
            _ => ClientError::Protocol(err.to_string()),
        }
    }

    fn too_large(&self, what: &'static str, limit: u64) -> ClientError {
        ClientError::TooLarge {
            url: self.serverurl.clone(),
            what,
            limit,
        }
    }

    fn connect(&self) -> Result<Stream, ClientError> {
        let url = &self.serverurl;
        let stream = if let Some(path) = url.strip_prefix("unix://") {
            UnixStream::connect(path)
                .map(Stream::Unix)
                .map_err(ClientError::Connect)?
        } else if let Some(rest) = url.strip_prefix("http://") {
            Stream::Tcp(self.connect_tcp(authority(rest))?)
        } else if let Some(rest) = url.strip_prefix("https://") {
            let address = authority(rest);
            let tls = self
                .tls
                .clone()
                .ok_or_else(|| ClientError::Protocol(format!("{url}: no TLS config")))?;
            let host = crate::tls::client::host_of(address).to_string();
            let name = rustls::pki_types::ServerName::try_from(host)
                .map_err(|err| ClientError::Protocol(format!("{url}: {err}")))?;
            let connection = rustls::ClientConnection::new(tls, name).map_err(|error| {
                ClientError::TlsSetup {
                    url: url.clone(),
                    error,
                }
            })?;
            let tcp = self.connect_tcp(address)?;
            Stream::Tls(Box::new(rustls::StreamOwned::new(
                connection,
                Unsignalled(tcp),
            )))
        } else {
            return Err(ClientError::Protocol(format!(
                "unsupported serverurl {url}"
            )));
        };
        stream
            .set_timeouts(self.timeout, self.timeout)
            .map_err(|err| self.io_error(err))?;
        Ok(stream)
    }

    /// Tries each address `address` resolves to, each within the timeout.
    fn connect_tcp(&self, address: &str) -> Result<TcpStream, ClientError> {
        let Some(timeout) = self.timeout else {
            return TcpStream::connect(address).map_err(ClientError::Connect);
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for candidate in address.to_socket_addrs().map_err(ClientError::Connect)? {
            match TcpStream::connect_timeout(&candidate, timeout) {
                Ok(stream) => return Ok(stream),
                Err(err) => last = err,
            }
        }
        match last.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Err(self.io_error(last)),
            _ => Err(ClientError::Connect(last)),
        }
    }

    /// Sends a request and reads the status and headers; `bounded` keeps the read timeout
    /// for the answer.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: &str,
        bounded: bool,
    ) -> Result<Response<'_>, ClientError> {
        let mut stream = self.connect()?;
        let auth = self
            .credentials
            .as_ref()
            .map(|(user, password)| {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                format!("Authorization: Basic {token}\r\n")
            })
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n",
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body.as_bytes()))
            .map_err(|err| self.io_error(err))?;
        if !bounded {
            stream
                .set_timeouts(None, self.timeout)
                .map_err(|err| self.io_error(err))?;
        }
        let mut reader = BufReader::new(stream);
        let status = self.read_line(&mut reader, "the status line")?;
        let code = status.split_whitespace().nth(1).unwrap_or_default();
        match code {
            "200" => {}
            "401" => return Err(ClientError::Unauthorized),
            other => {
                return Err(ClientError::Protocol(format!(
                    "HTTP status {other} for {path}"
                )))
            }
        }
        let framing = self.read_headers(&mut reader)?;
        Ok(Response {
            client: self,
            reader,
            framing,
        })
    }

    /// One line (without its end), of at most [`MAX_LINE`] bytes; "" at the end of input.
    fn read_line(
        &self,
        reader: &mut BufReader<Stream>,
        what: &'static str,
    ) -> Result<String, ClientError> {
        let mut line = Vec::new();
        reader
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|err| self.io_error(err))?;
        if line.len() as u64 > MAX_LINE {
            return Err(self.too_large(what, MAX_LINE));
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }

    /// Reads the response headers up to the blank line; returns how the body is framed.
    fn read_headers(&self, reader: &mut BufReader<Stream>) -> Result<Framing, ClientError> {
        let mut framing = Framing::Close;
        loop {
            let line = self.read_line(reader, "a header line")?;
            if line.is_empty() {
                return Ok(framing);
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked;
            } else if name == "content-length" && !matches!(framing, Framing::Chunked) {
                let length = value
                    .parse::<u64>()
                    .map_err(|_| ClientError::Protocol(format!("bad Content-Length {value:?}")))?;
                framing = Framing::Length(length);
            }
        }
    }

    /// Calls `method` and returns its value (or the fault).
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, ClientError> {
        let bounded = !WAITING_METHODS.contains(&method);
        let mut response = self.request("POST", "/RPC2", &codec::call(method, params), bounded)?;
        let mut body = Vec::new();
        response.read_body(Some(MAX_BODY), |piece| {
            body.extend_from_slice(piece);
            true
        })?;
        match codec::parse_response(&body) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err((code, _)))
                if code == crate::rpc::faults::FaultCode::UnknownMethod.code()
                    && method.starts_with("vigil.") =>
            {
                Err(ClientError::NotVigild {
                    method: method.to_string(),
                })
            }
            Ok(Err((code, text))) => Err(ClientError::Fault(code, text)),
            Err(err) => Err(ClientError::Protocol(err.to_string())),
        }
    }

    /// Follows `GET path` (a `/logtail`), calling `on_data` for each piece until the server
    /// closes the stream or `on_data` returns false. Once the headers are in, the stream may
    /// stay quiet for as long as the log does.
    pub fn follow(
        &self,
        path: &str,
        on_data: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), ClientError> {
        let mut response = self.request("GET", path, "", true)?;
        response
            .reader
            .get_ref()
            .set_timeouts(None, self.timeout)
            .map_err(|err| self.io_error(err))?;
        response.read_body(None, on_data)
    }
}

impl Response<'_> {
    /// Hands the body to `sink` piece by piece, never more than `limit` bytes in all (a
    /// larger announced size fails before anything is read); `sink` returns false to stop.
    fn read_body(
        &mut self,
        limit: Option<u64>,
        mut sink: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), ClientError> {
        let limit = limit.unwrap_or(u64::MAX);
        let mut left = limit;
        match self.framing {
            Framing::Length(length) => {
                if length > limit {
                    return Err(self.client.too_large("the response body", limit));
                }
                self.read_exactly(length, &mut sink)?;
            }
            Framing::Close => {
                let mut piece = vec![0u8; PIECE];
                loop {
                    let n = self
                        .reader
                        .read(&mut piece)
                        .map_err(|err| self.client.io_error(err))?;
                    if n == 0 {
                        break;
                    }
                    left = left
                        .checked_sub(n as u64)
                        .ok_or_else(|| self.client.too_large("the response body", limit))?;
                    if !sink(&piece[..n]) {
                        break;
                    }
                }
            }
            Framing::Chunked => loop {
                let line = self
                    .client
                    .read_line(&mut self.reader, "a chunk-size line")?;
                if line.is_empty() {
                    // The end of the stream without the last chunk.
                    break;
                }
                let digits = line.split(';').next().unwrap_or_default().trim();
                let size = u64::from_str_radix(digits, 16)
                    .map_err(|_| ClientError::Protocol(format!("bad chunk size {digits:?}")))?;
                if size == 0 {
                    break;
                }
                left = left
                    .checked_sub(size)
                    .ok_or_else(|| self.client.too_large("the response body", limit))?;
                if !self.read_exactly(size, &mut sink)? {
                    break;
                }
                // The CRLF after the chunk.
                self.client.read_line(&mut self.reader, "a chunk end")?;
            },
        }
        Ok(())
    }

    /// Hands the next `length` bytes to `sink`; returns false when it said stop.
    fn read_exactly(
        &mut self,
        length: u64,
        sink: &mut impl FnMut(&[u8]) -> bool,
    ) -> Result<bool, ClientError> {
        let mut piece = vec![0u8; PIECE.min(usize::try_from(length).unwrap_or(PIECE))];
        let mut left = length;
        while left > 0 {
            let want = piece
                .len()
                .min(usize::try_from(left).unwrap_or(piece.len()));
            let n = self
                .reader
                .read(&mut piece[..want])
                .map_err(|err| self.client.io_error(err))?;
            if n == 0 {
                return Err(ClientError::Protocol(format!(
                    "{}: the response ended {left} bytes short",
                    self.client.serverurl
                )));
            }
            left -= n as u64;
            if !sink(&piece[..n]) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
