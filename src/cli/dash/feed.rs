//! What the dashboard shows, kept fresh from the same core as `ps` and
//! `watch`: every host's rows, and the selected agent's screen.
//!
//! Theory of operation. This host is looked at by a [`Monitor`], the one
//! `watch` keeps: it sleeps until tmux says something changed (one
//! control-mode connection, no process per look), and each look becomes
//! rows through `rows::rows` with the monitor's own activity decisions, as
//! `ps` makes them. Each other host runs its own `fleet watch --json` over
//! its shared ssh connection: a line from it means that host changed, and
//! its rows are asked again (`ps --json`, one round trip), at most every
//! half second, and every 5 s anyway (for the ages). The selected agent's
//! screen is read with its escape sequences when the selection changes,
//! and again when its pane wrote since (here) or every second (elsewhere).

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::Scope;
use std::time::{Duration, Instant};

use crate::cli::dash::app::Preview;
use crate::core::Core;
use crate::core::host::ssh::{SshHost, Stream};
use crate::core::host::{Capture, PANE_COLS};
use crate::core::monitor::Monitor;
use crate::core::ops::hosts::{Bound, Plan};
use crate::core::rows::{self, AgentRow, Extras};

/// What the feed tells the view.
pub enum Update {
    Rows {
        rows: Vec<AgentRow>,
        unreachable: Vec<(String, String)>,
        /// What the last looks warned of (a broken fleet file…).
        warnings: Vec<String>,
        /// Hosts that have not answered yet: their agents are not in
        /// `rows` at all.
        pending: Vec<String>,
    },
    Preview(Preview),
}

/// Which agent's screen the view wants (name, host): set by the view,
/// waited on by the feed.
#[derive(Clone, Default)]
pub struct Wanted(Arc<(Mutex<Option<Target>>, Condvar)>);

/// An agent by name and host.
type Target = (String, String);

impl Wanted {
    pub fn set(&self, want: Option<(String, String)>) {
        let (slot, changed) = &*self.0;
        let mut now = lock(slot);
        if *now != want {
            *now = want;
            changed.notify_all();
        }
    }

    /// Wakes the preview to look again (its pane may have changed).
    fn poke(&self) {
        self.0.1.notify_all();
    }

    /// The wanted agent, after waiting at most `timeout` for a change.
    fn wait(&self, seen: &Option<(String, String)>, timeout: Duration) -> Option<(String, String)> {
        let (slot, changed) = &*self.0;
        let guard = lock(slot);
        let guard = if *guard == *seen {
            changed
                .wait_timeout(guard, timeout)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0)
        } else {
            guard
        };
        guard.clone()
    }
}

/// Every host's rows as last seen, merged for the view.
#[derive(Default)]
struct Board {
    here: Vec<AgentRow>,
    there: BTreeMap<String, (Vec<AgentRow>, Option<String>)>,
    /// The hosts that have not answered yet (this one as `None`).
    pending: Vec<Option<String>>,
    here_warnings: Vec<String>,
    there_warnings: Vec<String>,
}

impl Board {
    fn update(&self) -> Update {
        let mut rows: Vec<AgentRow> = self.here.clone();
        let mut unreachable = Vec::new();
        for (host, (host_rows, why)) in &self.there {
            rows.extend(host_rows.iter().cloned());
            if let Some(why) = why {
                unreachable.push((host.clone(), why.clone()));
            }
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.host.cmp(&b.host)));
        let mut warnings = self.here_warnings.clone();
        for w in &self.there_warnings {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
        let pending = self
            .pending
            .iter()
            .map(|h| h.clone().unwrap_or_default())
            .collect();
        Update::Rows {
            rows,
            unreachable,
            warnings,
            pending,
        }
    }
}

/// This host's panes as the last look saw them: id, height, last output,
/// dead — for reading the selected one's screen.
type Panes = BTreeMap<String, (u32, usize, Option<u64>, bool)>;

