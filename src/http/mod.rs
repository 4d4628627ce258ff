//! The HTTP servers of `[unix_http_server]`, `[inet_http_server]` and vigil's `[metrics]`
//! (axum): `POST /RPC2` carries XML-RPC to the rpc module, `/logtail` and `/mainlogtail`
//! follow logs, `/metrics` is Prometheus text, all behind HTTP basic auth when a username is
//! set (`/metrics` on the inet port may opt out with `metrics_auth=false`). The auth layer
//! tells the handlers which [`Access`] a request has (the read-only account's, or full) as a
//! request extension. Routes only translate between HTTP and the modules behind them; no
//! business logic lives here.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine as _;

pub mod logtail;

use crate::auth::{Access, Accounts};
use crate::config::{Config, Credentials};
use crate::rpc::codec;
use crate::rpc::{methods, Api};

/// Largest request body accepted (supervisorctl's calls are a few hundred bytes).
const MAX_BODY: usize = 4 << 20;

/// supervisord's message when a server's address is taken by a live program.
const ADDRESS_IN_USE: &str = "Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord.";

/// The bound listeners, ready to serve once the supervisor runs.
pub struct Listeners {
    unix: Option<(std::os::unix::net::UnixListener, PathBuf, Option<Accounts>)>,
    inet: Option<(TcpServer, MetricsAuth)>,
    metrics: Option<TcpServer>,
}

/// A bound TCP server: its socket, accounts and TLS, if any.
struct TcpServer {
    listener: std::net::TcpListener,
    accounts: Option<Accounts>,
    tls: Option<crate::tls::Reloadable>,
}

/// Whether `/metrics` on a server asks for the server's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricsAuth {
    /// The same rules as every other route.
    Required,
    /// Open (`metrics_auth=false`), for Prometheus on a trusted interface.
    Open,
}

impl Listeners {
    /// The unix socket file to remove at exit.
    pub fn socket_path(&self) -> Option<PathBuf> {
        self.unix.as_ref().map(|(_, path, _)| path.clone())
    }

    /// The control servers that check no credentials, which supervisord names in a CRIT
    /// line at every start.
    pub fn unauthenticated(&self) -> Vec<&'static str> {
        let unix = self.unix.as_ref().map(|(_, _, accounts)| accounts);
        let inet = self.inet.as_ref().map(|(server, _)| &server.accounts);
        // supervisord's order: it reads [inet_http_server] first.
        [("inet_http_server", inet), ("unix_http_server", unix)]
            .into_iter()
            .filter_map(|(name, accounts)| matches!(accounts, Some(None)).then_some(name))
            .collect()
    }

    /// Each TCP server's section and its TLS config (None: it serves plain HTTP), for
    /// SIGHUP and SIGUSR2 to reload.
    pub fn tls(&self) -> Vec<(&'static str, Option<crate::tls::Reloadable>)> {
        let inet = self
            .inet
            .as_ref()
            .map(|(server, _)| ("inet_http_server", server));
        let metrics = self.metrics.as_ref().map(|server| ("metrics", server));
        inet.into_iter()
            .chain(metrics)
            .map(|(section, server)| (section, server.tls.clone()))
            .collect()
    }

    /// Copies of the listening sockets (unix, inet, metrics) that a handover keeps open
    /// across its exec, taken before the servers own the originals.
    pub fn copies(&self) -> io::Result<[Option<std::os::fd::OwnedFd>; 3]> {
        use std::os::fd::AsFd;
        let copy = |fd: Option<std::os::fd::BorrowedFd<'_>>| {
            fd.map(|fd| fd.try_clone_to_owned()).transpose()
        };
        Ok([
            copy(self.unix.as_ref().map(|(l, _, _)| l.as_fd()))?,
            copy(self.inet.as_ref().map(|(s, _)| s.listener.as_fd()))?,
            copy(self.metrics.as_ref().map(|s| s.listener.as_fd()))?,
        ])
    }
}

/// The TCP servers' TLS, loaded from the config's files before vigild gives up root (the
/// key may be readable by root alone, as web servers keep theirs).
#[derive(Default)]
pub struct Tls {
    inet: Option<crate::tls::Reloadable>,
    metrics: Option<crate::tls::Reloadable>,
}

/// A TCP server's TLS files that do not serve.
#[derive(Debug, thiserror::Error)]
#[error("[{server}] {}: {error}", error.option())]
pub struct TlsFailure {
    /// The section.
    server: &'static str,
    /// What is wrong with its files.
    #[source]
    error: crate::tls::TlsError,
}

