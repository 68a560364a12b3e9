//! One module per subcommand: each parses its arguments, asks the core, and
//! renders the answer. Nothing here decides anything about the fleet.

pub mod attach;
pub mod dash;
pub mod down;
pub mod events;
pub mod explain;
pub mod hook;
pub mod hosts;
pub mod init;
pub mod log_writer;
pub mod logs;
pub mod peek;
pub mod ps;
pub mod report;
pub mod restart;
pub mod send;
pub mod serve;
pub mod start;
pub mod status_line;
pub mod stop;
pub mod supervise;
pub mod up;
pub mod verify;
pub mod wait;
pub mod watch;

use crate::cli::args::Command;
use crate::cli::error::CliError;
use crate::core::Core;
use crate::core::desired::agent::AgentName;

/// Runs the parsed command on the core; returns the exit code.
pub fn dispatch(core: &Core, command: Command) -> Result<i32, CliError> {
    let command = match crate::cli::hosts::route(core, command)? {
        crate::cli::hosts::Routed::Here(command) => command,
        crate::cli::hosts::Routed::Done(code) => return Ok(code),
    };
    match command {
        Command::Init(args) => init::cmd_init(core, &args),
        Command::Up(args) => up::cmd_up(core, &args),
        Command::Down(args) => down::cmd_down(core, &args),
        Command::Start(args) => start::cmd_start(core, &args),
        Command::Stop(args) => stop::cmd_stop(core, &args),
        Command::Restart(args) => restart::cmd_restart(core, &args),
        Command::Ps(args) => ps::cmd_ps(core, &args),
        Command::Hosts(args) => hosts::cmd_hosts(core, &args),
        Command::Dash(args) => dash::cmd_dash(core, &args),
        Command::Serve(args) => serve::cmd_serve(core, &args),
        Command::Verify(args) => verify::cmd_verify(core, &args),
        Command::Watch(args) => watch::cmd_watch(core, &args),
        Command::Supervise(args) => supervise::cmd_supervise(core, &args),
        Command::StatusLine(args) => status_line::cmd_status_line(core, &args),
        Command::Peek(args) => peek::cmd_peek(core, &args),
        Command::Logs(args) => logs::cmd_logs(core, &args),
        Command::Events(args) => events::cmd_events(core, &args),
        Command::Attach(args) => attach::cmd_attach(core, &args),
        Command::Send(args) => send::cmd_send(core, &args),
        Command::Report(args) => report::cmd_report(core, &args),
        Command::Wait(args) => wait::cmd_wait(core, &args),
        Command::Explain(args) => explain::cmd_explain(core, &args),
        Command::Hook(args) => Ok(hook::cmd_hook(core, &args)),
        Command::LogWriter(args) => log_writer::cmd_log_writer(&args),
        Command::Remote(_) => Ok(crate::cli::remote::serve()),
    }
}

/// Checks agent names before anything touches tmux.
pub fn agent_names(names: &[String]) -> Result<Vec<AgentName>, CliError> {
    names.iter().map(|n| agent_name(n)).collect()
}

pub fn agent_name(name: &str) -> Result<AgentName, CliError> {
    AgentName::parse(name).map_err(|e| CliError::user(e.to_string()))
}

/// Pretty JSON and a newline: the stable `--json` form.
pub fn json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|text| format!("{text}\n"))
        .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))
}
