//! What `fleet start NAME` launches, decided from plain inputs: no tmux and
//! no process environment, so every rule is tested here.
//!
//! A declared agent gets its declaration with the flags over it. An agent the
//! fleet file does not declare relaunches its last run whole when no flag
//! asks for something else; otherwise the flags go over the seed's
//! variables and the current directory. The orders are in
//! [`precedence::start`](mod@crate::core::desired::precedence::start).

use std::path::{Path, PathBuf};

use crate::core::desired::agent::{AgentName, AgentSpec, SessionMeta};
use crate::core::desired::fleetfile::{AgentDecl, CommandSource, DeclaredAgent, Fleet};
use crate::core::desired::precedence::{Layer, Sourced, pick, start};
use crate::core::desired::resolve::ResolveError;
use crate::core::desired::runtime::Field;

/// The runtime label of a literal command that names no runtime.
pub const CUSTOM_RUNTIME: &str = "custom";

/// The flags of `fleet start`, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartFlags {
    pub runtime: Option<String>,
    pub model: Option<String>,
    pub effort: Option<String>,
    /// Relative to the current directory.
    pub workdir: Option<String>,
    /// The literal argv after `--`; empty when none was given.
    pub command: Vec<String>,
}

/// The seed's variables `MOSAIC_AGENT_RUNTIME`, `MOSAIC_AGENT_COMMAND` and
/// `MOSAIC_AGENT_WORKDIR`, read by the caller; `None` when unset or empty.
/// They keep working for agents the fleet file does not name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedEnv {
    pub runtime: Option<String>,
    pub command: Option<String>,
    pub workdir: Option<String>,
}

/// Everything `fleet start NAME` decides from, read beforehand.
#[derive(Debug, Clone, Copy)]
pub struct StartInputs<'a> {
    pub flags: &'a StartFlags,
    /// The fleet file's `[agents.NAME]`, if it has one.
    pub declared: Option<&'a DeclaredAgent>,
    /// What the agent's session last ran, if it has one.
    pub last_run: Option<&'a SessionMeta>,
    pub seed: &'a SeedEnv,
    pub cwd: &'a Path,
}

/// Why `fleet start` cannot say what to launch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("MOSAIC_AGENT_COMMAND={0:?} has an unclosed quote: fix or unset it")]
    SeedCommand(String),
    /// The agent does not resolve; `declared` decides how the fix is worded.
    #[error("agent {name}: {}", resolve_message(error, *declared))]
    Resolve {
        name: AgentName,
        error: ResolveError,
        declared: bool,
    },
}

/// What `fleet start NAME` launches.
pub fn start_spec(
    fleet: &Fleet,
    name: &AgentName,
    inputs: &StartInputs,
) -> Result<AgentSpec, StartError> {
    if let Some(meta) = inputs.relaunch() {
        let mut spec = meta.to_spec(name);
        spec.workdir = inputs.last_run_workdir(meta).value;
        return Ok(spec);
    }
    let decl = inputs.decl()?;
    let mut spec = fleet
        .resolve(name, &decl)
        .map_err(|error| StartError::Resolve {
            name: name.clone(),
            error,
            declared: inputs.declared.is_some(),
        })?;
    // Started ad hoc on a host for the operator: it lives where it was
    // sent (the operator's fleet routed it by `NAME@HOST` or [defaults]).
    if inputs.declared.is_none() && fleet.control_host.is_some() {
        spec.host = None;
    }
    Ok(spec)
}

/// Without a declaration the fix is a flag, not a fleet-file key.
fn resolve_message(error: &ResolveError, declared: bool) -> String {
    match error {
        ResolveError::NeedsField { field, .. } if !declared => {
            let flag = match field {
                Field::Model => "--model M",
                Field::Effort => "--effort E",
            };
            format!("{error}: pass {flag}")
        }
        _ => error.with_file_fix(),
    }
}

