//! The errors the core ends an operation with. Each is typed (a view can
//! tell a missing session from a broken fleet file), reads as one line that
//! names the problem and then the fix ([`Error::hint`]), and says whether it
//! was bad input, with nothing changed, or something fleet tried that did
//! not work ([`Error::kind`]). Exit codes are the CLI's business.

use std::path::PathBuf;

use crate::core::desired::agent::{AgentName, InvalidName};
use crate::core::desired::fleetfile::FileError;
use crate::core::desired::start::StartError;
use crate::core::host::HostError;
use crate::core::store::events::StoreError;

/// Untrusted text quoted for a one-line message, cut after its first 64
/// characters: a 10,000-character name echoed whole buries the fix.
pub fn quoted(text: &str) -> String {
    const KEEP: usize = 64;
    match text.char_indices().nth(KEEP) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} characters)", &text[..cut], text.chars().count()),
    }
}

#[cfg(test)]
#[test]
fn quoted_text_is_cut_after_64_characters() {
    assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    assert_eq!(quoted(&"é".repeat(64)), format!("{:?}", "é".repeat(64)));
    assert_eq!(
        quoted(&"é".repeat(65)),
        format!("{:?}… (65 characters)", "é".repeat(64))
    );
}

/// Whose the problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad usage or input: nothing was changed.
    BadInput,
    /// Something the fleet tried did not work.
    Failed,
    /// Another host did not answer.
    Unreachable,
}

/// What another host's agent cannot have done to it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteAct {
    Start,
    Stop,
    Restart,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// How fleet was called does not work: a flag, a variable, the cwd.
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    FleetFile(#[from] FileError),
    #[error(transparent)]
    Name(#[from] InvalidName),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("{0} (check FLEET_HOME is writable)")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Refused(#[from] crate::core::store::private::Refused),
    #[error(
        "no fleet.toml here or in any parent directory: create one, pass --file PATH, or set FLEET_FILE (fleet {command} needs a fleet file)"
    )]
    NoFleetFile { command: &'static str },
    #[error("cannot tell where to keep state: set HOME or FLEET_HOME")]
    NoStateDir,
    #[error("cannot tell where the fleet binary is: run fleet by its path")]
    NoFleetBinary,
    #[error("cannot take the fleet lock in {}: {source} (check FLEET_HOME is writable)", dir.display())]
    Lock {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "gave up waiting for the fleet lock after {}s: it is held by {holder}; try again when that is done, or wait longer with --wait DUR",
        waited.as_secs()
    )]
    LockTimeout {
        holder: crate::core::store::home::Holder,
        waited: std::time::Duration,
    },
    #[error(
        "the fleet lock file was deleted or replaced while this command held it, so another command may be changing the same agents: nothing was launched; run it again"
    )]
    LockLost,
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(
        "agent {name} is not declared in {}: add [agents.{name}] or use fleet start {name}",
        file.display()
    )]
    NotDeclared { name: AgentName, file: PathBuf },
    #[error(
        "no agent named {name}: it is neither declared nor running here (see fleet ps; one on another host is {name}@HOST)"
    )]
    NoSuchAgent { name: AgentName },
    #[error("agent {name} is not declared and has no session: start it with fleet start {name}")]
    NothingToRestart { name: AgentName },
    #[error("agent {name} has no session: {}", no_session_fix(name, *transcript))]
    NoSession {
        name: AgentName,
        /// Point to the transcript rather than to starting it.
        transcript: bool,
    },
    #[error("{}", not_managed(name, socket, *killing))]
    NotManaged {
        name: AgentName,
        socket: String,
        /// Asked to end it (the fix is then how to end it by hand).
        killing: bool,
    },
    #[error("session {name} was not started by fleet, so fleet leaves it alone")]
    NotManagedRestart { name: AgentName },
    #[error("agent {name} has exited: nothing would read the text (fleet restart {name} first)")]
    Exited { name: AgentName },
    #[error(
        "agent {name} has exited: a report is for a running agent (fleet restart {name} first)"
    )]
    ExitedReport { name: AgentName },
    #[error(
        "agent {name} is in drift: {in_front} is in front, not the runtime, and would get the text (fleet attach --takeover {name} to type there yourself)"
    )]
    Drift { name: AgentName, in_front: String },
    #[error("{}", on_other_host(name, host, *act))]
    OnOtherHost {
        name: AgentName,
        host: String,
        act: RemoteAct,
    },
    /// An agent cannot be launched as asked; `location` is `FILE:LINE: `
    /// when the fleet file says it.
    #[error("{location}agent {name}: {problem}: {fix}")]
    NotLaunchable {
        location: String,
        name: AgentName,
        problem: String,
        fix: String,
    },
    #[error(
        "no transcript for {name} in {}: transcripts begin when fleet launches an agent",
        dir.display()
    )]
    NoTranscript { name: AgentName, dir: PathBuf },
    /// A value given to fleet does not work; the text names it and the fix.
    #[error("{0}")]
    BadValue(String),
    /// systemd did not answer as it should (`fleet init`).
    #[error("{0}")]
    Systemd(String),
    #[error("host {host:?} is not in the fleet file: use one of {}", known.join(", "))]
    UnknownHost { host: String, known: Vec<String> },
    /// A name given on the command line does not read.
    #[error("{0}")]
    BadName(String),
    /// Agents whose commands are too long for tmux, all of them, and the
    /// fleet file that declares them (if it does). Nothing was started.
    #[error("{}", crate::core::host::commands_too_long(agents, *room, file.as_deref()))]
    CommandsTooLong {
        agents: Vec<(AgentName, usize)>,
        room: usize,
        file: Option<PathBuf>,
    },
    /// Another host did not answer a command meant for it.
    #[error("host {host} is unreachable ({why})")]
    Unreachable {
        host: String,
        why: crate::core::host::ssh::Unreachable,
    },
}

