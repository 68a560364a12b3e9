//! The observed state: tmux's panes folded into one record per session, and
//! the pure decision of what each session's status is.

use std::collections::BTreeMap;

use crate::core::desired::agent::SessionMeta;
use crate::core::host::ObservedPane;
pub use crate::core::vocab::Status;

/// Seconds after a launch during which the fleet's launch script (`sh`)
/// may still be in front of the runtime it is about to `exec`.
pub const LAUNCH_GRACE: u64 = 2;

/// What tmux calls a fleet pane whose foreground process it cannot read:
/// the name of the pane's own launch command (`/bin/sh -c …`).
pub const LAUNCH_SHELL: &str = "sh";

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
            Some(_) if self.pane.dead && self.pane.crashloop => Status::Crashloop,
            Some(_) if self.pane.dead => Status::Exited,
            // Its last moment, not another program in front.
            Some(_) if self.is_exiting() => Status::Running,
            Some(meta) if meta.processes.contains(&self.pane.current_command) => Status::Running,
            Some(_) => Status::Drift,
        }
    }

    /// Still in the fleet's launch script (`sh` in front) within a moment of
    /// its launch: not drift, the runtime is about to be `exec`ed.
    pub fn is_launching(&self, now: u64) -> bool {
        self.status() == Status::Drift
            // The launch script, or tmux's own child a moment before it
            // becomes the script.
            && matches!(self.pane.current_command.as_str(), "sh" | "tmux")
            && self
                .meta
                .as_ref()
                .is_some_and(|m| now.saturating_sub(m.started_at) <= LAUNCH_GRACE)
    }

    /// The runtime in the middle of exiting: its process is gone (or a
    /// zombie) but tmux has not yet marked the pane dead. tmux then cannot
    /// read the process (no working directory) and names the pane by its
    /// launch command, `sh`, for a few milliseconds: not drift. A live
    /// `sh` (the launch script, a wrapper) has a working directory.
    pub fn is_exiting(&self) -> bool {
        self.meta.is_some()
            && !self.pane.dead
            && !self.pane.has_cwd
            && self.pane.current_command == LAUNCH_SHELL
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
    fn a_runtime_in_the_middle_of_exiting_is_not_drift() {
        // tmux names a pane whose process it cannot read by its launch
        // command: `sh`, with no working directory, until it marks it dead.
        let mut exiting = pane("a", 1, "sh", None, true);
        exiting.has_cwd = false;
        let s = sessions(vec![exiting.clone()]);
        assert!(s["a"].is_exiting());
        assert_eq!(s["a"].status(), Status::Running);
        // A live `sh` in front (a wrapper script) is drift.
        let wrapper = sessions(vec![pane("a", 1, "sh", None, true)]);
        assert!(!wrapper["a"].is_exiting());
        assert_eq!(wrapper["a"].status(), Status::Drift);
        // Another user's program (no cwd readable) is still drift.
        let mut sudo = pane("a", 1, "sudo", None, true);
        sudo.has_cwd = false;
        assert_eq!(sessions(vec![sudo])["a"].status(), Status::Drift);
        // Once dead it is an exit.
        exiting.dead = true;
        exiting.dead_status = Some(0);
        assert_eq!(sessions(vec![exiting])["a"].status(), Status::Exited);
    }

    #[test]
    fn a_signal_reads_as_128_plus() {
        let mut p = pane("a", 1, "pi", Some(0), true);
        p.dead_status = None;
        p.dead_signal = Some(9);
        assert_eq!(sessions(vec![p])["a"].exit_code(), Some(137));
    }
}
