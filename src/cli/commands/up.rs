use clap::Args;

use crate::cli::commands::{Report, check_launchable, launch_and_report, print_reports};
use crate::cli::error::CliError;
use crate::core::context::{Context, agent_name};
use crate::core::desired::agent::AgentSpec;
use crate::core::reconcile::{self, Step, unix_now};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Agents to bring up [default: every agent the fleet file declares]
    pub names: Vec<String>,
}

pub fn cmd_up(ctx: &Context, args: &UpArgs) -> Result<i32, CliError> {
    let names = args
        .names
        .iter()
        .map(|n| agent_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    let fleet = ctx.require_fleet("up")?;
    for name in &names {
        if !fleet.agents.contains_key(name) {
            return Err(CliError::user(format!(
                "agent {name} is not declared in {}: add [agents.{name}] or use fleet start {name}",
                fleet
                    .path
                    .as_deref()
                    .unwrap_or("fleet.toml".as_ref())
                    .display()
            )));
        }
    }
    let selected: Vec<&AgentSpec> = fleet
        .agents
        .values()
        .map(|a| &a.spec)
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect();

    let _lock = ctx.lock()?;
    let sessions = ctx.observe_and_record()?;
    let mut remote = Vec::new();
    let mut plans: Vec<(&AgentSpec, Step)> = Vec::new();
    for spec in selected {
        match &spec.host {
            Some(host) => remote.push(Report::ok(
                spec.name.as_str(),
                format!("skipped: belongs on host {host} (run fleet up there)"),
            )),
            None => plans.push((
                spec,
                reconcile::plan_start(sessions.get(spec.name.as_str()), unix_now()),
            )),
        }
    }
    check_launchable(&fleet, &plans)?;
    let mut reports = launch_and_report(ctx, &plans, &sessions, "started")?;
    reports.extend(remote);
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(print_reports(&reports))
}
