//! The host seam: a fleet's terminal multiplexer on one host, and the facts
//! about that host a launch depends on.
//!
//! Theory of operation. The core never runs `tmux` itself: it talks to a
//! [`Host`]. [`LocalHost`] is tmux on this machine ([`tmux`] is the one
//! adapter that runs it, batching many commands per invocation); [`FakeHost`]
//! keeps panes in memory so the core's decisions can be tested in-process;
//! another host is reached over ssh ([`ssh`]), where its own `fleet` runs
//! the request ([`remote`]) on its own [`LocalHost`].
//!
//! Everything that depends on where an agent runs is asked of its host and
//! handed in as plain data ([`HostFacts`]): the runtime-bin PATH prefix
//! (which runs `npm config get prefix` there), which directories exist,
//! which files are executable, how boot survival is set up, the host name.
//! Nothing in the core reads them in place.

pub mod fake;
pub mod hostname;
pub mod local;
pub mod pane;
pub mod remote;
pub mod ssh;
pub mod systemd;
pub mod tmux;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::core::desired::agent::{AgentName, SessionMeta};

pub use fake::FakeHost;
pub use local::LocalHost;

/// Every pane fleet creates is this many columns wide (`new-session -x`):
/// wide enough that agents rarely wrap. A transcript is rendered at it.
pub const PANE_COLS: u16 = 200;
/// Every pane fleet creates is this many rows high (`new-session -y`).
pub const PANE_ROWS: u16 = 50;

/// What can go wrong talking to a host's multiplexer.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("tmux was not found on PATH: install it (apt-get install tmux) or add it to PATH")]
    NotFound,
    #[error("could not run tmux: {0}")]
    Spawn(io::Error),
    #[error("no tmux server is running on socket \"{0}\"")]
    NoServer(String),
    #[error("tmux {version} is too old: fleet needs tmux 3.2 or newer")]
    TooOld { version: String },
    #[error(
        "{what} is too long for tmux ({size} bytes; tmux takes about {}): shorten it",
        tmux::batch::MAX_INVOCATION_BYTES
    )]
    TooLong { what: String, size: usize },
    /// Agents whose launch does not fit one tmux call, each with the
    /// length of its command; about `room` bytes of command would fit.
    /// Checked before anything runs.
    #[error("{}", commands_too_long(agents, *room, None))]
    CommandsTooLong {
        agents: Vec<(AgentName, usize)>,
        room: usize,
    },
    #[error("tmux refused: {message}")]
    Failed { message: String },
    #[error(
        "the tmux server on socket \"{socket}\" did not answer within {secs}s: it may be stopped or wedged (see `ps -o pid,stat,cmd -C tmux`), and what was asked may still happen when it answers; FLEET_TMUX_TIMEOUT sets the bound"
    )]
    Timeout { socket: String, secs: f64 },
}

/// The one line that names every agent whose command is too long for
/// tmux, how long a command can be, and where to shorten them (`file`,
/// when the fleet file declares them).
pub fn commands_too_long(
    agents: &[(AgentName, usize)],
    room: usize,
    file: Option<&std::path::Path>,
) -> String {
    let place = file
        .map(|f| format!(" in {}", f.display()))
        .unwrap_or_default();
    // A command travels twice: as the pane's command and in the `@fleet`
    // record on its session.
    let why = format!(
        "where about {room} fit: tmux takes about {} bytes a call, and fleet sends a command twice, to run it and in its record of the agent",
        tmux::batch::MAX_INVOCATION_BYTES
    );
    match agents {
        [(name, bytes)] => {
            format!(
                "agent {name}'s command is too long for tmux ({bytes} bytes, {why}): shorten it{place}"
            )
        }
        _ => {
            let names: Vec<&str> = agents.iter().map(|(n, _)| n.as_str()).collect();
            let sizes: Vec<String> = agents.iter().map(|(_, b)| b.to_string()).collect();
            format!(
                "agents {}: their commands are too long for tmux ({} bytes, {why}): shorten them{place}",
                names.join(", "),
                sizes.join(", "),
            )
        }
    }
}

