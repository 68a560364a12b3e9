use clap::Args;

use crate::cli::commands::{agent_name, json};
use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::Core;
use crate::core::ops::signal::{Evidence, Explanation};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The agent
    pub name: String,
    /// Print one JSON object (a stable interface)
    #[arg(long)]
    pub json: bool,
}

/// Why an agent has its state: the process table for its status, the
/// signal that decided its activity, and what the others said.
pub fn cmd_explain(core: &Core, args: &ExplainArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let explanation = core.explain(&name)?;
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    if args.json {
        output::print(&json(&explanation)?);
    } else {
        output::print(&render(&explanation));
    }
    Ok(0)
}

fn render(e: &Explanation) -> String {
    let mut status = e.status.word().to_string();
    if let Some(code) = e.exit_code {
        status.push_str(&format!(" {code}"));
    }
    let verdict = match (e.activity, e.idle_seconds) {
        (Some(a), Some(secs)) => format!("{status}, {a} for {secs}s"),
        (Some(a), None) => format!("{status}, {a}"),
        (None, _) => status,
    };
    let status = crate::cli::output::safe(&e.status_evidence).replace(['\n', '\t'], " ");
    let mut out = format!("{}  {verdict}\n  status      {status}\n", e.name);
    if let Some(by) = &e.decided_by {
        out.push_str(&format!("  decided by  {}\n", line(by)));
    }
    let others: Vec<&Evidence> = e
        .signals
        .iter()
        .filter(|s| Some(*s) != e.decided_by.as_ref())
        .collect();
    for (i, s) in others.iter().enumerate() {
        let label = if i == 0 { "also" } else { "" };
        out.push_str(&format!("  {label:<10}  {}\n", line(s)));
    }
    out
}

fn line(s: &Evidence) -> String {
    let source = serde_json::to_value(s.source)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let says = serde_json::to_value(s.says)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let evidence = crate::core::signals::report::one_line(&s.evidence);
    if evidence.is_empty() {
        format!("{source} at {}: {says}", s.at)
    } else {
        format!("{source} at {}: {says} ({evidence})", s.at)
    }
}
