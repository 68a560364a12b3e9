//! The reconciler: compares desired agents with observed sessions and
//! decides what to do about each (pure functions, tested without tmux). The
//! operations in `ops` carry the decisions out through the host.

use crate::core::desired::agent::{AgentSpec, SessionMeta};
use crate::core::host::{Launch, Place, pane};
use crate::core::observe::{ObservedSession, Status};

/// What to do about one agent that should be up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No session: create one.
    Create,
    /// The session is there but its runtime exited (or a restart was asked
    /// for): run it again in the same pane.
    Respawn { pane_id: u32, restarts: u32 },
    /// Healthy: leave it alone.
    AlreadyRunning,
    /// Launched a moment ago and still coming up: leave it alone.
    Starting,
    /// Alive with something else in front: report, do not touch.
    Drift { in_front: String },
    /// A session the fleet did not start holds the name: never touch it.
    Conflict,
}

impl Step {
    pub fn launches(&self) -> bool {
        matches!(self, Step::Create | Step::Respawn { .. })
    }
}

/// `up` and `start`: launch what is not running, leave the rest.
pub fn plan_start(observed: Option<&ObservedSession>, now: u64) -> Step {
    let Some(session) = observed else {
        return Step::Create;
    };
    if session.is_launching(now) {
        return Step::Starting;
    }
    match (session.status(), &session.meta) {
        (Status::Running, _) => Step::AlreadyRunning,
        (Status::Drift, _) => Step::Drift {
            in_front: session.pane.current_command.clone(),
        },
        // A crash loop the supervisor gave up on is relaunched by hand.
        (Status::Exited | Status::Crashloop, Some(meta)) => Step::Respawn {
            pane_id: session.pane.pane_id,
            restarts: meta.restarts + 1,
        },
        _ => Step::Conflict,
    }
}

/// `restart`: relaunch whatever state the agent is in.
pub fn plan_restart(observed: Option<&ObservedSession>) -> Step {
    match observed {
        None => Step::Create,
        Some(ObservedSession {
            meta: Some(meta),
            pane,
            ..
        }) => Step::Respawn {
            pane_id: pane.pane_id,
            restarts: meta.restarts + 1,
        },
        Some(_) => Step::Conflict,
    }
}

/// What to do about one agent that should be down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopStep {
    Kill,
    NotRunning,
    Conflict,
}

pub fn plan_stop(observed: Option<&ObservedSession>) -> StopStep {
    match observed {
        None => StopStep::NotRunning,
        Some(s) if s.is_managed() => StopStep::Kill,
        Some(_) => StopStep::Conflict,
    }
}

/// The launch the host carries out for one plan that launches: where, the
/// pane command with the runtime-bin prefix baked in, the transcript pipe,
/// and the metadata stored on the session (dated `now_ms`).
pub fn launch_for(
    spec: &AgentSpec,
    step: &Step,
    path_prefix: &str,
    transcript: Option<Vec<String>>,
    socket: &str,
    hook_args: &[String],
    now_ms: u64,
) -> Option<Launch> {
    let (place, restarts) = match step {
        Step::Create => (Place::NewSession, 0),
        Step::Respawn { pane_id, restarts } => (Place::Respawn { pane_id: *pane_id }, *restarts),
        _ => return None,
    };
    Some(Launch {
        name: spec.name.clone(),
        place,
        // The hooks are this launch's wiring, not the agent's command: the
        // metadata keeps the command as declared.
        pane_argv: pane::pane_argv(
            &spec.workdir,
            path_prefix,
            &[spec.argv.as_slice(), hook_args].concat(),
        ),
        transcript,
        env: pane_env(spec, socket, now_ms),
        meta: SessionMeta::new(spec, path_prefix, now_ms, restarts),
    })
}

/// What a runtime is told of itself: its agent's name, its fleet's socket
/// (so `fleet report` and the hooks find its session) and its launch (so
/// a late report of an earlier launch is known for what it is).
pub fn pane_env(spec: &AgentSpec, socket: &str, now_ms: u64) -> Vec<(String, String)> {
    vec![
        ("FLEET_AGENT".into(), spec.name.to_string()),
        ("MOSAIC_TMUX_SOCKET".into(), socket.to_string()),
        ("FLEET_LAUNCH_MS".into(), now_ms.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::host::ObservedPane;

    fn session(command: &str, dead: bool, managed: bool) -> ObservedSession {
        ObservedSession {
            name: "a".into(),
            pane: ObservedPane {
                dead,
                dead_status: dead.then_some(1),
                ..ObservedPane::alive("a", 7, 1, command, 1)
            },
            meta: managed.then(|| SessionMeta {
                runtime: "pi".into(),
                model: None,
                effort: None,
                processes: vec!["pi".into(), "node".into()],
                argv: vec!["pi".into()],
                workdir: "/".into(),
                path_prefix: String::new(),
                started_at: 1,
                launched_ms: 1000,
                restarts: 2,
                restart: Default::default(),
                by: None,
            }),
        }
    }

    #[test]
    fn start_launches_only_what_is_down() {
        assert_eq!(plan_start(None, 100), Step::Create);
        // The launch script still in front a moment after launch: not drift.
        assert_eq!(
            plan_start(Some(&session("sh", false, true)), 2),
            Step::Starting
        );
        assert!(matches!(
            plan_start(Some(&session("sh", false, true)), 100),
            Step::Drift { .. }
        ));
        assert_eq!(
            plan_start(Some(&session("node", false, true)), 100),
            Step::AlreadyRunning
        );
        assert_eq!(
            plan_start(Some(&session("bash", false, true)), 100),
            Step::Drift {
                in_front: "bash".into()
            }
        );
        assert_eq!(
            plan_start(Some(&session("sh", true, true)), 100),
            Step::Respawn {
                pane_id: 7,
                restarts: 3
            }
        );
        assert_eq!(
            plan_start(Some(&session("vim", false, false)), 100),
            Step::Conflict
        );
        assert_eq!(
            plan_start(Some(&session("vim", true, false)), 100),
            Step::Conflict
        );
    }

    #[test]
    fn restart_relaunches_any_managed_state() {
        assert_eq!(plan_restart(None), Step::Create);
        assert!(matches!(
            plan_restart(Some(&session("node", false, true))),
            Step::Respawn { restarts: 3, .. }
        ));
        assert_eq!(
            plan_restart(Some(&session("vim", false, false))),
            Step::Conflict
        );
    }

    #[test]
    fn stop_never_touches_unmanaged_sessions() {
        assert_eq!(plan_stop(None), StopStep::NotRunning);
        assert_eq!(plan_stop(Some(&session("pi", false, true))), StopStep::Kill);
        assert_eq!(
            plan_stop(Some(&session("vim", false, false))),
            StopStep::Conflict
        );
    }
}
