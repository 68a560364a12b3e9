use clap::Args;

use crate::cli::commands::json;
use crate::cli::error::CliError;
use crate::cli::hosts;
use crate::cli::output::{self, Color};
use crate::core::Core;
use crate::core::Warning;
use crate::core::rows::{self, AgentRow};
use crate::core::vocab::{ActivityKind, Status};

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
    let dash = || "-".to_string();
    let cells: Vec<Vec<(String, Option<Color>)>> = rows
        .iter()
        .map(|r| {
            let status = match (r.status, r.exit_code) {
                (Status::Exited, Some(code)) => format!("exited {code}"),
                (s, _) => s.word().to_string(),
            };
            let activity_color = match r.activity {
                Some(ActivityKind::Waiting) => Some(Color::Yellow),
                Some(ActivityKind::Working) => Some(Color::Green),
                _ => None,
            };
            let status_color = match r.status {
                Status::Running => Color::Green,
                Status::Drift => Color::Yellow,
                Status::Exited | Status::Unreachable | Status::Crashloop => Color::Red,
                Status::Missing => Color::Dim,
                Status::Unmanaged => Color::Magenta,
            };
            vec![
                (r.name.clone(), None),
                (r.host.clone(), None),
                (r.runtime.clone().unwrap_or_else(dash), None),
                (r.model.clone().unwrap_or_else(dash), None),
                (r.effort.clone().unwrap_or_else(dash), None),
                (status, Some(status_color)),
                (
                    match (r.activity, r.idle_seconds) {
                        // Why its host did not answer, in a word.
                        _ if r.status == Status::Unreachable => r
                            .reason
                            .as_deref()
                            .and_then(|why| why.split(':').next())
                            .unwrap_or("-")
                            .to_string(),
                        (Some(ActivityKind::Idle), Some(secs)) => {
                            format!("idle {}", rows::short_duration(secs))
                        }
                        (Some(word), _) => word.to_string(),
                        (None, _) => dash(),
                    },
                    activity_color,
                ),
                (
                    r.uptime_seconds
                        .map(rows::short_duration)
                        .unwrap_or_else(dash),
                    None,
                ),
                (r.restarts.to_string(), None),
            ]
        })
        .collect();
    output::table(&HEADER, &cells, color)
}