/// Loads the TLS of `[inet_http_server]` and `[metrics]`, as the config names it; a server
/// whose files do not serve is left without, and the failure says why.
pub fn load_tls(config: &Config) -> (Tls, Vec<TlsFailure>) {
    let mut failures = Vec::new();
    let mut load = |server: &'static str| {
        let loaded = crate::tls::Reloadable::load(server, crate::tls::files_in(server, config)?);
        loaded
            .map_err(|error| failures.push(TlsFailure { server, error }))
            .ok()
    };
    let inet = load("inet_http_server");
    let metrics = load("metrics");
    (Tls { inet, metrics }, failures)
}

/// Binds every configured server (before any process starts, as supervisord does), with
/// the `tls` loaded for it: a stale socket from a dead daemon is replaced, a live one
/// refuses the start.
pub fn bind(config: &Config, tls: Tls) -> io::Result<Listeners> {
    let unix = match &config.unix_http_server {
        Some(server) => {
            let listener = bind_unix(&server.file)?;
            std::fs::set_permissions(&server.file, std::fs::Permissions::from_mode(server.chmod))?;
            if let Some((uid, gid)) = server.chown {
                std::os::unix::fs::chown(&server.file, Some(uid), Some(gid))?;
            }
            Some(listener)
        }
        None => None,
    };
    let inet = match &config.inet_http_server {
        Some(server) => Some(bind_tcp(&server.host, server.port)?),
        None => None,
    };
    let metrics = match &config.metrics_server {
        Some(server) => Some(bind_tcp(&server.host, server.port)?),
        None => None,
    };
    Ok(assemble(config, unix, inet, metrics, tls))
}

/// A server a handover's new image goes on without: the fleet is kept, the server is not.
#[derive(Debug, thiserror::Error)]
pub enum LeftOut {
    /// The record had no socket for it, and binding one failed.
    #[error("reexec: cannot start {server}: {error}")]
    Bind {
        /// The section.
        server: &'static str,
        /// Why.
        #[source]
        error: io::Error,
    },
    /// Its TLS files do not load now (they changed since the pre-flight).
    #[error("reexec: {0}: that server is left out")]
    Tls(#[source] TlsFailure),
}

/// The servers a vigild handed over (`vigilctl reexec`): their listening sockets, open
/// across the exec, so no connection is refused meanwhile. A socket the record does not
/// have, for a server the config has, is bound afresh; a server that cannot be is left
/// out, and so is one whose TLS does not load, each said in what comes back (for the main
/// log, which does not exist yet when this runs).
pub fn adopt(config: &Config, fds: [Option<std::os::fd::RawFd>; 3]) -> (Listeners, Vec<LeftOut>) {
    use std::os::fd::FromRawFd;
    let [unix_fd, inet_fd, metrics_fd] = fds;
    let mut left_out = Vec::new();
    // SAFETY: each fd was named by the vigild that exec'd us, which kept it open for us
    // alone; each is owned from here on.
    let unix = match (&config.unix_http_server, unix_fd) {
        (Some(_), Some(fd)) => Some(unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) }),
        (Some(server), None) => fresh(&mut left_out, "unix_http_server", bind_unix(&server.file)),
        (None, _) => None,
    };
    let mut tcp = |server: &'static str,
                   address: Option<(&str, u16)>,
                   fd: Option<std::os::fd::RawFd>| match (address, fd) {
        // SAFETY: as above.
        (Some(_), Some(fd)) => Some(unsafe { std::net::TcpListener::from_raw_fd(fd) }),
        (Some((host, port)), None) => fresh(&mut left_out, server, bind_tcp(host, port)),
        (None, _) => None,
    };
    let inet = tcp(
        "inet_http_server",
        config
            .inet_http_server
            .as_ref()
            .map(|s| (s.host.as_str(), s.port)),
        inet_fd,
    );
    let metrics = tcp(
        "metrics",
        config
            .metrics_server
            .as_ref()
            .map(|s| (s.host.as_str(), s.port)),
        metrics_fd,
    );
    let (tls, failures) = load_tls(config);
    // The pre-flight loaded the same files: they changed since.
    let mut listeners = assemble(config, unix, inet, metrics, tls);
    for failure in failures {
        match failure.server {
            "metrics" => listeners.metrics = None,
            _ => listeners.inet = None,
        }
        left_out.push(LeftOut::Tls(failure));
    }
    (listeners, left_out)
}

/// A server a handover's config has and its record has not, bound afresh; if that fails,
/// the fleet goes on without it: failing the start would lose the fleet.
fn fresh<T>(left_out: &mut Vec<LeftOut>, server: &'static str, bound: io::Result<T>) -> Option<T> {
    bound
        .map_err(|error| left_out.push(LeftOut::Bind { server, error }))
        .ok()
}

