//! Which running agents wait for a human, read from their screens as
//! cheaply as possible.
//!
//! A screen is read only when it may have changed since it was last read:
//! tmux's last-output time of the pane's window is not older than that
//! read (tmux keeps that time in whole seconds, so output within the second
//! of a read counts as new). Every screen that needs reading is read in one
//! tmux call. `fleet watch` keeps the cache in memory; `fleet ps` keeps it
//! in `$FLEET_HOME`, written atomically, so that a quiet fleet costs `ps`
//! one tmux call.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::core::desired::fleetfile::Fleet;
use crate::core::host::{Host, HostError};
use crate::core::observe::{ObservedSession, Status};
use crate::core::signals::activity;

/// Compiled waiting patterns per runtime name, compiled once per use.
pub struct Patterns<'a> {
    fleet: &'a Fleet,
    compiled: BTreeMap<String, Vec<Regex>>,
}

impl<'a> Patterns<'a> {
    pub fn new(fleet: &'a Fleet) -> Self {
        Self {
            fleet,
            compiled: BTreeMap::new(),
        }
    }

    pub fn of(&mut self, runtime: &str) -> &[Regex] {
        let fleet = self.fleet;
        self.compiled.entry(runtime.to_string()).or_insert_with(|| {
            fleet
                .runtimes
                .get(runtime)
                .and_then(|rt| activity::compile(&rt.waiting).ok())
                .unwrap_or_default()
        })
    }
}

/// What the last read of one pane's screen found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The pane's process when read: a relaunch is a different screen.
    pub pid: u32,
    /// Unix seconds of the read.
    pub read_at: u64,
    pub waiting: bool,
    /// The last non-blank line, to say what an agent waits for.
    pub last_line: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingCache {
    panes: BTreeMap<u32, Seen>,
}

impl WaitingCache {
    /// A cache from disk; a missing or unreadable one is empty.
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the cache atomically: a temp file in the same directory,
    /// synced, then renamed over the old one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::core::store::home::write_atomic(path, &serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads, in one tmux call, the screens of running agents that may have
    /// changed, and forgets panes that are gone. Says whether it changed.
    pub fn refresh(
        &mut self,
        host: &dyn Host,
        patterns: &mut Patterns<'_>,
        sessions: &BTreeMap<String, ObservedSession>,
        now: u64,
    ) -> Result<bool, HostError> {
        let mut wanted: BTreeMap<u32, (&ObservedSession, String)> = BTreeMap::new();
        for s in sessions.values() {
            if s.status() != Status::Running {
                continue;
            }
            let Some(meta) = &s.meta else { continue };
            if patterns.of(&meta.runtime).is_empty() {
                continue;
            }
            wanted.insert(s.pane.pane_id, (s, meta.runtime.clone()));
        }
        let before = self.panes.len();
        self.panes.retain(|id, _| wanted.contains_key(id));
        let mut changed = self.panes.len() != before;

        let stale: Vec<u32> = wanted
            .iter()
            .filter(|(id, (s, _))| {
                self.panes.get(id).is_none_or(|seen| {
                    Some(seen.pid) != s.pane.pid
                        || s.pane.last_output.unwrap_or(u64::MAX) >= seen.read_at
                })
            })
            .map(|(id, _)| *id)
            .collect();
        if stale.is_empty() {
            return Ok(changed);
        }
        let panes: Vec<(u32, usize)> = stale
            .iter()
            .filter_map(|id| wanted.get(id).map(|(s, _)| (*id, s.pane.height)))
            .collect();
        let screens = match host.capture_screens(&panes) {
            Ok(screens) => screens,
            // A pane (or the whole server) that went away since it was
            // listed fails the capture: keep what was seen, read again later.
            Err(HostError::Failed { .. } | HostError::NoServer(_)) => return Ok(changed),
            Err(e) => return Err(e),
        };
        for (id, text) in screens {
            let Some((session, runtime)) = wanted.get(&id) else {
                continue;
            };
            let tail = activity::tail(&text);
            let seen = Seen {
                pid: session.pane.pid.unwrap_or(0),
                read_at: now,
                waiting: patterns.of(runtime).iter().any(|re| re.is_match(&tail)),
                last_line: tail.lines().last().unwrap_or_default().to_string(),
            };
            if self.panes.get(&id) != Some(&seen) {
                changed = true;
            }
            self.panes.insert(id, seen);
        }
        Ok(changed)
    }

    /// What was last seen of a pane, if it is still the same process.
    pub fn seen(&self, session: &ObservedSession) -> Option<&Seen> {
        self.panes
            .get(&session.pane.pane_id)
            .filter(|seen| Some(seen.pid) == session.pane.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_atomically() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("sub/waiting.json");
        let mut cache = WaitingCache::default();
        cache.panes.insert(
            3,
            Seen {
                pid: 9,
                read_at: 100,
                waiting: true,
                last_line: "Allow command? [y/n]".into(),
            },
        );
        cache.save(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(WaitingCache::load(&path), cache);
        std::fs::write(&path, b"{not json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(WaitingCache::load(&path), WaitingCache::default());
        let leftovers = std::fs::read_dir(dir.path().join("sub"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(leftovers, 1, "no temp files left behind");
    }
}
