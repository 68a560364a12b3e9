use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::Core;

#[derive(Debug, Args)]
pub struct PeekArgs {
    /// The agent to look at
    pub name: String,
    /// Only the last LINES lines, reaching back into the scrollback
    #[arg(short = 'n', long = "lines", value_name = "LINES")]
    pub lines: Option<usize>,
    /// Keep colours and attributes as escape sequences
    #[arg(long)]
    pub raw: bool,
}

/// Read-only: `capture-pane` reads the screen without entering copy mode,
/// scrolling, or sending anything to the pane.
pub fn cmd_peek(core: &Core, args: &PeekArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let screen = core.peek(&name, args.lines, args.raw)?;
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    if args.raw {
        output::print_raw(screen.as_bytes());
    } else {
        output::print(&screen);
    }
    Ok(0)
}
