use std::collections::BTreeMap;

use clap::Args;

use crate::cli::commands::{check_launchable, launch_and_report, print_reports};
use crate::cli::error::CliError;
use crate::core::context::{Context, agent_name};
use crate::core::desired::agent::{AgentName, AgentSpec};
use crate::core::desired::fleetfile::{AgentDecl, CommandSource, Fleet};
use crate::core::desired::resolve::ResolveError;
use crate::core::desired::runtime::Field;
use crate::core::observe::ObservedSession;
use crate::core::reconcile::{self, unix_now};

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The agent: lowercase letters, digits, '-' and '_' (at most 63)
    pub name: String,
    /// Runtime to run (pi, codex, claude, shell, stub, or one of the fleet file's)
    #[arg(long)]
    pub runtime: Option<String>,
    /// Model, recorded as fleet metadata and filled into {model}
    #[arg(long)]
    pub model: Option<String>,
    /// Effort, recorded as fleet metadata and filled into {effort}
    #[arg(long)]
    pub effort: Option<String>,
    /// Directory the agent runs in [default: the declared one, else
    /// $MOSAIC_AGENT_WORKDIR, else the current directory]
    #[arg(long)]
    pub workdir: Option<String>,
    /// The command to run instead of the runtime's, after `--`; each
    /// argument arrives byte for byte
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn cmd_start(ctx: &Context, args: &StartArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let fleet = ctx.fleet()?;
    let _lock = ctx.lock()?;
    let sessions = ctx.observe_and_record()?;
    let spec = spec_for(ctx, &fleet, &name, &sessions, args)?;
    if let Some(host) = &spec.host {
        return Err(CliError::user(format!(
            "agent {name} belongs on host {host}: start it there (fleet start {name} on {host})"
        )));
    }
    let step = reconcile::plan_start(sessions.get(name.as_str()), unix_now());
    let plans = [(&spec, step)];
    check_launchable(&fleet, &plans)?;
    let reports = launch_and_report(ctx, &plans, &sessions, "started")?;
    Ok(print_reports(&reports))
}

/// What to launch: the declaration with the flags over it; for an agent
/// the file does not declare, what its session last ran (when no flag asks
/// for something else), else the flags and the seed's variables.
fn spec_for(
    ctx: &Context,
    fleet: &Fleet,
    name: &AgentName,
    sessions: &BTreeMap<String, ObservedSession>,
    args: &StartArgs,
) -> Result<AgentSpec, CliError> {
    let declared = fleet.agents.get(name);
    let workdir_flag = args
        .workdir
        .as_ref()
        .map(|w| ctx.cwd.join(w).to_string_lossy().into_owned());
    let asks_for_other = args.runtime.is_some()
        || args.model.is_some()
        || args.effort.is_some()
        || !args.command.is_empty();
    let last_run = sessions.get(name.as_str()).and_then(|s| s.meta.as_ref());
    if let (None, Some(meta), false) = (declared, last_run, asks_for_other) {
        let mut spec = meta.to_spec(name);
        if let Some(w) = workdir_flag {
            spec.workdir = w.into();
        }
        return Ok(spec);
    }

    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
    let mut decl =
        match declared {
            Some(agent) => agent.decl.clone(),
            // The seed's variables keep working for agents the file does not name.
            None => {
                let command = match env("MOSAIC_AGENT_COMMAND") {
                Some(text) => Some(CommandSource::Argv(shlex::split(&text).ok_or_else(
                    || CliError::user(format!(
                        "MOSAIC_AGENT_COMMAND={text:?} has an unclosed quote: fix or unset it"
                    )),
                )?)),
                None => None,
            };
                let runtime = env("MOSAIC_AGENT_RUNTIME")
                    .or_else(|| command.as_ref().map(|_| "custom".to_string()));
                AgentDecl {
                    runtime,
                    workdir: Some(
                        env("MOSAIC_AGENT_WORKDIR")
                            .unwrap_or_else(|| ctx.cwd.to_string_lossy().into_owned()),
                    ),
                    command,
                    ..AgentDecl::default()
                }
            }
        };
    if !args.command.is_empty() {
        decl.command = Some(CommandSource::Argv(args.command.clone()));
        decl.processes = None;
        if args.runtime.is_none() && declared.is_none() && env("MOSAIC_AGENT_RUNTIME").is_none() {
            decl.runtime = Some("custom".into());
        }
    }
    if let Some(runtime) = &args.runtime {
        decl.runtime = Some(runtime.clone());
        if args.command.is_empty() {
            decl.command = None;
            decl.processes = None;
        }
    }
    decl.model = args.model.clone().or(decl.model);
    decl.effort = args.effort.clone().or(decl.effort);
    if let Some(w) = workdir_flag {
        decl.workdir = Some(w);
    }
    fleet.resolve(name, &decl).map_err(|e| {
        // Without a declaration the fix is a flag, not a fleet-file key.
        let message = match &e {
            ResolveError::NeedsField { field, .. } if declared.is_none() => match field {
                Field::Model => format!("{e}: pass --model M"),
                Field::Effort => format!("{e}: pass --effort E"),
            },
            _ => e.with_file_fix(),
        };
        CliError::user(format!("agent {name}: {message}"))
    })
}