/// Starts the feed's threads in `scope`; they send to `tx` until the
/// process ends.
pub fn start<'scope, 'env: 'scope>(
    scope: &'scope Scope<'scope, 'env>,
    core: &'env Core,
    plan: &'env Plan,
    tx: mpsc::Sender<Update>,
    wanted: Wanted,
) {
    let mut pending: Vec<Option<String>> = Vec::new();
    if plan.here.is_some() {
        pending.push(None);
    }
    pending.extend(plan.there.iter().map(|(h, _)| Some(h.name().to_string())));
    let board = Arc::new(Mutex::new(Board {
        pending,
        ..Board::default()
    }));
    let panes: Arc<Mutex<Panes>> = Arc::default();
    if plan.here.is_some() {
        let (board, panes, tx, wanted) = (board.clone(), panes.clone(), tx.clone(), wanted.clone());
        scope.spawn(move || watch_here(core, &board, &panes, &tx, &wanted));
    }
    if !plan.there.is_empty() {
        let (dirty_tx, dirty_rx) = mpsc::channel::<String>();
        for (host, _) in &plan.there {
            let dirty = dirty_tx.clone();
            scope.spawn(move || follow(core, host, &dirty));
        }
        let (board, tx) = (board.clone(), tx.clone());
        scope.spawn(move || ask_there(core, plan, &board, &tx, &dirty_rx));
    }
    scope.spawn(move || preview(core, plan, &panes, &tx, &wanted));
}

/// This host, through the monitor: rows after every look.
fn watch_here(
    core: &Core,
    board: &Mutex<Board>,
    panes: &Mutex<Panes>,
    tx: &mpsc::Sender<Update>,
    wanted: &Wanted,
) {
    let Ok(mut monitor) = Monitor::new(core) else {
        return;
    };
    loop {
        if let Ok(tick) = monitor.tick(core)
            && tick.skipped.is_none()
        {
            let fleet = core.fleet_or_running();
            let extras = Extras {
                activity: monitor.activities(),
            };
            let now = core.clock().now();
            let rows = rows::rows(Some(&fleet), &tick.sessions, &extras, core.here_name(), now);
            *lock(panes) = tick
                .sessions
                .iter()
                .map(|(name, s)| {
                    let p = &s.pane;
                    (name.clone(), (p.pane_id, p.height, p.last_output, p.dead))
                })
                .collect();
            let update = {
                let mut board = lock(board);
                board.here = rows;
                board.pending.retain(Option::is_some);
                board.here_warnings = warning_lines(core);
                board.update()
            };
            if tx.send(update).is_err() {
                return;
            }
            wanted.poke();
        }
        monitor.wait(core);
    }
}

