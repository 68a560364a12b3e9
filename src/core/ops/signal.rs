//! The state an agent reports of itself (`fleet report`, the runtimes'
//! hooks), and why fleet says what it says about an agent (`fleet
//! explain`).

use serde::Serialize;

use crate::core::clock::rfc3339;
use crate::core::desired::agent::AgentName;
use crate::core::error::Error;
use crate::core::host::HostError;
use crate::core::observe::ObservedSession;
use crate::core::ops::Core;
use crate::core::signals::report::{Reported, ReportedState};
use crate::core::signals::screens::{self, Patterns, ScreenCache};
use crate::core::signals::{self, Activity, Says, Signal, Source};
use crate::core::vocab::{ActivityKind, Status};

/// A signal as `explain` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub source: Source,
    /// RFC 3339, UTC.
    pub at: String,
    pub says: Says,
    pub evidence: String,
}

impl From<&Signal> for Evidence {
    fn from(s: &Signal) -> Self {
        Self {
            source: s.source,
            at: rfc3339(s.at),
            says: s.says,
            evidence: s.evidence.clone(),
        }
    }
}

/// Why an agent has its state. Its JSON form is `explain --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub name: String,
    pub host: String,
    pub status: Status,
    pub exit_code: Option<i32>,
    /// What the process table says: what is in front, how the pane died.
    pub status_evidence: String,
    pub activity: Option<ActivityKind>,
    pub idle_seconds: Option<u64>,
    /// The signal that decided the activity.
    pub decided_by: Option<Evidence>,
    /// Every signal there was, the deciding one among them.
    pub signals: Vec<Evidence>,
}

impl Core {
    /// `fleet report`: stores what an agent says of itself on its session,
    /// in one call to the host. From inside the agent's own pane the
    /// report is tied to the current launch.
    pub fn report(
        &self,
        name: &AgentName,
        state: ReportedState,
        source: Source,
        detail: &str,
    ) -> Result<(), Error> {
        let launch_ms = self
            .settings
            .reporter
            .as_ref()
            .filter(|(agent, _)| agent == name.as_str())
            .map(|(_, launch)| *launch);
        if let Some(launch) = launch_ms {
            // A late report of an earlier launch must not replace what the
            // current one said: it is dropped, not stored.
            let sessions = self.observe()?;
            let current = sessions
                .get(name.as_str())
                .and_then(|s| s.meta.as_ref())
                .map(|m| m.launched_ms);
            if current.is_some_and(|c| c != launch) {
                return Ok(());
            }
        }
        if source == Source::Report && launch_ms.is_none() {
            // Said by hand: about an agent that is there to say it of.
            self.reportable(name)?;
        }
        let report = Reported::new(state, source, self.clock().now_ms(), launch_ms, detail);
        self.store_report(name, &report)
    }

    /// A report by hand needs a running agent of fleet's: one that exited
    /// has nothing to say, and a name nobody knows is a typo.
    fn reportable(&self, name: &AgentName) -> Result<(), Error> {
        let sessions = self.observe()?;
        match sessions.get(name.as_str()) {
            Some(s) if !s.is_managed() => Err(Error::NotManaged {
                name: name.clone(),
                socket: self.host().socket().to_string(),
                killing: false,
            }),
            Some(s) if s.pane.dead => Err(Error::ExitedReport { name: name.clone() }),
            Some(_) => Ok(()),
            None if self.fleet_or_running().agents.contains_key(name) => Err(Error::NoSession {
                name: name.clone(),
                transcript: false,
            }),
            None => Err(Error::NoSuchAgent { name: name.clone() }),
        }
    }

    /// Stores a report on the agent's session.
    fn store_report(&self, name: &AgentName, report: &Reported) -> Result<(), Error> {
        match self.host().set_state(name.as_str(), &report.to_json()) {
            Ok(()) => Ok(()),
            Err(HostError::Failed { .. } | HostError::NoServer(_)) => Err(Error::NoSession {
                name: name.clone(),
                transcript: false,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// `fleet explain`: the agent's status and activity, the signal that
    /// decided, and what every other signal said.
    pub fn explain(&self, name: &AgentName) -> Result<Explanation, Error> {
        let fleet = self.fleet_or_running();
        let sessions = self.observe_and_record()?;
        let host = self.host().name().to_string();
        let Some(session) = sessions.get(name.as_str()) else {
            if !fleet.agents.contains_key(name) {
                return Err(Error::NoSuchAgent { name: name.clone() });
            }
            return Ok(Explanation {
                name: name.to_string(),
                host,
                status: Status::Missing,
                exit_code: None,
                status_evidence: "declared in the fleet file; no session".into(),
                activity: None,
                idle_seconds: None,
                decided_by: None,
                signals: Vec::new(),
            });
        };
        let now = self.clock().now();
        let running = session.status() == Status::Running && session.is_managed();
        let signals = if running {
            // A fresh read of the screen: explain says what is true now.
            let mut cache = ScreenCache::default();
            let mut patterns = Patterns::new(&fleet);
            let one = std::iter::once((name.to_string(), session.clone())).collect();
            let mut capture = |panes: &[(u32, usize)]| self.host().capture_screens(panes);
            screens::refresh(&mut cache, &mut capture, &mut patterns, &one, now)?;
            signals::signals_of(session, &cache, now)
        } else {
            Vec::new()
        };
        let decision = signals::decide(&signals, now, self.settings.idle_after);
        Ok(Explanation {
            name: name.to_string(),
            host,
            status: session.status(),
            exit_code: session.exit_code(),
            status_evidence: status_evidence(session),
            activity: decision.as_ref().map(|d| d.activity.kind()),
            idle_seconds: match decision.as_ref().map(|d| d.activity) {
                Some(Activity::Idle(secs)) => Some(secs),
                _ => None,
            },
            decided_by: decision.as_ref().map(|d| Evidence::from(&d.by)),
            signals: signals.iter().map(Evidence::from).collect(),
        })
    }
}

/// The process table's evidence for a status.
fn status_evidence(session: &ObservedSession) -> String {
    let in_front = &session.pane.current_command;
    match (session.status(), &session.meta) {
        (Status::Exited, _) => match session.exit_code() {
            Some(code) => format!("the pane's process exited with status {code}"),
            None => "the pane's process exited".into(),
        },
        (Status::Unmanaged, _) => format!("a session fleet did not start, running {in_front}"),
        (_, Some(meta)) => format!(
            "{in_front} is in front (the runtime counts as {})",
            meta.processes.join(" or ")
        ),
        (_, None) => format!("{in_front} is in front"),
    }
}
