use clap::Args;

use crate::commands::{check_launchable, launch_and_report, print_reports};
use crate::context::{Context, agent_name};
use crate::error::CliError;
use crate::fleetfile::{AgentDecl, CommandSource};
use crate::reconcile;

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
    let declared = fleet.agents.get(&name);
    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());

    let mut decl = match declared {
        Some(agent) => agent.decl.clone(),
        // The seed's variables keep working for agents the file does not name.
        None => AgentDecl {
            runtime: env("MOSAIC_AGENT_RUNTIME"),
            workdir: Some(
                env("MOSAIC_AGENT_WORKDIR")
                    .unwrap_or_else(|| ctx.cwd.to_string_lossy().into_owned()),
            ),
            command: env("MOSAIC_AGENT_COMMAND").map(CommandSource::Template),
            ..AgentDecl::default()
        },
    };
    if !args.command.is_empty() {
        decl.command = Some(CommandSource::Argv(args.command.clone()));
        decl.processes = None;
        if args.runtime.is_none() && declared.is_none() && decl.runtime.is_none() {
            decl.runtime = Some("custom".into());
        }
    }
    if let Some(runtime) = &args.runtime {
        decl.runtime = Some(runtime.clone());
        if declared.is_some() && args.command.is_empty() {
            decl.command = None;
            decl.processes = None;
        }
    }
    decl.model = args.model.clone().or(decl.model);
    decl.effort = args.effort.clone().or(decl.effort);
    if let Some(workdir) = &args.workdir {
        decl.workdir = Some(ctx.cwd.join(workdir).to_string_lossy().into_owned());
    }
    let spec = fleet
        .resolve(&name, &decl)
        .map_err(|(_, message)| CliError::user(format!("agent {name}: {message}")))?;
    if let Some(host) = &spec.host {
        return Err(CliError::user(format!(
            "agent {name} belongs on host {host}: start it there (fleet start {name} on {host})"
        )));
    }

    let _lock = ctx.lock()?;
    let sessions = ctx.observe_and_record()?;
    let step = reconcile::plan_start(sessions.get(name.as_str()));
    let plans = [(&spec, step)];
    check_launchable(&fleet, &plans)?;
    let reports = launch_and_report(ctx, &plans, &sessions, "started")?;
    Ok(print_reports(&reports))
}
