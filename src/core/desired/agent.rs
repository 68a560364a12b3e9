//! Plain data about one agent: its name, what to launch (`AgentSpec`), and the
//! metadata the fleet stores on the agent's tmux session (`SessionMeta`).

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An agent name: `[a-z0-9][a-z0-9_-]{0,62}`. It is also the tmux session
/// name, so it must never contain tmux target syntax (`:`, `.`, `=`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "agent name {} is invalid: use lowercase letters, digits, '-' and '_', starting with a letter or digit (at most 63)",
    crate::core::error::quoted(.0)
)]
pub struct InvalidName(pub String);

impl AgentName {
    pub fn parse(name: &str) -> Result<Self, InvalidName> {
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if first_ok && rest_ok && name.len() <= 63 {
            Ok(Self(name.to_string()))
        } else {
            Err(InvalidName(name.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AgentName {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AgentName> for String {
    fn from(n: AgentName) -> Self {
        n.0
    }
}

impl fmt::Display for AgentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a supervisor does when an agent's runtime exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    Never,
    OnFailure,
    Always,
}

/// Everything needed to launch one agent, resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    pub name: AgentName,
    pub runtime: String,
    pub model: Option<String>,
    pub effort: Option<String>,
    /// The runtime's argv; `argv[0]` is looked up on the pane's PATH.
    pub argv: Vec<String>,
    /// Process names that count as the runtime being in front.
    pub processes: Vec<String>,
    pub workdir: PathBuf,
    pub restart: RestartPolicy,
    /// The host the agent belongs on; `None` is this host.
    pub host: Option<String>,
}

/// The fleet's record on an agent's tmux session (the `@fleet` user option),
/// so that `ps` learns everything from one `list-panes` and a runtime that
/// cannot report its own model (pi) still shows one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub runtime: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub processes: Vec<String>,
    #[serde(default)]
    pub argv: Vec<String>,
    #[serde(default)]
    pub workdir: PathBuf,
    /// The runtime-bin PATH prefix baked into the pane command.
    #[serde(default)]
    pub path_prefix: String,
    /// Unix seconds of the latest launch.
    pub started_at: u64,
    /// The same in milliseconds, to date the launch in the history.
    #[serde(default)]
    pub launched_ms: u64,
    #[serde(default)]
    pub restarts: u32,
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Who launched it, when someone was named (`--by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl SessionMeta {
    pub fn new(spec: &AgentSpec, path_prefix: &str, launched_ms: u64, restarts: u32) -> Self {
        Self {
            runtime: spec.runtime.clone(),
            model: spec.model.clone(),
            effort: spec.effort.clone(),
            processes: spec.processes.clone(),
            argv: spec.argv.clone(),
            workdir: spec.workdir.clone(),
            path_prefix: path_prefix.to_string(),
            started_at: launched_ms / 1000,
            launched_ms,
            restarts,
            restart: spec.restart,
            by: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The spec this session was launched with, for relaunching an agent that
    /// the fleet file does not declare.
    pub fn to_spec(&self, name: &AgentName) -> AgentSpec {
        AgentSpec {
            name: name.clone(),
            runtime: self.runtime.clone(),
            model: self.model.clone(),
            effort: self.effort.clone(),
            argv: self.argv.clone(),
            processes: self.processes.clone(),
            workdir: self.workdir.clone(),
            restart: self.restart,
            host: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_names() {
        for name in ["a", "builder", "agent-1", "x_y", "0", &"a".repeat(63)] {
            assert!(AgentName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_bad_names() {
        for name in [
            "",
            "A",
            "-a",
            "_a",
            "a;b",
            "a b",
            "a:b",
            "a.b",
            "=a",
            "é",
            &"a".repeat(64),
        ] {
            assert!(AgentName::parse(name).is_err(), "{name}");
        }
    }

    #[test]
    fn meta_round_trips() {
        let spec = AgentSpec {
            name: AgentName::parse("a").unwrap_or_else(|e| panic!("{e}")),
            runtime: "pi".into(),
            model: Some("m\t\"x\"".into()),
            effort: None,
            argv: vec!["pi".into(), "a;b\n$c".into()],
            processes: vec!["pi".into(), "node".into()],
            workdir: "/tmp/w d".into(),
            restart: RestartPolicy::OnFailure,
            host: None,
        };
        let meta = SessionMeta::new(&spec, "/x/bin", 7000, 2);
        let back = SessionMeta::from_json(&meta.to_json());
        assert_eq!(back.as_ref(), Some(&meta));
        assert!(!meta.to_json().contains('\n'));
    }
}
