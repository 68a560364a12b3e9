//! The supervisor: the monitor plus restart policies. It brings the
//! declared fleet up, then keeps it as declared.
//!
//! Theory of operation. Each round is one look of the [`Monitor`] (the same
//! one `fleet watch` prints). From the sessions it learns which agents run
//! and when each was launched; from the events it learns which went down
//! and how: `exited` (with the status), `vanished` (the tmux server killed,
//! a reboot) or `stopped` (an operator: never undone here). Each agent's
//! [`policy::Record`] answers what to do: leave it, relaunch it at some
//! time (backoff with jitter), or give up (`crashloop`, marked on its
//! session so `ps` says so, and recorded). Relaunches that are due go out
//! together: declared agents through `up` (one launch batch, the start
//! grace waited out once), undeclared ones through `restart`.
//!
//! One supervisor per socket: it holds `locks/SOCKET.supervisor.lock` for
//! its life, and a second one is refused with the holder named.

pub mod notify;
pub mod policy;

use std::collections::{BTreeMap, BTreeSet};

use crate::core::clock::rfc3339_ms;
use crate::core::desired::agent::{AgentName, RestartPolicy};
use crate::core::error::Error;
use crate::core::monitor::{Monitor, Tick};
use crate::core::ops::Core;
use crate::core::ops::launch::{AgentOutcome, LaunchOutcome};
use crate::core::store::events::Event;
use crate::core::store::home::{FleetLock, LockError};
use crate::core::vocab::{EventKind, Status};
use notify::Notifier;
use policy::{Down, Limits, Record, Verdict};

/// What the supervisor did in a round, for the view to say.
#[derive(Debug)]
pub enum Act {
    /// An agent went down and will be relaunched at `at_ms`.
    Relaunching {
        name: String,
        attempt: usize,
        at_ms: i64,
    },
    /// An agent kept dying: left down until an operator relaunches it.
    GaveUp { name: String, starts: usize },
    /// A relaunch, as `up`/`restart` reported it.
    Relaunched(AgentOutcome<LaunchOutcome>),
    /// A relaunch that could not be tried (the fleet file broke, tmux
    /// refused): it is tried again later.
    Failed { names: Vec<String>, why: String },
    /// The fleet file changed: agents it now declares were started; agents
    /// it no longer declares were left running.
    Reloaded {
        started: Vec<AgentOutcome<LaunchOutcome>>,
        undeclared: Vec<String>,
    },
    /// The fleet file changed and does not read: nothing is stopped.
    Broken { why: String },
    /// A `[notify]` run failed or hung (and was killed).
    NotifyFailed { why: String },
}

/// One round: what the monitor saw, and what the supervisor did.
#[derive(Debug)]
pub struct Round {
    pub tick: Tick,
    pub acts: Vec<Act>,
}

/// The monitor, kept with restart policies.
pub struct Supervisor {
    monitor: Monitor,
    limits: Limits,
    records: BTreeMap<String, Record>,
    /// Each agent's policy and launch, as its session last said.
    known: BTreeMap<String, (RestartPolicy, u64)>,
    /// Relaunches waiting for their time, by agent.
    due: BTreeMap<String, i64>,
    /// The fleet file as last read: when it changed, and what it declared.
    file_stamp: Option<std::time::SystemTime>,
    declared: BTreeSet<AgentName>,
    /// Agents the supervisor itself relaunched, until it sees the launch.
    relaunched: BTreeSet<String>,
    notifier: Option<Notifier>,
    _lock: FleetLock,
}

impl Supervisor {
    /// Takes the supervisor lock of the socket (refused while another
    /// supervisor holds it) and starts looking.
    pub fn new(core: &Core, limits: Limits) -> Result<Self, Error> {
        let home = core.require_home()?;
        let lock = home
            .lock(
                &format!("{}.supervisor", core.host().socket()),
                std::time::Duration::ZERO,
                |_| {},
            )
            .map_err(|e| match e {
                LockError::TimedOut { holder, .. } => Error::setup(format!(
                    "another supervisor already keeps the fleet on socket \"{}\" ({holder}): stop it first, or leave it be",
                    core.host().socket()
                )),
                LockError::Refused(refused) => Error::Refused(refused),
                LockError::Io(source) => Error::Lock {
                    dir: home.root().to_path_buf(),
                    source,
                },
            })?;
        // The lock is per state directory; the claim on the tmux server
        // catches a supervisor of the same socket with another FLEET_HOME.
        if let Some(pid) = core.host().supervisor_claim()
            && pid != std::process::id()
            && is_supervisor(pid)
        {
            return Err(Error::setup(format!(
                "another supervisor already keeps the fleet on socket \"{}\" (pid {pid}, with another FLEET_HOME): stop it first, or leave it be",
                core.host().socket()
            )));
        }
        Ok(Self {
            monitor: Monitor::new(core)?,
            limits,
            records: BTreeMap::new(),
            known: BTreeMap::new(),
            due: BTreeMap::new(),
            file_stamp: file_stamp(core),
            declared: core
                .fleet()
                .map(|f| f.agents.keys().cloned().collect())
                .unwrap_or_default(),
            relaunched: BTreeSet::new(),
            notifier: core
                .fleet()
                .ok()
                .and_then(|f| f.notify.clone())
                .map(Notifier::new),
            _lock: lock,
        })
    }

