use clap::Args;

use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::context::{Context, agent_name};
use crate::core::host::tmux::Capture;
use crate::core::transcript::strip;

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
pub fn cmd_peek(ctx: &Context, args: &PeekArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let sessions = ctx.observe_and_record()?;
    let session = sessions.get(name.as_str()).ok_or_else(|| {
        CliError::failed(format!(
            "agent {name} has no session: fleet logs {name} shows its transcript"
        ))
    })?;
    let height = session.pane.height.max(1);
    let (what, lines) = match args.lines {
        Some(0) => return Err(CliError::user("-n 0 shows nothing: give at least 1 line")),
        Some(n) => (Capture::Last(n), n),
        // tmux scrolls a dead pane up a line to say so: reach back for what
        // scrolled off, so the screen shows why the runtime died.
        None if session.pane.dead => (Capture::Last(height), height),
        None => (Capture::Screen, usize::MAX),
    };
    let id = session.pane.pane_id;
    let screens = ctx.tmux.capture_many(&[id], what, args.raw)?;
    let text = screens.get(&id).map(String::as_str).unwrap_or_default();
    output::print(&strip::last_lines(text, lines));
    Ok(0)
}
