use clap::Args;

use crate::cli::commands::agent_names;
use crate::cli::error::CliError;
use crate::cli::report::{self, Command};
use crate::core::Core;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Agents to stop [default: every agent the fleet file declares]
    pub names: Vec<String>,
}

pub fn cmd_down(core: &Core, args: &DownArgs) -> Result<i32, CliError> {
    let names = agent_names(&args.names)?;
    let outcomes = core.down(&names)?;
    let lines: Vec<_> = outcomes
        .iter()
        .map(|o| report::stop(o, Command::Down))
        .collect();
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    Ok(report::print(&lines))
}
