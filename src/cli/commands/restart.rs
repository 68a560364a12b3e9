use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::cli::report::{self, Command};
use crate::core::Core;

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The agent to restart: as the fleet file declares it now, else as it
    /// was last started
    pub name: String,
}

pub fn cmd_restart(core: &Core, args: &RestartArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let outcome = core.restart(&name)?;
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    Ok(report::print(&[report::launch(&outcome, Command::Other)]))
}
