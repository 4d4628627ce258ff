//! A small blocking XML-RPC client over supervisord's transports: `unix:///path` sockets and
//! `http://host:port`, with basic auth; plus the streaming `GET` used by `tail -f`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;

use base64::Engine as _;

use crate::rpc::codec::{self, Value};

/// Why a call failed before a value came back.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a fault.
    #[error("{1}")]
    Fault(i64, String),
    /// Connecting failed (refused, no such socket file).
    #[error("{0}")]
    Connect(io::Error),
    /// HTTP 401.
    #[error("Server requires authentication")]
    Unauthorized,
    /// Anything else about the exchange.
    #[error("{0}")]
    Protocol(String),
}

/// Where and how to reach the server.
#[derive(Debug, Clone)]
pub struct Client {
    /// `unix:///path` or `http://host:port`.
    pub serverurl: String,
    /// Basic-auth user and password.
    pub credentials: Option<(String, String)>,
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

impl Client {
    fn connect(&self) -> Result<Stream, ClientError> {
        if let Some(path) = self.serverurl.strip_prefix("unix://") {
            return UnixStream::connect(path)
                .map(Stream::Unix)
                .map_err(ClientError::Connect);
        }
        let rest = self.serverurl.strip_prefix("http://").ok_or_else(|| {
            ClientError::Protocol(format!("unsupported serverurl {}", self.serverurl))
        })?;
        let address = rest.split('/').next().unwrap_or(rest);
        TcpStream::connect(address)
            .map(Stream::Tcp)
            .map_err(ClientError::Connect)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<BufReader<Stream>, ClientError> {
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
            .map_err(|err| ClientError::Protocol(err.to_string()))?;
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader
            .read_line(&mut status)
            .map_err(|err| ClientError::Protocol(err.to_string()))?;
        let code = status.split_whitespace().nth(1).unwrap_or_default();
        match code {
            "200" => Ok(reader),
            "401" => Err(ClientError::Unauthorized),
            other => Err(ClientError::Protocol(format!(
                "HTTP status {other} for {path}"
            ))),
        }
    }

    /// Calls `method` and returns its value (or the fault).
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, ClientError> {
        let mut reader = self.request("POST", "/RPC2", &codec::call(method, params))?;
        let chunked = skip_headers(&mut reader)?;
        let mut body = Vec::new();
        if chunked {
            while let Some(chunk) = read_chunk(&mut reader)? {
                body.extend(chunk);
            }
        } else {
            reader
                .read_to_end(&mut body)
                .map_err(|err| ClientError::Protocol(err.to_string()))?;
        }
        match codec::parse_response(&body) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err((code, text))) => Err(ClientError::Fault(code, text)),
            Err(err) => Err(ClientError::Protocol(err.to_string())),
        }
    }

    /// Follows `GET path` (a `/logtail`), calling `on_data` for each chunk until the server
    /// closes the stream or `on_data` returns false.
    pub fn follow(
        &self,
        path: &str,
        mut on_data: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), ClientError> {
        let mut reader = self.request("GET", path, "")?;
        if skip_headers(&mut reader)? {
            while let Some(chunk) = read_chunk(&mut reader)? {
                if !on_data(&chunk) {
                    break;
                }
            }
        } else {
            let mut buffer = [0u8; 8192];
            loop {
                let n = reader
                    .read(&mut buffer)
                    .map_err(|err| ClientError::Protocol(err.to_string()))?;
                if n == 0 || !on_data(&buffer[..n]) {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Reads the response headers; returns whether the body is chunked.
fn skip_headers(reader: &mut BufReader<Stream>) -> Result<bool, ClientError> {
    let mut chunked = false;
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .map_err(|err| ClientError::Protocol(err.to_string()))?;
        if n == 0 || line.trim().is_empty() {
            return Ok(chunked);
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
}

/// One chunk of a chunked body, or `None` at its end.
fn read_chunk(reader: &mut BufReader<Stream>) -> Result<Option<Vec<u8>>, ClientError> {
    let mut size_line = String::new();
    if reader
        .read_line(&mut size_line)
        .map_err(|err| ClientError::Protocol(err.to_string()))?
        == 0
    {
        return Ok(None);
    }
    let size_text = size_line.trim().split(';').next().unwrap_or_default();
    let size = usize::from_str_radix(size_text, 16)
        .map_err(|_| ClientError::Protocol(format!("bad chunk size {size_text:?}")))?;
    if size == 0 {
        return Ok(None);
    }
    let mut chunk = vec![0u8; size + 2];
    reader
        .read_exact(&mut chunk)
        .map_err(|err| ClientError::Protocol(err.to_string()))?;
    chunk.truncate(size);
    Ok(Some(chunk))
}
