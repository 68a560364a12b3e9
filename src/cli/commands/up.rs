use clap::Args;

use crate::cli::error::CliError;
use crate::cli::hosts;
use crate::cli::report::{self, Command};
use crate::core::Core;
use crate::core::ops::launch::LaunchOutcome;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Agents to bring up, NAME or NAME@HOST [default: every agent the fleet file declares]
    pub names: Vec<String>,
    /// Only the agents of this host (repeatable) [default: every host]
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

pub fn cmd_up(core: &Core, args: &UpArgs) -> Result<i32, CliError> {
    let plan = hosts::plan(core, &args.names, &args.hosts)?;
    let argv = |names: &[_]| -> Vec<String> {
        std::iter::once("up".to_string())
            .chain(names.iter().map(ToString::to_string))
            .collect()
    };
    hosts::across(
        core,
        &plan,
        &argv,
        |names| {
            let outcomes = core.up(names)?;
            let lines: Vec<_> = outcomes
                .iter()
                // Each host says what it did with its own agents.
                .filter(|o| !matches!(o.outcome, LaunchOutcome::OnOtherHost { .. }))
                .map(|o| report::launch(o, Command::Up))
                .collect();
            // Warnings first, as the answer may be long.
            crate::cli::print_warnings(core);
            Ok(report::print(&lines))
        },
        "up",
    )
}
