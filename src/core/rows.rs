//! One row per agent: the desired state joined with the observed one. This is
//! what `fleet ps` prints and what `ps --json` promises to scripts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::clock::rfc3339;

use crate::core::signals::{Activity, Decision};
use crate::core::vocab::ActivityKind;

use crate::core::desired::fleetfile::Fleet;
use crate::core::observe::{ObservedSession, Status};

/// An agent as `fleet ps` reports it. The JSON field names are a stable
/// interface: add fields, never rename them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRow {
    pub name: String,
    pub host: String,
    pub runtime: Option<String>,
    pub model: Option<String>,
    pub effort: Option<String>,
    pub status: Status,
    pub exit_code: Option<i32>,
    /// `working`, `idle` or `waiting` for a running agent, else null.
    pub activity: Option<ActivityKind>,
    /// For an idle agent: seconds since its screen last changed.
    pub idle_seconds: Option<u64>,
    pub pane_command: Option<String>,
    /// RFC 3339, UTC, of the latest launch.
    pub started_at: Option<String>,
    pub uptime_seconds: Option<u64>,
    pub restarts: u32,
    /// Whether the fleet file declares this agent.
    pub declared: bool,
    pub workdir: Option<String>,
    /// Why an `unreachable` agent's host did not answer.
    #[serde(default)]
    pub reason: Option<String>,
}

impl AgentRow {
    /// An agent with no session: nothing is known of it but its name.
    pub fn missing(name: &str, host: &str) -> Self {
        Self {
            name: name.to_string(),
            host: host.to_string(),
            runtime: None,
            model: None,
            effort: None,
            status: Status::Missing,
            exit_code: None,
            activity: None,
            idle_seconds: None,
            pane_command: None,
            started_at: None,
            uptime_seconds: None,
            restarts: 0,
            declared: false,
            workdir: None,
            reason: None,
        }
    }
}

/// What `ps` knows besides tmux's answer: each running agent's activity,
/// decided from its signals.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub activity: BTreeMap<String, Decision>,
}

/// Joins the declared agents of this host with the sessions on the socket:
/// declared first (missing when absent), then ad-hoc and unmanaged sessions.
pub fn rows(
    fleet: Option<&Fleet>,
    sessions: &BTreeMap<String, ObservedSession>,
    extras: &Extras,
    host: &str,
    now: u64,
) -> Vec<AgentRow> {
    let mut out = Vec::new();
    let declared = fleet
        .map(|f| f.local_agents().collect::<Vec<_>>())
        .unwrap_or_default();
    for agent in &declared {
        let spec = &agent.spec;
        match sessions.get(spec.name.as_str()) {
            Some(session) => {
                let mut row = session_row(session, extras, host, now);
                row.declared = true;
                if !session.is_managed() {
                    row.runtime = Some(spec.runtime.clone());
                }
                out.push(row);
            }
            None => out.push(AgentRow {
                runtime: Some(spec.runtime.clone()),
                model: spec.model.clone(),
                effort: spec.effort.clone(),
                declared: true,
                workdir: Some(spec.workdir.to_string_lossy().into_owned()),
                ..AgentRow::missing(spec.name.as_str(), host)
            }),
        }
    }
    for (name, session) in sessions {
        if declared.iter().any(|a| a.spec.name.as_str() == name) {
            continue;
        }
        out.push(session_row(session, extras, host, now));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn session_row(session: &ObservedSession, extras: &Extras, host: &str, now: u64) -> AgentRow {
    let status = session.status();
    let meta = session.meta.as_ref();
    let started = meta.map(|m| m.started_at).or(session.pane.session_created);
    let alive =
        matches!(status, Status::Running | Status::Drift | Status::Unmanaged) && !session.pane.dead;
    AgentRow {
        name: session.name.clone(),
        host: host.to_string(),
        runtime: meta.map(|m| m.runtime.clone()),
        model: meta.and_then(|m| m.model.clone()),
        effort: meta.and_then(|m| m.effort.clone()),
        status,
        exit_code: session.exit_code(),
        activity: extras
            .activity
            .get(&session.name)
            .map(|d| d.activity.kind()),
        idle_seconds: match extras.activity.get(&session.name).map(|d| d.activity) {
            Some(Activity::Idle(secs)) => Some(secs),
            _ => None,
        },
        pane_command: Some(session.pane.current_command.clone()),
        started_at: started.map(rfc3339),
        uptime_seconds: started.filter(|_| alive).map(|s| now.saturating_sub(s)),
        // The session's own count of relaunches since it was created, the
        // same count the event store's `restarted` events make.
        restarts: meta.map(|m| m.restarts).unwrap_or(0),
        declared: false,
        workdir: meta.map(|m| m.workdir.to_string_lossy().into_owned()),
        reason: None,
    }
}

/// `42s`, `5m`, `3h12m`, `2d4h`: short enough for a table column.
pub fn short_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86400, secs % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(5), "5s");
        assert_eq!(short_duration(300), "5m");
        assert_eq!(short_duration(3600 * 3 + 60 * 12), "3h12m");
        assert_eq!(short_duration(86400 * 2 + 3600 * 4), "2d4h");
    }
}
