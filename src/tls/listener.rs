//! A TCP listener that hands axum TLS streams: a task accepts connections and does each
//! handshake in a task of its own, at most [`MAX_HANDSHAKES`] at a time and each within
//! [`HANDSHAKE_LIMIT`], so a client that connects and says nothing (or says it slowly)
//! never holds up another. Connections beyond the limit wait in the kernel's backlog.
//!
//! It stops accepting when the servers are told to stop (a handover's drain), leaving new
//! connections in the backlog for the next image, as the plain listeners do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::server::TlsStream;

use super::Reloadable;

/// Handshakes in progress at once, per listener.
pub const MAX_HANDSHAKES: usize = 256;

/// How long a client has to finish its handshake.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Finished handshakes waiting for axum to take them.
const READY_QUEUE: usize = 32;

/// TLS connections, handshakes done, for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener` with `tls` until `stopped` turns true.
    pub fn start(
        listener: TcpListener,
        tls: Reloadable,
        stopped: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(accept(listener, tls, sender, stopped));
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The acceptor stopped, and so does the server (its shutdown was asked for).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Accepts connections and starts their handshakes until told to stop.
async fn accept(
    listener: TcpListener,
    tls: Reloadable,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let next = async {
            let permit = Arc::clone(&permits).acquire_owned().await;
            (permit, listener.accept().await)
        };
        let (permit, accepted) = tokio::select! {
            next = next => next,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let Ok(permit) = permit else { return };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of fds and the like: as axum's own listener, a pause, then on.
                tracing::debug!("TLS listener: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = ready.send((stream, peer)).await;
                }
                Ok(Err(err)) => tracing::debug!("TLS handshake with {peer} failed: {err}"),
                Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
            }
        });
    }
}
