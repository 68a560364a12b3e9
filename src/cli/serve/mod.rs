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
//! Connections are bounded before any request is read ([`front`]).
//! When the fleet file comes to name other hosts than it did, the server
//! starts itself again to follow them (the page reconnects by itself).

mod api;
mod auth;
mod front;
mod lifecycle;
mod page;
mod routes;
pub mod screen;
mod takeover;
mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::cli::dash::feed::{self, Update, Wanted};
use crate::cli::error::CliError;
use crate::cli::{hosts, output};
use crate::core::Core;
use crate::core::rows::AgentRow;

/// Where `fleet serve` listens unless told otherwise: this machine only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7077";

/// How long the server waits for the first answer of every host before
/// it serves (a host that has not answered by then is `pending`).
const FIRST_LOOK: Duration = Duration::from_secs(10);

/// How long open requests have to finish once the server is stopping.
const STOPPING: Duration = Duration::from_secs(2);

/// How long a client has to send a request's head, whole.
const HEAD_WITHIN: Duration = Duration::from_secs(10);

/// The most a connection buffers of what it reads (the least hyper
/// allows; a request head is far smaller).
const MAX_HEAD_BUFFER: usize = 16 * 1024;

/// The largest request body (a line of text to send is at most 4000
/// characters).
const MAX_BODY: usize = 64 * 1024;

/// What every request reads: the latest rows, and a version that moves
/// when they change (the event stream waits on it).
struct Shared {
    token: String,
    cookie: auth::Cookie,
    /// `http` or `https`: what the page's own origin starts with.
    scheme: &'static str,
    /// Whether the page may send and restart (`--allow-takeover`).
    takeover: bool,
    /// Listening on this machine only: a request must name it as such
    /// (`Host: 127.0.0.1…`, `localhost`, `[::1]`), so that a DNS name
    /// rebound to this machine is refused. Beyond it, any name.
    loopback: bool,
    /// `fleet` with this server's fleet file and socket, for what the
    /// CLI answers best (`events`).
    fleet: Vec<String>,
    /// Warnings of the start (the fleet file's), shown with the rows.
    start_warnings: Vec<String>,
    board: Mutex<Board>,
    changed: tokio::sync::watch::Sender<u64>,
    /// Set when the server stops: event streams end.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    /// Whether a request carries the token.
    fn allows(&self, headers: &HeaderMap) -> bool {
        auth::allowed(headers, &self.token, &self.cookie)
    }
}

