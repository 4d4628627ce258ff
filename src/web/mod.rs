//! vigil's web page, served by vigild itself on the unix and inet HTTP servers under their
//! auth: the fleet at a glance with actions (`/`, plain forms, live through `/api/status`),
//! a page per process (`/process/<namespec>`: crash records, config, live log through
//! `/api/tail`), and `/api/events`, a server-sent-events stream of every event as JSON.
//! Assets are compiled in. Actions are POSTs that need the page's token and, when the
//! browser sends one, an Origin of this server. The read-only account sees the page without
//! its action buttons, and every request of it that is not a GET or HEAD is refused here,
//! before any handler (its XML-RPC calls are refused by the method table too).

pub mod page;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use crate::auth::{same_secret, Access};
use crate::namespec::Namespec;
use crate::offload;
use crate::rpc::codec::Value;
use crate::rpc::{lookup, methods, Api};

/// The routes of the page, for the HTTP servers to put behind their auth (which gives each
/// request its [`Access`]).
pub fn router(api: Api) -> Router {
    let web = Web {
        token: Arc::from(new_token()),
        api,
    };
    Router::new()
        .route("/", get(status_page))
        .route("/process/{*namespec}", get(process_page))
        .route("/action", post(action))
        .route("/api/status", get(status_json))
        .route("/api/tail/{*namespec}", get(tail))
        .route("/api/events", get(events))
        .route("/static/vigil.css", get(stylesheet))
        .route("/static/vigil.js", get(script))
        .with_state(web)
        .layer(axum::middleware::from_fn(read_only_reads))
        .layer(axum::middleware::map_response(not_framed))
}

/// The read-only account may only read: any other request than GET or HEAD (an action, and
/// whatever changes something under `/api/`) is refused.
async fn read_only_reads(
    Extension(access): Extension<Access>,
    request: Request,
    next: Next,
) -> Response {
    let reads = request.method() == Method::GET || request.method() == Method::HEAD;
    if access == Access::ReadOnly && !reads {
        return (
            StatusCode::FORBIDDEN,
            "this account is read-only: it cannot change anything",
        )
            .into_response();
    }
    next.run(request).await
}

/// The action token for a page shown to `access`: none for the read-only account, whose
/// page has no action buttons.
fn token_for(web: &Web, access: Access) -> Option<Arc<str>> {
    (access == Access::Full).then(|| Arc::clone(&web.token))
}

/// What the handlers share: the API, and the token every action form carries.
#[derive(Clone)]
struct Web {
    api: Api,
    token: Arc<str>,
}

/// 128 random bits, hex, for the action forms (a page from another site cannot know it).
fn new_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No /dev/urandom: the time and pid still make a token no other site can guess.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            ^ u128::from(std::process::id()) << 64;
        bytes = seed.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/vigil.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/vigil.js"),
    )
        .into_response()
}

async fn status_page(State(web): State<Web>, Extension(access): Extension<Access>) -> Response {
    web.api.handle.ready().await;
    let snapshot = web.api.handle.snapshot();
    let samples = Arc::clone(&web.api.samples.borrow());
    let identifier = web.api.identification.clone();
    let token = token_for(&web, access);
    // A thousand processes make this a few milliseconds of CPU: off the runtime's workers.
    offloaded(offload::RENDERS.run(move || {
        Html(page::status(
            &snapshot,
            &samples,
            &identifier,
            token.as_deref(),
        ))
        .into_response()
    }))
    .await
}

async fn process_page(
    State(web): State<Web>,
    Extension(access): Extension<Access>,
    Path(namespec): Path<String>,
) -> Response {
    web.api.handle.ready().await;
    let Some(process) = find(&web.api, &namespec) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no such process: {namespec}"),
        )
            .into_response();
    };
    let samples = Arc::clone(&web.api.samples.borrow());
    let token = token_for(&web, access);
    // The crash records may come from their file.
    offloaded(offload::RENDERS.run(move || {
        let crashes = process.crashes.newest(&process.group, &process.name, 0);
        Html(page::process(
            &process,
            &samples,
            &crashes,
            token.as_deref(),
        ))
        .into_response()
    }))
    .await
}

/// The answer of offloaded work: 503 when too many of its kind run already.
pub(crate) async fn offloaded(
    work: impl std::future::Future<Output = Result<Option<Response>, offload::Busy>>,
) -> Response {
    match work.await {
        Ok(Some(response)) => response,
        Ok(None) => (StatusCode::INTERNAL_SERVER_ERROR, "the call was cancelled").into_response(),
        Err(busy) => (StatusCode::SERVICE_UNAVAILABLE, busy.to_string()).into_response(),
    }
}

/// The process `namespec` names (`group:name`, or `name` for a group of its own); none for
/// a whole group.
fn find(api: &Api, namespec: &str) -> Option<crate::supervisor::ProcessView> {
    lookup::in_snapshot(&api.handle.snapshot(), &Namespec::parse(namespec)).cloned()
}

