//! Screen signals: which running agents' screens show that they wait for a
//! human, read as cheaply as possible.
//!
//! A screen is read only when it may have changed since it was last read:
//! tmux's last-output time of the pane's window is not older than that
//! read (tmux keeps that time in whole seconds, so output within the second
//! of a read counts as new). Deciding what to read ([`ScreenCache::plan`])
//! and taking in what was read ([`ScreenCache::update`]) are pure; [`refresh`]
//! does the one call to the host in between, for every screen at once.
//! `fleet watch` keeps the cache in memory; `fleet ps` keeps it in
//! `$FLEET_HOME`, written atomically, so that a quiet fleet costs `ps` one
//! tmux call.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::core::desired::fleetfile::Fleet;
use crate::core::host::HostError;
use crate::core::observe::{ObservedSession, Status};
use crate::core::signals::{Says, Signal, Source, screen};

/// The waiting patterns of every runtime, compiled when first needed.
#[derive(Debug, Default)]
pub struct Patterns {
    sources: BTreeMap<String, Vec<String>>,
    compiled: BTreeMap<String, Vec<Regex>>,
}

impl Patterns {
    pub fn new(fleet: &Fleet) -> Self {
        Self {
            sources: fleet
                .runtimes
                .iter()
                .map(|(name, rt)| (name.clone(), rt.waiting.clone()))
                .collect(),
            compiled: BTreeMap::new(),
        }
    }

    pub fn of(&mut self, runtime: &str) -> &[Regex] {
        let sources = &self.sources;
        self.compiled.entry(runtime.to_string()).or_insert_with(|| {
            sources
                .get(runtime)
                .and_then(|patterns| screen::compile(patterns).ok())
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
    /// The line a waiting pattern matched (else the last non-blank one):
    /// what the agent waits for, in its own words.
    pub last_line: String,
}

/// What was last seen on each pane's screen, by pane id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenCache {
    panes: BTreeMap<u32, Seen>,
}

/// The screens to read now, and of which runtime each is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// (pane id, height): what the host is asked to capture.
    pub read: Vec<(u32, usize)>,
    runtimes: BTreeMap<u32, (String, u32)>,
    /// Panes that are gone were forgotten.
    forgot: bool,
}

impl ScreenCache {
    /// A cache from disk; a missing or unreadable one is empty.
    pub fn load(path: &Path) -> Self {
        crate::core::store::private::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the cache atomically: a temp file in the same directory,
    /// synced, then renamed over the old one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::core::store::home::write_atomic(path, &serde_json::to_vec(self).unwrap_or_default())
    }

    /// Which screens to read: those of running agents whose runtime has
    /// waiting patterns, and which may have changed since they were read.
    /// Panes that are gone are forgotten.
    pub fn plan(
        &mut self,
        patterns: &mut Patterns,
        sessions: &BTreeMap<String, ObservedSession>,
    ) -> Plan {
        let mut plan = Plan::default();
        let mut wanted = BTreeMap::new();
        for s in sessions.values() {
            let Some(meta) = &s.meta else { continue };
            if s.status() != Status::Running || patterns.of(&meta.runtime).is_empty() {
                continue;
            }
            wanted.insert(s.pane.pane_id, s);
            let stale = self.panes.get(&s.pane.pane_id).is_none_or(|seen| {
                Some(seen.pid) != s.pane.pid
                    || s.pane.last_output.unwrap_or(u64::MAX) >= seen.read_at
            });
            if stale {
                plan.read.push((s.pane.pane_id, s.pane.height));
                plan.runtimes.insert(
                    s.pane.pane_id,
                    (meta.runtime.clone(), s.pane.pid.unwrap_or(0)),
                );
            }
        }
        let before = self.panes.len();
        self.panes.retain(|id, _| wanted.contains_key(id));
        plan.forgot = self.panes.len() != before;
        plan
    }

    /// Takes in the screens read for `plan`, at `now`. Says whether what
    /// is known changed (and so is worth saving).
    pub fn update(
        &mut self,
        plan: &Plan,
        screens: &BTreeMap<u32, String>,
        patterns: &mut Patterns,
        now: u64,
    ) -> bool {
        let mut changed = plan.forgot;
        for (id, text) in screens {
            let Some((runtime, pid)) = plan.runtimes.get(id) else {
                continue;
            };
            let tail = screen::tail(text);
            let matched = screen::matched_line(&tail, patterns.of(runtime));
            let seen = Seen {
                pid: *pid,
                read_at: now,
                waiting: matched.is_some(),
                last_line: matched
                    .unwrap_or_else(|| tail.lines().last().unwrap_or_default())
                    .trim()
                    .to_string(),
            };
            changed |= self.panes.get(id) != Some(&seen);
            self.panes.insert(*id, seen);
        }
        changed
    }

