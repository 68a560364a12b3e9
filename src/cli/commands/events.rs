use clap::Args;

use crate::cli::commands::json;
use crate::cli::error::{CliError, EXIT_UNREACHABLE};
use crate::cli::hosts;
use crate::cli::output;
use crate::core::Core;
use crate::core::desired::agent::AgentName;
use crate::core::ops::hosts::{Bound, cut};
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
    /// Only the events of this host (repeatable) [default: every host]
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

pub fn cmd_events(core: &Core, args: &EventsArgs) -> Result<i32, CliError> {
    let named: Vec<String> = args.name.iter().cloned().collect();
    let plan = hosts::plan(core, &named, &args.hosts)?;
    let name = match &plan.here {
        Some(names) => names.first().cloned(),
        None => None,
    };
    let since = match &args.since {
        Some(text) => Some(humantime::parse_duration(text).map_err(|e| {
            CliError::user(format!(
                "--since {text:?} is not a duration ({e}): use e.g. 30m, 2h, 7d"
            ))
        })?),
        None => None,
    };
    let argv = |names: &[AgentName]| -> Vec<String> {
        let mut argv = vec!["events".to_string(), "--json".to_string()];
        argv.extend(names.iter().map(ToString::to_string));
        argv.extend(
            args.since
                .iter()
                .flat_map(|s| ["--since".to_string(), s.clone()]),
        );
        argv
    };
    let (here, answers) = std::thread::scope(|scope| {
        let remote = scope.spawn(|| core.ask_each(&plan.there, &argv, Bound::Read));
        let here = plan
            .here
            .as_ref()
            .map(|_| core.events(name.as_ref(), since));
        (here, remote.join().unwrap_or_default())
    });
    let mut events = here.transpose()?.unwrap_or_default();
    let mut codes = vec![0];
    for answer in &answers {
        for line in &answer.err {
            output::eprint(&format!("fleet: {}", hosts::from_host(&answer.host, line)));
        }
        match &answer.result {
            Ok(0) => match serde_json::from_str::<Vec<Event>>(&answer.stdout()) {
                Ok(theirs) => {
                    let fleet = core.fleet().ok();
                    events.extend(theirs.into_iter().filter_map(|mut e| {
                        // Its own agents, at times that read as times.
                        let believed = humantime::parse_rfc3339(&e.time).is_ok()
                            && core.may_speak_of(fleet.as_deref(), &answer.host, &e.agent);
                        e.host = answer.host.clone();
                        cut(&mut e.detail, 300);
                        believed.then_some(e)
                    }));
                }
                Err(e) => {
                    output::eprint(&format!(
                        "fleet: host {} is unreachable (bad answer: its events --json does not read: {e})",
                        answer.host
                    ));
                    codes.push(EXIT_UNREACHABLE);
                }
            },
            Ok(code) => codes.push(*code),
            Err(why) => {
                output::eprint(&format!(
                    "fleet: host {} is unreachable ({why})",
                    answer.host
                ));
                codes.push(EXIT_UNREACHABLE);
            }
        }
    }
    // RFC 3339 in UTC with milliseconds: in time order as text.
    events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.host.cmp(&b.host)));
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    if args.json {
        output::print(&json(&events)?);
    } else if events.is_empty() && codes.iter().any(|&c| c != 0) {
        output::print("no events from the hosts that answered (see above)\n");
    } else if events.is_empty() {
        output::print("no events\n");
    } else {
        output::print(&render(&events, !plan.is_local()));
    }
    Ok(hosts::worst(&codes))
}

pub fn render(events: &[Event], with_host: bool) -> String {
    let rows: Vec<Vec<(String, Option<output::Color>)>> = events
        .iter()
        .map(|e| {
            let mut row = vec![(e.time.clone(), None)];
            if with_host {
                row.push((e.host.clone(), None));
            }
            row.extend([
                (e.agent.clone(), None),
                (word(e), None),
                (e.detail.clone(), None),
            ]);
            row
        })
        .collect();
    let header: &[&str] = if with_host {
        &["TIME", "HOST", "AGENT", "EVENT", "DETAIL"]
    } else {
        &["TIME", "AGENT", "EVENT", "DETAIL"]
    };
    output::table(header, &rows, false)
}

/// `exited 127` reads better than `exited` with the code apart.
pub fn word(e: &Event) -> String {
    match e.exit_code {
        Some(code) => format!("{} {code}", e.event),
        None => e.event.to_string(),
    }
}
