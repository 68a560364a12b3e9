//! What changed in an agent's lifecycle between two looks: pure functions
//! over snapshots, the one diff engine that both the monitor's step and
//! the event store (against the last look it persisted) use.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::observe::{ObservedSession, Status};
use crate::core::vocab::EventKind;

/// The part of an agent's state whose changes are history: launches, exits,
/// drift. Persisted between runs by the event store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub status: Status,
    pub exit_code: Option<i32>,
    /// Launch time from the session's metadata (0 for unmanaged sessions).
    pub started_at: u64,
    /// The same in milliseconds (0 when the metadata predates it).
    #[serde(default)]
    pub launched_ms: u64,
    pub restarts: u32,
    pub in_front: String,
    /// Who launched it, when someone was named (`--by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// One change, before it is stamped with a time and an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: EventKind,
    pub exit_code: Option<i32>,
    pub detail: String,
    /// When it happened (unix ms), if known better than "when it was seen":
    /// a launch carries its own time in the session's metadata.
    pub at_ms: Option<i64>,
}

impl Change {
    pub fn new(kind: EventKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            exit_code: None,
            detail: detail.into(),
            at_ms: None,
        }
    }
}

/// Sessions whose state is still settling, left out of the lifecycles so
/// that what they settle into is recorded once: a pane whose launch script
/// has not yet handed over to the runtime (briefly `sh` in front, which is
/// not drift), and a runtime in the middle of exiting (tmux names its pane
/// `sh` for a moment before it marks it dead: not drift, and whatever it
/// was before has not ended yet). (A dead pane's status is settled by
/// `Tmux::list_panes`.)
pub fn settling(sessions: &BTreeMap<String, ObservedSession>, now: u64) -> BTreeSet<String> {
    sessions
        .iter()
        .filter(|(_, s)| s.is_launching(now) || s.is_exiting())
        .map(|(name, _)| name.clone())
        .collect()
}

/// The lifecycle of every session on the socket, but those `settling`.
pub fn lifecycles(
    sessions: &BTreeMap<String, ObservedSession>,
    settling: &BTreeSet<String>,
) -> BTreeMap<String, Lifecycle> {
    sessions
        .iter()
        .filter(|(name, _)| !settling.contains(*name))
        .map(|(name, s)| {
            let meta = s.meta.as_ref();
            (
                name.clone(),
                Lifecycle {
                    status: s.status(),
                    exit_code: s.exit_code(),
                    started_at: meta.map(|m| m.started_at).unwrap_or(0),
                    launched_ms: meta.map(|m| m.launched_ms).unwrap_or(0),
                    restarts: meta.map(|m| m.restarts).unwrap_or(0),
                    in_front: s.pane.current_command.clone(),
                    by: meta.and_then(|m| m.by.clone()),
                },
            )
        })
        .collect()
}

/// What happened between two looks at one session.
pub fn diff(prev: Option<&Lifecycle>, cur: Option<&Lifecycle>) -> Vec<Change> {
    let mut out = Vec::new();
    match (prev, cur) {
        (None, None) => {}
        (Some(p), None) => {
            if !matches!(p.status, Status::Exited | Status::Crashloop) {
                out.push(Change::new(
                    EventKind::Vanished,
                    "the session ended outside fleet",
                ));
            }
        }
        (prev, Some(c)) if c.status == Status::Unmanaged => {
            if prev.is_none_or(|p| p.status != Status::Unmanaged) {
                out.push(Change::new(
                    EventKind::Unmanaged,
                    format!(
                        "a session fleet did not start appeared, running {}",
                        c.in_front
                    ),
                ));
            }
        }
        (prev, Some(c)) => {
            // The restart counter tells two launches within one second apart.
            let relaunched = prev.is_none_or(|p| {
                p.started_at != c.started_at
                    || p.launched_ms != c.launched_ms
                    || p.restarts != c.restarts
            });
            let before = if relaunched {
                let k = if c.restarts > 0 {
                    EventKind::Restarted
                } else {
                    EventKind::Started
                };
                let who = c.by.as_ref().map(|w| format!("by {w}"));
                let mut launch = Change::new(k, who.unwrap_or_default());
                let at = if c.launched_ms > 0 {
                    c.launched_ms
                } else {
                    c.started_at.saturating_mul(1000)
                };
                launch.at_ms = i64::try_from(at).ok();
                out.push(launch);
                Status::Running
            } else {
                prev.map(|p| p.status).unwrap_or(Status::Running)
            };
            match (before, c.status) {
                (Status::Running, Status::Drift) => out.push(Change::new(
                    EventKind::Drift,
                    format!("{} is in front, not the runtime", c.in_front),
                )),
                (Status::Drift, Status::Running) => out.push(Change::new(
                    EventKind::DriftEnded,
                    "the runtime is in front again",
                )),
                (Status::Running | Status::Drift, Status::Exited) => out.push(Change {
                    at_ms: None,
                    kind: EventKind::Exited,
                    exit_code: c.exit_code,
                    detail: c
                        .exit_code
                        .map(|code| format!("exit status {code}"))
                        .unwrap_or_default(),
                }),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(status: Status, started_at: u64, restarts: u32) -> Lifecycle {
        Lifecycle {
            status,
            exit_code: (status == Status::Exited).then_some(127),
            started_at,
            launched_ms: started_at * 1000,
            restarts,
            in_front: "bash".into(),
            by: None,
        }
    }

    fn kinds(changes: Vec<Change>) -> Vec<String> {
        changes.into_iter().map(|c| c.kind.to_string()).collect()
    }

    #[test]
    fn launches_and_relaunches() {
        assert_eq!(
            kinds(diff(None, Some(&lc(Status::Running, 1, 0)))),
            ["started"]
        );
        assert_eq!(
            kinds(diff(
                Some(&lc(Status::Exited, 1, 0)),
                Some(&lc(Status::Running, 2, 1))
            )),
            ["restarted"]
        );
        assert_eq!(
            kinds(diff(None, Some(&lc(Status::Exited, 1, 0)))),
            ["started", "exited"]
        );
    }

    #[test]
    fn exits_and_drift() {
        let running = lc(Status::Running, 1, 0);
        let drift = lc(Status::Drift, 1, 0);
        let exited = lc(Status::Exited, 1, 0);
        assert_eq!(kinds(diff(Some(&running), Some(&drift))), ["drift"]);
        assert_eq!(kinds(diff(Some(&drift), Some(&running))), ["drift-ended"]);
        let changes = diff(Some(&running), Some(&exited));
        assert_eq!(changes[0].kind, EventKind::Exited);
        assert_eq!(changes[0].exit_code, Some(127));
        assert!(diff(Some(&running), Some(&running)).is_empty());
        assert!(diff(Some(&exited), Some(&exited)).is_empty());
    }

    #[test]
    fn sessions_that_go_or_were_never_ours() {
        assert_eq!(
            kinds(diff(Some(&lc(Status::Running, 1, 0)), None)),
            ["vanished"]
        );
        assert!(diff(Some(&lc(Status::Exited, 1, 0)), None).is_empty());
        let unmanaged = lc(Status::Unmanaged, 0, 0);
        assert_eq!(kinds(diff(None, Some(&unmanaged))), ["unmanaged"]);
        assert!(diff(Some(&unmanaged), Some(&unmanaged)).is_empty());
    }
}
