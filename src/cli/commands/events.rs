use clap::Args;

use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::context::{Context, agent_name};
use crate::core::store::events::{Event, now_ms};

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

pub fn cmd_events(ctx: &Context, args: &EventsArgs) -> Result<i32, CliError> {
    let name = args.name.as_deref().map(agent_name).transpose()?;
    let since_ms = match &args.since {
        Some(text) => {
            let d = humantime::parse_duration(text).map_err(|e| {
                CliError::user(format!(
                    "--since {text:?} is not a duration ({e}): use e.g. 30m, 2h, 7d"
                ))
            })?;
            now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        }
        None => 0,
    };
    // Bring history up to date with what has happened since anyone looked.
    ctx.observe_and_record()?;
    let events =
        ctx.with_store(|store| store.events(name.as_ref().map(|n| n.as_str()), since_ms, 0))?;
    if args.json {
        let text = serde_json::to_string_pretty(&events)
            .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))?;
        output::print(&format!("{text}\n"));
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
