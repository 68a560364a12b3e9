use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::core::Core;

#[derive(Debug, Args)]
#[command(allow_hyphen_values = true)]
pub struct SendArgs {
    /// Leave Enter off: type the text only
    #[arg(long)]
    pub no_enter: bool,
    /// The agent to type into
    pub name: String,
    /// The text, typed literally: `-x`, `C-c` and `a;b` are the characters
    /// they are; several words are joined with spaces
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub text: Vec<String>,
}

/// A takeover act: it types into the agent, and is recorded as an event.
pub fn cmd_send(core: &Core, args: &SendArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    core.send(&name, &args.text.join(" "), !args.no_enter)?;
    Ok(0)
}
