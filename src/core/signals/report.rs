//! Reported state: what a runtime (through its hooks or an extension) or a
//! wrapper script says of itself. It is stored on the agent's session as
//! the `@fleet-state` user option, so the one listing `ps` already makes
//! carries it.
//!
//! A report belongs to one launch: the pane's environment carries
//! `FLEET_LAUNCH_MS`, the reporter passes it on, and a report from an
//! earlier launch (a hook of the old process, late) is not evidence about
//! the new one. A report made from outside any pane (an operator's
//! `fleet report`) names no launch and counts for the current one.

use serde::{Deserialize, Serialize};

use crate::core::desired::agent::SessionMeta;
use crate::core::signals::{Says, Signal, Source};

/// How far in the future a report may be dated (clocks differ a little).
const FUTURE_SLACK_MS: i64 = 60_000;

/// The longest detail kept: a report is a line, not a transcript.
pub const MAX_DETAIL: usize = 500;

/// A state an agent can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportedState {
    Working,
    Idle,
    Waiting,
}

impl ReportedState {
    pub fn says(self) -> Says {
        match self {
            ReportedState::Working => Says::Working,
            ReportedState::Idle => Says::Idle,
            ReportedState::Waiting => Says::Waiting,
        }
    }
}

/// One report, as stored on the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    pub state: ReportedState,
    /// Who reported: a runtime's hook, its extension, or `fleet report`.
    pub source: Source,
    /// Unix milliseconds of the report.
    pub at_ms: i64,
    /// The launch it is about (the pane's `FLEET_LAUNCH_MS`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_ms: Option<u64>,
    /// What the runtime said: its event's name, the line that says why.
    #[serde(default)]
    pub detail: String,
}

impl Reported {
    /// A report, its detail cut to one printable line.
    pub fn new(
        state: ReportedState,
        source: Source,
        at_ms: i64,
        launch_ms: Option<u64>,
        detail: &str,
    ) -> Self {
        Self {
            state,
            source,
            at_ms,
            launch_ms,
            detail: one_line(detail),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The report stored on a session, if it is one, is about the
    /// session's current launch, and is not dated in the future (`now_ms`,
    /// with a minute's slack for clocks): a report from the future would
    /// hold forever.
    pub fn current(raw: Option<&str>, meta: Option<&SessionMeta>, now_ms: i64) -> Option<Self> {
        let mut report: Self = serde_json::from_str(raw?).ok()?;
        // Anyone with the pane's tmux can set the option: its detail is
        // made one printable line again, whatever it holds.
        report.detail = one_line(&report.detail);
        if report.at_ms > now_ms.saturating_add(FUTURE_SLACK_MS) || report.at_ms < 0 {
            return None;
        }
        let launch = meta.map(|m| m.launched_ms);
        match (report.launch_ms, launch) {
            (Some(of), Some(current)) if of != current => None,
            _ => Some(report),
        }
    }

    pub fn signal(&self) -> Signal {
        Signal {
            source: self.source,
            at: u64::try_from(self.at_ms / 1000).unwrap_or(0),
            says: self.state.says(),
            evidence: self.detail.clone(),
        }
    }
}

/// Control characters (escape sequences among them) become spaces, runs of
/// space become one, and the line is cut at [`MAX_DETAIL`] characters.
pub fn one_line(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if out.chars().count() == MAX_DETAIL {
            break;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::agent::{AgentName, AgentSpec, RestartPolicy};

    fn meta(launched_ms: u64) -> SessionMeta {
        let spec = AgentSpec {
            name: AgentName::parse("a").unwrap_or_else(|e| panic!("{e}")),
            runtime: "claude".into(),
            model: None,
            effort: None,
            argv: vec!["claude".into()],
            processes: vec!["claude".into()],
            workdir: "/".into(),
            restart: RestartPolicy::Never,
            host: None,
        };
        SessionMeta::new(&spec, "", launched_ms, 0)
    }

    const NOW: i64 = 10_000;

    #[test]
    fn a_report_of_an_earlier_launch_is_not_evidence() {
        let report = Reported::new(
            ReportedState::Waiting,
            Source::Hook,
            5_000,
            Some(1_000),
            "x",
        );
        let raw = report.to_json();
        assert_eq!(
            Reported::current(Some(&raw), Some(&meta(1_000)), NOW),
            Some(report.clone())
        );
        assert_eq!(Reported::current(Some(&raw), Some(&meta(2_000)), NOW), None);
        let manual = Reported::new(ReportedState::Idle, Source::Report, 5_000, None, "");
        assert!(Reported::current(Some(&manual.to_json()), Some(&meta(2_000)), NOW).is_some());
        assert_eq!(Reported::current(Some("{not json"), None, NOW), None);
        assert_eq!(Reported::current(None, None, NOW), None);
        // Dated far ahead: it would hold forever. Not evidence.
        let ahead = Reported::new(
            ReportedState::Waiting,
            Source::Hook,
            NOW + 3_600_000,
            None,
            "",
        );
        assert_eq!(Reported::current(Some(&ahead.to_json()), None, NOW), None);
    }

    #[test]
    fn details_are_one_printable_line() {
        assert_eq!(one_line("a\x1b]52;c;AAAA\x07b\n\n c\t"), "a ]52;c;AAAA b c");
        assert_eq!(one_line(&"x".repeat(900)).len(), MAX_DETAIL);
        assert_eq!(one_line("  Select   provider \r\n"), "Select provider");
    }
}
