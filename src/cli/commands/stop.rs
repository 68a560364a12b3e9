use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::cli::report::{self, Command};
use crate::core::Core;
use crate::core::ops::launch::AgentOutcome;

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The agent to stop
    pub name: String,
}

pub fn cmd_stop(core: &Core, args: &StopArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let outcome = AgentOutcome {
        outcome: core.stop(&name)?,
        name,
    };
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    Ok(report::print(&[report::stop(&outcome, Command::Other)]))
}
