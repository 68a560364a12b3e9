use clap::Args;

use crate::cli::commands::{Report, print_reports, record_stops};
use crate::cli::error::CliError;
use crate::core::context::{Context, agent_name};
use crate::core::desired::agent::AgentName;
use crate::core::reconcile::{self, StopStep};

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Agents to stop [default: every agent the fleet file declares]
    pub names: Vec<String>,
}

pub fn cmd_down(ctx: &Context, args: &DownArgs) -> Result<i32, CliError> {
    let names = args
        .names
        .iter()
        .map(|n| agent_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    let fleet = if names.is_empty() {
        ctx.require_fleet("down")?
    } else {
        ctx.fleet()?
    };
    let _lock = ctx.lock()?;
    let sessions = ctx.observe_and_record()?;
    let targets: Vec<AgentName> = if names.is_empty() {
        fleet.agents.keys().cloned().collect()
    } else {
        for name in &names {
            let managed = sessions.get(name.as_str()).is_some_and(|s| s.is_managed());
            if !fleet.agents.contains_key(name) && !managed {
                return Err(CliError::user(format!(
                    "no agent named {name}: it is neither declared nor running (see fleet ps)"
                )));
            }
        }
        names
    };

    let mut kill = Vec::new();
    let mut reports = Vec::new();
    for name in &targets {
        let remote = fleet.agents.get(name).and_then(|a| a.spec.host.as_ref());
        if let (Some(host), None) = (remote, sessions.get(name.as_str())) {
            reports.push(Report::ok(
                name.as_str(),
                format!("skipped: belongs on host {host} (run fleet down there)"),
            ));
            continue;
        }
        match reconcile::plan_stop(sessions.get(name.as_str())) {
            StopStep::Kill => kill.push(name),
            StopStep::NotRunning => reports.push(Report::ok(name.as_str(), "not running")),
            StopStep::Conflict => reports.push(Report::ok(
                name.as_str(),
                "left alone: this session was not started by fleet",
            )),
        }
    }
    record_stops(ctx, &kill);
    reconcile::stop(&ctx.tmux, &kill)?;
    reports.extend(kill.iter().map(|n| Report::ok(n.as_str(), "stopped")));
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(print_reports(&reports))
}
