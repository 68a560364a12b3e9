//! Launching and ending agents on tmux: each agent's commands form one
//! group (its session or respawn, its transcript pipe, its metadata), and
//! many groups travel in one invocation.

use std::collections::BTreeMap;

use crate::core::desired::agent::AgentName;
use crate::core::host::tmux::{Batch, CRASHLOOP_OPTION, META_OPTION, STATE_OPTION, Tmux};
use crate::core::host::{HostError, Launch, LaunchResults, PANE_COLS, PANE_ROWS, Place};
use crate::core::observe;

impl Tmux {
    /// Launches the agents in as few tmux invocations as fit. When a batch
    /// fails, each of its agents is tried again alone, so that one bad
    /// agent cannot hide the rest.
    ///
    /// Every agent's commands are checked to fit one invocation before any
    /// runs, and all that do not are named at once.
    pub fn launch(&self, launches: &[Launch]) -> Result<LaunchResults, HostError> {
        let groups: Vec<Batch> = launches.iter().map(group).collect();
        let too_long: Vec<(&Launch, usize)> = launches
            .iter()
            .zip(&groups)
            .filter_map(|(launch, group)| {
                let room = relaunch_room(launch);
                group.fits_with(&prelude(), room).err().map(|s| (launch, s))
            })
            .collect();
        if !too_long.is_empty() {
            let room = too_long
                .iter()
                .map(|(launch, size)| room(*size, &launch.meta.argv))
                .min()
                .unwrap_or_default();
            return Err(HostError::CommandsTooLong {
                agents: too_long
                    .iter()
                    .map(|(launch, _)| (launch.name.clone(), command_len(&launch.meta.argv)))
                    .collect(),
                room,
            });
        }
        if groups.is_empty() {
            return Ok(BTreeMap::new());
        }
        let first_error = match self.run_groups(&prelude(), &groups) {
            Ok(_) => return Ok(launches.iter().map(|l| (l.name.clone(), Ok(()))).collect()),
            Err(e @ HostError::Failed { .. }) => e.to_string(),
            Err(e) => return Err(e),
        };
        self.recover(launches, &groups, &first_error)
    }

