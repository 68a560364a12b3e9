//! Launching: `up`, `start` and `restart` plan each agent against what is
//! observed, check every launch before any runs (bad input starts nothing),
//! launch in one batch through the host, and answer one typed outcome per
//! agent.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::core::checks;
use crate::core::desired::agent::{AgentName, AgentSpec};
use crate::core::desired::fleetfile::Fleet;
use crate::core::desired::start::{StartFlags, StartInputs, start_spec};
use crate::core::error::{Error, RemoteAct, Warning};
use crate::core::host::{Capture, HostError, HostFacts, LaunchResults, Probe};
use crate::core::observe::ObservedSession;
use crate::core::ops::{Core, Sessions};
use crate::core::reconcile::{self, Step};
use crate::core::signals::hooks;
use crate::core::signals::report::one_line;
use crate::core::store::home::{FleetLock, write_atomic};
use crate::core::store::private;
use crate::core::vocab::Status;

/// How often a launch is looked at during its grace.
const CONFIRM_EVERY: Duration = Duration::from_millis(100);

/// A grace shorter than this cannot tell the launch script from a
/// wrapper in front: the launch is `starting`, not `not confirmed`.
const SHORT_GRACE: Duration = Duration::from_millis(200);

/// How many of a dead runtime's last lines a report shows.
const LAST_WORDS: usize = 3;

/// What a launch is called when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Started,
    Restarted,
}

/// What happened to one agent that was to be up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchOutcome {
    /// Launched, and its runtime was in front and alive after the grace;
    /// `had_exited` is the status its runtime had died with before.
    Launched {
        verb: Verb,
        had_exited: Option<i32>,
    },
    /// Launched, and its runtime died within the grace: its status, and
    /// the last lines it left on its screen (they say why).
    Died {
        code: Option<i32>,
        grace: Duration,
        last_words: Vec<String>,
    },
    /// Launched, but after the grace something else is in front.
    NotConfirmed {
        in_front: String,
    },
    /// The host could not launch it (its own words).
    Failed {
        why: String,
    },
    AlreadyRunning,
    /// Already running, but its transcript writer had gone away: its
    /// output is written to its transcript again.
    Repiped,
    /// Launched a moment ago and still coming up.
    Starting,
    /// Alive with something else in front: reported, not touched.
    Drift {
        in_front: String,
    },
    /// A session fleet did not start holds the name: never touched.
    Conflict {
        socket: String,
    },
    /// It belongs on another host: left to that host.
    OnOtherHost {
        host: String,
    },
}

impl LaunchOutcome {
    /// Whether this outcome is what was asked for (else the exit is 1).
    pub fn ok(&self) -> bool {
        !matches!(
            self,
            LaunchOutcome::Failed { .. }
                | LaunchOutcome::Conflict { .. }
                | LaunchOutcome::Died { .. }
                | LaunchOutcome::NotConfirmed { .. }
        )
    }
}

/// One agent's outcome, for one line of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentOutcome<T> {
    pub name: AgentName,
    pub outcome: T,
}

impl Core {
    /// `fleet up`: starts every declared agent (or the named) that is not
    /// running and leaves healthy ones alone.
    pub fn up(&self, names: &[AgentName]) -> Result<Vec<AgentOutcome<LaunchOutcome>>, Error> {
        let fleet = self.require_fleet("up")?;
        if let Some(name) = names.iter().find(|n| !fleet.agents.contains_key(*n)) {
            return Err(Error::NotDeclared {
                name: name.clone(),
                file: fleet.path.clone().unwrap_or_else(|| "fleet.toml".into()),
            });
        }
        let lock = self.lock()?;
        let sessions = self.observe_writers()?;
        let now = self.clock().now();
        let mut elsewhere = Vec::new();
        let mut plans: Vec<(&AgentSpec, Step)> = Vec::new();
        for agent in fleet.agents.values() {
            let spec = &agent.spec;
            if !names.is_empty() && !names.contains(&spec.name) {
                continue;
            }
            match &spec.host {
                Some(host) => elsewhere.push(AgentOutcome {
                    name: spec.name.clone(),
                    outcome: LaunchOutcome::OnOtherHost { host: host.clone() },
                }),
                None => plans.push((
                    spec,
                    reconcile::plan_start(sessions.get(spec.name.as_str()), now),
                )),
            }
        }
        let mut outcomes = self.launch_plans(&fleet, &plans, &sessions, Verb::Started, &lock)?;
        outcomes.extend(elsewhere);
        outcomes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(outcomes)
    }