/// The listeners with their accounts and TLS, as the config gives them.
fn assemble(
    config: &Config,
    unix: Option<std::os::unix::net::UnixListener>,
    inet: Option<std::net::TcpListener>,
    metrics: Option<std::net::TcpListener>,
    tls: Tls,
) -> Listeners {
    let unix = unix
        .zip(config.unix_http_server.as_ref())
        .map(|(listener, server)| {
            (
                listener,
                server.file.clone(),
                accounts(
                    server.auth.as_ref(),
                    server.readonly.as_ref(),
                    [(None, Access::Full), (None, Access::ReadOnly)],
                ),
            )
        });
    let inet = inet
        .zip(config.inet_http_server.as_ref())
        .map(|(listener, server)| {
            let metrics_auth = if server.metrics_auth {
                MetricsAuth::Required
            } else {
                MetricsAuth::Open
            };
            let tokens = [
                (server.token.as_ref(), Access::Full),
                (server.readonly_token.as_ref(), Access::ReadOnly),
            ];
            let accounts = accounts(server.auth.as_ref(), server.readonly.as_ref(), tokens);
            let server = TcpServer {
                listener,
                accounts,
                tls: tls.inet,
            };
            (server, metrics_auth)
        });
    let metrics = metrics
        .zip(config.metrics_server.as_ref())
        .map(|(listener, server)| {
            let token = (server.bearer_token.as_ref(), Access::Full);
            TcpServer {
                listener,
                accounts: accounts(
                    server.auth.as_ref(),
                    None,
                    [token, (None, Access::ReadOnly)],
                ),
                tls: tls.metrics,
            }
        });
    Listeners {
        unix,
        inet,
        metrics,
    }
}

/// A server's accounts: none without a username, else the full one and the read-only one.
fn accounts(
    full: Option<&Credentials>,
    readonly: Option<&Credentials>,
    tokens: [(Option<&String>, Access); 2],
) -> Option<Accounts> {
    let tokens: Vec<(String, Access)> = tokens
        .into_iter()
        .filter_map(|(token, access)| token.map(|token| (token.clone(), access)))
        .collect();
    (full.is_some() || !tokens.is_empty()).then(|| Accounts {
        full: full.cloned(),
        readonly: full.and(readonly.cloned()),
        tokens,
    })
}

/// Binds `host:port` (empty host: every interface).
fn bind_tcp(host: &str, port: u16) -> io::Result<std::net::TcpListener> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    std::net::TcpListener::bind((host, port)).map_err(|err| {
        if err.kind() == io::ErrorKind::AddrInUse {
            io::Error::new(err.kind(), ADDRESS_IN_USE)
        } else {
            err
        }
    })
}

fn bind_unix(path: &Path) -> io::Result<std::os::unix::net::UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, ADDRESS_IN_USE));
        }
        // Nobody answers: a stale socket from a daemon that died.
        std::fs::remove_file(path)?;
    }
    std::os::unix::net::UnixListener::bind(path)
}

/// Serves the bound listeners until the runtime ends.
pub fn serve(listeners: Listeners, api: Api) -> io::Result<Servers> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    if let Some((listener, _, auth)) = listeners.unix {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::UnixListener::from_std(listener)?;
        let app = router(api.clone(), auth, MetricsAuth::Required);
        let stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, app.into_make_service())
                .with_graceful_shutdown(stop_asked(stopped))
                .await;
            if let Err(err) = served {
                tracing::error!("unix_http_server stopped: {err}");
            }
        }));
    }
    if let Some((server, metrics_auth)) = listeners.inet {
        let app = router(api.clone(), server.accounts.clone(), metrics_auth);
        tasks.push(serve_tcp("inet_http_server", server, app, stopped.clone())?);
    }
    if let Some(server) = listeners.metrics {
        let app = with_auth(metrics_router(api), server.accounts.clone());
        tasks.push(serve_tcp("metrics", server, app, stopped)?);
    }
    Ok(Servers { stop, tasks })
}

/// The servers running, to stop taking connections before a handover's exec.
pub struct Servers {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Servers {
    /// Stops accepting connections (they wait in the listening sockets' backlog, which a
    /// handover keeps open for the next image) and waits, at most `limit`, for the requests
    /// in progress to be answered.
    pub async fn drain(self, limit: std::time::Duration) {
        let _ = self.stop.send(true);
        let all = futures_util::future::join_all(self.tasks);
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!(
                "reexec: connections still open after {} ms (a tail -f, /api/events): they end with the exec",
                limit.as_millis()
            );
        }
    }
}

