//! The words a person reads about an agent, and their colours, for every
//! view that shows rows: `fleet ps`'s table, `fleet status-line` and the
//! dashboard take them from here, so they cannot disagree.

use crate::cli::output::Color;
use crate::core::rows::{self, AgentRow};
use crate::core::vocab::{ActivityKind, Status};

/// One row as words: what each column of `fleet ps` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowWords {
    pub name: String,
    pub host: String,
    pub runtime: String,
    pub model: String,
    pub effort: String,
    /// `running`, `exited 127`, …
    pub status: String,
    pub status_color: Color,
    /// `working`, `idle 12m`, `waiting`; for an unreachable agent, why its
    /// host did not answer, in a word (`timeout`, `auth`).
    pub activity: String,
    pub activity_color: Option<Color>,
    pub uptime: String,
    pub restarts: String,
}

const DASH: &str = "-";

impl RowWords {
    pub fn of(r: &AgentRow) -> Self {
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| DASH.to_string());
        let status = match (r.status, r.exit_code) {
            (Status::Exited, Some(code)) => format!("exited {code}"),
            (s, _) => s.word().to_string(),
        };
        let activity = match (r.activity, r.idle_seconds) {
            _ if r.status == Status::Unreachable => r
                .reason
                .as_deref()
                .and_then(|why| why.split(':').next())
                .unwrap_or(DASH)
                .to_string(),
            (Some(ActivityKind::Idle), Some(secs)) => {
                format!("idle {}", rows::short_duration(secs))
            }
            (Some(word), _) => word.to_string(),
            (None, _) => DASH.to_string(),
        };
        Self {
            name: r.name.clone(),
            host: r.host.clone(),
            runtime: or_dash(&r.runtime),
            model: or_dash(&r.model),
            effort: or_dash(&r.effort),
            status,
            status_color: status_color(r.status),
            activity,
            activity_color: match r.activity {
                Some(ActivityKind::Waiting) => Some(Color::Yellow),
                Some(ActivityKind::Working) => Some(Color::Green),
                _ => None,
            },
            uptime: r
                .uptime_seconds
                .map(rows::short_duration)
                .unwrap_or_else(|| DASH.to_string()),
            restarts: r.restarts.to_string(),
        }
    }
}

fn status_color(status: Status) -> Color {
    match status {
        Status::Running => Color::Green,
        Status::Drift => Color::Yellow,
        Status::Exited | Status::Unreachable | Status::Crashloop => Color::Red,
        Status::Missing => Color::Dim,
        Status::Unmanaged => Color::Magenta,
    }
}

/// Whether the agent waits for a human: it runs, and says it needs one.
pub fn waits(r: &AgentRow) -> bool {
    r.status == Status::Running && r.activity == Some(ActivityKind::Waiting)
}

/// Whether it is busy: it runs, and works.
pub fn works(r: &AgentRow) -> bool {
    r.status == Status::Running && r.activity == Some(ActivityKind::Working)
}
