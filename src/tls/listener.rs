//! The TCP listener that hands axum TLS connections: `accept` takes a TCP connection off
//! the socket and returns at once, and the handshake is done by the connection's own task
//! (axum's, as for every plain connection) when it first reads or writes, within
//! [`HANDSHAKE_LIMIT`]. So a client that connects and says nothing, or says it slowly,
//! holds up no other, and a handover's drain treats a connection in its handshake as the
//! plain listener treats one whose request has not come yet.
//!
//! It owns no config: each connection takes the [`Reloadable`]'s current one. It knows
//! nothing of HTTP.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use super::Reloadable;

/// How long a client has to finish its handshake.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// TLS connections for `axum::serve`.
pub struct TlsListener {
    tcp: TcpListener,
    tls: Reloadable,
}

impl TlsListener {
    /// Serves `tls` on `tcp`.
    pub fn new(tcp: TcpListener, tls: Reloadable) -> Self {
        TlsListener { tcp, tls }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = Handshaking;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.tcp.accept().await {
                Ok((stream, peer)) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(self.tls.current());
                    return (Handshaking::new(acceptor.accept(stream), peer), peer);
                }
                // Out of fds and the like: as axum's own listener, a pause, then on.
                Err(err) => {
                    tracing::debug!("TLS listener: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A connection whose handshake completes on its first read or write.
pub struct Handshaking {
    state: State,
    peer: SocketAddr,
}

enum State {
    /// The handshake, and when it must be done by (a timer dropped with the handshake).
    Accepting(
        Box<tokio_rustls::Accept<TcpStream>>,
        Pin<Box<tokio::time::Sleep>>,
    ),
    Ready(Box<TlsStream<TcpStream>>),
    Failed,
}

impl Handshaking {
    fn new(accept: tokio_rustls::Accept<TcpStream>, peer: SocketAddr) -> Self {
        Handshaking {
            state: State::Accepting(
                Box::new(accept),
                Box::pin(tokio::time::sleep(HANDSHAKE_LIMIT)),
            ),
            peer,
        }
    }

    /// Drives the handshake; the TLS stream once it is done.
    fn poll_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut TlsStream<TcpStream>>> {
        if let State::Accepting(accept, deadline) = &mut self.state {
            let outcome = match Pin::new(accept.as_mut()).poll(cx) {
                Poll::Ready(outcome) => outcome,
                Poll::Pending if deadline.as_mut().poll(cx).is_ready() => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                )),
                Poll::Pending => return Poll::Pending,
            };
            self.state = match outcome {
                Ok(stream) => State::Ready(Box::new(stream)),
                Err(err) => {
                    tracing::debug!("TLS handshake with {} failed: {err}", self.peer);
                    State::Failed
                }
            };
        }
        Poll::Ready(match &mut self.state {
            State::Ready(stream) => Ok(stream),
            _ => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "TLS handshake failed",
            )),
        })
    }
}

impl AsyncRead for Handshaking {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Handshaking {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write(cx, buf)
    }

    // hyper hands a response's head and body over in one vectored write: rustls takes it
    // whole, as it does from a plain connection.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            State::Ready(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            State::Ready(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
            // Nothing to close politely before the handshake is done: dropping it closes it.
            _ => Poll::Ready(Ok(())),
        }
    }
}
