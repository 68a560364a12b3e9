//! The event store: every launch, stop, exit, restart, drift and takeover
//! act, in SQLite under `$FLEET_HOME/events.sqlite`.
//!
//! Theory of operation. Exits and drift happen while no `fleet` is looking,
//! so every command that observes the fleet hands its observation to
//! [`EventStore::observe`], which compares it with the last observation any
//! process stored (`last_seen`) and records the difference, all in one
//! `BEGIN IMMEDIATE` transaction: two processes observing at once record each
//! change once. WAL mode and a busy timeout let many writers wait for each
//! other instead of failing; a crash mid-write leaves the last commit intact.
//! An act the store could not take in time is kept aside (see
//! [`pending`]), and every write takes what is kept first, in its original
//! time order, so nothing newer is inferred without it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::core::clock::rfc3339_ms;
use crate::core::monitor::transitions::{self, Change, Lifecycle};
use crate::core::store::pending::{self, Act};
use crate::core::store::private::{self, Access};
use crate::core::vocab::EventKind;

const SCHEMA_VERSION: i64 = 2;

/// How long a write waits for other writers unless told
/// (`settings::DEFAULT_STORE_WAIT` says why this long).
const DEFAULT_WAIT: Duration = crate::core::settings::DEFAULT_STORE_WAIT;

#[derive(Debug, thiserror::Error)]
#[error("event store {path}: {source}")]
pub struct StoreError {
    pub path: PathBuf,
    pub source: rusqlite::Error,
}

/// What recording one observation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub events: Vec<Event>,
    /// A newer observation was already recorded: this one was dropped.
    pub stale: bool,
}

/// One recorded event. Its JSON form is the stable schema of
/// `fleet events --json` and `fleet watch --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(skip)]
    pub id: i64,
    /// RFC 3339, UTC, with milliseconds.
    pub time: String,
    #[serde(skip)]
    pub at_ms: i64,
    pub host: String,
    pub agent: String,
    pub event: EventKind,
    pub exit_code: Option<i32>,
    pub detail: String,
    /// Not a change but the state at the start of a `watch`.
    pub snapshot: bool,
}

pub struct EventStore {
    conn: Connection,
    path: PathBuf,
    socket: String,
    host: String,
    moved_aside: Option<PathBuf>,
    /// The file opened (device, inode), to tell when the path no longer
    /// leads to it.
    identity: Option<(u64, u64)>,
    /// How long a write waits for other writers.
    wait: Duration,
    /// A write gave up waiting: later ones in this process do not wait
    /// again until one gets through (one command waits once, not per act).
    gave_up: bool,
}

