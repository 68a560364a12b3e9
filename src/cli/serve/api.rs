//! What the page reads: the agents, their history, and each agent's
//! screen, transcript and explanation, every one from the CLI's own
//! command where the CLI answers it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Shared, auth, lock, page, screen, unauthorized};

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    token: Option<String>,
}

/// The page; `?token=` is exchanged for the cookie, then dropped from the
/// address bar.
pub(super) async fn index(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(given) = &query.token {
        if !auth::same(given, &shared.token) {
            return unauthorized();
        }
        let mut response = Redirect::to("/").into_response();
        if let Ok(cookie) = shared.cookie.set(&shared.token).parse() {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        return response;
    }
    if !shared.allows(&headers) {
        return unauthorized();
    }
    page::index(shared.takeover)
}

pub(super) async fn app_js() -> Response {
    page::script()
}

pub(super) async fn agents(State(shared): State<Arc<Shared>>) -> Response {
    let board = lock(&shared.board).clone();
    axum::Json(board).into_response()
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    since: Option<String>,
    /// One agent's only (both or neither).
    name: Option<String>,
    host: Option<String>,
}

/// The history, as `fleet events --json` gives it: every host's, or one
/// agent's.
pub(super) async fn events(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<EventsQuery>,
) -> Response {
    let mut command = vec!["events".to_string(), "--json".to_string()];
    if let Some(since) = query.since {
        // Never read as a flag of its own.
        command.push(format!("--since={since}"));
    }
    let said = match (&query.name, &query.host) {
        (Some(name), Some(host)) => {
            let command: Vec<&str> = command.iter().map(String::as_str).collect();
            run_fleet_for(&shared, name, host, &command, &[], None).await
        }
        (None, None) => {
            // 3: a host did not answer; the others' events are there.
            run_fleet(&shared, command, &[0, 3], None).await
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
pub(super) struct AgentQuery {
    name: String,
    host: String,
}

/// Runs `fleet COMMAND -- NAME@HOST AFTER…` for an agent the server shows
/// (`--by` naming who acts): the name is never read as a flag, whatever
/// a session is called. Its stdout, or the response that says why not.
pub(super) async fn run_fleet_for(
    shared: &Shared,
    name: &str,
    host: &str,
    command: &[&str],
    after: &[&str],
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
    full.extend(["--".to_string(), format!("{name}@{host}")]);
    full.extend(after.iter().map(|a| a.to_string()));
    run_fleet(shared, full, &[0], by).await
}

/// Runs `fleet ARGS` (with this server's file and socket) off the runtime's
/// thread: its stdout when it exits with one of `ok`, else the response
/// that says why, in its own words made plain.
pub(super) async fn run_fleet(
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
    let exe = own_exe();
    let shown = exe.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args(&full)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await;
    match out {
        Ok(Ok(out)) if out.status.code().is_some_and(|c| ok.contains(&c)) => Ok(out.stdout),
        Ok(Ok(out)) => {
            // 2: the request asked for something the command refuses.
            let code = if out.status.code() == Some(2) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::BAD_GATEWAY
            };
            let said = String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace(|c: char| c.is_control(), "?");
            Err((code, format!("{said}\n")).into_response())
        }
        Ok(Err(e)) => Err((
            StatusCode::BAD_GATEWAY,
            format!("cannot run {}: {e}\n", shown.display()),
        )
            .into_response()),
        Err(_) => Err((StatusCode::BAD_GATEWAY, "fleet failed\n").into_response()),
    }
}

#[derive(Deserialize)]
pub(super) struct TranscriptQuery {
    name: String,
    host: String,
    /// Only the last this many lines.
    tail: Option<usize>,
}

/// An agent's transcript as a person saw it (`fleet logs`), as text.
pub(super) async fn transcript(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<TranscriptQuery>,
) -> Response {
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
pub(super) async fn explain(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AgentQuery>,
) -> Response {
    match run_fleet_for(
        &shared,
        &query.name,
        &query.host,
        &["explain", "--json"],
        &[],
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
pub(super) async fn agent_screen(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AgentQuery>,
) -> Response {
    match run_fleet_for(
        &shared,
        &query.name,
        &query.host,
        &["peek", "--raw"],
        &[],
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
pub(super) async fn stream(State(shared): State<Arc<Shared>>) -> Response {
    let changes = shared.changed.subscribe();
    let closing = shared.closing.subscribe();
    let events = futures_util::stream::unfold(
        (shared, changes, closing, true),
        |(shared, mut changes, mut closing, first)| async move {
            if *closing.borrow() {
                return None;
            }
            if !first {
                // A comment now and then keeps proxies from closing it.
                let beat = {
                    let next = tokio::time::timeout(Duration::from_secs(15), changes.changed());
                    tokio::select! {
                        // The server is stopping: the stream ends, so that
                        // an open page does not hold it up.
                        _ = closing.wait_for(|c| *c) => return None,
                        next = next => match next {
                            Ok(Ok(())) => false,
                            Ok(Err(_)) => return None,
                            Err(_) => true,
                        },
                    }
                };
                if beat {
                    let beat = Ok::<_, std::convert::Infallible>(": still here\n\n".to_string());
                    return Some((beat, (shared, changes, closing, false)));
                }
            }
            let board = lock(&shared.board).clone();
            let json = serde_json::to_string(&board).unwrap_or_default();
            let event = Ok(format!("event: agents\ndata: {json}\n\n"));
            Some((event, (shared, changes, closing, false)))
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

/// This server's own `fleet`, to run its commands. Replaced on disk while
/// serving (an upgrade), the path is the new one: Linux names the running
/// file `PATH (deleted)`.
pub(super) fn own_exe() -> std::path::PathBuf {
    match std::env::current_exe() {
        Ok(path) => {
            let text = path.to_string_lossy();
            match text.strip_suffix(" (deleted)") {
                Some(now) if std::path::Path::new(now).exists() => now.into(),
                _ => path,
            }
        }
        Err(_) => "fleet".into(),
    }
}
