//! Resolution: one agent's declaration, with the fleet's runtimes and
//! defaults under it, becomes the [`AgentSpec`] to launch.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::core::desired::agent::{AgentName, AgentSpec, RestartPolicy};
use crate::core::desired::fleetfile::{
    AgentDecl, CommandSource, Fleet, default_processes, extend_unique,
};
use crate::core::desired::precedence::{Layer, Sourced, file, pick};
use crate::core::desired::runtime::{self, Field, Runtime, TemplateError};
use crate::core::error::quoted;

/// Where the error of a resolution lies: which key of the agent's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclKey {
    Runtime,
    Command,
    Host,
}

impl DeclKey {
    /// The key as written in the fleet file, for messages.
    pub fn name(self) -> &'static str {
        match self {
            DeclKey::Runtime => "runtime",
            DeclKey::Command => "command",
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
    #[error("runtime {runtime:?} needs {} {field}", field.article())]
    NeedsField { runtime: String, field: Field },
    #[error("unknown runtime {}: use one of {}{}", quoted(name), known.join(", "), declare_hint(name))]
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

/// ` or declare [runtimes.NAME]`, for a name a runtime could have.
fn declare_hint(name: &str) -> String {
    if AgentName::parse(name).is_ok() {
        format!(" or declare [runtimes.{name}]")
    } else {
        String::new()
    }
}

/// The runtime an agent runs when neither it nor `[defaults]` names one.
pub const DEFAULT_RUNTIME: &str = "pi";

impl Fleet {
    /// Resolves one agent against this fleet's runtimes and defaults,
    /// field by field in the orders of [`precedence::file`](mod@file): each
    /// value from the first layer that has one.
    pub fn resolve(&self, name: &AgentName, decl: &AgentDecl) -> Result<AgentSpec, ResolveError> {
        let runtime_name = self.runtime_of(decl).value;
        // A literal argv (`fleet start -- CMD`) needs no template, so any
        // runtime label will do; everything else needs a known runtime.
        let runtime = self.runtimes.get(&runtime_name);
        let model = self.model_of(decl, runtime).map(|s| s.value);
        let effort = self.effort_of(decl, runtime).map(|s| s.value);
        let fields = (model.as_deref(), effort.as_deref());
        let (argv, processes) = self.command_of(decl, &runtime_name, runtime, fields)?;
        let host = self.host_of(decl)?;
        Ok(AgentSpec {
            name: name.clone(),
            runtime: runtime_name,
            model,
            effort,
            argv,
            processes,
            workdir: self.workdir_of(decl).value,
            restart: self.restart_of(decl).value,
            host,
        })
    }

    fn runtime_of(&self, decl: &AgentDecl) -> Sourced<String> {
        pick(file::RUNTIME, |layer| match layer {
            Layer::Agent => decl.runtime.clone(),
            Layer::Defaults => self.defaults.runtime.clone(),
            _ => None,
        })
        .unwrap_or_else(|| Sourced::new(DEFAULT_RUNTIME.into(), Layer::BuiltIn))
    }

    fn model_of(&self, decl: &AgentDecl, rt: Option<&Runtime>) -> Option<Sourced<String>> {
        pick(file::MODEL, |layer| match layer {
            Layer::Agent => decl.model.clone(),
            Layer::RuntimeTable => rt.and_then(|r| r.model.clone()),
            Layer::Defaults => self.defaults.model.clone(),
            Layer::BuiltIn => rt.and_then(|r| r.fallback_model.clone()),
            _ => None,
        })
    }

    fn effort_of(&self, decl: &AgentDecl, rt: Option<&Runtime>) -> Option<Sourced<String>> {
        pick(file::EFFORT, |layer| match layer {
            Layer::Agent => decl.effort.clone(),
            Layer::RuntimeTable => rt.and_then(|r| r.effort.clone()),
            Layer::Defaults => self.defaults.effort.clone(),
            Layer::BuiltIn => rt.and_then(|r| r.fallback_effort.clone()),
            _ => None,
        })
    }

    fn workdir_of(&self, decl: &AgentDecl) -> Sourced<PathBuf> {
        pick(file::WORKDIR, |layer| match layer {
            Layer::Agent => decl.workdir.as_deref().map(|w| self.expand_path(w)),
            Layer::Defaults => self
                .defaults
                .workdir
                .as_deref()
                .map(|w| self.expand_path(w)),
            _ => None,
        })
        .unwrap_or_else(|| Sourced::new(self.base_dir.clone(), Layer::FleetDir))
    }

    fn restart_of(&self, decl: &AgentDecl) -> Sourced<RestartPolicy> {
        pick(file::RESTART, |layer| match layer {
            Layer::Agent => decl.restart,
            Layer::Defaults => self.defaults.restart,
            _ => None,
        })
        .unwrap_or_else(|| Sourced::new(RestartPolicy::Never, Layer::BuiltIn))
    }

    /// The argv to launch, and the process names that count as it being in
    /// front: the agent's command, else its runtime's.
    fn command_of(
        &self,
        decl: &AgentDecl,
        runtime_name: &str,
        runtime: Option<&Runtime>,
        (model, effort): (Option<&str>, Option<&str>),
    ) -> Result<(Vec<String>, Vec<String>), ResolveError> {
        match (&decl.command, runtime) {
            (Some(CommandSource::Argv(argv)), _) => literal_command(argv, decl, runtime),
            (Some(CommandSource::Template(t)), Some(rt)) => {
                let argv = runtime::fill(t, model, effort).map_err(ResolveError::Command)?;
                let processes = decl
                    .processes
                    .clone()
                    .unwrap_or_else(|| default_processes(t, Some(rt)));
                Ok((argv, processes))
            }
            (None, Some(rt)) => {
                let argv = runtime::fill(&rt.command, model, effort).map_err(|e| match e {
                    TemplateError::Missing(field) => ResolveError::NeedsField {
                        runtime: runtime_name.to_string(),
                        field,
                    },
                    other => ResolveError::Command(other),
                })?;
                let processes = decl
                    .processes
                    .clone()
                    .unwrap_or_else(|| rt.processes.clone());
                Ok((argv, processes))
            }
            (Some(CommandSource::Template(_)) | None, None) => {
                Err(ResolveError::unknown_runtime(runtime_name, &self.runtimes))
            }
        }
    }

    /// The host the agent belongs on; `None` is this one, by any name.
    /// Read on another host for the operator (`control_host`), an agent
    /// placed nowhere, or on `localhost`, lives on the operator's host.
    fn host_of(&self, decl: &AgentDecl) -> Result<Option<String>, ResolveError> {
        let named = decl.host.as_ref().or(self.defaults.host.as_ref());
        match (named, &self.control_host) {
            (Some(h), _) if self.is_local_host(h) => Ok(None),
            (None, control) => Ok(control.clone()),
            (Some(h), Some(control)) if h == "localhost" || h == control => {
                Ok(Some(control.clone()))
            }
            (Some(h), _) if !self.hosts.contains_key(h) => {
                Err(ResolveError::UndeclaredHost(h.clone()))
            }
            (Some(h), _) => Ok(Some(h.clone())),
        }
    }
}

/// A literal argv (`fleet start -- CMD`) is launched as given. It counts as
/// in front under its program's name, and under the runtime's names when
/// it has a known runtime (which it may wrap).
fn literal_command(
    argv: &[String],
    decl: &AgentDecl,
    runtime: Option<&Runtime>,
) -> Result<(Vec<String>, Vec<String>), ResolveError> {
    let Some(program) = argv.first() else {
        return Err(ResolveError::Command(TemplateError::Empty));
    };
    let processes = decl.processes.clone().unwrap_or_else(|| {
        let mut p = vec![runtime::process_name(program)];
        if let Some(rt) = runtime {
            extend_unique(&mut p, &rt.processes);
        }
        p
    });
    Ok((argv.to_vec(), processes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::fleetfile::{Defaults, Here};

    fn fleet() -> Fleet {
        Fleet::empty(
            PathBuf::from("/base"),
            Here {
                host: "this-host".into(),
                ..Here::default()
            },
        )
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
            Some("runtime \"pi\" needs an effort: set effort for the agent or in [defaults]")
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

    use crate::core::desired::precedence::Layer::*;
    use crate::core::desired::precedence::{Row, assert_rows};

    /// A fleet, a declaration and a runtime where each layer in `has` holds
    /// a value naming it.
    fn layered(has: &[Layer], field: &str) -> (Fleet, AgentDecl, Runtime) {
        let value = |layer: Layer| has.contains(&layer).then(|| format!("{layer:?}-{field}"));
        let mut fleet = Fleet::empty(
            PathBuf::from("/base"),
            Here {
                home: Some(PathBuf::from("/home/op")),
                host: "this-host".into(),
                stub: None,
                control: None,
            },
        );
        fleet.defaults = Defaults {
            runtime: value(Defaults),
            model: value(Defaults),
            effort: value(Defaults),
            workdir: value(Defaults).map(|w| format!("~/{w}")),
            restart: has.contains(&Defaults).then_some(RestartPolicy::OnFailure),
            host: None,
        };
        let decl = AgentDecl {
            runtime: value(Agent),
            model: value(Agent),
            effort: value(Agent),
            workdir: value(Agent),
            restart: has.contains(&Agent).then_some(RestartPolicy::Always),
            ..AgentDecl::default()
        };
        let runtime = Runtime {
            command: "x".into(),
            processes: vec![],
            model: value(RuntimeTable),
            effort: value(RuntimeTable),
            fallback_model: value(BuiltIn),
            fallback_effort: value(BuiltIn),
            waiting: vec![],
        };
        (fleet, decl, runtime)
    }

    #[test]
    fn runtime_agent_then_defaults_then_pi() {
        let rows: &[Row<_>] = &[
            (
                &[Agent, Defaults],
                Some(("Agent-runtime".to_string(), Agent)),
            ),
            (&[Agent], Some(("Agent-runtime".to_string(), Agent))),
            (
                &[Defaults],
                Some(("Defaults-runtime".to_string(), Defaults)),
            ),
            (&[], Some(("pi".to_string(), BuiltIn))),
        ];
        assert_rows("runtime", rows, |has| {
            let (fleet, decl, _) = layered(has, "runtime");
            Some(fleet.runtime_of(&decl))
        });
    }

    #[test]
    fn model_and_effort_agent_then_runtime_table_then_defaults_then_fallback() {
        for field in ["model", "effort"] {
            let from = |layer: Layer| Some((format!("{layer:?}-{field}"), layer));
            let rows: &[Row<_>] = &[
                (&[Agent, RuntimeTable, Defaults, BuiltIn], from(Agent)),
                (&[Agent, BuiltIn], from(Agent)),
                (&[RuntimeTable, Defaults, BuiltIn], from(RuntimeTable)),
                (&[RuntimeTable, BuiltIn], from(RuntimeTable)),
                (&[Defaults, BuiltIn], from(Defaults)),
                (&[BuiltIn], from(BuiltIn)),
                (&[], None),
            ];
            assert_rows(field, rows, |has| {
                let (fleet, decl, rt) = layered(has, field);
                match field {
                    "model" => fleet.model_of(&decl, Some(&rt)),
                    _ => fleet.effort_of(&decl, Some(&rt)),
                }
            });
        }
    }

    #[test]
    fn workdir_agent_then_defaults_then_the_fleet_files_directory() {
        let rows: &[Row<_>] = &[
            (
                &[Agent, Defaults],
                Some((PathBuf::from("/base/Agent-workdir"), Agent)),
            ),
            (
                &[Defaults],
                Some((PathBuf::from("/home/op/Defaults-workdir"), Defaults)),
            ),
            (&[], Some((PathBuf::from("/base"), FleetDir))),
        ];
        assert_rows("workdir", rows, |has| {
            let (fleet, decl, _) = layered(has, "workdir");
            Some(fleet.workdir_of(&decl))
        });
    }

    #[test]
    fn restart_agent_then_defaults_then_never() {
        let rows: &[Row<_>] = &[
            (&[Agent, Defaults], Some((RestartPolicy::Always, Agent))),
            (&[Defaults], Some((RestartPolicy::OnFailure, Defaults))),
            (&[], Some((RestartPolicy::Never, BuiltIn))),
        ];
        assert_rows("restart", rows, |has| {
            let (fleet, decl, _) = layered(has, "restart");
            Some(fleet.restart_of(&decl))
        });
    }
}