#[derive(Default, Clone, serde::Serialize)]
struct Board {
    agents: Vec<AgentRow>,
    unreachable: Vec<Unanswered>,
    /// Hosts that have not answered yet: their agents are not listed.
    pending: Vec<String>,
    warnings: Vec<String>,
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
    // Started again (the same pid): what the last start still had running
    // is ended and reaped, not left behind.
    lifecycle::reap_leftovers();
    // Signals are taken before anything starts: SIGINT or SIGTERM at any
    // moment stops the server (and its children) the same way, and one
    // during a start again keeps it from starting again.
    let stop = tokio::sync::watch::channel(false).0;
    let signalled = lifecycle::take_signals(&stop)?;
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
    let (token, renewed) = auth::token(core)?;
    if let Some(note) = renewed {
        output::eprint(&format!("fleet: warning: {note}"));
    }
    let plan = hosts::plan(core, &[], &[])?;
    let start_warnings: Vec<String> = core
        .take_warnings()
        .into_iter()
        .map(crate::cli::warning_line)
        .collect();
    for line in &start_warnings {
        output::eprint(&format!("fleet: {line}"));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the server: {e}")))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| CliError::failed(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    // The listening socket, held open until this process ends or starts
    // again: no moment in which another program could take the port.
    let held = listener
        .into_std()
        .and_then(|l| Ok((l.try_clone()?, l)))
        .map_err(|e| CliError::failed(format!("cannot listen on {addr}: {e}")))?;
    let listener = {
        let _inside = runtime.enter();
        tokio::net::TcpListener::from_std(held.1)
            .map_err(|e| CliError::failed(format!("cannot listen on {addr}: {e}")))?
    };
    let held = held.0;
    let mut fleet: Vec<String> = Vec::new();
    if let Some(file) = &core.settings.file {
        fleet.extend(["--file".to_string(), file.to_string_lossy().into_owned()]);
    }
    fleet.extend(["--socket".to_string(), core.settings.socket.clone()]);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let shared = Arc::new(Shared {
        token,
        cookie: auth::Cookie::new(bound.port(), tls.is_some()),
        scheme,
        takeover: options.allow_takeover,
        loopback: bound.ip().is_loopback(),
        fleet,
        start_warnings,
        board: Mutex::new(Board::default()),
        changed: tokio::sync::watch::channel(0u64).0,
        closing: tokio::sync::watch::channel(false).0,
    });
    let again = AtomicBool::new(false);
    let plan = &plan;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<Update>();
        feed::start(scope, core, plan, tx, Wanted::default());
        // Nothing is answered before every host's first look (or its
        // bound): an empty list would say there are no agents. A signal
        // meanwhile ends it at once.
        let deadline = Instant::now() + FIRST_LOOK.max(core.settings.host_timeout * 2);
        while Instant::now() < deadline && !signalled.load(Ordering::SeqCst) {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(update) => {
                    if keep(&shared, update) == Some(true) {
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        if signalled.load(Ordering::SeqCst) {
            let _ = lifecycle::end_children();
            std::process::exit(0);
        }
        let keeper = shared.clone();
        scope.spawn(move || {
            for update in rx {
                keep(&keeper, update);
            }
        });
        {
            let (again, stop) = (&again, stop.clone());
            scope.spawn(move || lifecycle::follow_hosts(core, plan, again, &stop));
        }
        let takeover = if shared.takeover {
            " (takeover allowed: the page can send and restart)"
        } else {
            ""
        };
        output::print(&format!(
            "fleet serve: open {scheme}://{}/?token={}{takeover}\n",
            shown_address(bound),
            shared.token
        ));
        let app = routes::router(shared.clone());
        let stopping = stop.subscribe();
        let result = runtime.block_on(async move {
            let front = front::Front::new(listener, tls)?;
            serve(front, app, stopping, &shared.closing).await;
            Ok::<(), std::io::Error>(())
        });
        let _ = lifecycle::end_children();
        // Started again only if nobody asked it to stop meanwhile.
        if again.load(Ordering::SeqCst) && !signalled.load(Ordering::SeqCst) {
            output::eprint(
                "fleet: the fleet file names other hosts now: fleet serve starts again to follow them",
            );
            lifecycle::start_again(bound, &held);
        }
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

/// Serves each connection `front` hands over until `stopping`: a request
/// head must arrive whole within [`HEAD_WITHIN`] and fit
/// [`MAX_HEAD_BUFFER`] (a client that dribbles one holds nothing for
/// long). Then the live streams end (`closing`) and open requests have
/// [`STOPPING`] to finish.
async fn serve(
    mut front: front::Front,
    app: Router,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    closing: &tokio::sync::watch::Sender<bool>,
) {
    use axum::serve::Listener;
    let mut open = tokio::task::JoinSet::new();
    loop {
        let (io, peer) = tokio::select! {
            _ = stopping.wait_for(|s| *s) => break,
            accepted = front.accept() => accepted,
        };
        // Finished connections are let go of as new ones come.
        while open.try_join_next().is_some() {}
        let app = app.clone();
        open.spawn(async move {
            let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(Client(peer)));
                tower::ServiceExt::oneshot(app.clone(), request)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEAD_WITHIN)
                .max_buf_size(MAX_HEAD_BUFFER)
                .serve_connection(hyper_util::rt::TokioIo::new(io), service)
                .await;
        });
    }
    closing.send_replace(true);
    let _ = tokio::time::timeout(STOPPING, async {
        while open.join_next().await.is_some() {}
    })
    .await;
}

/// Keeps a feed's rows; whether every host has answered (`None` for what
/// is not rows).
fn keep(shared: &Shared, update: Update) -> Option<bool> {
    let Update::Rows {
        rows,
        unreachable,
        warnings,
        pending,
    } = update
    else {
        return None;
    };
    let mut all = shared.start_warnings.clone();
    all.extend(
        warnings
            .into_iter()
            .filter(|w| !shared.start_warnings.contains(w)),
    );
    let complete = pending.is_empty();
    let board = Board {
        agents: rows,
        unreachable: unreachable
            .into_iter()
            .map(|(host, reason)| Unanswered { host, reason })
            .collect(),
        pending,
        warnings: all,
    };
    *lock(&shared.board) = board;
    shared.changed.send_modify(|v| *v += 1);
    Some(complete)
}

/// The address to print: an address a browser can open (this machine's
/// name when listening on all addresses).
fn shown_address(bound: SocketAddr) -> String {
    if bound.ip().is_unspecified() {
        format!("{}:{}", crate::core::host::hostname::local(), bound.port())
    } else {
        bound.to_string()
    }
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, format!("{}\n", auth::MISSING)).into_response()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
