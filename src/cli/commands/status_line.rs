//! `fleet status-line`: the fleet in one short line for tmux's status bar
//! (`#(fleet status-line)`): how many run, and who needs a human, on
//! every host.

use clap::Args;

use crate::cli::error::CliError;
use crate::cli::{output, words};
use crate::core::Core;
use crate::core::rows::AgentRow;
use crate::core::vocab::Status;

#[derive(Debug, Args)]
pub struct StatusLineArgs {}

/// At most this many names after a count.
const NAMES: usize = 3;

pub fn cmd_status_line(core: &Core, _args: &StatusLineArgs) -> Result<i32, CliError> {
    // A status bar shows what it gets: the line, or why there is none.
    let rows = match crate::cli::hosts::plan(core, &[], &[]) {
        Ok(plan) if !plan.is_local() => core.ps_across(&plan).map(|(rows, _)| rows),
        _ => core.ps(),
    };
    let line = match rows {
        // Other hosts go unasked while the file does not read: say so.
        Ok(rows) if core.settings.file.is_some() && core.fleet().is_err() => {
            format!("fleet.toml broken · {}", line(&rows))
        }
        Ok(rows) => line(&rows),
        Err(e) => format!("fleet: {e}"),
    };
    let _ = core.take_warnings();
    output::print(&format!(
        "{}\n",
        output::safe(&line).replace(['\n', '\t'], " ")
    ));
    Ok(0)
}

/// `fleet 4 running · 2 waiting (scout, builder) · 1 exited (janitor)`.
pub fn line(rows: &[AgentRow]) -> String {
    let named = |what: &str, pick: &dyn Fn(&AgentRow) -> bool| {
        let names: Vec<&str> = rows
            .iter()
            .filter(|r| pick(r))
            .map(|r| r.name.as_str())
            .collect();
        if names.is_empty() {
            return None;
        }
        let mut shown = names
            .iter()
            .take(NAMES)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > NAMES {
            shown.push_str(", …");
        }
        Some(format!("{} {what} ({shown})", names.len()))
    };
    let running = rows.iter().filter(|r| r.status == Status::Running).count();
    let parts: Vec<String> = [
        Some(format!("fleet {running} running")),
        named("waiting", &words::waits),
        named("exited", &|r| r.status == Status::Exited),
        // Declared, and not running: down, or never brought up.
        named("missing", &|r| r.status == Status::Missing),
        named("crashloop", &|r| r.status == Status::Crashloop),
        named("drift", &|r| r.status == Status::Drift),
        named("unreachable", &|r| r.status == Status::Unreachable),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.join(" · ")
}
