use clap::Args;

use crate::cli::error::CliError;
use crate::core::Core;

#[derive(Debug, Args)]
pub struct DashArgs {
    /// Only the agents of this host (repeatable) [default: every host]
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

/// The whole fleet on one screen, live; `?` there lists the keys.
pub fn cmd_dash(core: &Core, args: &DashArgs) -> Result<i32, CliError> {
    crate::cli::dash::run(core, &args.hosts)
}