    /// Brings the declared fleet up, as a supervisor may: an agent with no
    /// session comes up unless an operator stopped it last; one that exited
    /// comes back only as its restart policy says; one in a crash loop, or
    /// running, is left as it is.
    pub fn start(&mut self, core: &Core) -> Result<Vec<AgentOutcome<LaunchOutcome>>, Error> {
        let outcomes = self.bring_up(core);
        // Claimed once a server is sure to exist (the first launch made it).
        core.host().claim_supervisor(std::process::id());
        outcomes
    }

    fn bring_up(&mut self, core: &Core) -> Result<Vec<AgentOutcome<LaunchOutcome>>, Error> {
        let fleet = core.require_fleet("supervise")?;
        let sessions = core.observe()?;
        let mut names = Vec::new();
        for (name, agent) in fleet.local_agents().map(|a| (&a.spec.name, a)) {
            let wanted = match sessions.get(name.as_str()) {
                None => !self.stopped_last(core, name),
                Some(s) if s.status() == Status::Exited => {
                    let how = Down::Exited(s.exit_code());
                    // The first look decides as a death would.
                    let mut record = Record::default();
                    matches!(
                        record.down(how, agent.spec.restart, 0, 0, &self.limits),
                        Verdict::RelaunchAt { .. }
                    )
                }
                Some(_) => false,
            };
            if wanted {
                names.push(name.clone());
            }
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        core.up(&names)
    }

    /// Whether the last word of an agent's history is an operator's stop.
    fn stopped_last(&self, core: &Core, name: &AgentName) -> bool {
        core.with_store(|store| store.events(Some(name.as_str()), 0, 0))
            .ok()
            .and_then(|events| {
                events
                    .into_iter()
                    .rev()
                    .find(|e| e.event.is_lifecycle())
                    .map(|e| e.event == EventKind::Stopped)
            })
            .unwrap_or(false)
    }

    /// One round: a look, what went down, relaunches that are due.
    pub fn round(&mut self, core: &Core) -> Result<Round, Error> {
        let tick = self.monitor.tick(core)?;
        let now = core.clock().now_ms();
        let mut acts = Vec::new();
        self.learn(&tick, now);
        // The first look is the present: an agent dead in it (one that died
        // within the start grace of the first `up`) went down too.
        let news = tick
            .events
            .iter()
            .filter(|e| !e.snapshot || e.event == EventKind::Exited);
        for event in news {
            if let Some(act) = self.went_down(core, event, now) {
                acts.push(act);
            }
        }
        acts.extend(self.relaunch_due(core, now));
        acts.extend(self.reload(core));
        self.notify(core, &tick, &acts, now);
        if let Some(notifier) = &self.notifier {
            acts.extend(
                notifier
                    .failures()
                    .into_iter()
                    .map(|why| Act::NotifyFailed { why }),
            );
        }
        Ok(Round { tick, acts })
    }

    /// Tells the notify command of this round's transitions.
    fn notify(&mut self, core: &Core, tick: &Tick, acts: &[Act], now: i64) {
        let Some(notifier) = &mut self.notifier else {
            return;
        };
        for event in tick.events.iter().filter(|e| !e.snapshot) {
            notifier.tell(event);
        }
        for act in acts {
            if let Act::GaveUp { name, starts } = act {
                notifier.tell(&Event {
                    id: 0,
                    time: rfc3339_ms(now),
                    at_ms: now,
                    host: core.host().name().to_string(),
                    agent: name.clone(),
                    event: EventKind::Crashloop,
                    exit_code: None,
                    detail: format!("{starts} launches, each died: left down"),
                    snapshot: false,
                });
            }
        }
    }

    /// When the fleet file changed: start what it now declares, leave what
    /// it no longer declares running (an operator ends that), and never
    /// stop anything because the file broke.
    fn reload(&mut self, core: &Core) -> Option<Act> {
        let stamp = file_stamp(core);
        if stamp == self.file_stamp {
            return None;
        }
        self.file_stamp = stamp;
        let fleet = match core.fleet() {
            Ok(fleet) => fleet,
            Err(e) => return Some(Act::Broken { why: e.to_string() }),
        };
        let now: BTreeSet<AgentName> = fleet.agents.keys().cloned().collect();
        let added: Vec<AgentName> = now.difference(&self.declared).cloned().collect();
        let undeclared = self
            .declared
            .difference(&now)
            .map(ToString::to_string)
            .collect();
        self.declared = now;
        self.notifier = fleet.notify.clone().map(Notifier::new);
        let started = if added.is_empty() {
            Vec::new()
        } else {
            match core.up(&added) {
                Ok(outcomes) => outcomes,
                Err(e) => return Some(Act::Broken { why: e.to_string() }),
            }
        };
        Some(Act::Reloaded {
            started,
            undeclared,
        })
    }

    /// Reads the fleet file again at the next round, changed or not
    /// (SIGHUP).
    pub fn reload_soon(&mut self) {
        self.file_stamp = None;
    }

    /// Sleeps until the next look is worth taking, or a relaunch is due.
    pub fn wait(&mut self, core: &Core) {
        let next = self.due.values().min().copied();
        self.monitor.wait_until(core, next);
    }

    /// What the sessions say: policies, launches, who runs.
    fn learn(&mut self, tick: &Tick, now: i64) {
        for (name, session) in &tick.sessions {
            let Some(meta) = &session.meta else { continue };
            let record = self.records.entry(name.clone()).or_default();
            let launch = meta.launched_ms;
            let before = self.known.insert(name.clone(), (meta.restart, launch));
            if before.is_some_and(|(_, was)| was != launch) {
                if !self.relaunched.remove(name) {
                    // Launched by someone else (`fleet restart`, `up`): a
                    // fresh start, crash loop and streak forgotten.
                    *record = Record::default();
                }
                record.launched(i64::try_from(launch).unwrap_or(now));
            }
            if matches!(session.status(), Status::Running | Status::Drift) {
                record.running(now, &self.limits);
            }
        }
    }

    /// An event that may mean an agent went down.
    fn went_down(&mut self, core: &Core, event: &Event, now: i64) -> Option<Act> {
        let how = match event.event {
            EventKind::Exited => Down::Exited(event.exit_code),
            EventKind::Vanished => Down::Vanished,
            EventKind::Stopped => Down::Stopped,
            _ => return None,
        };
        let name = event.agent.clone();
        if how == Down::Stopped {
            self.due.remove(&name);
        }
        let (policy, _) = *self.known.get(&name)?;
        let jitter = policy::jitter(&name, now, &self.limits);
        let record = self.records.entry(name.clone()).or_default();
        match record.down(how, policy, now, jitter, &self.limits) {
            Verdict::Leave => None,
            Verdict::RelaunchAt { at_ms, attempt } => {
                self.due.insert(name.clone(), at_ms);
                Some(Act::Relaunching {
                    name,
                    attempt,
                    at_ms,
                })
            }
            Verdict::Crashloop { starts } => {
                self.due.remove(&name);
                // Where `ps` sees it (a session that is gone has no mark).
                let _ = core.host().mark_crashloop(&name);
                if let Ok(agent) = AgentName::parse(&name) {
                    core.record_act(
                        &agent,
                        EventKind::Crashloop,
                        &format!(
                            "{starts} launches within {} s; fleet restart {name} when it is fixed",
                            self.limits.loop_window_ms / 1000
                        ),
                    );
                }
                Some(Act::GaveUp { name, starts })
            }
        }
    }

    /// Relaunches every agent whose time has come, together.
    fn relaunch_due(&mut self, core: &Core, now: i64) -> Vec<Act> {
        let ready: Vec<String> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            return Vec::new();
        }
        let declared = match core.fleet() {
            Ok(fleet) => fleet,
            Err(e) => {
                // Nothing is stopped for a broken file; tried again later.
                for name in &ready {
                    self.due
                        .insert(name.clone(), now + self.limits.first_delay_ms);
                }
                return vec![Act::Failed {
                    names: ready,
                    why: e.to_string(),
                }];
            }
        };
        let mut in_file = Vec::new();
        let mut others = Vec::new();
        for name in &ready {
            self.due.remove(name);
            match AgentName::parse(name) {
                Ok(agent) if declared.agents.contains_key(&agent) => in_file.push(agent),
                Ok(agent) => others.push(agent),
                Err(_) => {}
            }
        }
        self.relaunched.extend(ready.iter().cloned());
        // No start grace: the monitor hears of a death anyway, and the
        // next relaunch must not wait behind this one.
        let quick = std::time::Duration::ZERO;
        let mut acts = Vec::new();
        if !in_file.is_empty() {
            match core.with_grace(quick, || core.up(&in_file)) {
                Ok(outcomes) => acts.extend(outcomes.into_iter().map(Act::Relaunched)),
                Err(e) => acts.push(Act::Failed {
                    names: in_file.iter().map(|n| n.to_string()).collect(),
                    why: e.to_string(),
                }),
            }
        }
        for agent in others {
            match core.with_grace(quick, || core.restart(&agent)) {
                Ok(outcome) => acts.push(Act::Relaunched(outcome)),
                Err(e) => acts.push(Act::Failed {
                    names: vec![agent.to_string()],
                    why: e.to_string(),
                }),
            }
        }
        // A server made again (after kill-server) carries the claim again.
        core.host().claim_supervisor(std::process::id());
        acts
    }
}

/// When the fleet file was last changed, if there is one to read.
fn file_stamp(core: &Core) -> Option<std::time::SystemTime> {
    let path = core
        .settings
        .sent
        .as_ref()
        .or(core.settings.file.as_ref())?;
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether `pid` is a running `fleet supervise`.
fn is_supervisor(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| raw.split(|b| *b == 0).any(|arg| arg == b"supervise"))
        .unwrap_or(false)
}
