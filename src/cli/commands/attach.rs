use std::io::IsTerminal;
use std::os::unix::process::CommandExt;

use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::core::Core;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The agent to attach to
    pub name: String,
    /// Attach read-write: your keystrokes reach the agent (recorded as an event)
    #[arg(long)]
    pub takeover: bool,
}

/// Read-only by default: the operator sees everything and keystrokes do not
/// reach the agent (a read-only client gives way to other clients on window
/// size; alone, it sizes the window as any client does). `--takeover` is the
/// explicit, recorded act of taking the wheel.
pub fn cmd_attach(core: &Core, args: &AttachArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let mut command = core.attach(&name, args.takeover)?;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::user(
            "fleet attach needs a terminal: run it from an interactive shell (fleet peek works anywhere)",
        ));
    }
    if std::env::var_os("TERM").is_none_or(|t| t.is_empty() || t == "dumb") {
        return Err(CliError::user(
            "fleet attach needs a terminal type: set TERM (e.g. TERM=xterm-256color)",
        ));
    }
    if args.takeover {
        core.record_takeover(&name);
    }
    crate::cli::print_warnings(core);
    let err = command.exec();
    Err(CliError::failed(format!("cannot run tmux attach: {err}")))
}
