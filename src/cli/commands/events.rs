use clap::Args;

use crate::cli::commands::{agent_name, json};
use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::Core;
use crate::core::store::events::Event;
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this agent's events
    pub name: Option<String>,
    /// Only events this recent, e.g. 30m, 2h, 7d
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Print one JSON array (a stable interface)
    #[arg(long)]
    pub json: bool,
}

pub fn cmd_events(core: &Core, args: &EventsArgs) -> Result<i32, CliError> {
    let name = args.name.as_deref().map(agent_name).transpose()?;
    let since = match &args.since {
        Some(text) => Some(humantime::parse_duration(text).map_err(|e| {
            CliError::user(format!(
                "--since {text:?} is not a duration ({e}): use e.g. 30m, 2h, 7d"
            ))
        })?),
        None => None,
    };
    let events = core.events(name.as_ref(), since)?;
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    if args.json {
        output::print(&json(&events)?);
    } else if events.is_empty() {
        output::print("no events\n");
    } else {
        output::print(&render(&events));
    }
    Ok(0)
}

pub fn render(events: &[Event]) -> String {
    let rows: Vec<Vec<(String, Option<output::Color>)>> = events
        .iter()
        .map(|e| {
            vec![
                (e.time.clone(), None),
                (e.agent.clone(), None),
                (word(e), None),
                (e.detail.clone(), None),
            ]
        })
        .collect();
    output::table(&["TIME", "AGENT", "EVENT", "DETAIL"], &rows, false)
}

/// `exited 127` reads better than `exited` with the code apart.
pub fn word(e: &Event) -> String {
    match e.exit_code {
        Some(code) => format!("{} {code}", e.event),
        None => e.event.to_string(),
    }
}
