//! What every command starts from: the checked global options, turned into
//! handles on the fleet file, the tmux server and the state directory.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::args::GlobalArgs;
use crate::cli::error::CliError;
use crate::core::desired::agent::AgentName;
use crate::core::desired::fleetfile::Fleet;
use crate::core::host::tmux::Tmux;
use crate::core::monitor::transitions;
use crate::core::observe::{self, ObservedSession};
use crate::core::reconcile::Transcripts;
use crate::core::store::events::{Event, EventStore, StoreError, now_ms};
use crate::core::store::home::{FleetHome, FleetLock};

/// A transcript file is rotated at this size; one older file is kept, so an
/// agent's transcript never takes more than twice this.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 8 * 1024 * 1024;

pub struct Context {
    pub tmux: Tmux,
    store: RefCell<Option<EventStore>>,
    pub home_dir: Option<PathBuf>,
    pub fleet_home: Option<FleetHome>,
    /// The fleet file in use, if any.
    pub file: Option<PathBuf>,
    pub cwd: PathBuf,
    pub host: String,
}

impl Context {
    /// Checks the global options; touches neither tmux nor the state dir.
    pub fn new(global: &GlobalArgs) -> Result<Self, CliError> {
        check_socket_name(&global.socket)?;
        let home_dir = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let cwd = std::env::current_dir()
            .map_err(|e| CliError::user(format!("the current directory is unusable: {e}")))?;
        let file = find_fleet_file(global.file.as_deref(), &cwd)?;
        Ok(Self {
            tmux: Tmux::new(global.socket.clone()),
            store: RefCell::new(None),
            fleet_home: FleetHome::from_env(home_dir.as_deref(), &cwd),
            home_dir,
            file,
            cwd,
            host: crate::core::host::hostname::local().to_string(),
        })
    }

    /// The fleet file's desired state, or built-ins only when there is none.
    pub fn fleet(&self) -> Result<Fleet, CliError> {
        match &self.file {
            Some(path) => Ok(Fleet::load(path, self.home_dir.clone(), self.host.clone())?),
            None => Ok(Fleet::empty(
                self.cwd.clone(),
                self.home_dir.clone(),
                self.host.clone(),
            )),
        }
    }

    /// The fleet file's desired state; an error when there is no file.
    pub fn require_fleet(&self, command: &str) -> Result<Fleet, CliError> {
        if self.file.is_none() {
            return Err(CliError::user(format!(
                "no fleet.toml here or in any parent directory: create one, pass --file PATH, or set FLEET_FILE (fleet {command} needs a fleet file)"
            )));
        }
        self.fleet()
    }

    /// Every session on the fleet socket, in one tmux call.
    pub fn observe(&self) -> Result<BTreeMap<String, ObservedSession>, CliError> {
        Ok(observe::sessions(self.tmux.list_panes()?))
    }

    /// Opens the event store of this socket.
    pub fn store(&self) -> Result<EventStore, CliError> {
        let home = self.require_home()?;
        EventStore::open(home.root(), self.tmux.socket(), &self.host)
            .map_err(|e| CliError::failed(format!("{e} (check FLEET_HOME is writable)")))
    }

