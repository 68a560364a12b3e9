//! Resolution: one agent's declaration, with the fleet's runtimes and
//! defaults under it, becomes the [`AgentSpec`] to launch.

use crate::core::desired::agent::{AgentName, AgentSpec};
use crate::core::desired::fleetfile::{
    AgentDecl, CommandSource, Fleet, default_processes, extend_unique, unknown_runtime,
};
use crate::core::desired::runtime::{self, TemplateError};

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

impl Fleet {
    /// Resolves one agent against this fleet's runtimes and defaults.
    /// Precedence: the agent's own keys, then its runtime table's, then
    /// `[defaults]`, then the built-in runtime's fallbacks.
    pub fn resolve(
        &self,
        name: &AgentName,
        decl: &AgentDecl,
    ) -> Result<AgentSpec, (DeclKey, String)> {
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

        let template_error = |e: TemplateError| (DeclKey::Command, e.to_string());
        let (argv, processes) = match (&decl.command, runtime) {
            (Some(CommandSource::Argv(argv)), _) => {
                if argv.is_empty() {
                    return Err((DeclKey::Command, "command is empty".into()));
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
                    .map_err(template_error)?;
                let processes = decl
                    .processes
                    .clone()
                    .unwrap_or_else(|| default_processes(t, Some(rt)));
                (argv, processes)
            }
            (None, Some(rt)) => {
                let argv = runtime::fill(&rt.command, model.as_deref(), effort.as_deref())
                    .map_err(|e| match e {
                        TemplateError::Missing(field) => (
                            DeclKey::Runtime,
                            format!(
                                "runtime {runtime_name:?} needs a {field}: set {field} for the agent or in [defaults]"
                            ),
                        ),
                        other => template_error(other),
                    })?;
                let processes = decl
                    .processes
                    .clone()
                    .unwrap_or_else(|| rt.processes.clone());
                (argv, processes)
            }
            (Some(CommandSource::Template(_)) | None, None) => {
                return Err((
                    DeclKey::Runtime,
                    unknown_runtime(&runtime_name, "", &self.runtimes)
                        .trim_start()
                        .to_string(),
                ));
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
                return Err((
                    DeclKey::Host,
                    format!("host {h:?} is not declared: add [hosts.{h}] with ssh = \"user@{h}\""),
                ));
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
