//! Stopping: `stop` and `down` end the sessions of agents fleet started,
//! and never a session it did not.

use crate::core::desired::agent::AgentName;
use crate::core::desired::fleetfile::Fleet;
use crate::core::error::{Error, RemoteAct};
use crate::core::ops::Core;
use crate::core::ops::launch::AgentOutcome;
use crate::core::reconcile::{self, StopStep};

/// What happened to one agent that was to be down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped,
    NotRunning,
    /// A session fleet did not start holds the name: left alone.
    LeftAlone,
    /// It belongs on another host: left to that host.
    OnOtherHost {
        host: String,
    },
}

impl Core {
    /// Whether fleet knows the name: declared, or with a history (stopped
    /// a moment ago, say). A name it never saw is a typo.
    fn known(&self, fleet: &Fleet, name: &AgentName) -> bool {
        fleet.agents.contains_key(name)
            || self
                .with_store(|store| store.events(Some(name.as_str()), 0, 0))
                .map_or(true, |events| !events.is_empty())
    }

    /// `fleet stop`: ends one agent's session.
    pub fn stop(&self, name: &AgentName) -> Result<StopOutcome, Error> {
        let fleet = self.fleet_or_running();
        let _lock = self.lock()?;
        let sessions = self.observe_and_record()?;
        let session = sessions.get(name.as_str());
        let remote = fleet.agents.get(name).and_then(|a| a.spec.host.as_ref());
        if let (Some(host), None) = (remote, session) {
            return Err(Error::OnOtherHost {
                name: name.clone(),
                host: host.clone(),
                act: RemoteAct::Stop,
            });
        }
        match reconcile::plan_stop(session) {
            StopStep::Kill => {
                self.record_stops(&[name]);
                self.host().kill(&[name])?;
                Ok(StopOutcome::Stopped)
            }
            // Neither running nor declared: a name nobody knows.
            StopStep::NotRunning if session.is_none() && !self.known(&fleet, name) => {
                Err(Error::NoSuchAgent { name: name.clone() })
            }
            StopStep::NotRunning => Ok(StopOutcome::NotRunning),
            StopStep::Conflict => Err(Error::NotManaged {
                name: name.clone(),
                socket: self.host().socket().to_string(),
                killing: true,
            }),
        }
    }

    /// `fleet down`: ends every declared agent's session, or the named
    /// agents' (declared or not), in one call to the host.
    pub fn down(&self, names: &[AgentName]) -> Result<Vec<AgentOutcome<StopOutcome>>, Error> {
        let fleet = if names.is_empty() {
            self.require_fleet("down")?
        } else {
            self.fleet()?
        };
        let _lock = self.lock()?;
        let sessions = self.observe_and_record()?;
        let targets: Vec<AgentName> = if names.is_empty() {
            fleet.agents.keys().cloned().collect()
        } else {
            if let Some(name) = names.iter().find(|name| {
                let managed = sessions.get(name.as_str()).is_some_and(|s| s.is_managed());
                !fleet.agents.contains_key(*name) && !managed
            }) {
                return Err(Error::NoSuchAgent { name: name.clone() });
            }
            names.to_vec()
        };
        let mut kill = Vec::new();
        let mut outcomes = Vec::new();
        for name in &targets {
            let session = sessions.get(name.as_str());
            let remote = fleet.agents.get(name).and_then(|a| a.spec.host.as_ref());
            let outcome = match (remote, session) {
                (Some(host), None) => StopOutcome::OnOtherHost { host: host.clone() },
                _ => match reconcile::plan_stop(session) {
                    StopStep::Kill => {
                        kill.push(name);
                        continue;
                    }
                    StopStep::NotRunning => StopOutcome::NotRunning,
                    StopStep::Conflict => StopOutcome::LeftAlone,
                },
            };
            outcomes.push(AgentOutcome {
                name: name.clone(),
                outcome,
            });
        }
        self.record_stops(&kill);
        self.host().kill(&kill)?;
        outcomes.extend(kill.into_iter().map(|name| AgentOutcome {
            name: name.clone(),
            outcome: StopOutcome::Stopped,
        }));
        outcomes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(outcomes)
    }
}
