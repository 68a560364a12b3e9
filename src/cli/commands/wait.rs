use clap::{Args, ValueEnum};

use crate::cli::commands::agent_names;
use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::Core;
use crate::core::ops::wait::Until;
use crate::core::rows::AgentRow;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum State {
    Running,
    Exited,
    Working,
    Idle,
    Waiting,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The agents; all of them must get there
    #[arg(required = true)]
    pub names: Vec<String>,
    /// The state to wait for
    #[arg(long, value_name = "STATE")]
    pub until: State,
    /// Give up after this long, e.g. 30s, 5m [default: wait as long as it takes]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
}

/// Exit 0 when every agent is in the state, 1 when the time ran out first
/// (saying where each one is).
pub fn cmd_wait(core: &Core, args: &WaitArgs) -> Result<i32, CliError> {
    let names = agent_names(&args.names)?;
    let timeout = match &args.timeout {
        Some(text) => Some(humantime::parse_duration(text).map_err(|e| {
            CliError::user(format!(
                "--timeout {text:?} is not a duration ({e}): use e.g. 30s, 5m"
            ))
        })?),
        None => None,
    };
    let until = match args.until {
        State::Running => Until::Running,
        State::Exited => Until::Exited,
        State::Working => Until::Working,
        State::Idle => Until::Idle,
        State::Waiting => Until::Waiting,
    };
    let waited = core.wait(&names, until, timeout)?;
    crate::cli::print_warnings(core);
    if waited.reached {
        let lines: String = waited
            .rows
            .iter()
            .map(|r| format!("{}  {}\n", r.name, state(r)))
            .collect();
        output::print(&lines);
        return Ok(0);
    }
    let elsewhere: Vec<String> = waited
        .rows
        .iter()
        .filter(|r| !until.holds(r))
        .map(|r| format!("{} is {}", r.name, state(r)))
        .collect();
    let when = if waited.unreachable {
        "and will not be by itself".to_string()
    } else {
        format!("after {}", args.timeout.as_deref().unwrap_or_default())
    };
    Err(CliError::failed(format!(
        "not {} {when}: {}",
        until.word(),
        elsewhere.join(", ")
    )))
}

/// `running idle`, `exited 3`, `missing`.
fn state(row: &AgentRow) -> String {
    match (row.exit_code, row.activity) {
        (Some(code), _) => format!("{} {code}", row.status),
        (None, Some(activity)) => format!("{} {activity}", row.status),
        (None, None) => row.status.to_string(),
    }
}
