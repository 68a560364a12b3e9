//! `fleet watch`: transitions as they happen.
//!
//! A thin printer of the monitor (see `core::monitor`): it looks when the
//! host says something changed, over one long-lived tmux connection, so a
//! quiet fleet costs next to nothing. Across hosts, each other host runs
//! its own `watch --json` over one ssh connection, and the streams are
//! merged here, each line naming its host; a host that goes away is said
//! (`unreachable`), asked again with backoff, and said again when it
//! answers (`reachable`, then its present state).

use std::sync::mpsc;
use std::time::Duration;

use clap::Args;

use crate::cli::commands::events::word;
use crate::cli::error::CliError;
use crate::cli::hosts::{self, from_host};
use crate::cli::{output, print_warnings};
use crate::core::Core;
use crate::core::clock::rfc3339_ms;
use crate::core::host::ssh::{SshHost, Stream};
use crate::core::monitor::Monitor;
use crate::core::store::events::Event;
use crate::core::vocab::EventKind;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// One JSON object per line: time, host, agent, event, exit_code, detail
    #[arg(long)]
    pub json: bool,
    /// Only the agents of this host (repeatable) [default: every host]
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

/// The longest wait before asking a host that went away again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the watchers of each host hand the printer.
enum Said {
    Out(String),
    Err(String),
}

pub fn cmd_watch(core: &Core, args: &WatchArgs) -> Result<i32, CliError> {
    let plan = hosts::plan(core, &[], &args.hosts)?;
    if plan.is_local() {
        return watch_here(core, args.json, false, &mut |text| output::print(&text));
    }
    // Bounded: a host that floods waits for the printer.
    let (tx, rx) = mpsc::sync_channel::<Said>(256);
    std::thread::scope(|scope| {
        for (host, _) in &plan.there {
            let tx = tx.clone();
            scope.spawn(move || follow(core, host, args.json, &tx));
        }
        if plan.here.is_some() {
            let tx = tx.clone();
            scope.spawn(move || {
                let result = watch_here(core, args.json, true, &mut |text| {
                    tx.send(Said::Out(text)).is_ok()
                });
                if let Err(e) = result {
                    let _ = tx.send(Said::Err(format!("fleet: error: {e}")));
                }
            });
        }
        drop(tx);
        for said in rx {
            match said {
                Said::Out(text) => {
                    if !output::print(&text) {
                        // Nobody reads any more: end, the other hosts' watches
                        // with it.
                        std::process::exit(0);
                    }
                }
                Said::Err(line) => output::eprint(&line),
            }
        }
    });
    Ok(0)
}

/// This host's transitions, each rendered and handed to `say` (false: stop).
fn watch_here(
    core: &Core,
    json: bool,
    with_host: bool,
    say: &mut dyn FnMut(String) -> bool,
) -> Result<i32, CliError> {
    let mut monitor = Monitor::new(core)?;
    let mut stalled = false;
    loop {
        let tick = monitor.tick(core)?;
        if let (Some(why), true) = (&tick.skipped, core.settings.trace) {
            output::eprint(&format!("fleet: watch: tmux: {why}"));
        }
        // A server that stops answering is said once, and its return.
        if tick.stalled && !stalled {
            let why = tick.skipped.as_deref().unwrap_or_default();
            output::eprint(&format!("fleet: watch: {why}; still watching"));
        } else if stalled && !tick.stalled {
            output::eprint("fleet: watch: the tmux server answers again");
        }
        stalled = tick.stalled;
        print_warnings(core);
        let lines: String = tick
            .events
            .iter()
            .map(|e| render(e, json, with_host))
            .collect();
        if !lines.is_empty() && !say(lines) {
            return Ok(0);
        }
        monitor.wait(core);
    }
}

/// Another host's transitions, for as long as the watch runs: its own
/// `watch --json` over ssh, asked again with backoff when it ends.
fn follow(core: &Core, host: &SshHost, json: bool, tx: &mpsc::SyncSender<Said>) {
    let mut backoff = Duration::from_secs(1);
    // Unknown at first: the first answer, or its absence, is said.
    let mut reachable: Option<bool> = None;
    loop {
        let request = core.request(host, vec!["watch".into(), "--json".into()]);
        let mut open = true;
        let result = host.call(&request, None, None, &mut |stream, line| {
            let said = match stream {
                Stream::Hello => {
                    if reachable == Some(false) {
                        let e = host_event(core, host.name(), EventKind::Reachable, "");
                        open = tx.send(Said::Out(render(&e, json, true))).is_ok();
                    }
                    reachable = Some(true);
                    return open;
                }
                Stream::Err => Said::Err(format!("fleet: {}", from_host(host.name(), line))),
                Stream::Out => match serde_json::from_str::<Event>(line) {
                    Ok(mut event) => {
                        // Whatever it calls itself, it is the host asked.
                        event.host = host.name().to_string();
                        event.agent = event.agent.chars().take(64).collect();
                        event.time = event.time.chars().take(40).collect();
                        event.detail = event.detail.chars().take(300).collect();
                        Said::Out(render(&event, json, true))
                    }
                    // Not an event: its data, not ours to show.
                    Err(_) => return true,
                },
            };
            open = tx.send(said).is_ok();
            open
        });
        if !open {
            return;
        }
        if reachable == Some(true) {
            backoff = Duration::from_secs(1);
        }
        let why = match result {
            Err(why) => why.to_string(),
            Ok(code) => format!("its watch ended (exit {code})"),
        };
        if reachable != Some(false) {
            let e = host_event(core, host.name(), EventKind::Unreachable, &why);
            if tx.send(Said::Out(render(&e, json, true))).is_err() {
                return;
            }
        }
        reachable = Some(false);
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A transition of a host itself, not of one of its agents.
fn host_event(core: &Core, host: &str, kind: EventKind, detail: &str) -> Event {
    let at_ms = core.clock().now_ms();
    Event {
        id: 0,
        time: rfc3339_ms(at_ms),
        at_ms,
        host: host.to_string(),
        agent: String::new(),
        event: kind,
        exit_code: None,
        detail: detail.to_string(),
        snapshot: false,
    }
}

pub(crate) fn render(event: &Event, json: bool, with_host: bool) -> String {
    if json {
        let line = serde_json::to_string(event).unwrap_or_default();
        return format!("{line}\n");
    }
    let detail = if event.detail.is_empty() {
        String::new()
    } else {
        format!("  {}", event.detail)
    };
    // The state watch starts with reads as what is, not what happened.
    let now = if event.snapshot { "now " } else { "" };
    let host = if with_host {
        format!("{}  ", event.host)
    } else {
        String::new()
    };
    let agent = if event.agent.is_empty() {
        "-"
    } else {
        &event.agent
    };
    let line = format!(
        "{}  {host}{agent}  {now}{}{detail}",
        event.time,
        word(event)
    );
    format!("{}\n", output::safe(&line).replace(['\n', '\t'], " "))
}
