//! `fleet supervise`: keep the declared fleet up, in the foreground (the
//! unit `fleet init` installs runs it). A thin printer of the core's
//! supervisor (see `core::supervise`): the transitions `watch` prints, and
//! what the supervisor does about them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::cli::commands::watch::render;
use crate::cli::error::CliError;
use crate::cli::report::{self, Command};
use crate::cli::{output, print_warnings};
use crate::core::Core;
use crate::core::clock::rfc3339_ms;
use crate::core::ops::launch::LaunchOutcome;
use crate::core::supervise::policy::Limits;
use crate::core::supervise::{Act, Supervisor};

#[derive(Debug, Args)]
pub struct SuperviseArgs {}

pub fn cmd_supervise(core: &Core, _args: &SuperviseArgs) -> Result<i32, CliError> {
    core.require_fleet("supervise")?;
    let mut supervisor = Supervisor::new(core, Limits::default())?;
    let outcomes = supervisor.start(core)?;
    print_warnings(core);
    let lines: Vec<_> = outcomes
        .iter()
        .map(|o| report::launch(o, Command::Up))
        .collect();
    report::print(&lines);
    let (reload, stop) = signals(core)?;
    let mut stalled = false;
    // A relaunch that keeps failing for the same reason is said once.
    let mut last_failure = String::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            // Its clients go with it; the agents keep running.
            output::eprint("fleet: supervise: stopped; the agents keep running");
            return Ok(0);
        }
        if reload.swap(false, Ordering::SeqCst) {
            supervisor.reload_soon();
        }
        let round = supervisor.round(core)?;
        print_warnings(core);
        if round.tick.stalled && !stalled {
            let why = round.tick.skipped.as_deref().unwrap_or_default();
            output::eprint(&format!("fleet: supervise: {why}; still supervising"));
        } else if stalled && !round.tick.stalled {
            output::eprint("fleet: supervise: the tmux server answers again");
        }
        stalled = round.tick.stalled;
        let mut text: String = round
            .tick
            .events
            .iter()
            .map(|e| render(e, false, false))
            .collect();
        let now_ms = core.clock().now_ms();
        for act in &round.acts {
            match act {
                Act::Failed { why, .. } if *why == last_failure => continue,
                Act::Failed { why, .. } => last_failure.clone_from(why),
                Act::Relaunched(_) => last_failure.clear(),
                _ => {}
            }
            text.push_str(&act_line(now_ms, act));
        }
        if !text.is_empty() && !output::print(&text) {
            return Ok(0);
        }
        supervisor.wait(core);
    }
}

/// Flags set by SIGHUP (read the file again) and SIGTERM/SIGINT (stop,
/// with cleanup, instead of the default end): a thread takes the signals,
/// sets the flag and wakes the supervisor through its host.
fn signals(core: &Core) -> Result<(Arc<AtomicBool>, Arc<AtomicBool>), CliError> {
    let (reload, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let mut signals = Signals::new([SIGHUP, SIGTERM, SIGINT])
        .map_err(|e| CliError::failed(format!("cannot handle signals: {e}")))?;
    let (r, s, host) = (reload.clone(), stop.clone(), core.shared_host());
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let flag = if signal == SIGHUP { &r } else { &s };
            flag.store(true, Ordering::SeqCst);
            host.nudge();
        }
    });
    Ok((reload, stop))
}

fn act_line(now_ms: i64, act: &Act) -> String {
    let now = rfc3339_ms(now_ms);
    match act {
        Act::Relaunching {
            name,
            attempt,
            at_ms,
        } => {
            let wait = (*at_ms - now_ms).max(0) as f64 / 1000.0;
            format!("{now}  {name}  relaunching in {wait:.1}s (attempt {attempt})\n")
        }
        Act::GaveUp { name, starts } => format!(
            "{now}  {name}  crashloop  {starts} launches within 2 min, each died: left down; fleet restart {name} when it is fixed\n"
        ),
        // A relaunch that took shows as the `restarted` transition.
        Act::Relaunched(outcome)
            if matches!(
                outcome.outcome,
                LaunchOutcome::Launched { .. } | LaunchOutcome::Starting
            ) =>
        {
            String::new()
        }
        Act::Relaunched(outcome) => {
            let line = report::launch(outcome, Command::Other);
            let mut text = format!("{now}  {}  {}\n", line.name, line.message);
            for more in line.more {
                text.push_str(&format!("    {more}\n"));
            }
            text
        }
        Act::Reloaded {
            started,
            undeclared,
        } => {
            let mut text = format!("{now}  fleet file read again\n");
            for outcome in started {
                let line = report::launch(outcome, Command::Up);
                text.push_str(&format!("{now}  {}  {}\n", line.name, line.message));
            }
            for name in undeclared {
                text.push_str(&format!(
                    "{now}  {name}  no longer declared: left running (fleet stop {name} ends it)\n"
                ));
            }
            text
        }
        Act::Broken { why } => {
            format!("{now}  fleet file does not read: {why}; every agent left as it is\n")
        }
        Act::NotifyFailed { why } => format!("{now}  notify  {why}\n"),
        Act::Failed { names, why } => {
            format!("{now}  {}  not relaunched yet: {why}\n", names.join(" "))
        }
    }
}
