//! `fleet serve`: the fleet in a browser, read-only unless
//! `--allow-takeover`.
//!
//! Theory of operation. One process: the dashboard's feed (this host
//! through the monitor, other hosts through their own watch over ssh)
//! keeps the latest rows, and an HTTP server on a single-threaded tokio
//! runtime answers with them. Every request needs the token: once as
//! `?token=` in the URL `fleet serve` prints (exchanged for an HttpOnly,
//! SameSite=Strict cookie), or as `Authorization: Bearer TOKEN` (scripts).
//! The token is made on first start and kept 0600 under `$FLEET_HOME`.
//! Live updates go out over server-sent events whenever the rows change.
//! Everything else an agent has (screen, transcript, history, explain) and
//! every act ([`takeover`]) is the CLI's own command, run apart.

mod auth;
mod page;
pub mod screen;
mod takeover;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::cli::dash::feed::{self, Update, Wanted};
use crate::cli::error::CliError;
use crate::cli::{hosts, output};
use crate::core::Core;
use crate::core::rows::AgentRow;

/// Where `fleet serve` listens unless told otherwise: this machine only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7077";

/// What every request reads: the latest rows, and a version that moves
/// when they change (the event stream waits on it).
struct Shared {
    token: String,
    /// `http` or `https`: what the page's own origin starts with.
    scheme: &'static str,
    /// Whether the page may send and restart (`--allow-takeover`).
    takeover: bool,
    /// `fleet` with this server's fleet file and socket, for what the
    /// CLI answers best (`events`).
    fleet: Vec<String>,
    board: Mutex<Board>,
    changed: tokio::sync::watch::Sender<u64>,
}

#[derive(Default, Clone, serde::Serialize)]
struct Board {
    agents: Vec<AgentRow>,
    unreachable: Vec<Unanswered>,
}

#[derive(Clone, serde::Serialize)]
struct Unanswered {
    host: String,
    reason: String,
}

/// How `fleet serve` was asked to serve.
#[derive(Debug, Default)]
pub struct Options<'a> {
    pub listen: Option<&'a str>,
    pub allow_takeover: bool,
    /// A PEM certificate chain and its key: serve HTTPS.
    pub tls: Option<(&'a std::path::Path, &'a std::path::Path)>,
}

/// The client a request came from (its address is who acted).
#[derive(Clone, Copy)]
struct Client(SocketAddr);

impl Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for Client {
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Client(*stream.remote_addr())
    }
}

impl Connected<axum::serve::IncomingStream<'_, tls::TlsListener>> for Client {
    fn connect_info(stream: axum::serve::IncomingStream<'_, tls::TlsListener>) -> Self {
        Client(*stream.remote_addr())
    }
}

/// Runs the server until SIGTERM or SIGINT; the exit code.
pub fn run(core: &Core, options: &Options) -> Result<i32, CliError> {
    let listen = options.listen;
    let addr: SocketAddr = listen.unwrap_or(DEFAULT_LISTEN).parse().map_err(|_| {
        CliError::user(format!(
            "--listen {:?} is not an address: use IP:PORT, e.g. 127.0.0.1:7077",
            listen.unwrap_or_default()
        ))
    })?;
    let tls = options
        .tls
        .map(|(cert, key)| tls::config(cert, key))
        .transpose()?;
    if !addr.ip().is_loopback() {
        let may = if options.allow_takeover {
            "sees every agent's state and can type into them"
        } else {
            "sees every agent's state"
        };
        let plain = if tls.is_none() {
            " (and without --tls-cert, the token crosses the network in the clear)"
        } else {
            ""
        };
        output::eprint(&format!(
            "fleet: warning: listening on {addr}, beyond this machine: anyone who can reach it and has the token {may}{plain}"
        ));
    }
    let token = auth::token(core)?;
    let plan = hosts::plan(core, &[], &[])?;
    let (changed, _) = tokio::sync::watch::channel(0u64);
    let mut fleet: Vec<String> = Vec::new();
    if let Some(file) = &core.settings.file {
        fleet.extend(["--file".to_string(), file.to_string_lossy().into_owned()]);
    }
    fleet.extend(["--socket".to_string(), core.settings.socket.clone()]);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let shared = Arc::new(Shared {
        token,
        scheme,
        takeover: options.allow_takeover,
        fleet,
        board: Mutex::new(Board::default()),
        changed,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the server: {e}")))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| CliError::failed(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<Update>();
        feed::start(scope, core, &plan, tx, Wanted::default());
        let keep = |keeper: &Shared, update: Update| {
            if let Update::Rows { rows, unreachable } = update {
                let board = Board {
                    agents: rows,
                    unreachable: unreachable
                        .into_iter()
                        .map(|(host, reason)| Unanswered { host, reason })
                        .collect(),
                };
                *lock(&keeper.board) = board;
                keeper.changed.send_modify(|v| *v += 1);
                true
            } else {
                false
            }
        };
        // Nothing is answered before the first look: an empty list would
        // say there are no agents.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Ok(update) =
            rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        {
            if keep(&shared, update) {
                break;
            }
        }
        let keeper = shared.clone();
        scope.spawn(move || {
            for update in rx {
                keep(&keeper, update);
            }
        });
        let app = router(shared.clone()).into_make_service_with_connect_info::<Client>();
        let until = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let takeover = if shared.takeover {
            " (takeover allowed: the page can send and restart)"
        } else {
            ""
        };
        output::print(&format!(
            "fleet serve: open {scheme}://{bound}/?token={}{takeover}\n",
            shared.token
        ));
        let result = runtime.block_on(async move {
            match tls {
                Some(config) => {
                    let listener = tls::TlsListener::new(listener, config)?;
                    axum::serve(listener, app)
                        .with_graceful_shutdown(until)
                        .await
                }
                None => {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(until)
                        .await
                }
            }
        });
        let code = match result {
            Ok(()) => 0,
            Err(e) => {
                output::eprint(&format!("fleet: error: the server stopped: {e}"));
                1
            }
        };
        // The feed watches for as long as the process lives.
        std::process::exit(code)
    })
}

fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/api/agents", get(agents))
        .route("/api/events", get(events))
        .route("/api/stream", get(stream))
        .route("/api/screen", get(agent_screen))
        .route("/api/transcript", get(transcript))
        .route("/api/explain", get(explain));
    // Without the flag, there is nothing to change anything with.
    if shared.takeover {
        router = router
            .route("/api/send", post(takeover::send))
            .route("/api/restart", post(takeover::restart));
    }
    router.with_state(shared)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The page; `?token=` is exchanged for the cookie, then dropped from the
/// address bar.
async fn index(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(given) = &query.token {
        if !auth::same(given, &shared.token) {
            return unauthorized();
        }
        let mut response = Redirect::to("/").into_response();
        if let Ok(cookie) = auth::cookie(&shared.token).parse() {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        return response;
    }
    if !auth::allowed(&headers, &shared.token) {
        return unauthorized();
    }
    page::index(shared.takeover)
}

async fn app_js(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !auth::allowed(&headers, &shared.token) {
        return unauthorized();
    }
    page::script()
}

async fn agents(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !auth::allowed(&headers, &shared.token) {
        return unauthorized();
    }
    let board = lock(&shared.board).clone();
    axum::Json(board).into_response()
}

#[derive(Deserialize)]
struct EventsQuery {
    since: Option<String>,
    /// One agent's only (both or neither).
    name: Option<String>,
    host: Option<String>,
}

/// The history, as `fleet events --json` gives it: every host's, or one
/// agent's.
async fn events(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    if !auth::allowed(&headers, &shared.token) {
        return unauthorized();
    }
    let mut rest = vec!["--json".to_string()];
    if let Some(since) = query.since {
        // Never read as a flag of its own.
        rest.push(format!("--since={since}"));
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let said = match (&query.name, &query.host) {
        (Some(name), Some(host)) => {
            run_fleet_for(&shared, name, host, &["events"], &rest, None).await
        }
        (None, None) => {
            let mut args = vec!["events".to_string()];
            args.extend(rest.iter().map(|a| a.to_string()));
            // 3: a host did not answer; the others' events are there.
            run_fleet(&shared, args, &[0, 3], None).await
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "give both name and host, or neither\n",
            )
                .into_response();
        }
    };
    match said {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct AgentQuery {
    name: String,
    host: String,
}

/// Runs `fleet COMMAND NAME@HOST REST…` for an agent the server shows
/// (`--by` naming who acts); its stdout, or the response that says why
/// not.
async fn run_fleet_for(
    shared: &Shared,
    name: &str,
    host: &str,
    command: &[&str],
    rest: &[&str],
    by: Option<&str>,
) -> Result<Vec<u8>, Response> {
    let known = lock(&shared.board)
        .agents
        .iter()
        .any(|a| a.name == name && a.host == host);
    if !known {
        return Err((StatusCode::NOT_FOUND, "no such agent\n").into_response());
    }
    let mut full: Vec<String> = command.iter().map(|a| a.to_string()).collect();
    full.push(format!("{name}@{host}"));
    full.extend(rest.iter().map(|a| a.to_string()));
    run_fleet(shared, full, &[0], by).await
}

/// Runs `fleet ARGS` (with this server's file and socket) off the runtime's
/// thread: its stdout when it exits with one of `ok`, else the response
/// that says why, in its own words made plain.
async fn run_fleet(
    shared: &Shared,
    args: Vec<String>,
    ok: &[i32],
    by: Option<&str>,
) -> Result<Vec<u8>, Response> {
    let mut full = shared.fleet.clone();
    if let Some(by) = by {
        full.extend(["--by".to_string(), by.to_string()]);
    }
    full.extend(args);
    let out = tokio::task::spawn_blocking(move || {
        let exe = std::env::current_exe().unwrap_or_else(|_| "fleet".into());
        std::process::Command::new(exe)
            .args(&full)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await;
    match out {
        Ok(Ok(out)) if out.status.code().is_some_and(|c| ok.contains(&c)) => Ok(out.stdout),
        Ok(Ok(out)) => Err((
            StatusCode::BAD_GATEWAY,
            format!(
                "{}\n",
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .replace(|c: char| c.is_control(), "?")
            ),
        )
            .into_response()),
        _ => Err((StatusCode::BAD_GATEWAY, "fleet failed\n").into_response()),
    }
}

#[derive(Deserialize)]
struct TranscriptQuery {
    name: String,
    host: String,
    /// Only the last this many lines.
    tail: Option<usize>,
}

/// An agent's transcript as a person saw it (`fleet logs`), as text.
async fn transcript(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<TranscriptQuery>,
    headers: HeaderMap,
) -> Response {
    if !auth::allowed(&headers, &shared.token) {
        return unauthorized();
    }
    match run_fleet_for(&shared, &query.name, &query.host, &["logs"], &[], None).await {
        // Text, and never sniffed for anything else: an agent's words.
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            last_lines(text, query.tail),
        )
            .into_response(),
        Err(response) => response,
    }
}

/// The last `tail` lines of `text` (all of it without a tail).
fn last_lines(mut text: Vec<u8>, tail: Option<usize>) -> Vec<u8> {
    let Some(tail) = tail else {
        return text;
    };
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let start = body
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(tail.saturating_sub(1))
        .map(|(i, _)| i + 1);
    match (tail, start) {
        (0, _) => Vec::new(),
        (_, Some(start)) => text.split_off(start),
        (_, None) => text,
    }
}

/// Why an agent has its state, as `fleet explain --json` says it.
async fn explain(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AgentQuery>,
    headers: HeaderMap,
) -> Response {
    if !auth::allowed(&headers, &shared.token) {
        return unauthorized();
    }
    match run_fleet_for(
        &shared,
        &query.name,
        &query.host,
        &["explain"],
        &["--json"],
        None,
    )
    .await
    {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(response) => response,
    }
}

/// An agent's screen, as HTML (escaped, colours as styles) and as text:
/// its host's own `peek --raw`.
async fn agent_screen(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AgentQuery>,
    headers: HeaderMap,
) -> Response {
    if !auth::allowed(&headers, &shared.token) {
        return unauthorized();
    }
    match run_fleet_for(
        &shared,
        &query.name,
        &query.host,
        &["peek"],
        &["--raw"],
        None,
    )
    .await
    {
        Ok(raw) => {
            let raw = String::from_utf8_lossy(&raw);
            let html = screen::html(
                &raw,
                crate::core::host::PANE_ROWS,
                crate::core::host::PANE_COLS,
            );
            axum::Json(serde_json::json!({
                "name": query.name,
                "host": query.host,
                "html": html,
            }))
            .into_response()
        }
        Err(response) => response,
    }
}

/// Server-sent events: the rows now, then again each time they change.
async fn stream(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !auth::allowed(&headers, &shared.token) {
        return unauthorized();
    }
    let changes = shared.changed.subscribe();
    let events = futures_util::stream::unfold(
        (shared, changes, true),
        |(shared, mut changes, first)| async move {
            if !first {
                // A comment now and then keeps proxies from closing it.
                match tokio::time::timeout(Duration::from_secs(15), changes.changed()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return None,
                    Err(_) => {
                        let beat =
                            Ok::<_, std::convert::Infallible>(": still here\n\n".to_string());
                        return Some((beat, (shared, changes, false)));
                    }
                }
            }
            let board = lock(&shared.board).clone();
            let json = serde_json::to_string(&board).unwrap_or_default();
            let event = Ok(format!("event: agents\ndata: {json}\n\n"));
            Some((event, (shared, changes, false)))
        },
    );
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        axum::body::Body::from_stream(events),
    )
        .into_response()
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, format!("{}\n", auth::MISSING)).into_response()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
