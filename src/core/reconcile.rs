//! The reconciler: compares desired agents with observed sessions (pure
//! functions, tested without tmux) and acts on the difference through the
//! tmux adapter, many agents per tmux invocation.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::core::desired::agent::{AgentName, AgentSpec, SessionMeta};
use crate::core::host::launch;
use crate::core::host::tmux::{Batch, META_OPTION, Tmux, TmuxError};
use crate::core::observe::{self, ObservedSession, Status};

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
        (Status::Exited, Some(meta)) => Step::Respawn {
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

/// The result of acting on one agent.
pub type Outcome = Result<(), String>;

/// Launches the agents whose step launches, in as few tmux invocations as
/// fit. Returns one outcome per launched agent. When a batch fails, each of
/// its agents is retried alone so that one bad agent cannot hide the rest.
pub fn launch(
    tmux: &Tmux,
    path_prefix: &str,
    transcripts: Option<&Transcripts>,
    plans: &[(&AgentSpec, Step)],
) -> Result<BTreeMap<AgentName, Outcome>, TmuxError> {
    let now_ms = u64::try_from(crate::core::store::events::now_ms()).unwrap_or(0);
    let mut groups = Vec::new();
    let mut names = Vec::new();
    for (spec, step) in plans {
        let pane = launch::pane_argv(&spec.workdir, path_prefix, &spec.argv);
        // set-option takes a pane target: `=NAME:` is the session's pane.
        let target = format!("={}:", spec.name);
        let mut group = Batch::new();
        let pane_target;
        let restarts = match step {
            Step::Create => {
                pane_target = format!("={}:", spec.name);
                group.push(
                    [
                        "new-session",
                        "-d",
                        "-s",
                        spec.name.as_str(),
                        "-x",
                        "200",
                        "-y",
                        "50",
                        "--",
                    ]
                    .into_iter()
                    .map(String::from)
                    .chain(pane),
                );
                0
            }
            Step::Respawn { pane_id, restarts } => {
                pane_target = format!("%{pane_id}");
                group.push(
                    ["respawn-pane", "-k", "-t", pane_target.as_str(), "--"]
                        .into_iter()
                        .map(String::from)
                        .chain(pane),
                );
                *restarts
            }
            _ => continue,
        };
        if let Some(transcripts) = transcripts {
            // Straight after the launch, in the same tmux call, so the
            // transcript has the runtime's first output too.
            group.push([
                "pipe-pane".to_string(),
                "-t".to_string(),
                pane_target.clone(),
                transcripts.writer_command(&spec.name),
            ]);
        }
        let meta = SessionMeta::new(spec, path_prefix, now_ms, restarts);
        group.push([
            "set-option".to_string(),
            "-t".to_string(),
            target,
            META_OPTION.to_string(),
            meta.to_json(),
        ]);
        if let Err(size) = group.fits_with(&prelude()) {
            return Err(TmuxError::TooLong {
                what: format!("agent {}'s command", spec.name),
                size,
            });
        }
        groups.push(group);
        names.push((spec.name.clone(), meta));
    }
    let mut outcomes = BTreeMap::new();
    if groups.is_empty() {
        return Ok(outcomes);
    }
    let first_error = match tmux.run_groups(&prelude(), &groups) {
        Ok(_) => {
            for (name, _) in names {
                outcomes.insert(name, Ok(()));
            }
            return Ok(outcomes);
        }
        Err(e @ TmuxError::Failed { .. }) => e.to_string(),
        Err(e) => return Err(e),
    };
    // tmux stopped at the first failing command. An agent whose metadata is
    // on its session got through (setting it is the last step of its group);
    // the others are tried once more alone, so each gets its own verdict,
    // unless a session of that name appeared meanwhile.
    let sessions = observe::sessions(tmux.list_panes()?);
    for ((name, meta), group) in names.into_iter().zip(&groups) {
        let session = sessions.get(name.as_str());
        let outcome = match session {
            Some(s) if s.meta.as_ref() == Some(&meta) => Ok(()),
            Some(s) if !s.is_managed() => Err(first_error.clone()),
            _ => tmux
                .run_groups(&prelude(), std::slice::from_ref(group))
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        outcomes.insert(name, outcome);
    }
    Ok(outcomes)
}

/// Where transcripts go: each agent's pane is piped into
/// `fleet __log-writer`, which appends to `DIR/NAME.log` and rotates it at
/// `max_bytes` (one older file, `NAME.log.1`, is kept).
#[derive(Debug, Clone)]
pub struct Transcripts {
    pub fleet_exe: std::path::PathBuf,
    pub dir: std::path::PathBuf,
    pub max_bytes: u64,
}

impl Transcripts {
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// The shell command tmux runs for `pipe-pane` (through `sh -c`, hence
    /// the quoting).
    fn writer_command(&self, name: &AgentName) -> String {
        let quote = |p: &std::path::Path| {
            let text = p.to_string_lossy().into_owned();
            shlex::try_quote(&text)
                .map(|q| q.into_owned())
                .unwrap_or(text)
        };
        let command = format!(
            "exec {} __log-writer --path {} --max-bytes {}",
            quote(&self.fleet_exe),
            quote(&self.path(name.as_str())),
            self.max_bytes
        );
        // tmux expands formats in the command: `#` must be doubled.
        command.replace('#', "##")
    }
}

/// Kills the named sessions in one invocation.
pub fn stop(tmux: &Tmux, names: &[&AgentName]) -> Result<(), TmuxError> {
    let groups: Vec<Batch> = names
        .iter()
        .map(|name| {
            let mut b = Batch::new();
            b.push([
                "kill-session".to_string(),
                "-t".to_string(),
                format!("={name}"),
            ]);
            b
        })
        .collect();
    if groups.is_empty() {
        return Ok(());
    }
    tmux.run_groups(&Batch::new(), &groups).map(|_| ())
}

/// Server settings that every launch relies on, sent ahead of each batch:
/// a pane whose runtime exits stays, with its status and last screen, so
/// `ps` can say `exited 127` and `peek` can show why.
fn prelude() -> Batch {
    let mut b = Batch::new();
    b.push(["set-option", "-wg", "remain-on-exit", "on"]);
    b
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::host::tmux::ObservedPane;

    fn session(command: &str, dead: bool, managed: bool) -> ObservedSession {
        ObservedSession {
            name: "a".into(),
            pane: ObservedPane {
                session: "a".into(),
                pane_id: 7,
                pid: Some(1),
                dead,
                dead_status: dead.then_some(1),
                dead_signal: None,
                current_command: command.into(),
                session_created: Some(1),
                last_output: Some(1),
                height: 24,
                in_mode: false,
                meta: None,
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
