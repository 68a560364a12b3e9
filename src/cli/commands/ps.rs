use clap::Args;

use crate::cli::error::CliError;
use crate::cli::output::{self, Color};
use crate::core::context::Context;
use crate::core::reconcile::unix_now;
use crate::core::rows::{self, AgentRow, Extras};
use crate::core::signals::activity;
use crate::core::signals::cache::{Patterns, WaitingCache};
use crate::core::vocab::{ActivityKind, Status};

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Print one JSON array (a stable interface for scripts and other hosts)
    #[arg(long)]
    pub json: bool,
}

pub fn cmd_ps(ctx: &Context, args: &PsArgs) -> Result<i32, CliError> {
    let fleet = ctx.fleet()?;
    let sessions = ctx.observe_and_record()?;
    let now = unix_now();
    // Screens that may show a waiting prompt and changed since `ps` last
    // read them are read, all in one more tmux call.
    let cache_path = ctx.state_file("waiting.json");
    let mut cache = cache_path
        .as_deref()
        .map(WaitingCache::load)
        .unwrap_or_default();
    if cache.refresh(&ctx.tmux, &mut Patterns::new(&fleet), &sessions, now)?
        && let Some(path) = &cache_path
        && let Err(e) = cache.save(path)
    {
        eprintln!("fleet: warning: cannot save {}: {e}", path.display());
    }
    let extras = Extras {
        activity: rows::activities(&sessions, &cache, now, activity::idle_after()),
    };
    let agent_rows = rows::rows(Some(&fleet), &sessions, &extras, &ctx.host, now);
    if args.json {
        let text = serde_json::to_string_pretty(&agent_rows)
            .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))?;
        output::print(&format!("{text}\n"));
    } else {
        output::print(&render_table(&agent_rows, output::color_enabled()));
    }
    Ok(0)
}

const HEADER: [&str; 9] = [
    "NAME", "HOST", "RUNTIME", "MODEL", "EFFORT", "STATUS", "ACTIVITY", "UPTIME", "RESTARTS",
];

pub fn render_table(rows: &[AgentRow], color: bool) -> String {
    if rows.is_empty() {
        return "no agents: declare some in fleet.toml and run fleet up, or fleet start NAME\n"
            .to_string();
    }
    let dash = || "-".to_string();
    let cells: Vec<Vec<(String, Option<Color>)>> = rows
        .iter()
        .map(|r| {
            let status = match (r.status, r.exit_code) {
                (Status::Exited, Some(code)) => format!("exited {code}"),
                (s, _) => s.word().to_string(),
            };
            let activity_color = match r.activity {
                Some(ActivityKind::Waiting) => Some(Color::Yellow),
                Some(ActivityKind::Working) => Some(Color::Green),
                _ => None,
            };
            let status_color = match r.status {
                Status::Running => Color::Green,
                Status::Drift => Color::Yellow,
                Status::Exited | Status::Unreachable => Color::Red,
                Status::Missing => Color::Dim,
                Status::Unmanaged => Color::Magenta,
            };
            vec![
                (r.name.clone(), None),
                (r.host.clone(), None),
                (r.runtime.clone().unwrap_or_else(dash), None),
                (r.model.clone().unwrap_or_else(dash), None),
                (r.effort.clone().unwrap_or_else(dash), None),
                (status, Some(status_color)),
                (
                    match (r.activity, r.idle_seconds) {
                        (Some(ActivityKind::Idle), Some(secs)) => {
                            format!("idle {}", rows::short_duration(secs))
                        }
                        (Some(word), _) => word.to_string(),
                        (None, _) => dash(),
                    },
                    activity_color,
                ),
                (
                    r.uptime_seconds
                        .map(rows::short_duration)
                        .unwrap_or_else(dash),
                    None,
                ),
                (r.restarts.to_string(), None),
            ]
        })
        .collect();
    output::table(&HEADER, &cells, color)
}
