use clap::Args;

use crate::cli::commands::{check_launchable, launch_and_report, print_reports};
use crate::cli::error::CliError;
use crate::core::context::{Context, agent_name};
use crate::core::reconcile;

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The agent to restart: as the fleet file declares it now, else as it
    /// was last started
    pub name: String,
}

pub fn cmd_restart(ctx: &Context, args: &RestartArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let fleet = ctx.fleet()?;
    let _lock = ctx.lock()?;
    let sessions = ctx.observe_and_record()?;
    let session = sessions.get(name.as_str());
    let spec = match (
        fleet.agents.get(&name),
        session.and_then(|s| s.meta.as_ref()),
    ) {
        (Some(declared), _) => declared.spec.clone(),
        (None, Some(meta)) => meta.to_spec(&name),
        (None, None) if session.is_some() => {
            return Err(CliError::failed(format!(
                "session {name} was not started by fleet, so fleet leaves it alone"
            )));
        }
        (None, None) => {
            return Err(CliError::user(format!(
                "agent {name} is not declared and has no session: start it with fleet start {name}"
            )));
        }
    };
    if let Some(host) = &spec.host {
        return Err(CliError::user(format!(
            "agent {name} belongs on host {host}: restart it there"
        )));
    }
    let plans = [(&spec, reconcile::plan_restart(session))];
    check_launchable(&fleet, &plans)?;
    let reports = launch_and_report(ctx, &plans, &sessions, "restarted")?;
    Ok(print_reports(&reports))
}