/// Another host's own watch: each line it says marks the host dirty.
fn follow(core: &Core, host: &SshHost, dirty: &mpsc::Sender<String>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let request = core.request(host, vec!["watch".into(), "--json".into()]);
        let mut open = true;
        let _ = host.call(&request, None, None, &mut |stream, _| {
            if matches!(stream, Stream::Out | Stream::Hello) {
                open = dirty.send(host.name().to_string()).is_ok();
                backoff = Duration::from_secs(1);
            }
            open
        });
        if !open {
            return;
        }
        // Gone: its rows say so at the next ask; try again later.
        let _ = dirty.send(host.name().to_string());
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Other hosts' rows: asked when a host said something, at most every
/// half second, and every 5 s anyway.
fn ask_there(
    core: &Core,
    plan: &Plan,
    board: &Mutex<Board>,
    tx: &mpsc::Sender<Update>,
    dirty: &mpsc::Receiver<String>,
) {
    let mut last = Instant::now() - Duration::from_secs(60);
    let mut first = true;
    // When each host was last asked: none goes unasked for long because
    // another keeps saying things.
    let mut asked_at: BTreeMap<String, Instant> = BTreeMap::new();
    loop {
        let mut hosts: Vec<String> = Vec::new();
        if first {
            first = false;
        } else {
            match dirty.recv_timeout(Duration::from_secs(5)) {
                Ok(host) => hosts.push(host),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        let gap = Duration::from_millis(500).saturating_sub(last.elapsed());
        std::thread::sleep(gap);
        hosts.extend(dirty.try_iter());
        let stale = |name: &str| {
            asked_at
                .get(name)
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(5))
        };
        let asked: Vec<(SshHost, Vec<_>)> = plan
            .there
            .iter()
            .filter(|(h, _)| {
                hosts.is_empty() || hosts.iter().any(|n| n == h.name()) || stale(h.name())
            })
            .cloned()
            .collect();
        last = Instant::now();
        for (host, _) in &asked {
            asked_at.insert(host.name().to_string(), last);
        }
        let answers = core.rows_of(&asked);
        let warnings = warning_lines(core);
        let update = {
            let mut board = lock(board);
            for (host, (rows, why)) in answers {
                board
                    .pending
                    .retain(|h| h.as_deref() != Some(host.as_str()));
                board.there.insert(host, (rows, why.map(|w| w.to_string())));
            }
            board.there_warnings = warnings;
            board.update()
        };
        if tx.send(update).is_err() {
            return;
        }
    }
}

/// The selected agent's screen: read when the selection changes, and when
/// its pane wrote since (this host) or every second (another host).
fn preview(
    core: &Core,
    plan: &Plan,
    panes: &Mutex<Panes>,
    tx: &mpsc::Sender<Update>,
    wanted: &Wanted,
) {
    let here = core.here_name().to_string();
    let mut seen: Option<(String, String)> = None;
    // What the last screen read was of: its pane and last output.
    let mut read: Option<(u32, Option<u64>, bool)> = None;
    let mut read_at = Instant::now();
    loop {
        let want = wanted.wait(&seen, Duration::from_secs(1));
        let changed = want != seen;
        seen = want.clone();
        let Some((name, host)) = want else {
            continue;
        };
        if changed {
            read = None;
        }
        let screen = if host == here {
            let pane = lock(panes).get(&name).copied();
            let Some((pane_id, height, last_output, dead)) = pane else {
                // No session (any more): say so rather than keep a screen
                // that is gone.
                if read != Some((u32::MAX, None, true)) {
                    read = Some((u32::MAX, None, true));
                    let gone = Preview {
                        name,
                        host,
                        screen: "(no session: not running here)".into(),
                        rows: 1,
                        cols: PANE_COLS,
                    };
                    if tx.send(Update::Preview(gone)).is_err() {
                        return;
                    }
                }
                continue;
            };
            let now = (pane_id, last_output, dead);
            if read == Some(now) {
                continue;
            }
            read = Some(now);
            core.host()
                .capture(pane_id, Capture::Screen, true)
                .ok()
                .map(|screen| (screen, height))
        } else {
            if !changed && read_at.elapsed() < Duration::from_secs(1) {
                continue;
            }
            let Some((ssh, _)) = plan.there.iter().find(|(h, _)| h.name() == host) else {
                continue;
            };
            let screen =
                peek_there(core, ssh, &name).unwrap_or_else(|why| format!("(no screen: {why})"));
            let height = screen.lines().count().max(1);
            Some((screen, height))
        };
        read_at = Instant::now();
        if let Some((screen, height)) = screen {
            let preview = Preview {
                name,
                host,
                screen,
                rows: u16::try_from(height).unwrap_or(u16::MAX),
                cols: PANE_COLS,
            };
            if tx.send(Update::Preview(preview)).is_err() {
                return;
            }
        }
    }
}

/// Another host's agent's screen, with its escapes: its own `peek --raw`;
/// else why there is none.
fn peek_there(core: &Core, host: &SshHost, name: &str) -> Result<String, String> {
    let request = core.request(host, vec!["peek".into(), name.into(), "--raw".into()]);
    let mut out = String::new();
    let mut err = String::new();
    let code = host
        .call(
            &request,
            Bound::Read.after_hello(host),
            Some(crate::core::ops::hosts::MAX_KEPT),
            &mut |stream, line| {
                match stream {
                    Stream::Out => {
                        out.push_str(line);
                        out.push('\n');
                    }
                    Stream::Err => {
                        err = line
                            .strip_prefix("fleet: error: ")
                            .unwrap_or(line)
                            .to_string()
                    }
                    Stream::Hello => {}
                }
                true
            },
        )
        .map_err(|why| format!("its host did not answer ({})", why.word()))?;
    if code == 0 { Ok(out) } else { Err(err) }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the core warned of since it was last asked, as lines (not on the
/// terminal: the view shows them where it can).
fn warning_lines(core: &Core) -> Vec<String> {
    core.take_warnings()
        .into_iter()
        .map(crate::cli::warning_line)
        .collect()
}
