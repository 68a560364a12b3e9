//! `fleet __hook RUNTIME [EVENT]`: what a runtime's hooks run, inside the
//! agent's pane (see `core::signals::hooks`). Claude Code passes the event
//! on stdin, Codex as the last argument. It reports for the pane's own
//! agent (`FLEET_AGENT`), and never fails the runtime: it always exits 0
//! and prints nothing.

use std::io::Read;

use clap::Args;

use crate::core::Core;
use crate::core::desired::agent::AgentName;
use crate::core::signals::hooks::{self, HookRuntime};

/// A hook's event is a small JSON object; more is not an event.
const MAX_EVENT_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Args)]
#[command(allow_hyphen_values = true)]
pub struct HookArgs {
    /// The runtime whose hook this is: claude, codex or pi
    pub runtime: String,
    /// The event, when the runtime passes it as an argument (whatever
    /// else it passes is taken as words too: a hook never fails on them)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub event: Vec<String>,
}

pub fn cmd_hook(core: &Core, args: &HookArgs) -> i32 {
    let Some(runtime) = HookRuntime::parse(&args.runtime) else {
        return 0;
    };
    let Some((agent, _)) = &core.settings.reporter else {
        return 0;
    };
    let Ok(name) = AgentName::parse(agent) else {
        return 0;
    };
    let payload = match args.event.last() {
        Some(event) => event.clone(),
        None => {
            let mut text = String::new();
            let _ = std::io::stdin()
                .lock()
                .take(MAX_EVENT_BYTES)
                .read_to_string(&mut text);
            text
        }
    };
    if let Some((state, detail)) = hooks::interpret(runtime, &payload) {
        let _ = core.report(&name, state, runtime.source(), &detail);
    }
    0
}