impl StartInputs<'_> {
    /// The last run to relaunch whole: an undeclared agent's, when no flag
    /// but `--workdir` is given.
    fn relaunch(&self) -> Option<&SessionMeta> {
        let f = self.flags;
        let asks_for_other =
            f.runtime.is_some() || f.model.is_some() || f.effort.is_some() || !f.command.is_empty();
        match (self.declared, asks_for_other) {
            (None, false) => self.last_run,
            _ => None,
        }
    }

    fn last_run_workdir(&self, meta: &SessionMeta) -> Sourced<PathBuf> {
        pick(start::LAST_RUN_WORKDIR, |layer| match layer {
            Layer::Flag => self.workdir_flag().map(PathBuf::from),
            _ => None,
        })
        .unwrap_or_else(|| Sourced::new(meta.workdir.clone(), Layer::LastRun))
    }

    /// The declaration to resolve: each field from its table; processes,
    /// restart and host from the fleet file's declaration only.
    fn decl(&self) -> Result<AgentDecl, StartError> {
        let seed_command = self.seed_command()?;
        let declared = self.declared.map(|a| &a.decl);
        Ok(AgentDecl {
            runtime: self.runtime(seed_command.is_some()).map(|s| s.value),
            model: self.model().map(|s| s.value),
            effort: self.effort().map(|s| s.value),
            workdir: self.workdir().map(|s| s.value),
            command: self.command(seed_command.as_deref()).map(|s| s.value),
            processes: self.processes(),
            restart: declared.and_then(|d| d.restart),
            host: declared.and_then(|d| d.host.clone()),
        })
    }

    /// The seed's command, split like a shell would, for an undeclared agent.
    /// Checked whenever set, even if a flag replaces it.
    fn seed_command(&self) -> Result<Option<Vec<String>>, StartError> {
        let Some(text) = self
            .seed
            .command
            .as_ref()
            .filter(|_| self.declared.is_none())
        else {
            return Ok(None);
        };
        shlex::split(text)
            .map(Some)
            .ok_or_else(|| StartError::SeedCommand(text.clone()))
    }

    fn runtime(&self, seed_command: bool) -> Option<Sourced<String>> {
        let undeclared = self.declared.is_none();
        let literal_command = !self.flags.command.is_empty() || seed_command;
        pick(start::RUNTIME, |layer| match layer {
            Layer::Flag => self.flags.runtime.clone(),
            Layer::Agent => self.declared.and_then(|a| a.decl.runtime.clone()),
            Layer::Seed if undeclared => self.seed.runtime.clone(),
            Layer::BuiltIn if undeclared && literal_command => Some(CUSTOM_RUNTIME.into()),
            _ => None,
        })
    }

    fn command(&self, seed_command: Option<&[String]>) -> Option<Sourced<CommandSource>> {
        let runtime_flag = self.flags.runtime.is_some();
        pick(start::COMMAND, |layer| match layer {
            Layer::Flag => (!self.flags.command.is_empty())
                .then(|| CommandSource::Argv(self.flags.command.clone())),
            Layer::Agent if !runtime_flag => self.declared.and_then(|a| a.decl.command.clone()),
            Layer::Seed if !runtime_flag => seed_command.map(|c| CommandSource::Argv(c.to_vec())),
            _ => None,
        })
    }

    /// A command or runtime from the flags brings its own process names.
    fn processes(&self) -> Option<Vec<String>> {
        if self.flags.command.is_empty() && self.flags.runtime.is_none() {
            self.declared.and_then(|a| a.decl.processes.clone())
        } else {
            None
        }
    }

    fn model(&self) -> Option<Sourced<String>> {
        pick(start::MODEL, |layer| match layer {
            Layer::Flag => self.flags.model.clone(),
            Layer::Agent => self.declared.and_then(|a| a.decl.model.clone()),
            _ => None,
        })
    }

    fn effort(&self) -> Option<Sourced<String>> {
        pick(start::EFFORT, |layer| match layer {
            Layer::Flag => self.flags.effort.clone(),
            Layer::Agent => self.declared.and_then(|a| a.decl.effort.clone()),
            _ => None,
        })
    }

    /// `None` for a declared agent without a workdir: the fleet's applies.
    fn workdir(&self) -> Option<Sourced<String>> {
        let undeclared = self.declared.is_none();
        pick(start::WORKDIR, |layer| match layer {
            Layer::Flag => self.workdir_flag(),
            Layer::Agent => self.declared.and_then(|a| a.decl.workdir.clone()),
            Layer::Seed if undeclared => self.seed.workdir.clone(),
            Layer::Cwd if undeclared => Some(self.cwd.to_string_lossy().into_owned()),
            _ => None,
        })
    }

    fn workdir_flag(&self) -> Option<String> {
        let dir = self.flags.workdir.as_ref()?;
        Some(self.cwd.join(dir).to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::agent::RestartPolicy;
    use crate::core::desired::precedence::Layer::*;
    use crate::core::desired::precedence::{Row, assert_rows};

    /// Owned inputs of one case.
    #[derive(Default)]
    struct Case {
        flags: StartFlags,
        declared: Option<DeclaredAgent>,
        last_run: Option<SessionMeta>,
        seed: SeedEnv,
    }

    impl Case {
        fn inputs(&self) -> StartInputs<'_> {
            StartInputs {
                flags: &self.flags,
                declared: self.declared.as_ref(),
                last_run: self.last_run.as_ref(),
                seed: &self.seed,
                cwd: Path::new("/cwd"),
            }
        }
    }

    fn name() -> AgentName {
        AgentName::parse("x").unwrap_or_else(|e| panic!("{e}"))
    }

    fn spec(runtime: &str, workdir: &str) -> AgentSpec {
        AgentSpec {
            name: name(),
            runtime: runtime.into(),
            model: Some("last/model".into()),
            effort: None,
            argv: vec!["last".into()],
            processes: vec!["last".into()],
            workdir: workdir.into(),
            restart: RestartPolicy::Never,
            host: None,
        }
    }

    fn declared(decl: AgentDecl) -> DeclaredAgent {
        DeclaredAgent {
            spec: spec("stub", "/base"),
            decl,
            line: None,
            workdir_line: None,
        }
    }

    /// A case where each layer in `has` holds a value for `field` that names
    /// the layer; the agent is declared when `declared`.
    fn case(declared_agent: bool, has: &[Layer], field: &str) -> Case {
        let value = |layer: Layer| has.contains(&layer).then(|| format!("{layer:?}-{field}"));
        let mut case = Case::default();
        let mut decl = AgentDecl::default();
        match field {
            "runtime" => {
                case.flags.runtime = value(Flag);
                decl.runtime = value(Agent);
                case.seed.runtime = value(Seed);
                // `custom` has a say when a literal command is given.
                case.seed.command = value(BuiltIn);
            }
            "command" => {
                case.flags.command = value(Flag).into_iter().collect();
                decl.command = value(Agent).map(CommandSource::Template);
                case.seed.command = value(Seed);
            }
            "model" => {
                case.flags.model = value(Flag);
                decl.model = value(Agent);
            }
            "effort" => {
                case.flags.effort = value(Flag);
                decl.effort = value(Agent);
            }
            "workdir" => {
                case.flags.workdir = value(Flag);
                decl.workdir = value(Agent);
                case.seed.workdir = value(Seed);
            }
            other => panic!("no field {other}"),
        }
        assert!(declared_agent || decl == AgentDecl::default(), "{has:?}");
        case.declared = declared_agent.then(|| declared(decl));
        case
    }

    fn from(layer: Layer, field: &str) -> Option<(String, Layer)> {
        Some((format!("{layer:?}-{field}"), layer))
    }

    #[test]
    fn runtime_flag_then_declaration_then_seed_then_custom() {
        let f = "runtime";
        let custom = Some((CUSTOM_RUNTIME.to_string(), BuiltIn));
        let undeclared: &[Row<String>] = &[
            (&[Flag, Seed, BuiltIn], from(Flag, f)),
            (&[Seed, BuiltIn], from(Seed, f)),
            (&[BuiltIn], custom),
            (&[], None),
        ];
        let declared: &[Row<String>] = &[
            (&[Flag, Agent], from(Flag, f)),
            (&[Agent, Seed, BuiltIn], from(Agent, f)),
            (&[Seed, BuiltIn], None),
        ];
        for (is_declared, rows) in [(false, undeclared), (true, declared)] {
            assert_rows(f, rows, |has| {
                let case = case(is_declared, has, f);
                let seed_command = case.inputs().seed_command().ok().flatten();
                case.inputs().runtime(seed_command.is_some())
            });
        }
        let mut case = case(false, &[], f);
        case.flags.command = vec!["agent".into()];
        assert_eq!(
            case.inputs().runtime(false),
            Some(Sourced::new(CUSTOM_RUNTIME.into(), BuiltIn)),
            "a literal command after -- is custom too"
        );
    }

    #[test]
    fn command_flag_then_declaration_then_seed() {
        let f = "command";
        let argv =
            |layer: Layer| Some((CommandSource::Argv(vec![format!("{layer:?}-{f}")]), layer));
        let template = Some((CommandSource::Template("Agent-command".into()), Agent));
        let undeclared: &[Row<CommandSource>] = &[
            (&[Flag, Seed], argv(Flag)),
            (&[Seed], argv(Seed)),
            (&[], None),
        ];
        let declared: &[Row<CommandSource>] = &[
            (&[Flag, Agent], argv(Flag)),
            (&[Agent, Seed], template),
            (&[Seed], None),
        ];
        for (is_declared, rows) in [(false, undeclared), (true, declared)] {
            assert_rows(f, rows, |has| {
                let case = case(is_declared, has, f);
                let seed_command = case.inputs().seed_command().ok().flatten();
                case.inputs().command(seed_command.as_deref())
            });
        }
    }

    #[test]
    fn a_runtime_flag_asks_for_that_runtimes_own_command() {
        for (is_declared, has) in [(true, &[Agent][..]), (false, &[Seed])] {
            let mut case = case(is_declared, has, "command");
            case.flags.runtime = Some("stub".into());
            let seed_command = case.inputs().seed_command().ok().flatten();
            assert_eq!(case.inputs().command(seed_command.as_deref()), None);
            case.flags.command = vec!["mine".into()];
            assert_eq!(
                case.inputs().command(seed_command.as_deref()),
                Some(Sourced::new(CommandSource::Argv(vec!["mine".into()]), Flag))
            );
        }
    }

    #[test]
    fn model_and_effort_flag_then_declaration() {
        for f in ["model", "effort"] {
            let rows: &[Row<String>] = &[
                (&[Flag, Agent], from(Flag, f)),
                (&[Agent], from(Agent, f)),
                (&[Flag], from(Flag, f)),
                (&[], None),
            ];
            assert_rows(f, rows, |has| {
                let case = case(true, has, f);
                match f {
                    "model" => case.inputs().model(),
                    _ => case.inputs().effort(),
                }
            });
        }
    }

    #[test]
    fn workdir_flag_then_declaration_then_seed_then_cwd() {
        let f = "workdir";
        let at = |path: &str, layer| Some((path.to_string(), layer));
        let undeclared: &[Row<String>] = &[
            (&[Flag, Seed, Cwd], at("/cwd/Flag-workdir", Flag)),
            (&[Seed, Cwd], from(Seed, f)),
            (&[Cwd], at("/cwd", Cwd)),
        ];
        let declared: &[Row<String>] = &[
            (&[Flag, Agent], at("/cwd/Flag-workdir", Flag)),
            (&[Agent, Seed, Cwd], from(Agent, f)),
            // The fleet's workdir applies, in Fleet::resolve.
            (&[Seed, Cwd], None),
        ];
        for (is_declared, rows) in [(false, undeclared), (true, declared)] {
            assert_rows(f, rows, |has| case(is_declared, has, f).inputs().workdir());
        }
    }

    fn fleet(text: &str) -> Fleet {
        Fleet::parse(
            text,
            Path::new("fleet.toml"),
            PathBuf::from("/base"),
            crate::core::desired::fleetfile::Here {
                host: "this-host".into(),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn last_run() -> SessionMeta {
        SessionMeta::new(&spec("last-runtime", "/last"), "", 0, 0)
    }

    #[test]
    fn an_undeclared_agent_relaunches_its_last_run_unless_a_flag_asks_otherwise() {
        let fleet = fleet("");
        let mut case = Case {
            last_run: Some(last_run()),
            ..Case::default()
        };
        let got = start_spec(&fleet, &name(), &case.inputs());
        assert_eq!(got, Ok(spec("last-runtime", "/last")));
        case.flags.workdir = Some("sub".into());
        let got = start_spec(&fleet, &name(), &case.inputs());
        assert_eq!(got, Ok(spec("last-runtime", "/cwd/sub")));
        case.flags.model = Some("m".into());
        case.flags.runtime = Some("stub".into());
        let got = start_spec(&fleet, &name(), &case.inputs()).map(|s| s.runtime);
        assert_eq!(got.as_deref(), Ok("stub"));
    }

    #[test]
    fn a_declared_agent_takes_its_declaration_not_its_last_run() {
        let fleet =
            fleet("[agents.x]\nruntime = \"stub\"\nprocesses = [\"p\"]\nrestart = \"always\"\n");
        let mut case = Case {
            declared: fleet.agents.get(&name()).cloned(),
            last_run: Some(last_run()),
            seed: SeedEnv {
                runtime: Some("seed".into()),
                command: Some("seed 'open".into()),
                workdir: Some("/seed".into()),
            },
            ..Case::default()
        };
        let got = start_spec(&fleet, &name(), &case.inputs()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (got.runtime.as_str(), got.workdir, got.restart),
            ("stub", PathBuf::from("/base"), RestartPolicy::Always)
        );
        assert_eq!(got.processes, ["p"]);
        case.flags.command = vec!["other".into()];
        let got = start_spec(&fleet, &name(), &case.inputs()).map(|s| s.processes);
        assert_eq!(got, Ok(vec!["other".to_string(), "fleet-stub".to_string()]));
    }

    #[test]
    fn the_seed_command_must_split_even_when_a_flag_replaces_it() {
        let fleet = fleet("");
        let case = Case {
            flags: StartFlags {
                command: vec!["agent".into()],
                ..StartFlags::default()
            },
            seed: SeedEnv {
                command: Some("agent 'open".into()),
                ..SeedEnv::default()
            },
            ..Case::default()
        };
        let got = start_spec(&fleet, &name(), &case.inputs()).map_err(|e| e.to_string());
        assert_eq!(
            got,
            Err(
                "MOSAIC_AGENT_COMMAND=\"agent 'open\" has an unclosed quote: fix or unset it"
                    .into()
            )
        );
    }

    #[test]
    fn the_fix_is_a_flag_for_an_undeclared_agent_and_a_key_for_a_declared_one() {
        let fleet = fleet("[agents.x]\nruntime = \"stub\"\n");
        let message = |declared: bool, model: Option<&str>| {
            let case = Case {
                flags: StartFlags {
                    runtime: Some("pi".into()),
                    model: model.map(Into::into),
                    ..StartFlags::default()
                },
                declared: declared
                    .then(|| fleet.agents.get(&name()).cloned())
                    .flatten(),
                ..Case::default()
            };
            start_spec(&fleet, &name(), &case.inputs()).map_err(|e| e.to_string())
        };
        assert_eq!(
            message(false, None),
            Err("agent x: runtime \"pi\" needs a model: pass --model M".into())
        );
        assert_eq!(
            message(false, Some("m")),
            Err("agent x: runtime \"pi\" needs an effort: pass --effort E".into())
        );
        assert_eq!(
            message(true, None),
            Err(
                "agent x: runtime \"pi\" needs a model: set model for the agent or in [defaults]"
                    .into()
            )
        );
    }
}
