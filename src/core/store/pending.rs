//! Acts the event store could not take, kept until it can.
//!
//! Theory of operation. An operator's act (a `stop`, a `send`, a
//! takeover) happens whether or not history can be written: the store may
//! be locked past its wait by another client, or the disk full. Dropping
//! the act would make history lie later (a stopped agent read as
//! `vanished`), so it is appended, one JSON line, to a small private file
//! beside the store, `$FLEET_HOME/events-pending.jsonl` (0600). Every
//! write to the store first takes what is kept there, in the same
//! transaction, dated as the acts were, before it records anything newer;
//! the file is emptied only once that transaction has committed. An
//! advisory lock on the file keeps an append and a take apart.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::core::store::private::{self, Access};

/// The file, under the state directory.
pub const FILE: &str = "events-pending.jsonl";

/// How long an append or a take waits for the other to finish.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// One act, as it would have been recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Act {
    pub at_ms: i64,
    pub socket: String,
    pub host: String,
    pub agent: String,
    /// The event's word (`stopped`, `send`, `takeover`).
    pub kind: String,
    #[serde(default)]
    pub detail: String,
}

pub fn path(home: &Path) -> PathBuf {
    home.join(FILE)
}

/// Whether acts may be waiting (one `stat`: cheap enough for every write).
pub fn any(home: &Path) -> bool {
    std::fs::symlink_metadata(path(home)).is_ok_and(|m| m.len() > 0)
}

/// Appends `acts`, and answers the file they are kept in.
pub fn keep(home: &Path, acts: &[Act]) -> io::Result<PathBuf> {
    let path = path(home);
    let mut lines = Vec::new();
    for act in acts {
        serde_json::to_writer(&mut lines, act)?;
        lines.push(b'\n');
    }
    let mut file = private::open(&path, Access::Append)?;
    lock(&file)?;
    // One write of whole lines: a reader never sees half an act.
    let written = file.write_all(&lines).and_then(|()| file.sync_data());
    let _ = file.unlock();
    written.map(|()| path)
}

/// The acts kept, oldest first, handed to `record`; emptied only if it
/// succeeds. Nothing kept (or the file busy past a moment): `record` is
/// given nothing, and what is kept waits for the next write.
pub fn take<T, E>(home: &Path, record: impl FnOnce(&[Act]) -> Result<T, E>) -> Result<T, E> {
    let Some(mut file) = any(home)
        .then(|| private::open(&path(home), Access::ReadWrite).ok())
        .flatten()
        .filter(|f| lock(f).is_ok())
    else {
        return record(&[]);
    };
    let mut text = String::new();
    let acts = match file.read_to_string(&mut text) {
        Ok(_) => parse(&text),
        Err(_) => Vec::new(),
    };
    let out = record(&acts);
    if out.is_ok() && !acts.is_empty() {
        let _ = file.set_len(0).and_then(|()| file.rewind());
    }
    let _ = file.unlock();
    out
}

/// The acts in `text`, in time order (a line that does not read, such as
/// one cut short by a crash, is skipped).
pub fn parse(text: &str) -> Vec<Act> {
    let mut acts: Vec<Act> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    acts.sort_by_key(|a| a.at_ms);
    acts
}

/// Takes the file's lock, waiting a bounded moment for another holder.
fn lock(file: &File) -> io::Result<()> {
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another fleet holds the pending acts",
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn act(at_ms: i64, agent: &str) -> Act {
        Act {
            at_ms,
            socket: "s".into(),
            host: "h".into(),
            agent: agent.into(),
            kind: "stopped".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn kept_privately_taken_in_time_order_and_emptied_only_when_recorded() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(!any(dir.path()));
        let kept = keep(dir.path(), &[act(20, "b")]).unwrap_or_else(|e| panic!("{e}"));
        keep(dir.path(), &[act(10, "a")]).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&kept).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        assert!(any(dir.path()));
        let failed: Result<(), &str> = take(dir.path(), |acts| {
            assert_eq!(acts, [act(10, "a"), act(20, "b")]);
            Err("locked")
        });
        assert!(failed.is_err());
        let mut seen = Vec::new();
        let done: Result<(), ()> = take(dir.path(), |acts| {
            seen = acts.to_vec();
            Ok(())
        });
        assert!(done.is_ok());
        assert_eq!(seen.len(), 2);
        assert!(!any(dir.path()));
        let nothing: Result<usize, ()> = take(dir.path(), |acts| Ok(acts.len()));
        assert_eq!(nothing, Ok(0));
    }

    #[test]
    fn a_torn_line_is_skipped() {
        let text = "{\"at_ms\":5,\"socket\":\"s\",\"host\":\"h\",\"agent\":\"a\",\"kind\":\"stopped\"}\n{\"at_ms\":";
        assert_eq!(parse(text).len(), 1);
    }
}
