use clap::Args;

use crate::cli::commands::{agent_names, json};
use crate::cli::error::{CliError, EXIT_FAILED};
use crate::cli::output::{self, Color};
use crate::core::Core;
use crate::core::checks::{Check, Level};
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Agents to check [default: every agent, and this host's boot survival]
    pub names: Vec<String>,
    /// Print one JSON array of checks (a stable interface: `ok` is false
    /// for a failure; `level` is ok, warn or fail)
    #[arg(long)]
    pub json: bool,
}

pub fn cmd_verify(core: &Core, args: &VerifyArgs) -> Result<i32, CliError> {
    let names = agent_names(&args.names)?;
    let results = core.verify(&names)?;
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    if args.json {
        output::print(&json(&results)?);
    } else {
        output::print(&render(&results, output::color_enabled()));
    }
    Ok(if results.iter().all(|c| c.ok) {
        0
    } else {
        EXIT_FAILED
    })
}

fn render(results: &[Check], color: bool) -> String {
    if results.is_empty() {
        return "nothing to verify: no agents declared or running\n".into();
    }
    let rows: Vec<Vec<(String, Option<Color>)>> = results
        .iter()
        .map(|c| {
            let verdict = match c.level {
                Level::Ok => ("ok".to_string(), Some(Color::Green)),
                Level::Warn => ("warn".to_string(), Some(Color::Yellow)),
                Level::Fail => ("failed".to_string(), Some(Color::Red)),
            };
            let what = match &c.fix {
                Some(fix) => format!("{}: {} (fix: {fix})", c.check, c.detail),
                None => format!("{}: {}", c.check, c.detail),
            };
            vec![
                verdict,
                (c.agent.clone().unwrap_or_else(|| "host".into()), None),
                (what, None),
            ]
        })
        .collect();
    output::table(&["CHECK", "AGENT", "RESULT"], &rows, color)
}