/// A pane as the multiplexer reports it: plain data, no interpretation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPane {
    pub session: String,
    /// The number in tmux's `%N` pane id; lower is older.
    pub pane_id: u32,
    pub pid: Option<u32>,
    pub dead: bool,
    pub dead_status: Option<i32>,
    pub dead_signal: Option<i32>,
    /// The name of the pane's foreground process, as tmux sees it.
    pub current_command: String,
    /// Whether tmux could read the foreground process's working directory.
    /// A process that has exited but is not yet reaped has none, and tmux
    /// then names the pane by its launch command (`sh`) instead.
    pub has_cwd: bool,
    /// The supervisor gave up relaunching it (`@fleet-crashloop`).
    pub crashloop: bool,
    pub session_created: Option<u64>,
    /// Unix seconds of the last output in the pane's window.
    pub last_output: Option<u64>,
    /// Rows of the pane's screen.
    pub height: usize,
    /// In copy mode (someone scrolling back), where keys are not typed.
    pub in_mode: bool,
    /// Its output is piped somewhere (`pane_pipe`): for a fleet agent, into
    /// its transcript writer.
    pub piped: bool,
    /// The raw value of the `@fleet-state` user option: the state the
    /// runtime (or a wrapper) last reported of itself.
    pub state: Option<String>,
    /// The raw value of the `@fleet` user option, if the fleet set one.
    pub meta: Option<String>,
}

impl ObservedPane {
    /// A live pane of `session` running `command`, created and last
    /// written at `at`: what a fake host lists, and what tests start from.
    pub fn alive(session: &str, pane_id: u32, pid: u32, command: &str, at: u64) -> Self {
        Self {
            session: session.to_string(),
            pane_id,
            pid: Some(pid),
            dead: false,
            dead_status: None,
            dead_signal: None,
            current_command: command.to_string(),
            has_cwd: true,
            crashloop: false,
            session_created: Some(at),
            last_output: Some(at),
            height: 50,
            in_mode: false,
            piped: true,
            state: None,
            meta: None,
        }
    }

    /// Dead, but tmux has not reaped the process yet.
    pub fn awaits_status(&self) -> bool {
        self.dead && self.dead_status.is_none() && self.dead_signal.is_none()
    }
}

/// How much of a pane to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// The visible screen.
    Screen,
    /// The last `n` lines of history and screen together.
    Last(usize),
}

/// Where a launch runs its agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A new session named after the agent.
    NewSession,
    /// The agent's existing pane, its runtime replaced.
    Respawn { pane_id: u32 },
}

/// One agent to launch, decided by the core; the host only carries it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub name: AgentName,
    pub place: Place,
    /// The pane command: the launch script, its arguments, the runtime.
    pub pane_argv: Vec<String>,
    /// What the pane's output is piped into, if anything.
    pub transcript: Option<Vec<String>>,
    /// Environment the runtime gets besides the server's: who it is, so
    /// that what it reports lands on its own session.
    pub env: Vec<(String, String)>,
    /// The fleet's record, stored on the session.
    pub meta: SessionMeta,
}

/// Each launched agent's result: tmux's own words when it failed.
pub type LaunchResults = BTreeMap<AgentName, Result<(), String>>;

/// What the core wants to know about a host before it acts.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// Derive the runtime-bin PATH prefix (costs a `npm config get prefix`).
    pub runtime_prefix: bool,
    /// Directories whose existence matters (workdirs).
    pub dirs: Vec<PathBuf>,
    /// Files whose executability matters (where a runtime may resolve).
    pub files: Vec<PathBuf>,
    /// Read how boot survival is set up.
    pub boot: bool,
}

/// What a host answered to a [`Probe`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub runtime_prefix: String,
    /// The asked directories that exist.
    pub dirs: BTreeSet<PathBuf>,
    /// The asked directories that exist but are something else (a file),
    /// so that a message can say so instead of "does not exist".
    pub not_dirs: BTreeSet<PathBuf>,
    /// The asked files that exist and are executable.
    pub executables: BTreeSet<PathBuf>,
    pub boot: Option<BootFacts>,
}

/// Boot survival, as systemd's own files show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootFacts {
    pub unit: PathBuf,
    pub unit_installed: bool,
    pub unit_enabled: bool,
    pub user: String,
    pub linger: bool,
}

/// What to type into a pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Characters, each as itself.
    Text(String),
    /// Named keys, pressed in order.
    Keys(Vec<Key>),
}

/// A named key: `Enter`, `Escape`, `Up`, `C-c`, `M-x`, `F5`…, checked,
/// so that a typo is refused instead of typed as letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