/// `GET /api/status`: every process's row, as JSON.
async fn status_json(State(web): State<Web>) -> Response {
    web.api.handle.ready().await;
    let snapshot = web.api.handle.snapshot();
    let samples = Arc::clone(&web.api.samples.borrow());
    let now = std::time::SystemTime::now();
    let rows: Vec<serde_json::Value> = snapshot
        .processes
        .iter()
        .map(|process| {
            let row = page::Row::of(process, &samples, now);
            serde_json::json!({
                "group": process.group,
                "name": process.name,
                "namespec": row.namespec,
                "state": row.state,
                "description": row.description,
                "pid": row.pid,
                "uptime": row.uptime,
                "cpu": row.cpu,
                "rss": row.rss,
                "restarts": row.restarts,
                "crashloop": row.crashloop,
                "health": (!row.health.is_empty()).then_some(row.health),
                "actions": row.actions,
            })
        })
        .collect();
    json(&serde_json::Value::Array(rows))
}

fn json(value: &serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Where a log follower is.
#[derive(Deserialize)]
struct TailQuery {
    #[serde(default)]
    stream: String,
    #[serde(default)]
    offset: u64,
}

/// `GET /api/tail/<namespec>?stream=stdout&offset=N`: what the stream holds after `offset`
/// (at most 64 KiB; a rotation does not lose the place: offsets are the stream's).
async fn tail(
    State(web): State<Web>,
    Path(namespec): Path<String>,
    Query(query): Query<TailQuery>,
) -> Response {
    let Some(process) = find(&web.api, &namespec) else {
        return (StatusCode::NOT_FOUND, "no such process").into_response();
    };
    let stream = if query.stream == "stderr" {
        Arc::clone(&process.stderr)
    } else {
        Arc::clone(&process.stdout)
    };
    let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
    offloaded(
        offload::LOG_CALLS.run(move || match stream.tail(offset, 64 * 1024) {
            Ok(tail) => json(&serde_json::json!({
                "data": String::from_utf8_lossy(&tail.data),
                "offset": tail.offset,
                "overflow": tail.overflow,
            })),
            Err(err) => (StatusCode::NOT_FOUND, err.to_string()).into_response(),
        }),
    )
    .await
}

/// `GET /api/events`: every event from now on, one JSON object per server-sent event.
async fn events(State(web): State<Web>) -> Response {
    let feed = web.api.events.feed();
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            match feed.recv().await {
                Ok(json) => {
                    let event = SseEvent::default().data(json.as_ref());
                    return Some((Ok::<_, Infallible>(event), feed));
                }
                // A slow reader skips what it missed.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// An action form.
#[derive(Deserialize)]
struct ActionForm {
    token: String,
    action: String,
    #[serde(default)]
    name: String,
}

/// `POST /action`: start, stop, restart or clear a process, or start/stop/restart all,
/// then back to the page it came from.
async fn action(
    State(web): State<Web>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if !same_secret(form.token.as_bytes(), web.token.as_bytes()) || !same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "this action did not come from vigil's page",
        )
            .into_response();
    }
    let name = Value::from(form.name.as_str());
    let calls: Vec<(&str, Vec<Value>)> = match form.action.as_str() {
        "start" => vec![("supervisor.startProcess", vec![name, Value::Bool(false)])],
        "stop" => vec![("supervisor.stopProcess", vec![name, Value::Bool(false)])],
        "restart" => vec![
            (
                "supervisor.stopProcess",
                vec![name.clone(), Value::Bool(true)],
            ),
            ("supervisor.startProcess", vec![name, Value::Bool(false)]),
        ],
        "clear" => vec![("supervisor.clearProcessLogs", vec![name])],
        "startall" => vec![("supervisor.startAllProcesses", vec![Value::Bool(false)])],
        "stopall" => vec![("supervisor.stopAllProcesses", vec![Value::Bool(false)])],
        "restartall" => vec![
            ("supervisor.stopAllProcesses", vec![Value::Bool(true)]),
            ("supervisor.startAllProcesses", vec![Value::Bool(false)]),
        ],
        other => {
            return (StatusCode::BAD_REQUEST, format!("unknown action {other}")).into_response()
        }
    };
    for (method, params) in calls {
        // A refusal (already started, not running) is what the page then shows.
        if let Err(fault) = methods::call(&web.api, access, method, &params).await {
            tracing::debug!("web action {} on {}: {fault}", form.action, form.name);
        }
    }
    let back = headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| {
            referer
                .find("/process/")
                .map(|at| referer[at..].to_string())
        })
        .unwrap_or_else(|| "/".to_string());
    Redirect::to(&back).into_response()
}

/// No other site may frame the page (its buttons could be clicked through a decoy).
async fn not_framed(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("frame-ancestors 'none'"),
    );
    response
}

/// A browser's Origin, when it sends one, must be this server (its Host).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority == host)
}
