use std::collections::BTreeMap;

use clap::Args;

use crate::cli::commands::{check_launchable, launch_and_report, print_reports};
use crate::cli::error::CliError;
use crate::core::context::{Context, agent_name};
use crate::core::desired::agent::{AgentName, AgentSpec};
use crate::core::desired::fleetfile::Fleet;
use crate::core::desired::start::{SeedEnv, StartFlags, StartInputs, start_spec};
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

/// What to launch (decided in `core::desired::start`), from the flags, the
/// fleet file, the agent's last run, the seed's variables and the current
/// directory.
fn spec_for(
    ctx: &Context,
    fleet: &Fleet,
    name: &AgentName,
    sessions: &BTreeMap<String, ObservedSession>,
    args: &StartArgs,
) -> Result<AgentSpec, CliError> {
    let flags = StartFlags {
        runtime: args.runtime.clone(),
        model: args.model.clone(),
        effort: args.effort.clone(),
        workdir: args.workdir.clone(),
        command: args.command.clone(),
    };
    let inputs = StartInputs {
        flags: &flags,
        declared: fleet.agents.get(name),
        last_run: sessions.get(name.as_str()).and_then(|s| s.meta.as_ref()),
        seed: &seed_env(),
        cwd: &ctx.cwd,
    };
    start_spec(fleet, name, &inputs).map_err(|e| CliError::user(e.to_string()))
}

/// The seed's variables; an empty one counts as unset.
fn seed_env() -> SeedEnv {
    let var = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
    SeedEnv {
        runtime: var("MOSAIC_AGENT_RUNTIME"),
        command: var("MOSAIC_AGENT_COMMAND"),
        workdir: var("MOSAIC_AGENT_WORKDIR"),
    }
}
