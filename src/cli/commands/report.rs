use clap::{Args, ValueEnum};

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::core::Core;
use crate::core::signals::Source;
use crate::core::signals::report::ReportedState;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum State {
    Working,
    Idle,
    Waiting,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The agent (inside its pane: "$FLEET_AGENT")
    pub name: String,
    /// What it is doing
    pub state: State,
    /// Why, in a line: shown by ps, watch and explain
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub detail: String,
}

/// How a runtime, a hook or a wrapper script tells fleet what its agent is
/// doing: one tmux call, so it never holds the runtime up.
pub fn cmd_report(core: &Core, args: &ReportArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let state = match args.state {
        State::Working => ReportedState::Working,
        State::Idle => ReportedState::Idle,
        State::Waiting => ReportedState::Waiting,
    };
    core.report(&name, state, Source::Report, &args.detail)?;
    Ok(0)
}
