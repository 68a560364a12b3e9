use clap::Args;

use crate::cli::error::CliError;
use crate::cli::hosts;
use crate::cli::report::{self, Command};
use crate::core::Core;
use crate::core::ops::stop::StopOutcome;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Agents to stop, NAME or NAME@HOST [default: every agent the fleet file declares]
    pub names: Vec<String>,
    /// Only the agents of this host (repeatable) [default: every host]
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

pub fn cmd_down(core: &Core, args: &DownArgs) -> Result<i32, CliError> {
    let plan = hosts::plan(core, &args.names, &args.hosts)?;
    let argv = |names: &[_]| -> Vec<String> {
        std::iter::once("down".to_string())
            .chain(names.iter().map(ToString::to_string))
            .collect()
    };
    hosts::across(
        core,
        &plan,
        &argv,
        |names| {
            let outcomes = core.down(names)?;
            let lines: Vec<_> = outcomes
                .iter()
                // Each host says what it did with its own agents.
                .filter(|o| !matches!(o.outcome, StopOutcome::OnOtherHost { .. }))
                .map(|o| report::stop(o, Command::Down))
                .collect();
            // Warnings first, as the answer may be long.
            crate::cli::print_warnings(core);
            Ok(report::print(&lines))
        },
        "down",
    )
}