    /// `fleet start`: launches one agent as the flags, the fleet file, its
    /// last run and the seed's variables resolve it (`desired::start`).
    pub fn start(
        &self,
        name: &AgentName,
        flags: &StartFlags,
    ) -> Result<AgentOutcome<LaunchOutcome>, Error> {
        let fleet = self.fleet()?;
        let lock = self.lock()?;
        let sessions = self.observe_writers()?;
        let inputs = StartInputs {
            flags,
            declared: fleet.agents.get(name),
            last_run: sessions.get(name.as_str()).and_then(|s| s.meta.as_ref()),
            seed: &self.settings.seed,
            cwd: &self.settings.cwd,
        };
        let spec = start_spec(&fleet, name, &inputs)?;
        if let Some(host) = &spec.host {
            return Err(Error::OnOtherHost {
                name: name.clone(),
                host: host.clone(),
                act: RemoteAct::Start,
            });
        }
        let step = reconcile::plan_start(sessions.get(name.as_str()), self.clock().now());
        self.launch_one(&fleet, &spec, step, &sessions, Verb::Started, &lock)
    }

    /// `fleet restart`: relaunches an agent as the fleet file declares it
    /// now, else as it was last started, whatever state it is in.
    pub fn restart(&self, name: &AgentName) -> Result<AgentOutcome<LaunchOutcome>, Error> {
        let fleet = self.fleet()?;
        let lock = self.lock()?;
        let sessions = self.observe_and_record()?;
        let session = sessions.get(name.as_str());
        let spec = match (
            fleet.agents.get(name),
            session.and_then(|s| s.meta.as_ref()),
        ) {
            (Some(declared), _) => declared.spec.clone(),
            (None, Some(meta)) => meta.to_spec(name),
            (None, None) if session.is_some() => {
                return Err(Error::NotManagedRestart { name: name.clone() });
            }
            (None, None) => return Err(Error::NothingToRestart { name: name.clone() }),
        };
        if let Some(host) = &spec.host {
            return Err(Error::OnOtherHost {
                name: name.clone(),
                host: host.clone(),
                act: RemoteAct::Restart,
            });
        }
        let step = reconcile::plan_restart(session);
        self.launch_one(&fleet, &spec, step, &sessions, Verb::Restarted, &lock)
    }

    fn launch_one(
        &self,
        fleet: &Fleet,
        spec: &AgentSpec,
        step: Step,
        sessions: &Sessions,
        verb: Verb,
        lock: &FleetLock,
    ) -> Result<AgentOutcome<LaunchOutcome>, Error> {
        let mut outcomes = self.launch_plans(fleet, &[(spec, step)], sessions, verb, lock)?;
        outcomes
            .pop()
            .ok_or_else(|| Error::setup("nothing was planned"))
    }