    /// Runs `f` on the event store, opened once per command.
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut EventStore) -> Result<T, StoreError>,
    ) -> Result<T, CliError> {
        let mut slot = self.store.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.store()?);
        }
        match slot.as_mut() {
            Some(store) => f(store).map_err(|e| CliError::failed(e.to_string())),
            None => Err(CliError::failed("the event store is not open")),
        }
    }

    /// Records what changed since any fleet last looked: exits, drift,
    /// launches. History is best effort for commands that only read: a
    /// store that cannot be opened is a warning, not a failure.
    ///
    /// Every process that records also leaves the observation it recorded
    /// in a small state file; when the fleet looks the same as that, there
    /// is nothing to record and the store is not even opened (a quiet
    /// fleet's `ps` stays one tmux call and one small read).
    pub fn record(
        &self,
        sessions: &BTreeMap<String, ObservedSession>,
        observed_ms: i64,
    ) -> Vec<Event> {
        let settling = transitions::settling(sessions, crate::core::reconcile::unix_now());
        let lifecycles = transitions::lifecycles(sessions, &settling);
        let fingerprint = serde_json::to_vec(&(&lifecycles, &settling)).unwrap_or_default();
        let marker = self.state_file("last-recorded.json");
        if let Some(path) = &marker
            && std::fs::read(path).is_ok_and(|seen| seen == fingerprint)
        {
            return Vec::new();
        }
        let result =
            self.with_store(|store| store.observe(now_ms(), observed_ms, &lifecycles, &settling));
        match result {
            Ok(observed) => {
                if let (Some(path), false) = (&marker, observed.stale) {
                    let _ = crate::core::store::home::write_atomic(path, &fingerprint);
                }
                observed.events
            }
            Err(e) => {
                eprintln!("fleet: warning: events not recorded: {e}");
                Vec::new()
            }
        }
    }

    /// Observes every session and records what changed, in one go.
    pub fn observe_and_record(&self) -> Result<BTreeMap<String, ObservedSession>, CliError> {
        let observed_ms = now_ms();
        let sessions = self.observe()?;
        self.record(&sessions, observed_ms);
        Ok(sessions)
    }

    /// Where this socket's transcripts live, and how big they may grow.
    pub fn transcripts(&self) -> Result<Transcripts, CliError> {
        let home = self.require_home()?;
        let fleet_exe = std::env::current_exe()
            .map_err(|e| CliError::failed(format!("cannot tell where the fleet binary is: {e}")))?;
        let max_bytes = std::env::var("FLEET_LOG_MAX_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_LOG_MAX_BYTES);
        Ok(Transcripts {
            fleet_exe,
            dir: home.root().join("logs").join(self.tmux.socket()),
            max_bytes,
        })
    }

    /// A state file of this socket under `$FLEET_HOME` (none without one).
    pub fn state_file(&self, name: &str) -> Option<std::path::PathBuf> {
        self.fleet_home
            .as_ref()
            .map(|h| h.root().join("state").join(self.tmux.socket()).join(name))
    }

    fn require_home(&self) -> Result<&FleetHome, CliError> {
        self.fleet_home.as_ref().ok_or_else(|| {
            CliError::user("cannot tell where to keep state: set HOME or FLEET_HOME")
        })
    }

    /// The fleet-wide lock for changing agents on this socket.
    pub fn lock(&self) -> Result<FleetLock, CliError> {
        let home = self.require_home()?;
        home.lock(self.tmux.socket()).map_err(|e| {
            CliError::failed(format!(
                "cannot take the fleet lock in {}: {e} (check FLEET_HOME is writable)",
                home.root().display()
            ))
        })
    }
}

/// Checks an agent name before anything touches tmux.
pub fn agent_name(name: &str) -> Result<AgentName, CliError> {
    AgentName::parse(name).map_err(|e| CliError::user(e.to_string()))
}

fn check_socket_name(socket: &str) -> Result<(), CliError> {
    let ok = !socket.is_empty()
        && socket.len() <= 100
        && socket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !socket.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(CliError::user(format!(
            "socket name {socket:?} is invalid: use letters, digits, '-', '_' and '.'"
        )))
    }
}

/// `--file`, else `fleet.toml` upward from `cwd`, else `$FLEET_FILE`.
fn find_fleet_file(flag: Option<&Path>, cwd: &Path) -> Result<Option<PathBuf>, CliError> {
    if let Some(path) = flag {
        if !path.is_file() {
            return Err(CliError::user(format!(
                "fleet file {} does not exist: check the path given to --file",
                path.display()
            )));
        }
        return Ok(Some(path.to_path_buf()));
    }
    for dir in cwd.ancestors() {
        let candidate = dir.join("fleet.toml");
        if candidate.is_file() {
            return Ok(Some(candidate));
        }
    }
    match std::env::var_os("FLEET_FILE").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            if path.is_file() {
                Ok(Some(path))
            } else {
                Err(CliError::user(format!(
                    "FLEET_FILE={} does not exist: fix or unset FLEET_FILE",
                    path.display()
                )))
            }
        }
        None => Ok(None),
    }
}
