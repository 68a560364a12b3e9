use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::error::{CliError, EXIT_FAILED};
use crate::cli::output::{self, Color};
use crate::core::checks::{self, AgentFacts, Check, HostFacts};
use crate::core::context::{Context, agent_name};
use crate::core::desired::agent::AgentName;
use crate::core::host::launch;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Agents to check [default: every agent, and this host's boot survival]
    pub names: Vec<String>,
    /// Print one JSON array of checks (a stable interface)
    #[arg(long)]
    pub json: bool,
}

/// Unit file that a later `fleet init` installs to bring the fleet back at boot.
pub const UNIT_NAME: &str = "mosaic-fleet.service";

pub fn cmd_verify(ctx: &Context, args: &VerifyArgs) -> Result<i32, CliError> {
    let names = args
        .names
        .iter()
        .map(|n| agent_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    let fleet = ctx.fleet()?;
    let sessions = ctx.observe_and_record()?;

    let targets: Vec<AgentName> = if names.is_empty() {
        let mut all: Vec<AgentName> = fleet.local_agents().map(|a| a.spec.name.clone()).collect();
        for (name, s) in &sessions {
            if s.is_managed()
                && let Ok(n) = AgentName::parse(name)
                && !all.contains(&n)
            {
                all.push(n);
            }
        }
        all.sort();
        all
    } else {
        for name in &names {
            if !fleet.agents.contains_key(name) && !sessions.contains_key(name.as_str()) {
                return Err(CliError::user(format!(
                    "no agent named {name}: it is neither declared nor running (see fleet ps)"
                )));
            }
        }
        names.clone()
    };

    let live: Vec<u32> = targets
        .iter()
        .filter_map(|n| sessions.get(n.as_str()))
        .filter(|s| s.is_managed())
        .map(|s| s.pane.pane_id)
        .collect();
    let exports = ctx.tmux.exports_path(&live)?;
    let base_path = match ctx.tmux.server_path()? {
        Some(p) => p,
        None => std::env::var("PATH").unwrap_or_default(),
    };
    // Agents that are not running get the prefix a launch now would give.
    let mut fresh_prefix: Option<String> = None;

    let mut results: Vec<Check> = Vec::new();
    for name in &targets {
        let session = sessions.get(name.as_str());
        let declared = fleet.agents.get(name);
        let meta = session.and_then(|s| s.meta.as_ref());
        let spec = match (meta, declared) {
            (Some(meta), _) => meta.to_spec(name),
            (None, Some(d)) => d.spec.clone(),
            (None, None) => continue,
        };
        let prefix = match meta {
            Some(m) => m.path_prefix.clone(),
            None => fresh_prefix
                .get_or_insert_with(|| launch::runtime_bin_prefix(ctx.home_dir.as_deref()))
                .clone(),
        };
        let facts = AgentFacts {
            name: name.as_str(),
            spec: &spec,
            declared: declared.is_some(),
            session,
            exports_path: session.and_then(|s| exports.get(&s.pane.pane_id).copied()),
            path_prefix: &prefix,
            base_path: &base_path,
            policy: &fleet.policy,
        };
        results.extend(checks::agent_checks(&facts, is_executable));
    }
    if names.is_empty() {
        results.extend(checks::host_checks(&host_facts(ctx)));
    }

    if args.json {
        let text = serde_json::to_string_pretty(&results)
            .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))?;
        output::print(&format!("{text}\n"));
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
            let verdict = if c.ok {
                ("ok".to_string(), Some(Color::Green))
            } else {
                ("failed".to_string(), Some(Color::Red))
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

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Boot survival, read from the files systemd keeps: the user unit, its
/// enablement symlink, and the linger flag.
fn host_facts(ctx: &Context) -> HostFacts {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| ctx.home_dir.as_ref().map(|h| h.join(".config")))
        .unwrap_or_else(|| PathBuf::from("~/.config"));
    let unit = config.join("systemd/user").join(UNIT_NAME);
    let enabled = config
        .join("systemd/user/default.target.wants")
        .join(UNIT_NAME);
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".into());
    HostFacts {
        unit_installed: unit.is_file(),
        unit,
        unit_enabled: enabled.exists(),
        linger: Path::new("/var/lib/systemd/linger").join(&user).exists(),
        user,
    }
}