impl Error {
    pub fn setup(message: impl Into<String>) -> Self {
        Error::Setup(message.into())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Setup(_)
            | Error::FleetFile(_)
            | Error::Name(_)
            | Error::Start(_)
            | Error::NoFleetFile { .. }
            | Error::NoStateDir
            | Error::NotDeclared { .. }
            | Error::NoSuchAgent { .. }
            | Error::NothingToRestart { .. }
            | Error::OnOtherHost { .. }
            | Error::NotLaunchable { .. }
            | Error::BadValue(_)
            | Error::UnknownHost { .. }
            | Error::BadName(_)
            // Checked before anything runs: nothing changed.
            | Error::CommandsTooLong { .. }
            | Error::Host(HostError::TooLong { .. } | HostError::CommandsTooLong { .. }) => {
                ErrorKind::BadInput
            }
            Error::Host(_)
            | Error::Store(_)
            | Error::Refused(_)
            | Error::NoFleetBinary
            | Error::Lock { .. }
            | Error::LockTimeout { .. }
            | Error::LockLost
            | Error::Io { .. }
            | Error::NoSession { .. }
            | Error::NotManaged { .. }
            | Error::NotManagedRestart { .. }
            | Error::Exited { .. }
            | Error::ExitedReport { .. }
            | Error::Drift { .. }
            | Error::NoTranscript { .. }
            | Error::Systemd(_) => ErrorKind::Failed,
            Error::Unreachable { .. } => ErrorKind::Unreachable,
        }
    }

    /// The fix, where it is a thing apart from the problem.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NoSession { name, transcript } => Some(no_session_fix(name, *transcript)),
            Error::NotLaunchable { fix, .. } => Some(fix.clone()),
            Error::NoFleetFile { .. } => {
                Some("create one, pass --file PATH, or set FLEET_FILE".into())
            }
            Error::NoStateDir => Some("set HOME or FLEET_HOME".into()),
            _ => None,
        }
    }
}

fn no_session_fix(name: &AgentName, transcript: bool) -> String {
    if transcript {
        format!("fleet logs {name} shows its transcript")
    } else {
        format!("start it with fleet start {name} or fleet up {name}")
    }
}

fn not_managed(name: &AgentName, socket: &str, killing: bool) -> String {
    if killing {
        format!(
            "session {name} was not started by fleet, so fleet leaves it alone (end it yourself with tmux -L {socket} kill-session -t ={name})"
        )
    } else {
        format!("session {name} was not started by fleet: use tmux -L {socket} directly for it")
    }
}

fn unanswered(host: &str, why: &crate::core::host::ssh::Unreachable) -> String {
    match why {
        crate::core::host::ssh::Unreachable::Failed(said) => {
            format!("host {host} answered with an error: {said}")
        }
        other => format!("host {host} is unreachable ({other})"),
    }
}

fn on_other_host(name: &AgentName, host: &str, act: RemoteAct) -> String {
    match act {
        RemoteAct::Start => format!(
            "agent {name} belongs on host {host}: start it there (fleet start {name} on {host})"
        ),
        RemoteAct::Stop => format!("agent {name} belongs on host {host}: stop it there"),
        RemoteAct::Restart => format!("agent {name} belongs on host {host}: restart it there"),
    }
}

/// Something that went wrong without stopping the operation: the views
/// show it apart from the answer (a dashboard must not be scribbled over).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// History is best effort for commands that only read.
    #[error("{what} not recorded: {error}")]
    NotRecorded { what: String, error: String },
    #[error("cannot save {}: {error}", path.display())]
    NotSaved { path: PathBuf, error: String },
    /// A running agent's transcript cannot be written where it must be.
    #[error("agent {name}'s transcript is not being written: {error}")]
    NotTranscribed { name: String, error: String },
    /// An act the store could not take, kept aside for the next command.
    #[error(
        "{what} not recorded yet: {error}; kept in {} for the next fleet command to record",
        path.display()
    )]
    Kept {
        what: String,
        error: String,
        path: PathBuf,
    },
    /// Said once, by the command that found it.
    #[error(
        "the event store was not a database: moved it aside to {} and started a new history",
        path.display()
    )]
    StoreMovedAside { path: PathBuf },
    #[error(
        "{error} (showing what runs on this host only: other hosts are asked once the file reads; fix it before fleet up)"
    )]
    BrokenFleetFile { error: String },
    /// ssh cannot keep a shared connection's socket there.
    #[error(
        "connections to other hosts are not shared (each command connects anew): ssh cannot make a socket in {} (a path that long, or with '\"'); use a shorter FLEET_HOME",
        dir.display()
    )]
    NotShared { dir: PathBuf },
    /// What another host's fleet said on its stderr.
    #[error("{host}: {}", line.strip_prefix("fleet: ").unwrap_or(line))]
    FromHost { host: String, line: String },
    /// Another host did not answer; its rows say `unreachable`.
    #[error("{}", unanswered(host, why))]
    HostUnreachable {
        host: String,
        why: crate::core::host::ssh::Unreachable,
    },
    /// Said at once, while the command waits.
    #[error("waiting for the fleet lock, held by {holder} (--wait DUR sets how long)")]
    LockWait {
        holder: crate::core::store::home::Holder,
    },
}
