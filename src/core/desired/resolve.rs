//! Resolution: one agent's declaration, with the fleet's runtimes and
//! defaults under it, becomes the [`AgentSpec`] to launch.

use std::collections::BTreeMap;

use crate::core::desired::agent::{AgentName, AgentSpec};
use crate::core::desired::fleetfile::{
    AgentDecl, CommandSource, Fleet, default_processes, extend_unique,
};
use crate::core::desired::runtime::{self, Field, Runtime, TemplateError};

/// Where the error of a resolution lies: which key of the agent's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclKey {
    Runtime,
    Command,
    Workdir,
    Host,
}

impl DeclKey {
    /// The key as written in the fleet file, for messages.
    pub fn name(self) -> &'static str {
        match self {
            DeclKey::Runtime => "runtime",
            DeclKey::Command => "command",
            DeclKey::Workdir => "workdir",
            DeclKey::Host => "host",
        }
    }
}

/// Why an agent cannot be resolved.
///
/// A missing model or effort is its own variant without a fix in its text:
/// the fix depends on who reads it (a fleet-file key to set, or a flag of
/// `fleet start`), so the reporter words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The runtime's own command asks for a field that nothing set.
    #[error("runtime {runtime:?} needs a {field}")]
    NeedsField { runtime: String, field: Field },
    #[error("unknown runtime {name:?}: use one of {} or declare [runtimes.{name}]", known.join(", "))]
    UnknownRuntime { name: String, known: Vec<String> },
    /// The agent's command cannot be split or filled.
    #[error(transparent)]
    Command(TemplateError),
    #[error("host {0:?} is not declared: add [hosts.{0}] with ssh = \"user@{0}\"")]
    UndeclaredHost(String),
}

impl ResolveError {
    /// `name` is not among `runtimes`; the message lists those that are.
    pub fn unknown_runtime(name: &str, runtimes: &BTreeMap<String, Runtime>) -> Self {
        Self::UnknownRuntime {
            name: name.to_string(),
            known: runtimes.keys().cloned().collect(),
        }
    }

    /// The key of the agent's table the error is about, so a fleet file can
    /// point at its line.
    pub fn key(&self) -> DeclKey {
        match self {
            Self::NeedsField { .. } | Self::UnknownRuntime { .. } => DeclKey::Runtime,
            Self::Command(_) => DeclKey::Command,
            Self::UndeclaredHost(_) => DeclKey::Host,
        }
    }

    /// The message for someone editing a fleet file: the fix is a key.
    pub fn with_file_fix(&self) -> String {
        match self {
            Self::NeedsField { field, .. } => {
                format!("{self}: set {field} for the agent or in [defaults]")
            }
            other => other.to_string(),
        }
    }
}

