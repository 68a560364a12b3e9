use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::cli::report::{self, Command};
use crate::core::Core;
use crate::core::desired::start::StartFlags;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The agent: lowercase letters, digits, '-' and '_' (at most 63)
    pub name: String,
    /// Runtime to run (pi, codex, claude, shell, stub, or one of the fleet file's)
    #[arg(long)]
    pub runtime: Option<String>,
    /// Model, recorded as fleet metadata and filled into {model}
    #[arg(long)]
    pub model: Option<String>,
    /// Effort, recorded as fleet metadata and filled into {effort}
    #[arg(long)]
    pub effort: Option<String>,
    /// Directory the agent runs in [default: the declared one, else
    /// $MOSAIC_AGENT_WORKDIR, else the current directory]
    #[arg(long)]
    pub workdir: Option<String>,
    /// The command to run instead of the runtime's, after `--`; each
    /// argument arrives byte for byte
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn cmd_start(core: &Core, args: &StartArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    // What the fleet file refuses, the flags refuse too: it would reach
    // tmux, the pane and every view. (A workdir is a path: any byte goes.)
    for (flag, value) in [
        ("--runtime", &args.runtime),
        ("--model", &args.model),
        ("--effort", &args.effort),
    ] {
        if let Some(c) = value
            .as_deref()
            .and_then(|v| v.chars().find(|c| c.is_control()))
        {
            return Err(CliError::user(format!(
                "{flag} contains the control character U+{:04X}: remove it",
                u32::from(c)
            )));
        }
    }
    let flags = StartFlags {
        runtime: args.runtime.clone(),
        model: args.model.clone(),
        effort: args.effort.clone(),
        workdir: args.workdir.clone(),
        command: args.command.clone(),
    };
    let outcome = core.start(&name, &flags)?;
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    Ok(report::print(&[report::launch(&outcome, Command::Other)]))
}
