//! A host whose panes live in memory: the core's launches, observations and
//! acts can be driven and checked in-process, with no tmux. A test plays
//! the runtime's part (`exit`, `front`, `output`) and reads what the core
//! did (`pane`, `sent`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use crate::core::desired::agent::AgentName;
use crate::core::desired::runtime::process_name;
use crate::core::host::pane::RUNTIME_ARGV_AT;
use crate::core::host::{
    Capture, Host, HostError, HostFacts, Input, Launch, LaunchResults, ObservedPane, Place, Probe,
};

#[derive(Debug, Default)]
struct State {
    panes: BTreeMap<u32, (ObservedPane, String)>,
    next_id: u32,
    next_pid: u32,
    sent: Vec<(String, String)>,
    launches: usize,
}

/// An in-memory multiplexer on an imaginary host.
#[derive(Debug)]
pub struct FakeHost {
    name: String,
    socket: String,
    state: Mutex<State>,
    /// Directories and executables that exist there.
    dirs: BTreeSet<PathBuf>,
    executables: BTreeSet<PathBuf>,
    runtime_prefix: String,
    /// Programs that are not installed: they exit 127 at once.
    missing: BTreeSet<String>,
    /// Sessions whose screens do not echo what is typed (hung runtimes).
    deaf: BTreeSet<String>,
}

impl FakeHost {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            socket: "fake".to_string(),
            state: Mutex::default(),
            dirs: BTreeSet::new(),
            executables: BTreeSet::new(),
            runtime_prefix: String::new(),
            missing: BTreeSet::new(),
            deaf: BTreeSet::new(),
        }
    }

    /// A session whose screen ignores what is typed into it.
    pub fn deaf(mut self, session: &str) -> Self {
        self.deaf.insert(session.to_string());
        self
    }

    /// A directory that exists on this host.
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.insert(dir.into());
        self
    }

    /// A program that is not installed here: launching it exits 127.
    pub fn without_program(mut self, program: &str) -> Self {
        self.missing.insert(program.to_string());
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_pane<T>(
        &self,
        session: &str,
        f: impl FnOnce(&mut ObservedPane, &mut String) -> T,
    ) -> Option<T> {
        let mut state = self.state();
        let (pane, screen) = state
            .panes
            .values_mut()
            .find(|(p, _)| p.session == session)?;
        Some(f(pane, screen))
    }

    /// The agent's runtime exits with `code`.
    pub fn exit(&self, session: &str, code: i32) {
        self.with_pane(session, |p, _| {
            p.dead = true;
            p.dead_status = Some(code);
        });
    }

    /// The agent's runtime is in the middle of exiting: tmux cannot read
    /// its process any more and names the pane by its launch command.
    pub fn exiting(&self, session: &str) {
        self.with_pane(session, |p, _| {
            p.current_command = "sh".into();
            p.has_cwd = false;
        });
    }

    /// Something else comes to the front of the agent's pane.
    pub fn front(&self, session: &str, command: &str) {
        self.with_pane(session, |p, _| p.current_command = command.to_string());
    }

    /// The agent's screen becomes `screen`, written at `at` (unix seconds).
    pub fn output(&self, session: &str, screen: &str, at: u64) {
        self.with_pane(session, |p, s| {
            *s = screen.to_string();
            p.last_output = Some(at);
        });
    }

    /// A session the fleet did not start.
    pub fn add_unmanaged(&self, session: &str, command: &str, at: u64) {
        let mut state = self.state();
        let id = state.next_id;
        state.next_id += 1;
        let pane = ObservedPane::alive(session, id, 9000 + id, command, at);
        state.panes.insert(id, (pane, String::new()));
    }

    /// The agent's pane as the host would list it.
    pub fn pane(&self, session: &str) -> Option<ObservedPane> {
        self.with_pane(session, |p, _| p.clone())
    }

    /// What was typed, into which session, in order.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.state().sent.clone()
    }

    /// How many agents were launched so far.
    pub fn launches(&self) -> usize {
        self.state().launches
    }
}

