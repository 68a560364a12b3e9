//! The operations every view calls: [`Core`] holds the settings, the host,
//! the clock and the event store, and each operation returns typed
//! outcomes for the view to render. Nothing here parses arguments or
//! prints; warnings are kept for the view to show ([`Core::take_warnings`]).

pub mod act;
pub mod hosts;
pub mod init;
pub mod launch;
pub mod look;
pub mod record;
pub mod signal;
pub mod stop;
pub mod verify;
pub mod wait;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::core::clock::Clock;
use crate::core::desired::agent::AgentName;
use crate::core::desired::fleetfile::{Fleet, Here};
use crate::core::error::{Error, Warning};
use crate::core::host::Host;
use crate::core::host::watch::{Polling, Watch};
use crate::core::observe::{self, ObservedSession};
use crate::core::settings::Settings;
use crate::core::store::events::{EventStore, StoreError};
use crate::core::store::home::{FleetHome, FleetLock, Holder, LockError};
use crate::core::transcript::Transcripts;

/// Every session on a host, by name.
pub type Sessions = BTreeMap<String, ObservedSession>;

/// Says a warning at once.
pub type Notice = dyn Fn(&Warning) + Send + Sync;

/// The fleet as the core sees it: one host for now, its store, its clock.
pub struct Core {
    pub settings: Settings,
    host: Arc<dyn Host>,
    clock: Arc<dyn Clock>,
    store: Mutex<Option<EventStore>>,
    /// The store was opened again (its file deleted or replaced) since
    /// last asked.
    store_reopened: Mutex<bool>,
    warnings: Mutex<Vec<Warning>>,
    /// Where warnings that cannot wait are said.
    notice: Option<Box<Notice>>,
    /// The state directory and this socket's state directory, once
    /// checked: a command checks them once, however often it asks.
    home: std::sync::OnceLock<FleetHome>,
    state_dir: std::sync::OnceLock<PathBuf>,
    /// A start grace other than the settings', in ms (`u64::MAX`: none).
    grace_ms: std::sync::atomic::AtomicU64,
    /// The fleet file as last read, and what its file was then (read again
    /// when that changed): a command asks for it several times.
    fleet_cache: Mutex<Option<(FileStamp, Arc<Fleet>)>>,
}

/// What a file was when read: path, size, change time, inode.
type FileStamp = (PathBuf, u64, Option<std::time::SystemTime>, u64);

fn stamp(path: &std::path::Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((
        path.to_path_buf(),
        meta.len(),
        meta.modified().ok(),
        meta.ino(),
    ))
}

