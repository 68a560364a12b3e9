use clap::Args;

use crate::cli::commands::json;
use crate::cli::error::{CliError, EXIT_UNREACHABLE};
use crate::cli::hosts;
use crate::cli::output::{self, Color};
use crate::core::Core;
use crate::core::ops::hosts::HostReport;

#[derive(Debug, Args)]
pub struct HostsArgs {
    /// Print one JSON array (a stable interface)
    #[arg(long)]
    pub json: bool,
    /// Only this host (repeatable) [default: every host]
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Only this machine, as another host's fleet asks it
    #[arg(long, hide = true)]
    pub here: bool,
}

/// Every host with its reachability, versions and boot unit; exit 3 when
/// one did not answer.
pub fn cmd_hosts(core: &Core, args: &HostsArgs) -> Result<i32, CliError> {
    if args.here {
        output::print(&json(&core.here_report())?);
        return Ok(0);
    }
    let plan = hosts::plan(core, &[], &args.hosts)?;
    let reports = core.host_reports(&plan);
    crate::cli::print_warnings(core);
    if args.json {
        output::print(&json(&reports)?);
    } else {
        output::print(&render(&reports, output::color_enabled()));
    }
    Ok(if reports.iter().all(|r| r.reachable) {
        0
    } else {
        EXIT_UNREACHABLE
    })
}

fn render(reports: &[HostReport], color: bool) -> String {
    let dash = || "-".to_string();
    let rows: Vec<Vec<(String, Option<Color>)>> = reports
        .iter()
        .map(|r| {
            let reach = match (&r.reason, r.ssh.as_str()) {
                (Some(why), _) => (format!("no ({why})"), Some(Color::Red)),
                (None, "here") => ("here".to_string(), Some(Color::Green)),
                (None, _) => ("yes".to_string(), Some(Color::Green)),
            };
            let boot = match (r.unit_installed, r.unit_enabled, r.linger) {
                (None, _, _) => dash(),
                (Some(false), _, _) => "not installed (fleet init)".to_string(),
                (Some(true), enabled, linger) => format!(
                    "{}{}",
                    if enabled == Some(true) {
                        "enabled"
                    } else {
                        "installed, not enabled"
                    },
                    if linger == Some(true) {
                        ", linger"
                    } else {
                        ", no linger"
                    }
                ),
            };
            vec![
                (r.host.clone(), None),
                (r.ssh.clone(), None),
                (r.fleet.clone().unwrap_or_else(dash), None),
                (
                    match (&r.tmux, r.reachable) {
                        (Some(v), _) => v.clone(),
                        (None, true) => "not found".into(),
                        (None, false) => dash(),
                    },
                    None,
                ),
                (boot, None),
                reach,
            ]
        })
        .collect();
    output::table(
        &["HOST", "SSH", "FLEET", "TMUX", "BOOT UNIT", "REACHABLE"],
        &rows,
        color,
    )
}