impl Fleet {
    /// Resolves one agent against this fleet's runtimes and defaults.
    /// Precedence: the agent's own keys, then its runtime table's, then
    /// `[defaults]`, then the built-in runtime's fallbacks.
    pub fn resolve(&self, name: &AgentName, decl: &AgentDecl) -> Result<AgentSpec, ResolveError> {
        let runtime_name = decl
            .runtime
            .clone()
            .or_else(|| self.defaults.runtime.clone())
            .unwrap_or_else(|| "pi".to_string());
        // A literal argv (`fleet start -- CMD`) needs no template, so any
        // runtime label will do; everything else needs a known runtime.
        let runtime = self.runtimes.get(&runtime_name);
        let model = decl
            .model
            .clone()
            .or_else(|| runtime.and_then(|r| r.model.clone()))
            .or_else(|| self.defaults.model.clone())
            .or_else(|| runtime.and_then(|r| r.fallback_model.clone()));
        let effort = decl
            .effort
            .clone()
            .or_else(|| runtime.and_then(|r| r.effort.clone()))
            .or_else(|| self.defaults.effort.clone())
            .or_else(|| runtime.and_then(|r| r.fallback_effort.clone()));

        let (argv, processes) = match (&decl.command, runtime) {
            (Some(CommandSource::Argv(argv)), _) => {
                if argv.is_empty() {
                    return Err(ResolveError::Command(TemplateError::Empty));
                }
                let processes = decl.processes.clone().unwrap_or_else(|| {
                    let mut p = vec![runtime::process_name(&argv[0])];
                    if let Some(rt) = runtime {
                        extend_unique(&mut p, &rt.processes);
                    }
                    p
                });
                (argv.clone(), processes)
            }
            (Some(CommandSource::Template(t)), Some(rt)) => {
                let argv = runtime::fill(t, model.as_deref(), effort.as_deref())
                    .map_err(ResolveError::Command)?;
                let processes = decl
                    .processes
                    .clone()
                    .unwrap_or_else(|| default_processes(t, Some(rt)));
                (argv, processes)
            }
            (None, Some(rt)) => {
                let argv = runtime::fill(&rt.command, model.as_deref(), effort.as_deref())
                    .map_err(|e| match e {
                        TemplateError::Missing(field) => ResolveError::NeedsField {
                            runtime: runtime_name.clone(),
                            field,
                        },
                        other => ResolveError::Command(other),
                    })?;
                let processes = decl
                    .processes
                    .clone()
                    .unwrap_or_else(|| rt.processes.clone());
                (argv, processes)
            }
            (Some(CommandSource::Template(_)) | None, None) => {
                return Err(ResolveError::unknown_runtime(&runtime_name, &self.runtimes));
            }
        };

        let workdir_text = decl
            .workdir
            .clone()
            .or_else(|| self.defaults.workdir.clone());
        let workdir = match workdir_text {
            Some(w) => self.expand_path(&w),
            None => self.base_dir.clone(),
        };

        let host = match &decl.host {
            Some(h) if !self.hosts.contains_key(h) && !self.is_local_host(h) => {
                return Err(ResolveError::UndeclaredHost(h.clone()));
            }
            Some(h) if self.is_local_host(h) => None,
            other => other.clone(),
        };

        Ok(AgentSpec {
            name: name.clone(),
            runtime: runtime_name,
            model,
            effort,
            argv,
            processes,
            workdir,
            restart: decl.restart.or(self.defaults.restart).unwrap_or_default(),
            host,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fleet() -> Fleet {
        Fleet::empty(PathBuf::from("/base"), None, "this-host".into())
    }

    fn name() -> AgentName {
        AgentName::parse("a").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_missing_field_is_typed_and_the_file_fix_is_worded_once() {
        let decl = AgentDecl {
            runtime: Some("pi".into()),
            ..AgentDecl::default()
        };
        let e = fleet()
            .resolve(&name(), &decl)
            .err()
            .unwrap_or_else(|| panic!("pi without a model resolved"));
        assert_eq!(
            e,
            ResolveError::NeedsField {
                runtime: "pi".into(),
                field: Field::Model
            }
        );
        assert_eq!(e.key(), DeclKey::Runtime);
        assert_eq!(
            e.with_file_fix(),
            "runtime \"pi\" needs a model: set model for the agent or in [defaults]"
        );
        let decl = AgentDecl {
            model: Some("m".into()),
            ..decl
        };
        let e = fleet().resolve(&name(), &decl).err();
        assert_eq!(
            e.map(|e| e.with_file_fix()).as_deref(),
            Some("runtime \"pi\" needs a effort: set effort for the agent or in [defaults]")
        );
    }

    #[test]
    fn other_errors_name_their_key() {
        let resolve = |decl: AgentDecl| fleet().resolve(&name(), &decl).err();
        let e = resolve(AgentDecl {
            runtime: Some("gemini".into()),
            ..AgentDecl::default()
        });
        assert_eq!(e.as_ref().map(ResolveError::key), Some(DeclKey::Runtime));
        assert_eq!(
            e.map(|e| e.with_file_fix()).as_deref(),
            Some(
                "unknown runtime \"gemini\": use one of claude, codex, pi, shell, stub or declare [runtimes.gemini]"
            )
        );
        let e = resolve(AgentDecl {
            command: Some(CommandSource::Argv(vec![])),
            ..AgentDecl::default()
        });
        assert_eq!(e, Some(ResolveError::Command(TemplateError::Empty)));
        assert_eq!(
            e.map(|e| (e.key(), e.to_string())),
            Some((DeclKey::Command, "command is empty".into()))
        );
        let e = resolve(AgentDecl {
            runtime: Some("stub".into()),
            host: Some("elsewhere".into()),
            ..AgentDecl::default()
        });
        assert_eq!(e.as_ref().map(ResolveError::key), Some(DeclKey::Host));
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some(
                "host \"elsewhere\" is not declared: add [hosts.elsewhere] with ssh = \"user@elsewhere\""
            )
        );
    }
}