async fn stop_asked(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

fn serve_tcp(
    name: &'static str,
    server: TcpServer,
    app: Router,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> io::Result<tokio::task::JoinHandle<()>> {
    server.listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(server.listener)?;
    // A connection takes a clone of the service (an Arc), not of the router's tables,
    // which serving the `Router` itself copies per connection.
    let service = app.into_make_service();
    let shutdown = stop_asked(stopped);
    Ok(match server.tls {
        Some(tls) => {
            let listener = crate::tls::listener::TlsListener::new(listener, tls);
            tokio::spawn(serve_on(name, listener, service, shutdown))
        }
        None => tokio::spawn(serve_on(name, listener, service, shutdown)),
    })
}

/// Serves `service` on `listener` (plain or TLS) until `shutdown`.
async fn serve_on<L>(
    name: &'static str,
    listener: L,
    service: axum::routing::IntoMakeService<Router>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    if let Err(err) = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!("{name} stopped: {err}");
    }
}

fn router(api: Api, auth: Option<Accounts>, metrics_auth: MetricsAuth) -> Router {
    let app = Router::new()
        .route("/RPC2", post(rpc))
        .route("/logtail/{*path}", get(logtail::process))
        .route("/mainlogtail", get(logtail::main_log))
        .with_state(api.clone())
        .merge(crate::web::router(api.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    match metrics_auth {
        MetricsAuth::Required => with_auth(app.merge(metrics_router(api)), auth),
        MetricsAuth::Open => with_auth(app, auth).merge(metrics_router(api)),
    }
}

fn metrics_router(api: Api) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(api)
}

/// Puts `app` behind `auth`; without auth every request has full access.
fn with_auth(app: Router, auth: Option<Accounts>) -> Router {
    match auth {
        Some(accounts) => app.layer(middleware::from_fn_with_state(accounts, require_auth)),
        None => app.layer(Extension(Access::Full)),
    }
}

/// `GET /metrics`: Prometheus text from the current snapshot and samples.
async fn metrics(State(api): State<Api>) -> Response {
    api.handle.ready().await;
    let snapshot = api.handle.snapshot();
    let samples = api.samples.borrow().clone();
    let queues = api.events.queue_depths();
    // Thousands of processes make this a few milliseconds of CPU: off the runtime's workers.
    crate::web::offloaded(crate::offload::RENDERS.run(move || {
        let text = crate::metrics::render(&snapshot, &samples, &queues);
        (
            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            released(text.into_bytes()),
        )
            .into_response()
    }))
    .await
}

/// `POST /RPC2`: an XML-RPC call in, a response or fault out; an unparseable body is a 400.
async fn rpc(
    State(api): State<Api>,
    Extension(access): Extension<Access>,
    body: Bytes,
) -> Response {
    let call = match codec::parse_call(&body) {
        Ok(call) => call,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    let text = match methods::call(&api, access, &call.method, &call.params).await {
        Ok(value) => codec::response(value),
        Err(fault) => codec::fault(fault.code.code(), &fault.to_string()),
    };
    (
        [(header::CONTENT_TYPE, "text/xml")],
        released(text.into_bytes()),
    )
        .into_response()
}

/// A response body that gives the allocator's free memory back once a big one is sent.
fn released(bytes: Vec<u8>) -> axum::body::Body {
    axum::body::Body::from(Bytes::from_owner(crate::memory::Released(bytes)))
}

/// HTTP basic auth on every route (passwords may be `{SHA}` + hex SHA-1); a request let in
/// carries its account's [`Access`].
async fn require_auth(
    State(accounts): State<Accounts>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(access) = authorized(request.headers(), &accounts) {
        request.extensions_mut().insert(access);
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"default\"")],
        "Unauthorized",
    )
        .into_response()
}

/// The access of the account `headers` carry as HTTP basic auth, if they carry one of
/// `accounts` (public for the fuzz target).
pub fn authorized(headers: &HeaderMap, accounts: &Accounts) -> Option<Access> {
    let given = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = given.strip_prefix("Bearer ") {
        return accounts.token_access(token.trim());
    }
    let encoded = given.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    accounts.access(user, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(headers: &mut HeaderMap, user_password: &str) {
        let token = base64::engine::general_purpose::STANDARD.encode(user_password);
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {token}").parse().expect("header"),
        );
    }

    #[test]
    fn basic_auth_headers_are_checked_against_both_accounts() {
        let account = |username: &str, password: &str| Credentials {
            username: username.into(),
            password: password.into(),
        };
        let accounts = Accounts {
            full: Some(account("user", "123")),
            readonly: Some(account(
                "viewer",
                "{SHA}82ab876d1387bfafe46cc1c8a2ef074eae50cb1d",
            )),
            tokens: vec![("t0ken".into(), Access::ReadOnly)],
        };
        let mut headers = HeaderMap::new();
        assert_eq!(authorized(&headers, &accounts), None);
        basic(&mut headers, "user:123");
        assert_eq!(authorized(&headers, &accounts), Some(Access::Full));
        basic(&mut headers, "viewer:thepassword");
        assert_eq!(authorized(&headers, &accounts), Some(Access::ReadOnly));
        basic(&mut headers, "user:124");
        assert_eq!(authorized(&headers, &accounts), None);
        basic(&mut headers, "user123");
        assert_eq!(authorized(&headers, &accounts), None);
    }
}
