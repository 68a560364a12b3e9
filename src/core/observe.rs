//! The observed state: tmux's panes folded into one record per session, and
//! the pure decision of what each session's status is.

use std::collections::BTreeMap;

use crate::core::desired::agent::SessionMeta;
use crate::core::host::ObservedPane;
pub use crate::core::vocab::Status;

/// Seconds after a launch during which the fleet's launch script (`sh`)
/// may still be in front of the runtime it is about to `exec`.
pub const LAUNCH_GRACE: u64 = 2;

/// One tmux session as the fleet sees it: its agent pane (the oldest pane,
/// the one the fleet created) and the fleet's metadata, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSession {
    pub name: String,
    pub pane: ObservedPane,
    pub meta: Option<SessionMeta>,
}

impl ObservedSession {
    pub fn is_managed(&self) -> bool {
        self.meta.is_some()
    }

    pub fn status(&self) -> Status {
        match &self.meta {
            None => Status::Unmanaged,
            Some(_) if self.pane.dead => Status::Exited,
            Some(meta) if meta.processes.contains(&self.pane.current_command) => Status::Running,
            Some(_) => Status::Drift,
        }
    }

    /// Still in the fleet's launch script (`sh` in front) within a moment of
    /// its launch: not drift, the runtime is about to be `exec`ed.
    pub fn is_launching(&self, now: u64) -> bool {
        self.status() == Status::Drift
            && self.pane.current_command == "sh"
            && self
                .meta
                .as_ref()
                .is_some_and(|m| now.saturating_sub(m.started_at) <= LAUNCH_GRACE)
    }

    /// The exit status of a dead pane; a signal `N` reads as `128 + N`, as a
    /// shell would report it.
    pub fn exit_code(&self) -> Option<i32> {
        if !self.pane.dead {
            return None;
        }
        self.pane
            .dead_status
            .or(self.pane.dead_signal.map(|s| 128 + s))
    }
}

/// Folds panes into sessions, keyed by session name.
pub fn sessions(panes: Vec<ObservedPane>) -> BTreeMap<String, ObservedSession> {
    let mut out: BTreeMap<String, ObservedSession> = BTreeMap::new();
    for pane in panes {
        match out.get_mut(&pane.session) {
            Some(existing) if existing.pane.pane_id <= pane.pane_id => {}
            _ => {
                let meta = pane.meta.as_deref().and_then(SessionMeta::from_json);
                out.insert(
                    pane.session.clone(),
                    ObservedSession {
                        name: pane.session.clone(),
                        pane,
                        meta,
                    },
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(session: &str, id: u32, command: &str, dead: Option<i32>, meta: bool) -> ObservedPane {
        let meta = meta
            .then(|| r#"{"runtime":"pi","processes":["pi","node"],"started_at":1}"#.to_string());
        ObservedPane {
            dead: dead.is_some(),
            dead_status: dead,
            meta,
            ..ObservedPane::alive(session, id, 1, command, 1)
        }
    }

    #[test]
    fn classifies_each_status() {
        let s = sessions(vec![
            pane("a", 1, "node", None, true),
            pane("b", 2, "bash", None, true),
            pane("c", 3, "sh", Some(127), true),
            pane("d", 4, "vim", None, false),
        ]);
        assert_eq!(s["a"].status(), Status::Running);
        assert_eq!(s["b"].status(), Status::Drift);
        assert_eq!(s["c"].status(), Status::Exited);
        assert_eq!(s["c"].exit_code(), Some(127));
        assert_eq!(s["d"].status(), Status::Unmanaged);
    }

    #[test]
    fn the_oldest_pane_is_the_agent() {
        let s = sessions(vec![
            pane("a", 9, "bash", None, true),
            pane("a", 4, "pi", None, true),
        ]);
        assert_eq!(s["a"].pane.pane_id, 4);
        assert_eq!(s["a"].status(), Status::Running);
    }

    #[test]
    fn a_signal_reads_as_128_plus() {
        let mut p = pane("a", 1, "pi", Some(0), true);
        p.dead_status = None;
        p.dead_signal = Some(9);
        assert_eq!(sessions(vec![p])["a"].exit_code(), Some(137));
    }
}
