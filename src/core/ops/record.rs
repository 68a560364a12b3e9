//! History: what changed since any fleet last looked, and the acts of
//! operators, into the event store. Best effort for commands that only
//! read: a store that cannot be written is a warning, not a failure.

use crate::core::desired::agent::AgentName;
use crate::core::error::Warning;
use crate::core::monitor::transitions;
use crate::core::ops::{Core, Sessions};
use crate::core::store::events::Event;
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
        let fingerprint = serde_json::to_vec(&(&lifecycles, &settling)).unwrap_or_default();
        let marker = self.state_file("last-recorded.json");
        if let Some(path) = &marker
            && crate::core::store::private::read(path).is_ok_and(|seen| seen == fingerprint)
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

    /// Records one act, such as a takeover. Best effort, like all history.
    pub fn record_act(&self, name: &AgentName, kind: EventKind, detail: &str) {
        let now_ms = self.clock().now_ms();
        let what = kind.to_string();
        let result = self.with_store(|store| {
            store
                .record(now_ms, name.as_str(), kind, detail)
                .map(|_| ())
        });
        if let Err(e) = result {
            self.warn(Warning::NotRecorded {
                what,
                error: e.to_string(),
            });
        }
    }

    /// Records that fleet is stopping these agents (before it does, so that
    /// a watcher never reads their end as a vanishing). Best effort.
    pub fn record_stops(&self, names: &[&AgentName]) {
        if names.is_empty() {
            return;
        }
        let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        let now_ms = self.clock().now_ms();
        if let Err(e) = self.with_store(|store| store.record_stops(now_ms, &names)) {
            self.warn(Warning::NotRecorded {
                what: "stop".into(),
                error: e.to_string(),
            });
        }
    }
}