impl Host for FakeHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn socket(&self) -> &str {
        &self.socket
    }

    fn check_ready(&self) -> Result<(), HostError> {
        Ok(())
    }

    fn list_panes(&self) -> Result<Vec<ObservedPane>, HostError> {
        Ok(self
            .state()
            .panes
            .values()
            .map(|(p, _)| p.clone())
            .collect())
    }

    fn capture_screens(&self, panes: &[(u32, usize)]) -> Result<BTreeMap<u32, String>, HostError> {
        let state = self.state();
        Ok(panes
            .iter()
            .filter_map(|(id, _)| Some((*id, state.panes.get(id)?.1.clone())))
            .collect())
    }

    fn capture(&self, pane_id: u32, _what: Capture, _raw: bool) -> Result<String, HostError> {
        Ok(self
            .state()
            .panes
            .get(&pane_id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default())
    }

    fn launch(&self, launches: &[Launch]) -> Result<LaunchResults, HostError> {
        let mut results = BTreeMap::new();
        for launch in launches {
            let program = launch
                .pane_argv
                .get(RUNTIME_ARGV_AT)
                .map(|p| process_name(p))
                .unwrap_or_default();
            let missing = self.missing.contains(&program);
            let at = launch.meta.started_at;
            let mut state = self.state();
            state.launches += 1;
            let pid = 1000 + state.next_pid;
            state.next_pid += 1;
            let id = match launch.place {
                Place::NewSession => {
                    if state
                        .panes
                        .values()
                        .any(|(p, _)| p.session == launch.name.as_str())
                    {
                        results.insert(
                            launch.name.clone(),
                            Err(format!("tmux refused: duplicate session: {}", launch.name)),
                        );
                        continue;
                    }
                    let id = state.next_id;
                    state.next_id += 1;
                    id
                }
                Place::Respawn { pane_id } => pane_id,
            };
            let mut pane = ObservedPane::alive(launch.name.as_str(), id, pid, &program, at);
            if let Some((old, _)) = state.panes.get(&id) {
                pane.session_created = old.session_created;
            }
            pane.meta = Some(launch.meta.to_json());
            if missing {
                pane.dead = true;
                pane.dead_status = Some(127);
                pane.current_command = "sh".into();
            }
            let screen = if missing {
                format!("fleet: {program}: command not found\n")
            } else {
                String::new()
            };
            state.panes.insert(id, (pane, screen));
            results.insert(launch.name.clone(), Ok(()));
        }
        Ok(results)
    }

    fn pipe(&self, pipes: &[(u32, Vec<String>)]) -> Result<(), HostError> {
        let mut state = self.state();
        for (pane_id, _) in pipes {
            if let Some((pane, _)) = state.panes.get_mut(pane_id) {
                pane.piped = true;
            }
        }
        Ok(())
    }

    fn kill(&self, names: &[&AgentName]) -> Result<(), HostError> {
        self.state()
            .panes
            .retain(|_, (p, _)| !names.iter().any(|n| n.as_str() == p.session));
        Ok(())
    }

    fn mark_crashloop(&self, session: &str) -> Result<(), HostError> {
        self.with_pane(session, |p, _| p.crashloop = true)
            .ok_or_else(|| HostError::Failed {
                message: format!("can't find session: {session}"),
            })
    }

    fn set_state(&self, session: &str, value: &str) -> Result<(), HostError> {
        self.with_pane(session, |p, _| p.state = Some(value.to_string()))
            .ok_or_else(|| HostError::Failed {
                message: format!("can't find session: {session}"),
            })
    }

    /// Records what was typed, and echoes it on the pane's screen as a
    /// terminal would (unless the pane is deaf).
    fn type_into(&self, inputs: &[(&ObservedPane, Input)]) -> Result<(), HostError> {
        let mut state = self.state();
        for (pane, input) in inputs {
            let typed = match input {
                Input::Text(text) => text.clone(),
                Input::Keys(keys) => keys.iter().map(|k| format!("<{}>", k.name())).collect(),
            };
            if !self.deaf.contains(&pane.session)
                && let Some((_, screen)) = state.panes.get_mut(&pane.pane_id)
            {
                screen.push_str(&typed);
            }
            state.sent.push((pane.session.clone(), typed));
        }
        Ok(())
    }

    fn attach_command(&self, _session: &str, _read_only: bool) -> Command {
        Command::new("true")
    }

    fn server_path(&self) -> Result<Option<String>, HostError> {
        Ok(Some("/usr/bin:/bin".into()))
    }

    fn exports_path(&self, pane_ids: &[u32]) -> Result<BTreeMap<u32, bool>, HostError> {
        Ok(pane_ids.iter().map(|id| (*id, true)).collect())
    }

    fn facts(&self, probe: &Probe) -> HostFacts {
        HostFacts {
            runtime_prefix: self.runtime_prefix.clone(),
            dirs: probe
                .dirs
                .iter()
                .filter(|d| self.dirs.contains(*d))
                .cloned()
                .collect(),
            not_dirs: BTreeSet::new(),
            executables: probe
                .files
                .iter()
                .filter(|f| self.executables.contains(*f))
                .cloned()
                .collect(),
            boot: None,
        }
    }
}