    /// Launches every plan whose step launches, in one batch through the
    /// host, and answers for every plan.
    fn launch_plans(
        &self,
        fleet: &Fleet,
        plans: &[(&AgentSpec, Step)],
        sessions: &Sessions,
        verb: Verb,
        lock: &FleetLock,
    ) -> Result<Vec<AgentOutcome<LaunchOutcome>>, Error> {
        let launching: Vec<&(&AgentSpec, Step)> =
            plans.iter().filter(|(_, step)| step.launches()).collect();
        let mut results = LaunchResults::new();
        if !launching.is_empty() {
            let facts = self.host().facts(&Probe {
                runtime_prefix: true,
                dirs: launching.iter().map(|(s, _)| s.workdir.clone()).collect(),
                ..Probe::default()
            });
            check_launchable(fleet, plans, &facts)?;
            self.host().check_ready()?;
            let transcripts = self.transcripts()?;
            private::dir(self.require_home()?.root(), &transcripts.dir)?;
            let now_ms = u64::try_from(self.clock().now_ms()).unwrap_or(0);
            let pi_extension = launching
                .iter()
                .any(|(spec, _)| spec.runtime == "pi")
                .then(|| self.pi_extension())
                .flatten();
            let mut launches = Vec::new();
            for (spec, step) in &launching {
                // The writer would refuse it (a link, another's file): say
                // so now, not as a transcript that silently never fills.
                private::open(&transcripts.path(&spec.name), private::Access::Append)?;
                let writer = transcripts.writer_argv(&spec.name)?;
                let program = spec.argv.first().map(String::as_str).unwrap_or_default();
                let hook_args = match &self.settings.fleet_exe {
                    Some(exe) => {
                        hooks::launch_args(&spec.runtime, program, exe, pi_extension.as_deref())
                    }
                    None => Vec::new(),
                };
                let mut launch = reconcile::launch_for(
                    spec,
                    step,
                    &facts.runtime_prefix,
                    Some(writer),
                    self.host().socket(),
                    &hook_args,
                    now_ms,
                );
                if let Some(launch) = &mut launch {
                    launch.meta.by = self.settings.by.clone();
                }
                if let (Some(launch), Some(exe)) = (&mut launch, &self.settings.fleet_exe) {
                    // What the runtime's hooks run to report.
                    let exe = exe.to_string_lossy().into_owned();
                    launch.env.push(("FLEET_EXE".into(), exe));
                }
                launches.extend(launch);
            }
            // Another command may have taken a new lock file meanwhile.
            if !lock.is_current() {
                return Err(Error::LockLost);
            }
            results = self
                .host()
                .launch(&launches)
                .map_err(|e| in_fleet_file(e, fleet))?;
        }
        let launched: Vec<&AgentName> = results
            .iter()
            .filter(|(_, result)| result.is_ok())
            .map(|(name, _)| name)
            .collect();
        let after = if launched.is_empty() {
            Sessions::new()
        } else {
            self.confirm(&launched)?
        };
        let repiped = self.repipe(plans, sessions)?;
        let mut outcomes = Vec::new();
        for (spec, step) in plans {
            let mut outcome = self.outcome(spec, step, sessions, &results, verb);
            if let LaunchOutcome::Launched { .. } = outcome {
                outcome = self.confirmed(outcome, after.get(spec.name.as_str()))?;
            }
            if repiped.contains(&spec.name) {
                outcome = LaunchOutcome::Repiped;
            }
            outcomes.push(AgentOutcome {
                name: spec.name.clone(),
                outcome,
            });
        }
        Ok(outcomes)
    }

    /// The sessions, with each transcript pipe whose writer is gone said
    /// so (see `transcript::mark_gone_writers`).
    pub(super) fn observe_writers(&self) -> Result<Sessions, Error> {
        let mut sessions = self.observe_and_record()?;
        if let Ok(transcripts) = self.transcripts() {
            crate::core::transcript::mark_gone_writers(&mut sessions, &transcripts, |path| {
                self.host().writer_gone(path)
            });
        }
        Ok(sessions)
    }