    /// What was last seen of a pane, if it is still the same process.
    pub fn seen(&self, session: &ObservedSession) -> Option<&Seen> {
        self.panes
            .get(&session.pane.pane_id)
            .filter(|seen| Some(seen.pid) == session.pane.pid)
    }

    /// The screen's signal: that the agent waits, with the line it shows.
    pub fn signal(&self, session: &ObservedSession) -> Option<Signal> {
        let seen = self.seen(session).filter(|seen| seen.waiting)?;
        Some(Signal {
            source: Source::Screen,
            at: seen.read_at,
            says: Says::Waiting,
            evidence: seen.last_line.clone(),
        })
    }
}

/// What reads many screens at once: a host, or a watch of it.
pub type Capture<'a> = dyn FnMut(&[(u32, usize)]) -> Result<BTreeMap<u32, String>, HostError> + 'a;

/// Reads, in one call to the host, the screens that may have changed, and
/// takes them in. Says whether what is known changed.
pub fn refresh(
    cache: &mut ScreenCache,
    capture: &mut Capture<'_>,
    patterns: &mut Patterns,
    sessions: &BTreeMap<String, ObservedSession>,
    now: u64,
) -> Result<bool, HostError> {
    let plan = cache.plan(patterns, sessions);
    if plan.read.is_empty() {
        return Ok(plan.forgot);
    }
    let screens = match capture(&plan.read) {
        Ok(screens) => screens,
        // A pane (or the whole server) that went away since it was listed
        // fails the capture: keep what was seen, read again later.
        Err(HostError::Failed { .. } | HostError::NoServer(_)) => return Ok(plan.forgot),
        Err(e) => return Err(e),
    };
    Ok(cache.update(&plan, &screens, patterns, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::host::ObservedPane;
    use crate::core::observe;

    fn running(id: u32, pid: u32, last_output: u64) -> BTreeMap<String, ObservedSession> {
        let pane = ObservedPane {
            last_output: Some(last_output),
            height: 3,
            meta: Some(r#"{"runtime":"stub","processes":["fleet-stub"],"started_at":1}"#.into()),
            ..ObservedPane::alive("a", id, pid, "fleet-stub", 1)
        };
        observe::sessions(vec![pane])
    }

    fn patterns() -> Patterns {
        Patterns::new(&Fleet::empty("/".into(), Default::default()))
    }

    #[test]
    fn reads_a_screen_only_when_it_may_have_changed() {
        let mut cache = ScreenCache::default();
        let mut patterns = patterns();
        let sessions = running(3, 9, 100);
        let plan = cache.plan(&mut patterns, &sessions);
        assert_eq!(plan.read, [(3, 3)]);
        let screens = BTreeMap::from([(3, "> ask\nAllow command? [y/n]\n".to_string())]);
        assert!(cache.update(&plan, &screens, &mut patterns, 101));
        let signal = cache.signal(&sessions["a"]);
        assert_eq!(
            signal.map(|s| s.evidence),
            Some("Allow command? [y/n]".into())
        );
        // Nothing written since the read: nothing to read.
        assert!(cache.plan(&mut patterns, &sessions).read.is_empty());
        // Written since, or another process in the pane: read again.
        assert_eq!(cache.plan(&mut patterns, &running(3, 9, 101)).read.len(), 1);
        assert_eq!(cache.plan(&mut patterns, &running(3, 10, 50)).read.len(), 1);
        assert_eq!(cache.signal(&running(3, 10, 50)["a"]), None);
    }

    #[test]
    fn saves_and_loads_atomically() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("sub/waiting.json");
        let mut cache = ScreenCache::default();
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
        assert_eq!(ScreenCache::load(&path), cache);
        std::fs::write(&path, b"{not json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ScreenCache::load(&path), ScreenCache::default());
        let leftovers = std::fs::read_dir(dir.path().join("sub"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(leftovers, 1, "no temp files left behind");
    }
}
