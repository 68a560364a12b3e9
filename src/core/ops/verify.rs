//! `fleet verify`: durability, policy and health checks of each agent and
//! of the host, each failure with its fix. The checks are pure
//! (`core::checks`); this gathers what they look at, from the host, in as
//! few calls as it can.

use crate::core::checks::{self, AgentFacts, Check};
use crate::core::desired::agent::AgentName;
use crate::core::desired::fleetfile::Fleet;
use crate::core::error::Error;
use crate::core::host::Probe;
use crate::core::ops::{Core, Sessions};

impl Core {
    /// Checks the named agents, or every agent (declared or running) and
    /// the host's boot survival when none is named.
    pub fn verify(&self, names: &[AgentName]) -> Result<Vec<Check>, Error> {
        let fleet = self.fleet()?;
        let sessions = self.observe_writers()?;
        let targets = targets(&fleet, &sessions, names)?;

        // What runs is checked as it runs; what does not, as it would be
        // launched now (with the prefix a launch now would give).
        let agents: Vec<_> = targets
            .iter()
            .filter_map(|name| {
                let session = sessions.get(name.as_str());
                let meta = session.and_then(|s| s.meta.as_ref());
                let declared = fleet.agents.get(name);
                let spec = match (meta, declared) {
                    (Some(meta), _) => meta.to_spec(name),
                    (None, Some(d)) => d.spec.clone(),
                    (None, None) => return None,
                };
                Some((
                    name,
                    session,
                    declared.is_some(),
                    spec,
                    meta.map(|m| m.path_prefix.clone()),
                ))
            })
            .collect();
        let live: Vec<u32> = agents
            .iter()
            .filter_map(|(_, s, ..)| *s)
            .filter(|s| s.is_managed())
            .map(|s| s.pane.pane_id)
            .collect();
        let exports = self.host().exports_path(&live)?;
        let base_path = match self.host().server_path()? {
            Some(p) => p,
            None => self.settings.path.clone().unwrap_or_default(),
        };
        let first = self.host().facts(&Probe {
            runtime_prefix: agents.iter().any(|(.., prefix)| prefix.is_none()),
            boot: names.is_empty(),
            ..Probe::default()
        });
        let prefix_of = |prefix: &Option<String>| {
            prefix
                .clone()
                .unwrap_or_else(|| first.runtime_prefix.clone())
        };
        let mut probe = Probe::default();
        for (_, _, _, spec, prefix) in &agents {
            let program = spec.argv.first().map(String::as_str).unwrap_or_default();
            probe
                .files
                .extend(checks::candidates(program, &prefix_of(prefix), &base_path));
            probe.dirs.push(spec.workdir.clone());
        }
        let found = self.host().facts(&probe);
        let activity = self.activities(&fleet, &sessions)?;

        let mut results = Vec::new();
        for (name, session, declared, spec, prefix) in &agents {
            let facts = AgentFacts {
                name: name.as_str(),
                spec,
                declared: *declared,
                session: *session,
                exports_path: session.and_then(|s| exports.get(&s.pane.pane_id).copied()),
                path_prefix: &prefix_of(prefix),
                base_path: &base_path,
                workdir_exists: found.dirs.contains(&spec.workdir),
                policy: &fleet.policy,
                activity: activity.get(name.as_str()),
            };
            results.extend(checks::agent_checks(&facts, |p| {
                found.executables.contains(p)
            }));
        }
        if let Some(boot) = &first.boot {
            results.extend(checks::host_checks(boot));
        }
        Ok(results)
    }
}

/// The named agents (each must be declared or running), else every agent
/// declared here or running under fleet.
fn targets(
    fleet: &Fleet,
    sessions: &Sessions,
    names: &[AgentName],
) -> Result<Vec<AgentName>, Error> {
    if names.is_empty() {
        let mut all: Vec<AgentName> = fleet.local_agents().map(|a| a.spec.name.clone()).collect();
        for (name, s) in sessions {
            if s.is_managed()
                && let Ok(n) = AgentName::parse(name)
                && !all.contains(&n)
            {
                all.push(n);
            }
        }
        all.sort();
        Ok(all)
    } else {
        if let Some(name) = names
            .iter()
            .find(|n| !fleet.agents.contains_key(*n) && !sessions.contains_key(n.as_str()))
        {
            return Err(Error::NoSuchAgent { name: name.clone() });
        }
        Ok(names.to_vec())
    }
}