    /// Pipes running agents whose transcript writer went away (killed,
    /// crashed: its lock is free, or tmux's `pane_pipe` says so) into a
    /// new one, in one call.
    /// Answers the agents whose transcripts are written again.
    fn repipe(
        &self,
        plans: &[(&AgentSpec, Step)],
        sessions: &Sessions,
    ) -> Result<Vec<AgentName>, Error> {
        let cut: Vec<(&AgentName, u32)> = plans
            .iter()
            .filter(|(_, step)| matches!(step, Step::AlreadyRunning))
            .filter_map(|(spec, _)| {
                let session = sessions.get(spec.name.as_str())?;
                (session.is_managed() && !session.pane.piped)
                    .then_some((&spec.name, session.pane.pane_id))
            })
            .collect();
        // The transcripts' directory is made again, or tightened, whenever
        // an agent runs: writers write into it as they find it.
        let running = plans
            .iter()
            .any(|(_, step)| matches!(step, Step::AlreadyRunning));
        if !running {
            return Ok(Vec::new());
        }
        let transcripts = self.transcripts()?;
        private::dir(self.require_home()?.root(), &transcripts.dir)?;
        if cut.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipes = Vec::new();
        let mut mended = Vec::new();
        for (name, pane_id) in &cut {
            // One refused transcript (a link planted there) is said, and
            // the others are mended.
            if let Err(e) = private::open(&transcripts.path(name), private::Access::Append) {
                self.warn(Warning::NotTranscribed {
                    name: name.to_string(),
                    error: e.to_string(),
                });
                continue;
            }
            pipes.push((*pane_id, transcripts.writer_argv(name)?));
            mended.push((*name).clone());
        }
        if !pipes.is_empty() {
            self.host().pipe(&pipes)?;
        }
        Ok(mended)
    }

    /// fleet's pi extension, written under `$FLEET_HOME` (private, and
    /// rewritten only when this fleet's copy differs). `None`, with a
    /// warning, when it cannot be written: pi then runs without it.
    fn pi_extension(&self) -> Option<PathBuf> {
        let path = self
            .settings
            .fleet_home
            .as_ref()?
            .join("runtimes")
            .join(hooks::PI_EXTENSION_FILE);
        let current = private::read(&path).is_ok_and(|b| b == hooks::PI_EXTENSION.as_bytes());
        if let Some(dir) = path.parent()
            && let Err(e) = private::parent_of(&path)
        {
            self.warn(Warning::NotSaved {
                path: dir.to_path_buf(),
                error: e.to_string(),
            });
            return None;
        }
        if !current && let Err(e) = write_atomic(&path, hooks::PI_EXTENSION.as_bytes()) {
            self.warn(Warning::NotSaved {
                path,
                error: e.to_string(),
            });
            return None;
        }
        Some(path)
    }

    /// Watches the launched agents for the start grace (one listing at a
    /// time for all of them), and records what it saw last. Stops early
    /// when every one of them has died.
    fn confirm(&self, launched: &[&AgentName]) -> Result<Sessions, Error> {
        let deadline = Instant::now() + self.start_grace();
        loop {
            let observed_ms = self.clock().now_ms();
            let sessions = self.observe()?;
            let all_dead = launched
                .iter()
                .all(|n| sessions.get(n.as_str()).is_some_and(|s| s.pane.dead));
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || all_dead {
                self.record(&sessions, observed_ms);
                return Ok(sessions);
            }
            std::thread::sleep(left.min(CONFIRM_EVERY));
        }
    }

    /// A launch is `started` only when its runtime is in front and alive
    /// after the grace.
    fn confirmed(
        &self,
        launched: LaunchOutcome,
        session: Option<&ObservedSession>,
    ) -> Result<LaunchOutcome, Error> {
        let grace = self.start_grace();
        let Some(session) = session else {
            return Ok(LaunchOutcome::Died {
                code: None,
                grace,
                last_words: vec!["its session is gone".into()],
            });
        };
        Ok(match session.status() {
            Status::Running => launched,
            // Still in the launch script, with a grace too short to tell
            // (the script takes milliseconds: after a longer grace, `sh`
            // in front is a wrapper, not the launch).
            _ if grace < SHORT_GRACE && session.is_launching(self.clock().now()) => {
                LaunchOutcome::Starting
            }
            Status::Exited => LaunchOutcome::Died {
                code: session.exit_code(),
                grace,
                last_words: self.last_words(session)?,
            },
            _ => LaunchOutcome::NotConfirmed {
                in_front: session.pane.current_command.clone(),
            },
        })
    }

