use clap::Args;

use crate::cli::error::CliError;
use crate::core::Core;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen [default: 127.0.0.1:7077, this machine only]
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<String>,
}

/// The fleet in a browser, read-only, behind a token.
pub fn cmd_serve(core: &Core, args: &ServeArgs) -> Result<i32, CliError> {
    crate::cli::serve::run(core, args.listen.as_deref())
}