/// Keys by name, as tmux knows them.
const KEY_NAMES: [&str; 24] = [
    "Enter", "Escape", "Tab", "BTab", "BSpace", "Space", "Up", "Down", "Left", "Right", "Home",
    "End", "PageUp", "PageDown", "PPage", "NPage", "IC", "DC", "Insert", "Delete", "KPEnter",
    "C-Space", "M-Enter", "S-Enter",
];

impl Key {
    /// `Enter`, `F1`..`F12`, or a modifier (`C-`, `M-`, `S-`) on one
    /// letter, digit or named key.
    pub fn parse(name: &str) -> Option<Self> {
        let base = ["C-", "M-", "S-"].iter().fold(name, |rest, modifier| {
            rest.strip_prefix(modifier).unwrap_or(rest)
        });
        let function = base
            .strip_prefix('F')
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=12).contains(&n));
        let plain = base.len() == 1 && base.chars().all(|c| c.is_ascii_alphanumeric());
        let modified = base.len() < name.len();
        let named = KEY_NAMES.contains(&base) || KEY_NAMES.contains(&name);
        (named || function || (plain && modified)).then(|| Key(name.to_string()))
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    pub fn enter() -> Self {
        Key("Enter".into())
    }
}

/// A fleet's terminal multiplexer on one host.
pub trait Host: Send + Sync {
    /// The host's name, as rows and events show it.
    fn name(&self) -> &str;
    /// The fleet's server on that host (a tmux socket name).
    fn socket(&self) -> &str;
    /// Whether the multiplexer is there and new enough to launch.
    fn check_ready(&self) -> Result<(), HostError>;
    /// Every pane of the fleet's server; none when no server runs.
    fn list_panes(&self) -> Result<Vec<ObservedPane>, HostError>;
    /// The visible screens of these panes (id, height), in one go.
    fn capture_screens(&self, panes: &[(u32, usize)]) -> Result<BTreeMap<u32, String>, HostError>;
    /// One pane's screen or last lines; `raw` keeps escape sequences.
    fn capture(&self, pane_id: u32, what: Capture, raw: bool) -> Result<String, HostError>;
    /// Launches these agents, as few round trips as fit.
    fn launch(&self, launches: &[Launch]) -> Result<LaunchResults, HostError>;
    /// Pipes these panes' output into their transcript writers again
    /// (pane id, the writer's argv), in one round trip.
    fn pipe(&self, pipes: &[(u32, Vec<String>)]) -> Result<(), HostError>;
    /// Whether the writer of the transcript at `path` is known to be gone
    /// (its lock free: see `transcript::writer_alive`); false when that
    /// cannot be told.
    fn writer_gone(&self, _path: &Path) -> bool {
        false
    }
    /// Ends these agents' sessions.
    fn kill(&self, names: &[&AgentName]) -> Result<(), HostError>;
    /// Stores what an agent reports of itself on its session
    /// (`@fleet-state`), where the next listing finds it.
    fn set_state(&self, session: &str, value: &str) -> Result<(), HostError>;
    /// The pid a supervisor left on the fleet's server as its claim
    /// (`@fleet-supervisor`), if any; `None` with no server.
    fn supervisor_claim(&self) -> Option<u32> {
        None
    }
    /// Leaves this process's pid on the fleet's server as the supervisor.
    fn claim_supervisor(&self, _pid: u32) {}
    /// Wakes whoever watches the host, as a report would: something they
    /// should look at now (a signal to the supervisor).
    fn nudge(&self) {}
    /// Marks an agent's dead session as given up on by the supervisor
    /// (until its next launch), where the next listing finds it.
    fn mark_crashloop(&self, session: &str) -> Result<(), HostError>;
    /// Types into panes, in as few round trips as fit (a long text takes
    /// several, in order).
    fn type_into(&self, inputs: &[(&ObservedPane, Input)]) -> Result<(), HostError>;
    /// The command that attaches this terminal to a session.
    fn attach_command(&self, session: &str, read_only: bool) -> Command;
    /// The PATH a new pane starts with (the server's, not the caller's).
    fn server_path(&self) -> Result<Option<String>, HostError>;
    /// Whether each pane's start command exports a PATH before it `exec`s.
    fn exports_path(&self, pane_ids: &[u32]) -> Result<BTreeMap<u32, bool>, HostError>;
    /// Answers a probe of the host's facts.
    fn facts(&self, probe: &Probe) -> HostFacts;
    /// A long-lived watch that hears of changes, if the host can tell;
    /// `None` and the watcher polls ([`watch::Polling`]).
    fn watch(&self) -> Option<Box<dyn watch::Watch>> {
        None
    }
}