impl Core {
    pub fn new(settings: Settings, host: Arc<dyn Host>, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            host,
            clock,
            store: Mutex::new(None),
            store_reopened: Mutex::new(false),
            warnings: Mutex::new(Vec::new()),
            notice: None,
            home: std::sync::OnceLock::new(),
            state_dir: std::sync::OnceLock::new(),
            grace_ms: std::sync::atomic::AtomicU64::new(u64::MAX),
            fleet_cache: Mutex::new(None),
        }
    }

    /// The host, to hand to another thread.
    pub fn shared_host(&self) -> Arc<dyn Host> {
        self.host.clone()
    }

    pub fn host(&self) -> &dyn Host {
        self.host.as_ref()
    }

    /// A long-lived watch of the host: one that hears of changes where the
    /// host can tell, else one that polls.
    pub fn watch(&self) -> Box<dyn Watch> {
        self.host
            .watch()
            .unwrap_or_else(|| Box::new(Polling::new(self.host.clone())))
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The fleet file's desired state, or built-ins only when there is none.
    pub fn fleet(&self) -> Result<Arc<Fleet>, Error> {
        if let Some(path) = &self.settings.sent {
            // Read again each time: the operator's host refreshes it.
            let sent = read_sent(path)?;
            let base = sent
                .file
                .path
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/"));
            return Ok(Arc::new(Fleet::parse(
                &sent.file.text,
                &sent.file.path,
                base,
                self.here(),
            )?));
        }
        match (&self.settings.file, &self.settings.file_text) {
            // Sent by the operator's host: read as it would be there, its
            // relative paths from the same directory.
            (Some(path), Some(text)) => {
                let base = path
                    .parent()
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("/"));
                Ok(Arc::new(Fleet::parse(text, path, base, self.here())?))
            }
            (Some(path), None) => {
                let now = stamp(path);
                if let Some((was, fleet)) = lock(&self.fleet_cache).as_ref()
                    && now.as_ref() == Some(was)
                {
                    return Ok(fleet.clone());
                }
                let fleet = Arc::new(Fleet::load(path, self.here())?);
                if let Some(now) = now {
                    *lock(&self.fleet_cache) = Some((now, fleet.clone()));
                }
                Ok(fleet)
            }
            (None, _) => Ok(Arc::new(Fleet::empty(
                self.settings.cwd.clone(),
                self.here(),
            ))),
        }
    }

    /// What the fleet file is read against: this host's home and name.
    fn here(&self) -> Here {
        Here {
            home: self.settings.home_dir.clone(),
            // Agents placed on this host by its name are local.
            host: self.host.name().to_string(),
            stub: self.settings.stub.clone(),
            control: self.settings.control_host.clone(),
        }
    }

    /// The fleet file's desired state for commands that look at, or end,
    /// what runs: a file that does not read is a warning, and they go on
    /// with the built-in runtimes and what the sessions say of themselves.
    pub fn fleet_or_running(&self) -> Arc<Fleet> {
        self.fleet().unwrap_or_else(|e| {
            self.warn(Warning::BrokenFleetFile {
                error: e.to_string(),
            });
            Arc::new(Fleet::empty(self.settings.cwd.clone(), self.here()))
        })
    }

    /// The start grace launches wait out: the settings', unless
    /// [`Core::with_grace`] says otherwise.
    pub fn start_grace(&self) -> std::time::Duration {
        match self.grace_ms.load(std::sync::atomic::Ordering::SeqCst) {
            u64::MAX => self.settings.start_grace,
            ms => std::time::Duration::from_millis(ms),
        }
    }

    /// Runs `f` with launches waiting out `grace` instead (the supervisor
    /// relaunches without waiting: its monitor sees a death anyway).
    pub fn with_grace<T>(&self, grace: std::time::Duration, f: impl FnOnce() -> T) -> T {
        use std::sync::atomic::Ordering;
        let ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX - 1);
        let before = self.grace_ms.swap(ms, Ordering::SeqCst);
        let out = f();
        self.grace_ms.store(before, Ordering::SeqCst);
        out
    }

    /// The fleet file's desired state; an error when there is no file.
    pub fn require_fleet(&self, command: &'static str) -> Result<Arc<Fleet>, Error> {
        if self.settings.file.is_none() {
            return Err(Error::NoFleetFile { command });
        }
        self.fleet()
    }

    /// Every session on the fleet's server, in one call to the host.
    pub fn observe(&self) -> Result<Sessions, Error> {
        Ok(observe::sessions(self.host.list_panes()?))
    }

    /// Observes every session and records what changed, in one go.
    pub fn observe_and_record(&self) -> Result<Sessions, Error> {
        let observed_ms = self.clock.now_ms();
        let sessions = self.observe()?;
        self.record(&sessions, observed_ms);
        Ok(sessions)
    }

    /// The session of a managed agent, or an error naming what to do.
    pub fn managed_session<'a>(
        &self,
        sessions: &'a Sessions,
        name: &AgentName,
    ) -> Result<&'a ObservedSession, Error> {
        match sessions.get(name.as_str()) {
            Some(s) if s.is_managed() => Ok(s),
            Some(_) => Err(Error::NotManaged {
                name: name.clone(),
                socket: self.host.socket().to_string(),
                killing: false,
            }),
            None => Err(Error::NoSession {
                name: name.clone(),
                transcript: false,
            }),
        }
    }

    /// Runs `f` on the event store, opened once per `Core`, and again
    /// when its file was deleted or replaced since (a long `watch` must not
    /// write into a file nobody reads, nor miss what others write).
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut EventStore) -> Result<T, StoreError>,
    ) -> Result<T, Error> {
        let mut slot = lock(&self.store);
        if slot.as_ref().is_some_and(|store| !store.is_current()) {
            *slot = None;
            *lock(&self.store_reopened) = true;
        }
        if slot.is_none() {
            let home = self.require_home()?;
            let mut store = EventStore::open(home.root(), self.host.socket(), self.host.name())?;
            if let Some(path) = store.take_moved_aside() {
                self.warn(Warning::StoreMovedAside { path });
            }
            store.set_wait(self.settings.store_wait)?;
            // Acts an earlier command could not record come first.
            if let Err(e) = store.write_pending() {
                self.warn(Warning::NotRecorded {
                    what: "kept acts".into(),
                    error: e.to_string(),
                });
            }
            *slot = Some(store);
        }
        match slot.as_mut() {
            Some(store) => Ok(f(store)?),
            None => Err(Error::NoStateDir),
        }
    }

    /// Whether the store was opened again on a new file since last asked:
    /// its event ids are not the old file's.
    pub fn take_store_reopened(&self) -> bool {
        std::mem::take(&mut *lock(&self.store_reopened))
    }

    /// Keeps a warning for the view to show.
    pub fn warn(&self, warning: Warning) {
        lock(&self.warnings).push(warning);
    }

    /// The warnings kept since last asked.
    /// Each once: one fault met by several steps is said once.
    pub fn take_warnings(&self) -> Vec<Warning> {
        let mut seen = std::collections::BTreeSet::new();
        std::mem::take(&mut *lock(&self.warnings))
            .into_iter()
            .filter(|w| seen.insert(w.to_string()))
            .collect()
    }

    /// Where this socket's transcripts live, and how big they may grow.
    pub fn transcripts(&self) -> Result<Transcripts, Error> {
        let home = self.require_home()?;
        Ok(Transcripts {
            fleet_exe: self.settings.fleet_exe.clone(),
            dir: home.root().join("logs").join(self.host.socket()),
            max_bytes: self.settings.log_max_bytes,
        })
    }

    /// A state file of this socket under `$FLEET_HOME`, its directory made
    /// private on the way (none without a home, or one that is refused:
    /// said as a warning, and the cache goes unused).
    pub fn state_file(&self, name: &str) -> Option<PathBuf> {
        if let Some(dir) = self.state_dir.get() {
            return Some(dir.join(name));
        }
        let home = self.require_home().ok()?;
        let dir = home.root().join("state").join(self.host.socket());
        if let Err(e) = crate::core::store::private::dir(home.root(), &dir) {
            self.warn(Warning::NotSaved {
                path: dir,
                error: e.to_string(),
            });
            return None;
        }
        Some(self.state_dir.get_or_init(|| dir).join(name))
    }

    pub(crate) fn require_home(&self) -> Result<FleetHome, Error> {
        if let Some(home) = self.home.get() {
            return Ok(home.clone());
        }
        let root = self.settings.fleet_home.clone().ok_or(Error::NoStateDir)?;
        let home = FleetHome::open(root)?;
        Ok(self.home.get_or_init(|| home).clone())
    }

    /// The fleet-wide lock for changing agents on this socket, waited for
    /// at most `settings.lock_wait`; who holds it is said at once when the
    /// wait takes more than a moment.
    pub fn lock(&self) -> Result<FleetLock, Error> {
        let home = self.require_home()?;
        let waiting = |holder: &Holder| {
            let warning = Warning::LockWait {
                holder: holder.clone(),
            };
            match &self.notice {
                Some(say) => say(&warning),
                None => self.warn(warning),
            }
        };
        home.lock(self.host.socket(), self.settings.lock_wait, waiting)
            .map_err(|e| match e {
                LockError::Refused(refused) => Error::Refused(refused),
                LockError::Io(source) => Error::Lock {
                    dir: home.root().to_path_buf(),
                    source,
                },
                LockError::TimedOut { holder, waited } => Error::LockTimeout { holder, waited },
            })
    }

    /// Says warnings at once through `say` (a view that shows progress),
    /// rather than keeping them.
    pub fn with_notice(mut self, say: impl Fn(&Warning) + Send + Sync + 'static) -> Self {
        self.notice = Some(Box::new(say));
        self
    }
}

/// The desired state the operator's host last sent (`FLEET_SENT`).
pub fn read_sent(path: &std::path::Path) -> Result<crate::core::host::remote::Sent, Error> {
    let bytes = crate::core::store::private::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::setup(format!(
            "{} does not read ({e}): run fleet up from the operator's host to send it again",
            path.display()
        ))
    })
}

/// A poisoned lock means another thread panicked mid-update; what it
/// guards (a store handle, a list of warnings) is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
