use clap::Args;

use crate::cli::commands::json;
use crate::cli::error::CliError;
use crate::cli::hosts;
use crate::cli::output::{self, Color};
use crate::cli::words::RowWords;
use crate::core::Core;
use crate::core::Warning;
use crate::core::rows::AgentRow;

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Print one JSON array (a stable interface for scripts and other hosts)
    #[arg(long)]
    pub json: bool,
    /// Only the agents of this host (repeatable) [default: every host]
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

pub fn cmd_ps(core: &Core, args: &PsArgs) -> Result<i32, CliError> {
    let plan = hosts::plan(core, &[], &args.hosts)?;
    let (rows, unreachable) = if plan.is_local() {
        (core.ps()?, Vec::new())
    } else {
        core.ps_across(&plan)?
    };
    for (host, why) in &unreachable {
        core.warn(Warning::HostUnreachable {
            host: host.clone(),
            why: why.clone(),
        });
    }
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    if args.json {
        output::print(&json(&rows)?);
    } else {
        output::print(&render_table(&rows, output::color_enabled()));
    }
    Ok(hosts::unanswered_code(&unreachable))
}

const HEADER: [&str; 9] = [
    "NAME", "HOST", "RUNTIME", "MODEL", "EFFORT", "STATUS", "ACTIVITY", "UPTIME", "RESTARTS",
];

pub fn render_table(rows: &[AgentRow], color: bool) -> String {
    if rows.is_empty() {
        return "no agents: declare some in fleet.toml and run fleet up, or fleet start NAME\n"
            .to_string();
    }
    let cells: Vec<Vec<(String, Option<Color>)>> = rows
        .iter()
        .map(|r| {
            let w = RowWords::of(r);
            vec![
                (w.name, None),
                (w.host, None),
                (w.runtime, None),
                (w.model, None),
                (w.effort, None),
                (w.status, Some(w.status_color)),
                (w.activity, w.activity_color),
                (w.uptime, None),
                (w.restarts, None),
            ]
        })
        .collect();
    output::table(&HEADER, &cells, color)
}