impl EventStore {
    /// Opens (creating if needed) the store of one fleet socket.
    pub fn open(home: &Path, socket: &str, host: &str) -> Result<Self, StoreError> {
        let path = home.join("events.sqlite");
        let err = |source| StoreError {
            path: path.clone(),
            source,
        };
        // The database and its companions are the user's alone (SQLite
        // gives `-wal` and `-shm` the database's own mode) and never links.
        let private = || -> std::io::Result<()> {
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut companion = path.clone().into_os_string();
                companion.push(suffix);
                private::no_link(Path::new(&companion))?;
            }
            private::open(&path, Access::ReadWrite)?;
            Ok(())
        };
        if let Err(e) = private() {
            return Err(err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))));
        }
        // Opening races other processes that open, checkpoint or close the
        // same file; SQLite then says "locked" without waiting. Try again,
        // a bounded number of times.
        let mut attempt = 0;
        let mut moved_aside = None;
        loop {
            let before = identity(&path);
            match Self::try_open(&path, socket, host) {
                Ok(mut store) => {
                    store.moved_aside = moved_aside;
                    return Ok(store);
                }
                Err(e) if is_busy(&e) && attempt < 50 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                // Not a database at all (overwritten, truncated into
                // garbage): every command would fail on it forever. Keep
                // it for whoever wants to look, and start a new one, once.
                Err(e) if is_broken(&e) && moved_aside.is_none() => {
                    // Only the file that failed: another fleet may have
                    // moved it and started a new one meanwhile.
                    if before.is_some() && identity(&path) == before {
                        moved_aside = Some(move_aside(&path).map_err(|io| {
                            err(rusqlite::Error::ToSqlConversionFailure(Box::new(io)))
                        })?);
                    } else {
                        moved_aside = Some(PathBuf::new());
                    }
                    private()
                        .map_err(|io| err(rusqlite::Error::ToSqlConversionFailure(Box::new(io))))?;
                }
                Err(e) => return Err(err(e)),
            }
        }
    }

    /// Whether the path still leads to the file this store has open: one
    /// deleted or replaced meanwhile (by hand, by a restore) would take
    /// writes nobody reads and miss what other fleets write. One `stat`.
    pub fn is_current(&self) -> bool {
        self.identity.is_some() && identity(&self.path) == self.identity
    }

    /// Sets how long a write waits for other writers.
    pub fn set_wait(&mut self, wait: Duration) -> Result<(), StoreError> {
        self.wait = wait;
        self.conn.busy_timeout(wait).map_err(|e| self.err(e))
    }

    /// The state directory the store is in.
    fn home(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Writes what is kept aside, if anything is.
    pub fn write_pending(&mut self) -> Result<(), StoreError> {
        if !pending::any(&self.home()) {
            return Ok(());
        }
        self.write(|_, _, _| Ok(()))
    }

    /// Where a broken database found at open was moved to (once, by the
    /// process that moved it), for the caller to say.
    pub fn take_moved_aside(&mut self) -> Option<PathBuf> {
        self.moved_aside
            .take()
            .filter(|p| !p.as_os_str().is_empty())
    }

    fn try_open(path: &Path, socket: &str, host: &str) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(DEFAULT_WAIT)?;
        // WAL is a property of the file: set it once, not on every open.
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let store = Self {
            conn,
            path: path.to_path_buf(),
            socket: socket.to_string(),
            host: host.to_string(),
            moved_aside: None,
            identity: identity(path),
            wait: DEFAULT_WAIT,
            gave_up: false,
        };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&self) -> rusqlite::Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version >= SCHEMA_VERSION {
            return Ok(());
        }
        self.conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS events (
                 id        INTEGER PRIMARY KEY,
                 at_ms     INTEGER NOT NULL,
                 socket    TEXT NOT NULL,
                 host      TEXT NOT NULL,
                 agent     TEXT NOT NULL,
                 kind      TEXT NOT NULL,
                 exit_code INTEGER,
                 detail    TEXT NOT NULL DEFAULT ''
             );
             CREATE INDEX IF NOT EXISTS events_by_agent ON events (socket, agent, at_ms);
             CREATE TABLE IF NOT EXISTS last_seen (
                 socket TEXT NOT NULL,
                 agent  TEXT NOT NULL,
                 state  TEXT NOT NULL,
                 PRIMARY KEY (socket, agent)
             );
             CREATE TABLE IF NOT EXISTS observed (
                 socket TEXT PRIMARY KEY,
                 at_ms  INTEGER NOT NULL
             );
             PRAGMA user_version = 2;
             COMMIT;",
        )
    }

    /// Records what changed since the last observation of this socket by
    /// any process, and remembers this one. `observed_ms` is when tmux was
    /// asked: an observation older than one already recorded (another
    /// process asked later but wrote first) is stale and changes nothing,
    /// so no change is recorded twice. When nothing changed (the usual case)
    /// it only reads.
    pub fn observe(
        &mut self,
        now_ms: i64,
        observed_ms: i64,
        current: &BTreeMap<String, Lifecycle>,
        held_back: &BTreeSet<String>,
    ) -> Result<Observed, StoreError> {
        let unchanged = {
            let previous = load_last_seen(&self.conn, &self.socket).map_err(|e| self.err(e))?;
            let names: BTreeSet<&String> = previous.keys().chain(current.keys()).collect();
            names
                .into_iter()
                .filter(|n| !held_back.contains(*n))
                .all(|n| previous.get(n) == current.get(n))
        };
        if unchanged {
            return Ok(Observed::default());
        }
        self.write(|tx, socket, host| {
            let newest: Option<i64> = tx
                .query_row(
                    "SELECT at_ms FROM observed WHERE socket = ?1",
                    params![socket],
                    |r| r.get(0),
                )
                .optional()?;
            if newest.is_some_and(|at| at > observed_ms) {
                return Ok(Observed {
                    events: Vec::new(),
                    stale: true,
                });
            }
            tx.execute(
                "INSERT INTO observed (socket, at_ms) VALUES (?1, ?2)
                 ON CONFLICT (socket) DO UPDATE SET at_ms = excluded.at_ms",
                params![socket, observed_ms],
            )?;
            // Read again inside the write transaction: another process may
            // have recorded the same change since the read above.
            let previous = load_last_seen(tx, socket)?;
            let names: BTreeSet<&String> = previous.keys().chain(current.keys()).collect();
            let mut events = Vec::new();
            for name in names {
                if held_back.contains(name) {
                    continue;
                }
                let (prev, cur) = (previous.get(name), current.get(name));
                for change in transitions::diff(prev, cur) {
                    events.push(insert(tx, now_ms, socket, host, name, &change)?);
                }
                match cur {
                    Some(state) if prev != Some(state) => {
                        tx.execute(
                            "INSERT INTO last_seen (socket, agent, state) VALUES (?1, ?2, ?3)
                             ON CONFLICT (socket, agent) DO UPDATE SET state = excluded.state",
                            params![
                                socket,
                                name,
                                serde_json::to_string(state).unwrap_or_default()
                            ],
                        )?;
                    }
                    Some(_) => {}
                    None => {
                        tx.execute(
                            "DELETE FROM last_seen WHERE socket = ?1 AND agent = ?2",
                            params![socket, name],
                        )?;
                    }
                }
            }
            Ok(Observed {
                events,
                stale: false,
            })
        })
    }

    /// Records that fleet stopped these agents, and forgets their last
    /// observation so that their sessions' end is not read as a vanishing.
    /// Observations taken before the stop become stale: written late, they
    /// would bring the agents back to life in the history.
    pub fn record_stops(
        &mut self,
        now_ms: i64,
        agents: &[&str],
        detail: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx, socket, host| {
            tx.execute(
                "INSERT INTO observed (socket, at_ms) VALUES (?1, ?2)
                 ON CONFLICT (socket) DO UPDATE SET at_ms = MAX(at_ms, excluded.at_ms)",
                params![socket, now_ms],
            )?;
            for agent in agents {
                let stop = Change {
                    at_ms: None,
                    kind: EventKind::Stopped,
                    exit_code: None,
                    detail: detail.to_string(),
                };
                insert(tx, now_ms, socket, host, agent, &stop)?;
                tx.execute(
                    "DELETE FROM last_seen WHERE socket = ?1 AND agent = ?2",
                    params![socket, agent],
                )?;
            }
            Ok(())
        })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (waiting for other
    /// writers up to the busy timeout) and commits it.
    ///
    /// Acts kept aside are written first, in the same transaction: what
    /// `f` records is newer than they are.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &str, &str) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let home = self.home();
        let err = |source| StoreError {
            path: path.clone(),
            source,
        };
        let result = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(tx) => pending::take(&home, |acts| {
                record_pending(&tx, acts)?;
                let out = f(&tx, &self.socket, &self.host)?;
                tx.commit()?;
                Ok(out)
            }),
            Err(e) => Err(e),
        };
        match &result {
            Err(e) if is_busy(e) && !self.gave_up => {
                self.gave_up = true;
                let _ = self.conn.busy_timeout(Duration::ZERO);
            }
            Ok(_) if self.gave_up => {
                self.gave_up = false;
                let _ = self.conn.busy_timeout(self.wait);
            }
            _ => {}
        }
        result.map_err(err)
    }

    /// Records one act, such as a takeover.
    pub fn record(
        &mut self,
        now_ms: i64,
        agent: &str,
        kind: EventKind,
        detail: &str,
    ) -> Result<Event, StoreError> {
        let change = Change {
            at_ms: None,
            kind,
            exit_code: None,
            detail: detail.to_string(),
        };
        self.write(|tx, socket, host| insert(tx, now_ms, socket, host, agent, &change))
    }

    /// Events of this socket, oldest first: of one agent or all, at or
    /// after `since_ms`, with an id above `after_id`.
    pub fn events(
        &self,
        agent: Option<&str>,
        since_ms: i64,
        after_id: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, at_ms, host, agent, kind, exit_code, detail FROM events
                 WHERE socket = ?1 AND (?2 IS NULL OR agent = ?2) AND at_ms >= ?3 AND id > ?4
                 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![self.socket, agent, since_ms, after_id], |r| {
                let at_ms: i64 = r.get(1)?;
                Ok(Event {
                    id: r.get(0)?,
                    time: rfc3339_ms(at_ms),
                    at_ms,
                    host: r.get(2)?,
                    agent: r.get(3)?,
                    event: r
                        .get::<_, String>(4)?
                        .parse()
                        .unwrap_or(EventKind::Other(String::new())),
                    exit_code: r.get(5)?,
                    detail: r.get(6)?,
                    snapshot: false,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// The id of the newest event, so a watcher can start after it.
    pub fn last_id(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT MAX(id) FROM events", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()
            .map(|v| v.flatten().unwrap_or(0))
            .map_err(|e| self.err(e))
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A database SQLite cannot read as one.
fn is_broken(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// The file at `path` (device and inode), if there is one.
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Renames a broken database and its companions to
/// `events.sqlite.broken-<time>` (`-wal`, `-shm` beside it, as SQLite
/// names them), and answers the new path.
fn move_aside(path: &Path) -> std::io::Result<PathBuf> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    let stamp: String = rfc3339_ms(now_ms)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".broken-{stamp}"));
    let mut aside = PathBuf::from(aside);
    if aside.exists() {
        let mut unique = aside.into_os_string();
        unique.push(format!("-{}", std::process::id()));
        aside = PathBuf::from(unique);
    }
    std::fs::rename(path, &aside)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let with = |p: &Path| {
            let mut s = p.as_os_str().to_owned();
            s.push(suffix);
            PathBuf::from(s)
        };
        match std::fs::rename(with(path), with(&aside)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(aside)
}

/// Records acts kept aside, as they would have been: dated when they
/// happened, and a stop forgetting the agent's last observation (so its
/// end is not read as a vanishing), unless a later launch was seen since.
/// An act already recorded (its file was not emptied) is not recorded twice.
fn record_pending(tx: &Transaction<'_>, acts: &[Act]) -> rusqlite::Result<()> {
    for act in acts {
        let Ok(kind) = act.kind.parse::<EventKind>();
        let recorded: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE socket = ?1 AND agent = ?2
                 AND kind = ?3 AND at_ms = ?4 AND detail = ?5)",
            params![act.socket, act.agent, act.kind, act.at_ms, act.detail],
            |r| r.get(0),
        )?;
        if recorded {
            continue;
        }
        let change = Change {
            at_ms: Some(act.at_ms),
            kind: kind.clone(),
            exit_code: None,
            detail: act.detail.clone(),
        };
        insert(tx, act.at_ms, &act.socket, &act.host, &act.agent, &change)?;
        if kind != EventKind::Stopped {
            continue;
        }
        tx.execute(
            "INSERT INTO observed (socket, at_ms) VALUES (?1, ?2)
             ON CONFLICT (socket) DO UPDATE SET at_ms = MAX(at_ms, excluded.at_ms)",
            params![act.socket, act.at_ms],
        )?;
        let seen = load_last_seen(tx, &act.socket)?;
        let launched_before = seen.get(&act.agent).is_some_and(|state| {
            let launched = if state.launched_ms > 0 {
                state.launched_ms
            } else {
                state.started_at.saturating_mul(1000)
            };
            i64::try_from(launched).is_ok_and(|at| at <= act.at_ms)
        });
        if launched_before {
            tx.execute(
                "DELETE FROM last_seen WHERE socket = ?1 AND agent = ?2",
                params![act.socket, act.agent],
            )?;
        }
    }
    Ok(())
}

fn load_last_seen(
    conn: &Connection,
    socket: &str,
) -> rusqlite::Result<BTreeMap<String, Lifecycle>> {
    let mut stmt = conn.prepare_cached("SELECT agent, state FROM last_seen WHERE socket = ?1")?;
    let rows = stmt.query_map(params![socket], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut previous = BTreeMap::new();
    for row in rows {
        let (agent, state) = row?;
        if let Ok(state) = serde_json::from_str(&state) {
            previous.insert(agent, state);
        }
    }
    Ok(previous)
}

fn insert(
    conn: &Connection,
    now_ms: i64,
    socket: &str,
    host: &str,
    agent: &str,
    change: &Change,
) -> rusqlite::Result<Event> {
    // A launch seen late is dated by its own time, never in the future.
    let at_ms = change.at_ms.map_or(now_ms, |at| at.min(now_ms));
    conn.execute(
        "INSERT INTO events (at_ms, socket, host, agent, kind, exit_code, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            at_ms,
            socket,
            host,
            agent,
            change.kind.word(),
            change.exit_code,
            change.detail
        ],
    )?;
    Ok(Event {
        id: conn.last_insert_rowid(),
        time: rfc3339_ms(at_ms),
        at_ms,
        host: host.to_string(),
        agent: agent.to_string(),
        event: change.kind.clone(),
        exit_code: change.exit_code,
        detail: change.detail.clone(),
        snapshot: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::observe::Status;

    fn state(status: Status, started_at: u64) -> Lifecycle {
        Lifecycle {
            status,
            exit_code: (status == Status::Exited).then_some(3),
            started_at,
            launched_ms: started_at * 1000,
            restarts: 0,
            in_front: "x".into(),
            by: None,
        }
    }

    #[test]
    fn records_each_change_once_across_stores() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut a = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        let mut b = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        let none = BTreeSet::new();
        let running = BTreeMap::from([("w".to_string(), state(Status::Running, 5))]);
        let exited = BTreeMap::from([("w".to_string(), state(Status::Exited, 5))]);
        assert_eq!(
            a.observe(1, 1, &running, &none)
                .map(|o| o.events.len())
                .ok(),
            Some(1)
        );
        assert_eq!(
            b.observe(2, 2, &running, &none)
                .map(|o| o.events.len())
                .ok(),
            Some(0)
        );
        let exits = b.observe(3, 3, &exited, &none).unwrap_or_default().events;
        assert_eq!(exits.len(), 1);
        assert_eq!(exits[0].exit_code, Some(3));
        assert_eq!(
            a.observe(4, 4, &exited, &none).map(|o| o.events.len()).ok(),
            Some(0)
        );
        let all = a.events(Some("w"), 0, 0).unwrap_or_default();
        let kinds: Vec<&str> = all.iter().map(|e| e.event.word()).collect();
        assert_eq!(kinds, ["started", "exited"]);
    }

    #[test]
    fn an_older_observation_written_late_changes_nothing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut a = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        let none = BTreeSet::new();
        let running = BTreeMap::from([("w".to_string(), state(Status::Running, 5))]);
        let exited = BTreeMap::from([("w".to_string(), state(Status::Exited, 5))]);
        a.observe(10, 10, &running, &none).unwrap_or_default();
        // Seen at 30: exited. Then a look taken at 20 (still running) lands.
        assert_eq!(
            a.observe(31, 30, &exited, &none)
                .map(|o| o.events.len())
                .ok(),
            Some(1)
        );
        let late = a.observe(32, 20, &running, &none).unwrap_or_default();
        assert!(late.stale && late.events.is_empty());
        // The next look agrees with the newest: nothing to record twice.
        assert_eq!(
            a.observe(41, 40, &exited, &none)
                .map(|o| o.events.len())
                .ok(),
            Some(0)
        );
        let kinds: Vec<String> = a
            .events(Some("w"), 0, 0)
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.event.to_string())
            .collect();
        assert_eq!(kinds, ["started", "exited"]);
    }

    #[test]
    fn a_garbage_database_is_moved_aside_once_and_a_new_one_started() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("events.sqlite");
        let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect();
        std::fs::write(&db, &garbage).unwrap_or_else(|e| panic!("{e}"));
        let mut a = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        let aside = a.take_moved_aside().unwrap_or_else(|| panic!("not moved"));
        assert!(a.take_moved_aside().is_none(), "said twice");
        let name = aside.file_name().map(|n| n.to_string_lossy().into_owned());
        assert!(
            name.as_deref()
                .is_some_and(|n| n.starts_with("events.sqlite.broken-")),
            "{aside:?}"
        );
        assert_eq!(std::fs::read(&aside).ok(), Some(garbage));
        let mode = std::fs::metadata(&db).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        a.record(1, "w", EventKind::Takeover, "")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut b = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        assert!(b.take_moved_aside().is_none());
        assert_eq!(b.events(None, 0, 0).map(|e| e.len()).ok(), Some(1));
    }

    #[test]
    fn a_kept_stop_is_recorded_first_and_its_end_is_no_vanishing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut a = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        let none = BTreeSet::new();
        let running = BTreeMap::from([("w".to_string(), state(Status::Running, 1))]);
        a.observe(2000, 2000, &running, &none)
            .unwrap_or_else(|e| panic!("{e}"));
        let stop = Act {
            at_ms: 5000,
            socket: "s".into(),
            host: "h".into(),
            agent: "w".into(),
            kind: "stopped".into(),
            detail: String::new(),
        };
        pending::keep(dir.path(), &[stop]).unwrap_or_else(|e| panic!("{e}"));
        // The session is gone: the next look must not call that a vanishing.
        a.observe(9000, 9000, &BTreeMap::new(), &none)
            .unwrap_or_else(|e| panic!("{e}"));
        let seen: Vec<(String, i64)> = a
            .events(Some("w"), 0, 0)
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.event.to_string(), e.at_ms))
            .collect();
        assert_eq!(
            seen,
            [("started".to_string(), 1000), ("stopped".to_string(), 5000)]
        );
        assert!(!pending::any(dir.path()));
    }

    #[test]
    fn a_write_waits_a_bounded_time_for_another_client_then_fails_fast() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut a = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        a.set_wait(Duration::from_millis(300))
            .unwrap_or_else(|e| panic!("{e}"));
        let other =
            Connection::open(dir.path().join("events.sqlite")).unwrap_or_else(|e| panic!("{e}"));
        other
            .execute_batch("BEGIN EXCLUSIVE")
            .unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        let first = a.record(1, "w", EventKind::Takeover, "");
        let waited = started.elapsed();
        assert!(
            first.as_ref().is_err_and(|e| is_busy(&e.source)),
            "{first:?}"
        );
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        // One command waits once, not once per act.
        let started = std::time::Instant::now();
        assert!(a.record(2, "w", EventKind::Takeover, "").is_err());
        assert!(started.elapsed() < Duration::from_millis(200));
        other
            .execute_batch("COMMIT")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(a.record(3, "w", EventKind::Takeover, "").is_ok());
        assert_eq!(a.wait, Duration::from_millis(300));
        assert!(!a.gave_up);
    }

    #[test]
    fn a_store_knows_when_its_file_is_deleted_or_replaced() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("events.sqlite");
        let a = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        assert!(a.is_current());
        std::fs::remove_file(&db).unwrap_or_else(|e| panic!("{e}"));
        assert!(!a.is_current());
        let b = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        assert!(b.is_current() && !a.is_current());
        let copy = dir.path().join("copy");
        std::fs::copy(&db, &copy).unwrap_or_else(|e| panic!("{e}"));
        std::fs::rename(&copy, &db).unwrap_or_else(|e| panic!("{e}"));
        assert!(!b.is_current());
    }

    #[test]
    fn stops_are_not_vanishings_and_sockets_are_apart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut a = EventStore::open(dir.path(), "s", "h").unwrap_or_else(|e| panic!("{e}"));
        let none = BTreeSet::new();
        let running = BTreeMap::from([("w".to_string(), state(Status::Running, 5))]);
        a.observe(1, 1, &running, &none).unwrap_or_default();
        a.record_stops(2, &["w"], "")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            a.observe(3, 3, &BTreeMap::new(), &none)
                .map(|o| o.events.len())
                .ok(),
            Some(0)
        );
        let other = EventStore::open(dir.path(), "t", "h").unwrap_or_else(|e| panic!("{e}"));
        assert!(other.events(None, 0, 0).unwrap_or_default().is_empty());
    }
}
