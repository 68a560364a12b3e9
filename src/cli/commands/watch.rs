//! `fleet watch`: transitions as they happen.
//!
//! Batched polling with a content check: every tick is one `list-panes -a`
//! (which also carries each window's last-output time), and screens are read
//! (all in one more tmux call) only for panes that produced output since
//! they were last read (see `waiting`), so a fleet of idle agents costs one
//! small tmux call per tick. Lifecycle changes go through the event store, so changes made
//! or seen by other `fleet` processes (a stop, a send) show up here too.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;

use crate::cli::commands::events::word;
use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::Core;
use crate::core::clock::rfc3339_ms;
use crate::core::host::HostError;
use crate::core::monitor::transitions;
use crate::core::observe::Status;
use crate::core::rows;
use crate::core::signals::activity::Activity;
use crate::core::signals::cache::{Patterns, WaitingCache};
use crate::core::store::events::Event;

/// How often the fleet is looked at: transitions show within a second.
const TICK: Duration = Duration::from_millis(250);

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// One JSON object per line: time, host, agent, event, exit_code, detail
    #[arg(long)]
    pub json: bool,
}

pub fn cmd_watch(core: &Core, args: &WatchArgs) -> Result<i32, CliError> {
    let fleet = core.fleet()?;
    let mut last_id = core.with_store(|store| store.last_id())?;
    let mut patterns = Patterns::new(&fleet);
    let idle_after = core.settings.idle_after;

    let mut last_lifecycles = None;
    let mut cache = WaitingCache::default();
    let mut last_activity: BTreeMap<String, Activity> = BTreeMap::new();
    // Agents already running when the watch began: their first activity is
    // the starting point, not news. Later arrivals report theirs.
    let mut first_look = true;

    loop {
        let tick = Instant::now();
        let observed_ms = core.clock().now_ms();
        let sessions = match core.host().list_panes() {
            Ok(panes) => crate::core::observe::sessions(panes),
            // tmux refused something mid-change (a session ending as it was
            // asked about): look again next tick rather than stop watching.
            Err(HostError::Failed { message }) => {
                if core.settings.trace {
                    eprintln!("fleet: watch: tmux: {message}");
                }
                std::thread::sleep(TICK);
                continue;
            }
            Err(e) => return Err(crate::core::Error::from(e).into()),
        };
        let now = core.clock().now();

        // Lifecycle: record what changed, then print every new event,
        // whoever recorded it.
        let settling = transitions::settling(&sessions, now);
        let lifecycles = transitions::lifecycles(&sessions, &settling);
        if last_lifecycles.as_ref() != Some(&lifecycles) {
            core.record(&sessions, observed_ms);
            last_lifecycles = Some(lifecycles);
        }
        let mut lines = String::new();
        for event in core.with_store(|store| store.events(None, 0, last_id))? {
            last_id = event.id;
            lines.push_str(&render(&event, args.json));
        }

        // Activity: read the screens that changed since they were read.
        cache
            .refresh(core.host(), &mut patterns, &sessions, now)
            .map_err(crate::core::Error::from)?;
        let current = rows::activities(&sessions, &cache, now, idle_after);
        for (name, activity) in &current {
            let before = last_activity.get(name);
            let news = match before {
                Some(b) => b.kind() != activity.kind(),
                None => !first_look,
            };
            if news {
                let detail = match activity {
                    Activity::Waiting => sessions
                        .get(name)
                        .and_then(|s| cache.seen(s))
                        .map(|seen| seen.last_line.clone())
                        .unwrap_or_default(),
                    Activity::Idle(secs) => format!("no output for {secs}s"),
                    Activity::Working => String::new(),
                };
                let event = Event {
                    id: 0,
                    time: rfc3339_ms(core.clock().now_ms()),
                    at_ms: core.clock().now_ms(),
                    host: core.host().name().to_string(),
                    agent: name.clone(),
                    event: activity.kind().event(),
                    exit_code: None,
                    detail,
                };
                lines.push_str(&render(&event, args.json));
            }
        }
        // Agents that stopped running have no activity to carry over.
        first_look = false;
        last_activity = current;
        last_activity.retain(|name, _| {
            sessions
                .get(name)
                .is_some_and(|s| s.status() == Status::Running)
        });

        if !lines.is_empty() && !output::print(&lines) {
            return Ok(0);
        }
        if let Some(rest) = TICK.checked_sub(tick.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

fn render(event: &Event, json: bool) -> String {
    if json {
        let line = serde_json::to_string(event).unwrap_or_default();
        return format!("{line}\n");
    }
    let detail = if event.detail.is_empty() {
        String::new()
    } else {
        format!("  {}", event.detail)
    };
    format!("{}  {}  {}{detail}\n", event.time, event.agent, word(event))
}
