use std::time::Duration;

use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::Core;
use crate::core::transcript::strip::Stripper;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The agent whose transcript to print
    pub name: String,
    /// Keep printing as the agent writes (until interrupted)
    #[arg(short, long)]
    pub follow: bool,
    /// Print the transcript as recorded, escape sequences and all
    #[arg(long)]
    pub raw: bool,
}

/// How often `--follow` looks for more.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// Read-only: the transcript is a file the pane's pipe writes; reading it
/// never touches the agent, and it stays after the pane is gone.
pub fn cmd_logs(core: &Core, args: &LogsArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let (mut reader, bytes) = core.transcript(&name)?;
    let mut stripper = Stripper::new();
    let mut emit = |bytes: &[u8]| -> bool {
        if args.raw {
            output::print(&String::from_utf8_lossy(bytes))
        } else {
            output::print(&stripper.feed(bytes))
        }
    };
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    emit(&bytes);
    if !args.follow {
        return Ok(0);
    }
    let path = core.transcripts()?.path(&name);
    let read_err = |e: std::io::Error| CliError::failed(format!("{}: {e}", path.display()));
    if !reader.is_open() {
        // Not there to follow: say why, as opening it says.
        reader.read_new().map_err(read_err)?;
    }
    loop {
        std::thread::sleep(FOLLOW_EVERY);
        let fresh = reader.read_new().map_err(read_err)?;
        if !emit(&fresh) {
            // Nobody reads any more (`fleet logs -f | head`).
            return Ok(0);
        }
    }
}