    /// tmux stopped at the first failing command. An agent whose metadata is
    /// on its session got through (setting it is the last step of its
    /// group); the others are tried once more alone, so each gets its own
    /// verdict, unless a session of that name appeared meanwhile.
    fn recover(
        &self,
        launches: &[Launch],
        groups: &[Batch],
        first_error: &str,
    ) -> Result<LaunchResults, HostError> {
        let sessions = observe::sessions(self.list_panes()?);
        let mut results = BTreeMap::new();
        for (launch, group) in launches.iter().zip(groups) {
            let result = match sessions.get(launch.name.as_str()) {
                Some(s) if s.meta.as_ref() == Some(&launch.meta) => Ok(()),
                Some(s) if !s.is_managed() => Err(first_error.to_string()),
                _ => self
                    .run_groups(&prelude(), std::slice::from_ref(group))
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            results.insert(launch.name.clone(), result);
        }
        Ok(results)
    }

    /// Kills the named sessions in one invocation.
    pub fn kill_sessions(&self, names: &[&AgentName]) -> Result<(), HostError> {
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
        match self.run_groups(&Batch::new(), &groups) {
            Ok(_) => Ok(()),
            // Killing the last session ends the server, which may go
            // before it answers: no server is no session, the kill's end.
            Err(HostError::NoServer(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// What a relaunch's commands may take beyond the first launch's.
const RELAUNCH_ROOM: usize = 512;

/// A relaunch of an agent says more than its first launch (it clears the
/// pane and the old run's options; its metadata counts restarts): what
/// starts must also be able to start again, by `restart` or the
/// supervisor, so a first launch must fit with this room to spare.
fn relaunch_room(launch: &Launch) -> usize {
    match launch.place {
        Place::NewSession => RELAUNCH_ROOM,
        Place::Respawn { .. } => 0,
    }
}

/// The length of a command, its words joined by spaces.
fn command_len(argv: &[String]) -> usize {
    argv.iter()
        .map(|w| w.len() + 1)
        .sum::<usize>()
        .saturating_sub(1)
}

/// About how many bytes of command would fit in the invocation of an
/// agent whose group came to `size` bytes with `argv` as its command,
/// rounded down to a hundred. Each word travels twice: as an argument of
/// the pane command (with its NUL) and in the metadata's JSON (quoted,
/// with a comma).
fn room(size: usize, argv: &[String]) -> usize {
    let carried: usize = argv.iter().map(|w| 2 * w.len() + 4).sum();
    let rest = size.saturating_sub(carried);
    let room = super::batch::MAX_INVOCATION_BYTES.saturating_sub(rest + 2) / 2;
    room / 100 * 100
}

/// One agent's commands: its session or respawn, its transcript pipe, its
/// metadata.
fn group(launch: &Launch) -> Batch {
    let name = launch.name.as_str();
    let mut group = Batch::new();
    let (mut command, pane_target) = match launch.place {
        Place::NewSession => (
            [
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                &PANE_COLS.to_string(),
                "-y",
                &PANE_ROWS.to_string(),
            ]
            .map(String::from)
            .to_vec(),
            format!("={name}:"),
        ),
        Place::Respawn { pane_id } => {
            let target = format!("%{pane_id}");
            let command = ["respawn-pane", "-k", "-t", target.as_str()].map(String::from);
            (command.to_vec(), target)
        }
    };
    // A relaunch starts a clean screen: what the pane shows (and what
    // fleet quotes when it dies) is this run's; the transcript keeps the
    // earlier ones.
    let clear = match launch.place {
        Place::Respawn { pane_id } => Some(format!("%{pane_id}")),
        Place::NewSession => None,
    };
    for (key, value) in &launch.env {
        command.extend(["-e".to_string(), format!("{key}={value}")]);
    }
    command.push("--".into());
    command.extend(launch.pane_argv.iter().cloned());
    if let Some(target) = clear {
        group.push(["clear-history".to_string(), "-t".to_string(), target]);
    }
    group.push(command);
    if let Some(writer) = &launch.transcript {
        // Straight after the launch, in the same tmux call, so the
        // transcript has the runtime's first output too.
        group.push([
            "pipe-pane".to_string(),
            "-t".to_string(),
            pane_target,
            shell_command(writer),
        ]);
    }
    // What the old process reported, or the supervisor decided of it, is
    // not about the new one (a new session has neither).
    let relaunch = matches!(launch.place, Place::Respawn { .. });
    for option in [STATE_OPTION, CRASHLOOP_OPTION]
        .into_iter()
        .filter(|_| relaunch)
    {
        group.push([
            "set-option".to_string(),
            "-u".to_string(),
            "-t".to_string(),
            format!("={name}:"),
            option.to_string(),
        ]);
    }
    // set-option takes a pane target: `=NAME:` is the session's pane.
    group.push([
        "set-option".to_string(),
        "-t".to_string(),
        format!("={name}:"),
        META_OPTION.to_string(),
        launch.meta.to_json(),
    ]);
    group
}

impl Tmux {
    /// Pipes panes' output into their writers again, all in one call: for
    /// panes whose writer went away (killed, crashed).
    pub fn pipe(&self, pipes: &[(u32, Vec<String>)]) -> Result<(), HostError> {
        let groups: Vec<Batch> = pipes
            .iter()
            .map(|(pane_id, writer)| {
                let mut batch = Batch::new();
                batch.push([
                    "pipe-pane".to_string(),
                    "-t".to_string(),
                    format!("%{pane_id}"),
                    shell_command(writer),
                ]);
                batch
            })
            .collect();
        if groups.is_empty() {
            return Ok(());
        }
        self.run_groups(&Batch::new(), &groups).map(|_| ())
    }
}

/// `pipe-pane` runs its command through `sh -c`, after expanding tmux
/// formats in it: each word is quoted, and `#` doubled.
fn shell_command(argv: &[String]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|w| {
            shlex::try_quote(w)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| w.clone())
        })
        .collect();
    format!("exec {}", words.join(" ")).replace('#', "##")
}

/// Server settings that every launch relies on, sent ahead of each batch:
/// a pane whose runtime exits stays, with its status and last screen, so
/// `ps` can say `exited 127` and `peek` can show why; extended keys, so a
/// runtime can tell Shift+Enter from Enter (pi warns without them); focus
/// events, which Claude Code asks for.
fn prelude() -> Batch {
    let mut b = Batch::new();
    b.push(["set-option", "-wg", "remain-on-exit", "on"]);
    b.push(["set-option", "-s", "extended-keys", "on"]);
    b.push(["set-option", "-s", "focus-events", "on"]);
    // A runtime's death is told to whoever watches at once (see
    // `control`); at a fixed index, so setting it again replaces it.
    b.push([
        "set-hook",
        "-g",
        "pane-died[71]",
        &format!("wait-for -S {}", super::control::CHANNEL),
    ]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::agent::{AgentSpec, RestartPolicy};
    use crate::core::reconcile::{Step, launch_for};

    fn launch_of(command_bytes: usize) -> Launch {
        let spec = AgentSpec {
            name: AgentName::parse("agent").unwrap_or_else(|e| panic!("{e}")),
            runtime: "custom".into(),
            model: None,
            effort: None,
            argv: vec!["perl".into(), "x".repeat(command_bytes - 5)],
            processes: vec!["perl".into()],
            workdir: "/home/someone/work".into(),
            restart: RestartPolicy::OnFailure,
            host: None,
        };
        let writer = ["/usr/bin/fleet", "__log-writer", "--path", "/s/agent.log"].map(String::from);
        launch_for(
            &spec,
            &Step::Create,
            "/p/bin",
            Some(writer.to_vec()),
            "fleet",
            &[],
            1,
        )
        .unwrap_or_else(|| panic!("no launch"))
    }

    #[test]
    fn the_room_a_command_is_told_it_has_is_true() {
        let long = launch_of(9_000);
        let fits = |launch: &Launch| group(launch).fits_with(&prelude(), relaunch_room(launch));
        let size = fits(&long).err();
        let room = room(size.unwrap_or_default(), &long.meta.argv);
        assert!((7_000..8_000).contains(&room), "{room}");
        assert_eq!(command_len(&launch_of(room).meta.argv), room);
        assert!(fits(&launch_of(room)).is_ok());
        assert!(fits(&launch_of(room + 200)).is_err());
    }

    #[test]
    fn the_transcript_command_is_quoted_for_sh_and_tmux() {
        let argv = [
            "/opt/my fleet/fleet",
            "__log-writer",
            "--path",
            "/s/#1/a.log",
        ]
        .map(String::from);
        assert_eq!(
            shell_command(&argv),
            "exec '/opt/my fleet/fleet' __log-writer --path '/s/##1/a.log'"
        );
    }
}
