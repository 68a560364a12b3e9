//! `fleet watch`: transitions as they happen.
//!
//! A thin printer of the monitor (see `core::monitor`): it looks when the
//! host says something changed, over one long-lived tmux connection, so a
//! quiet fleet costs next to nothing.

use clap::Args;

use crate::cli::commands::events::word;
use crate::cli::error::CliError;
use crate::cli::{output, print_warnings};
use crate::core::Core;
use crate::core::monitor::Monitor;
use crate::core::store::events::Event;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// One JSON object per line: time, host, agent, event, exit_code, detail
    #[arg(long)]
    pub json: bool,
}

pub fn cmd_watch(core: &Core, args: &WatchArgs) -> Result<i32, CliError> {
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
        let lines: String = tick.events.iter().map(|e| render(e, args.json)).collect();
        if !lines.is_empty() && !output::print(&lines) {
            return Ok(0);
        }
        monitor.wait(core);
    }
}

pub(crate) fn render(event: &Event, json: bool) -> String {
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
    let line = format!(
        "{}  {}  {now}{}{detail}",
        event.time,
        event.agent,
        word(event)
    );
    format!("{}\n", output::safe(&line).replace(['\n', '\t'], " "))
}
