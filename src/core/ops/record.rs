//! History: what changed since any fleet last looked, and the acts of
//! operators, into the event store. Best effort for commands that only
//! read: a store that cannot be written is a warning, not a failure.

use crate::core::desired::agent::AgentName;
use crate::core::error::{Error, Warning};
use crate::core::monitor::transitions;
use crate::core::ops::{Core, Sessions};
use crate::core::store::events::Event;
use crate::core::store::pending::{self, Act};
use crate::core::vocab::EventKind;

impl Core {
    /// Records what changed since any fleet last looked: exits, drift,
    /// launches.
    ///
    /// Every process that records also leaves the observation it recorded
    /// in a small state file; when the fleet looks the same as that, there
    /// is nothing to record and the store is not even opened (a quiet
    /// fleet's `ps` stays one tmux call and one small read).
    pub fn record(&self, sessions: &Sessions, observed_ms: i64) -> Vec<Event> {
        let settling = transitions::settling(sessions, self.clock().now());
        let lifecycles = transitions::lifecycles(sessions, &settling);
        // The store's file is part of what was recorded into: a new one
        // (deleted, replaced, moved aside) has to learn the present.
        let store_file = self
            .settings
            .fleet_home
            .as_deref()
            .and_then(|home| crate::core::store::events::identity(&home.join("events.sqlite")));
        let fingerprint =
            serde_json::to_vec(&(&lifecycles, &settling, store_file)).unwrap_or_default();
        let marker = self.state_file("last-recorded.json");
        if let Some(path) = &marker
            && crate::core::store::private::read(path).is_ok_and(|seen| seen == fingerprint)
            && !self.anything_kept()
        {
            return Vec::new();
        }
        let now_ms = self.clock().now_ms();
        let result =
            self.with_store(|store| store.observe(now_ms, observed_ms, &lifecycles, &settling));
        match result {
            Ok(observed) => {
                if let (Some(path), false) = (&marker, observed.stale) {
                    let _ = crate::core::store::home::write_atomic(path, &fingerprint);
                }
                observed.events
            }
            Err(e) => {
                self.warn(Warning::NotRecorded {
                    what: "events".into(),
                    error: e.to_string(),
                });
                Vec::new()
            }
        }
    }

    /// Records one act, such as a takeover. An act the store cannot take
    /// is kept aside for the next command.
    pub fn record_act(&self, name: &AgentName, kind: EventKind, detail: &str) {
        let detail = &self.naming_who(detail);
        let now_ms = self.clock().now_ms();
        let act = self.act(now_ms, name, &kind, detail);
        let what = kind.to_string();
        let result = self.with_store(|store| {
            store
                .record(now_ms, name.as_str(), kind, detail)
                .map(|_| ())
        });
        if let Err(e) = result {
            self.keep(what, e, &[act]);
        }
    }

    /// Records that fleet is stopping these agents (before it does, so that
    /// a watcher never reads their end as a vanishing). A stop the store
    /// cannot take is kept aside, before the sessions end: until it is
    /// recorded, their end is not inferred to be anything else.
    pub fn record_stops(&self, names: &[&AgentName]) {
        if names.is_empty() {
            return;
        }
        let now_ms = self.clock().now_ms();
        let detail = self.naming_who("");
        let acts: Vec<Act> = names
            .iter()
            .map(|name| self.act(now_ms, name, &EventKind::Stopped, &detail))
            .collect();
        let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        if let Err(e) = self.with_store(|store| store.record_stops(now_ms, &names, &detail)) {
            self.keep("stop".into(), e, &acts);
        }
    }

    /// An act's detail, with who did it when someone was named (`--by`).
    fn naming_who(&self, detail: &str) -> String {
        match (&self.settings.by, detail) {
            (None, _) => detail.to_string(),
            (Some(who), "") => format!("by {who}"),
            (Some(who), _) => format!("{detail} (by {who})"),
        }
    }

    fn act(&self, at_ms: i64, name: &AgentName, kind: &EventKind, detail: &str) -> Act {
        Act {
            at_ms,
            socket: self.host().socket().to_string(),
            host: self.host().name().to_string(),
            agent: name.to_string(),
            kind: kind.word().to_string(),
            detail: detail.to_string(),
        }
    }

    /// Keeps acts the store could not take; says so, or that they are lost
    /// when even that fails.
    fn keep(&self, what: String, error: Error, acts: &[Act]) {
        let error = error.to_string();
        let kept = self
            .settings
            .fleet_home
            .as_deref()
            .ok_or_else(|| std::io::Error::other("no state directory"))
            .and_then(|home| pending::keep(home, acts));
        match kept {
            Ok(path) => self.warn(Warning::Kept { what, error, path }),
            Err(e) => self.warn(Warning::NotRecorded {
                what,
                error: format!("{error}; keeping it aside failed too: {e}"),
            }),
        }
    }

    /// Whether acts an earlier command could not record wait to be.
    fn anything_kept(&self) -> bool {
        self.settings
            .fleet_home
            .as_deref()
            .is_some_and(pending::any)
    }
}
