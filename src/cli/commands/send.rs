use clap::Args;

use crate::cli::commands::{managed_session, record_act};
use crate::cli::error::CliError;
use crate::core::context::{Context, agent_name};
use crate::core::observe::Status;
use crate::core::vocab::EventKind;

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
pub fn cmd_send(ctx: &Context, args: &SendArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let text = args.text.join(" ");
    let sessions = ctx.observe_and_record()?;
    let session = managed_session(ctx, &sessions, &name)?;
    if session.status() == Status::Exited {
        return Err(CliError::failed(format!(
            "agent {name} has exited: nothing would read the text (fleet restart {name} first)"
        )));
    }
    ctx.tmux.send_text(&session.pane, &text, !args.no_enter)?;
    let detail = if args.no_enter {
        text.clone()
    } else {
        format!("{text}\u{23ce}")
    };
    record_act(ctx, name.as_str(), EventKind::Send, &detail);
    Ok(0)
}