    /// The last lines a dead pane shows, tmux's own note left out.
    fn last_words(&self, session: &ObservedSession) -> Result<Vec<String>, Error> {
        let what = Capture::Last(session.pane.height.max(1));
        let screen = self.host().capture(session.pane.pane_id, what, false)?;
        let lines: Vec<String> = screen
            .lines()
            .map(one_line)
            .filter(|l| !l.is_empty() && !l.starts_with("Pane is dead"))
            .collect();
        Ok(lines[lines.len().saturating_sub(LAST_WORDS)..].to_vec())
    }

    fn outcome(
        &self,
        spec: &AgentSpec,
        step: &Step,
        sessions: &Sessions,
        results: &LaunchResults,
        verb: Verb,
    ) -> LaunchOutcome {
        match step {
            Step::Create | Step::Respawn { .. } => match results.get(&spec.name) {
                Some(Ok(())) => LaunchOutcome::Launched {
                    verb,
                    had_exited: sessions.get(spec.name.as_str()).and_then(|s| s.exit_code()),
                },
                Some(Err(why)) => LaunchOutcome::Failed { why: why.clone() },
                None => LaunchOutcome::Failed {
                    why: "tmux did not run it".into(),
                },
            },
            Step::AlreadyRunning => LaunchOutcome::AlreadyRunning,
            Step::Starting => LaunchOutcome::Starting,
            Step::Drift { in_front } => LaunchOutcome::Drift {
                in_front: in_front.clone(),
            },
            Step::Conflict => LaunchOutcome::Conflict {
                socket: self.host().socket().to_string(),
            },
        }
    }
}

/// Points a launch refused for too long commands at the fleet file, when
/// it declares any of them: that is where to shorten them.
fn in_fleet_file(error: HostError, fleet: &Fleet) -> Error {
    match error {
        HostError::CommandsTooLong { agents, room } => {
            let declared = agents.iter().any(|(n, _)| fleet.agents.contains_key(n));
            Error::CommandsTooLong {
                agents,
                room,
                file: fleet.path.clone().filter(|_| declared),
            }
        }
        e => e.into(),
    }
}

/// Checks that every agent about to launch keeps the model policy and has
/// its workdir (`facts` say which workdirs the host has): all are
/// checked before any is launched, so bad input starts nothing.
pub fn check_launchable(
    fleet: &Fleet,
    plans: &[(&AgentSpec, Step)],
    facts: &HostFacts,
) -> Result<(), Error> {
    for (spec, _) in plans.iter().filter(|(_, step)| step.launches()) {
        let declared = fleet.agents.get(&spec.name);
        let location = |line: Option<usize>| match (&fleet.path, line) {
            (Some(path), Some(line)) => format!("{}:{line}: ", path.display()),
            _ => String::new(),
        };
        // Claude only inside Claude Code (or whatever the rules say): a
        // model in the wrong runtime can bill the wrong account.
        let policy = checks::policy_check(spec.name.as_str(), spec, &fleet.policy);
        if !policy.ok {
            return Err(Error::NotLaunchable {
                location: location(declared.and_then(|d| d.line)),
                name: spec.name.clone(),
                problem: policy.detail,
                fix: policy.fix.unwrap_or_default(),
            });
        }
        if !facts.dirs.contains(&spec.workdir) {
            let problem = if facts.not_dirs.contains(&spec.workdir) {
                "is not a directory"
            } else {
                "does not exist"
            };
            return Err(Error::NotLaunchable {
                location: location(declared.and_then(|d| d.workdir_line)),
                name: spec.name.clone(),
                problem: format!("workdir {} {problem}", spec.workdir.display()),
                fix: if declared.is_some() {
                    "create it or change workdir in the fleet file".into()
                } else {
                    "create it or pass --workdir".into()
                },
            });
        }
    }
    Ok(())
}
