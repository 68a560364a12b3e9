use clap::Args;
use serde::{Deserialize, Serialize};

use crate::cli::commands::json;
use crate::cli::error::{CliError, EXIT_FAILED, EXIT_UNREACHABLE};
use crate::cli::hosts;
use crate::cli::output::{self, Color};
use crate::core::Core;
use crate::core::checks::{Check, Level};
use crate::core::desired::agent::AgentName;
use crate::core::ops::hosts::{Bound, cut};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Agents to check, NAME or NAME@HOST [default: every agent, and each host's boot survival]
    pub names: Vec<String>,
    /// Print one JSON array of checks (a stable interface: `ok` is false
    /// for a failure; `level` is ok, warn or fail; `host` the host checked)
    #[arg(long)]
    pub json: bool,
    /// Only this host and its agents (repeatable) [default: every host]
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

/// A check as shown: this host's, or another's as its `verify --json`
/// said it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Shown {
    #[serde(default)]
    host: String,
    agent: Option<String>,
    check: String,
    ok: bool,
    level: Level,
    detail: String,
    fix: Option<String>,
}

impl Shown {
    fn of(host: &str, c: &Check) -> Self {
        Self {
            host: host.to_string(),
            agent: c.agent.clone(),
            check: c.check.to_string(),
            ok: c.ok,
            level: c.level,
            detail: c.detail.clone(),
            fix: c.fix.clone(),
        }
    }
}

pub fn cmd_verify(core: &Core, args: &VerifyArgs) -> Result<i32, CliError> {
    let plan = hosts::plan(core, &args.names, &args.hosts)?;
    let argv = |names: &[AgentName]| -> Vec<String> {
        let mut argv = vec!["verify".to_string(), "--json".to_string()];
        argv.extend(names.iter().map(ToString::to_string));
        argv
    };
    let (here, answers) = std::thread::scope(|scope| {
        let remote = scope.spawn(|| core.ask_each(&plan.there, &argv, Bound::Read));
        let here = plan.here.as_ref().map(|names| core.verify(names));
        (here, remote.join().unwrap_or_default())
    });
    let here_name = core.here_name().to_string();
    let mut results: Vec<Shown> = here
        .transpose()?
        .unwrap_or_default()
        .iter()
        .map(|c| Shown::of(&here_name, c))
        .collect();
    let mut unreachable = false;
    for answer in &answers {
        // `verify` exits 1 when a check fails: its answer still reads.
        let parsed = match &answer.result {
            Ok(code @ (0 | 1)) => {
                serde_json::from_str::<Vec<Shown>>(&answer.stdout()).map_err(|e| {
                    // 1 with no checks: its fleet failed before checking.
                    match (code, answer.stdout().trim().is_empty()) {
                        (1, true) => answer.failure(1),
                        _ => crate::core::host::ssh::Unreachable::BadAnswer(format!(
                            "its verify --json does not read: {e}"
                        )),
                    }
                })
            }
            Ok(code) => Err(answer.failure(*code)),
            Err(why) => Err(why.clone()),
        };
        if parsed.is_ok() {
            for line in &answer.err {
                output::eprint(&format!("fleet: {}", hosts::from_host(&answer.host, line)));
            }
        }
        match parsed {
            Ok(theirs) => {
                let fleet = core.fleet().ok();
                results.extend(theirs.into_iter().filter_map(|mut c| {
                    let believed = c
                        .agent
                        .as_deref()
                        .is_none_or(|a| core.may_speak_of(fleet.as_deref(), &answer.host, a));
                    c.host = answer.host.clone();
                    cut(&mut c.check, 40);
                    cut(&mut c.detail, 300);
                    if let Some(fix) = &mut c.fix {
                        cut(fix, 300);
                    }
                    believed.then_some(c)
                }));
            }
            Err(crate::core::host::ssh::Unreachable::Failed(said)) => results.push(Shown {
                host: answer.host.clone(),
                agent: None,
                check: "fleet".into(),
                ok: false,
                level: Level::Fail,
                detail: format!("its fleet failed: {said}"),
                fix: None,
            }),
            Err(why) => {
                unreachable = true;
                results.push(Shown {
                    host: answer.host.clone(),
                    agent: None,
                    check: "reachable".into(),
                    ok: false,
                    level: Level::Fail,
                    detail: format!("the host did not answer: {why}"),
                    fix: Some("check that ssh reaches it and runs fleet (fleet hosts)".into()),
                });
            }
        }
    }
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    if args.json {
        output::print(&json(&results)?);
    } else {
        output::print(&render(&results, !plan.is_local(), output::color_enabled()));
    }
    Ok(if results.iter().all(|c| c.ok) {
        0
    } else if unreachable && results.iter().all(|c| c.ok || c.check == "reachable") {
        EXIT_UNREACHABLE
    } else {
        EXIT_FAILED
    })
}

fn render(results: &[Shown], with_host: bool, color: bool) -> String {
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
            let mut row = vec![verdict];
            if with_host {
                row.push((c.host.clone(), None));
            }
            row.push((c.agent.clone().unwrap_or_else(|| "host".into()), None));
            row.push((what, None));
            row
        })
        .collect();
    let header: &[&str] = if with_host {
        &["CHECK", "HOST", "AGENT", "RESULT"]
    } else {
        &["CHECK", "AGENT", "RESULT"]
    };
    output::table(header, &rows, color)
}
