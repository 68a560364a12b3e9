//! One module per subcommand: each parses its arguments, asks the core, and
//! prints. Shared here: launching a set of agents and reporting on each.

pub mod attach;
pub mod down;
pub mod events;
pub mod log_writer;
pub mod logs;
pub mod peek;
pub mod ps;
pub mod restart;
pub mod send;
pub mod start;
pub mod stop;
pub mod up;
pub mod verify;
pub mod watch;

use std::collections::BTreeMap;

use crate::cli::args::{Cli, Command};
use crate::cli::error::CliError;
use crate::core::context::Context;
use crate::core::desired::agent::AgentSpec;
use crate::core::desired::fleetfile::Fleet;
use crate::core::host::launch;
use crate::core::observe::ObservedSession;
use crate::core::reconcile::{self, Step};

/// Runs the parsed command line; returns the exit code.
pub fn dispatch(cli: Cli) -> Result<i32, CliError> {
    // The transcript writer runs under tmux and needs no fleet context.
    if let Command::LogWriter(args) = &cli.command {
        return log_writer::cmd_log_writer(args);
    }
    let ctx = Context::new(&cli.global)?;
    match cli.command {
        Command::Up(args) => up::cmd_up(&ctx, &args),
        Command::Down(args) => down::cmd_down(&ctx, &args),
        Command::Start(args) => start::cmd_start(&ctx, &args),
        Command::Stop(args) => stop::cmd_stop(&ctx, &args),
        Command::Restart(args) => restart::cmd_restart(&ctx, &args),
        Command::Ps(args) => ps::cmd_ps(&ctx, &args),
        Command::Verify(args) => verify::cmd_verify(&ctx, &args),
        Command::Watch(args) => watch::cmd_watch(&ctx, &args),
        Command::Peek(args) => peek::cmd_peek(&ctx, &args),
        Command::Logs(args) => logs::cmd_logs(&ctx, &args),
        Command::Events(args) => events::cmd_events(&ctx, &args),
        Command::Attach(args) => attach::cmd_attach(&ctx, &args),
        Command::Send(args) => send::cmd_send(&ctx, &args),
        Command::LogWriter(args) => log_writer::cmd_log_writer(&args),
    }
}

/// The session of a managed agent, or an error naming what to do.
pub fn managed_session<'a>(
    ctx: &Context,
    sessions: &'a BTreeMap<String, ObservedSession>,
    name: &crate::core::desired::agent::AgentName,
) -> Result<&'a ObservedSession, CliError> {
    match sessions.get(name.as_str()) {
        Some(s) if s.is_managed() => Ok(s),
        Some(_) => Err(CliError::failed(format!(
            "session {name} was not started by fleet: use tmux -L {} directly for it",
            ctx.tmux.socket()
        ))),
        None => Err(CliError::failed(format!(
            "agent {name} has no session: start it with fleet start {name} or fleet up {name}"
        ))),
    }
}

/// Records one act in the event store. Best effort, like all history.
pub fn record_act(ctx: &Context, name: &str, kind: crate::core::vocab::EventKind, detail: &str) {
    let result = ctx.with_store(|store| {
        store
            .record(
                crate::core::store::events::now_ms(),
                name,
                kind.clone(),
                detail,
            )
            .map(|_| ())
    });
    if let Err(e) = result {
        eprintln!("fleet: warning: {kind} not recorded: {e}");
    }
}

/// Records that fleet is stopping these agents (before it does, so that a
/// watcher never reads their end as a vanishing). Best effort.
pub fn record_stops(ctx: &Context, names: &[&crate::core::desired::agent::AgentName]) {
    if names.is_empty() {
        return;
    }
    let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
    let result =
        ctx.with_store(|store| store.record_stops(crate::core::store::events::now_ms(), &names));
    if let Err(e) = result {
        eprintln!("fleet: warning: stop not recorded: {e}");
    }
}

/// What happened to one agent, for the line printed about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub name: String,
    pub message: String,
    pub ok: bool,
}

impl Report {
    pub fn ok(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
            ok: true,
        }
    }

    pub fn failed(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
            ok: false,
        }
    }
}

/// Prints `name  message` lines, aligned; returns the exit code they add up to.
pub fn print_reports(reports: &[Report]) -> i32 {
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for r in reports {
        text.push_str(&format!("{:width$}  {}\n", r.name, r.message));
    }
    crate::cli::output::print(&text);
    if reports.iter().all(|r| r.ok) {
        0
    } else {
        crate::cli::error::EXIT_FAILED
    }
}

