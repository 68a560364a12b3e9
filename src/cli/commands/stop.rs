use clap::Args;

use crate::cli::commands::{Report, print_reports, record_stops};
use crate::cli::error::CliError;
use crate::core::context::{Context, agent_name};
use crate::core::reconcile::{self, StopStep};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The agent to stop
    pub name: String,
}

pub fn cmd_stop(ctx: &Context, args: &StopArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let fleet = ctx.fleet()?;
    let _lock = ctx.lock()?;
    let sessions = ctx.observe_and_record()?;
    let remote = fleet.agents.get(&name).and_then(|a| a.spec.host.as_ref());
    if let (Some(host), None) = (remote, sessions.get(name.as_str())) {
        return Err(CliError::user(format!(
            "agent {name} belongs on host {host}: stop it there"
        )));
    }
    let report = match reconcile::plan_stop(sessions.get(name.as_str())) {
        StopStep::Kill => {
            record_stops(ctx, &[&name]);
            reconcile::stop(&ctx.tmux, &[&name])?;
            Report::ok(name.as_str(), "stopped")
        }
        StopStep::NotRunning => Report::ok(name.as_str(), "not running"),
        StopStep::Conflict => {
            return Err(CliError::failed(format!(
                "session {name} was not started by fleet, so fleet leaves it alone (end it yourself with tmux -L {} kill-session -t ={name})",
                ctx.tmux.socket()
            )));
        }
    };
    Ok(print_reports(&[report]))
}