/// Checks that every agent about to launch has its workdir and keeps the
/// model policy: all are checked before any is launched, so bad input starts
/// nothing.
pub fn check_launchable(fleet: &Fleet, plans: &[(&AgentSpec, Step)]) -> Result<(), CliError> {
    for (spec, _) in plans.iter().filter(|(_, step)| step.launches()) {
        // Claude only inside Claude Code (or whatever the rules say): a
        // model in the wrong runtime can bill the wrong account.
        let policy = crate::core::checks::policy_check(spec.name.as_str(), spec, &fleet.policy);
        if !policy.ok {
            let location = match (
                &fleet.path,
                fleet.agents.get(&spec.name).and_then(|d| d.line),
            ) {
                (Some(path), Some(line)) => format!("{}:{line}: ", path.display()),
                _ => String::new(),
            };
            return Err(CliError::user(format!(
                "{location}agent {}: {}: {}",
                spec.name,
                policy.detail,
                policy.fix.unwrap_or_default()
            )));
        }
        if spec.workdir.is_dir() {
            continue;
        }
        let declared = fleet.agents.get(&spec.name);
        let location = match (&fleet.path, declared.and_then(|d| d.workdir_line)) {
            (Some(path), Some(line)) => format!("{}:{line}: ", path.display()),
            _ => String::new(),
        };
        let fix = if declared.is_some() {
            "create it or change workdir in the fleet file"
        } else {
            "create it or pass --workdir"
        };
        return Err(CliError::user(format!(
            "{location}agent {}: workdir {} does not exist: {fix}",
            spec.name,
            spec.workdir.display()
        )));
    }
    Ok(())
}

/// Launches every plan whose step launches, in batched tmux calls, and
/// reports on every plan. `verb` names a successful launch ("started").
pub fn launch_and_report(
    ctx: &Context,
    plans: &[(&AgentSpec, Step)],
    sessions: &BTreeMap<String, ObservedSession>,
    verb: &str,
) -> Result<Vec<Report>, CliError> {
    let launching: Vec<(&AgentSpec, Step)> = plans
        .iter()
        .filter(|(_, step)| step.launches())
        .cloned()
        .collect();
    let outcomes = if launching.is_empty() {
        BTreeMap::new()
    } else {
        ctx.tmux.check_version()?;
        // Derived once per run: `npm config get prefix` alone costs ~0.2 s.
        let prefix = launch::runtime_bin_prefix(ctx.home_dir.as_deref());
        let transcripts = ctx.transcripts()?;
        std::fs::create_dir_all(&transcripts.dir).map_err(|e| {
            CliError::failed(format!(
                "cannot create the transcript directory {}: {e}",
                transcripts.dir.display()
            ))
        })?;
        let outcomes = reconcile::launch(&ctx.tmux, &prefix, Some(&transcripts), &launching)?;
        // Record the launches (and anything else that changed) right away.
        ctx.observe_and_record()?;
        outcomes
    };
    let mut reports = Vec::new();
    for (spec, step) in plans {
        let name = spec.name.as_str();
        let report = match step {
            Step::Create | Step::Respawn { .. } => match outcomes.get(&spec.name) {
                Some(Ok(())) => {
                    let before = sessions
                        .get(name)
                        .and_then(ObservedSession::exit_code)
                        .map(|code| format!(" (it had exited {code})"))
                        .unwrap_or_default();
                    Report::ok(name, format!("{verb}{before}"))
                }
                Some(Err(e)) => Report::failed(name, format!("failed: {e}")),
                None => Report::failed(name, "failed: tmux did not run it"),
            },
            Step::AlreadyRunning => Report::ok(name, "already running"),
            Step::Starting => Report::ok(name, "starting (launched a moment ago)"),
            Step::Drift { in_front } => Report::ok(
                name,
                format!(
                    "drift: {in_front:?} is in front, not the runtime (fleet restart {name} relaunches it)"
                ),
            ),
            Step::Conflict => Report::failed(
                name,
                format!(
                    "left alone: a session named {name} exists that fleet did not start (rename the agent or end that session with tmux -L {} kill-session -t ={name})",
                    ctx.tmux.socket()
                ),
            ),
        };
        reports.push(report);
    }
    Ok(reports)
}
