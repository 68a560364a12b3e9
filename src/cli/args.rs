//! The command line, as clap parses it. Nothing here touches tmux.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cli::commands::{
    attach, dash, down, events, explain, hook, hosts, init, log_writer, logs, peek, ps, report,
    restart, send, serve, start, status_line, stop, supervise, up, verify, wait, watch,
};

/// Run a fleet of long-lived AI coding agents in detached tmux sessions,
/// durably, observably, and safe to take over.
#[derive(Debug, Parser)]
#[command(
    name = "fleet",
    version,
    max_term_width = 100,
    after_help = "Exit status: 0 ok; 1 an action or check failed; 2 bad usage or input (nothing was changed); 3 another host did not answer (the rest is complete)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The fleet file [default: fleet.toml found upward from the current
    /// directory, else $FLEET_FILE]
    #[arg(long, global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// The fleet's own tmux socket, never the default server [default:
    /// $MOSAIC_TMUX_SOCKET, else mosaic-fleet]
    #[arg(long, global = true, value_name = "NAME")]
    pub socket: Option<String>,

    /// How long a command that changes the fleet waits for another one
    /// holding the lock, e.g. 30s, 5m [default: $FLEET_LOCK_WAIT, else 1m]
    #[arg(long = "wait", global = true, value_name = "DUR")]
    pub lock_wait: Option<String>,

    /// Who acts, recorded with the launches, stops and sends it makes
    /// (`fleet serve` names its client)
    #[arg(long, global = true, value_name = "WHO", hide = true)]
    pub by: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make the fleet survive logout and reboot: a systemd user unit running `fleet supervise`, linger
    Init(init::InitArgs),
    /// Start every declared agent that is not running; leave healthy ones alone
    Up(up::UpArgs),
    /// Stop declared agents (all, or the named); never sessions fleet did not start
    Down(down::DownArgs),
    /// Start one agent; says `already running` when it is
    Start(start::StartArgs),
    /// Stop one agent
    Stop(stop::StopArgs),
    /// Stop and start one agent again
    Restart(restart::RestartArgs),
    /// One row per agent: name, host, runtime, model, effort, status, activity
    Ps(ps::PsArgs),
    /// The whole fleet on one screen, live: every host, the selected agent's screen
    Dash(dash::DashArgs),
    /// The fleet in a browser behind a token: read-only unless --allow-takeover; HTTPS with --tls-cert
    Serve(serve::ServeArgs),
    /// Every host of the fleet: reachable, fleet and tmux versions, boot unit
    Hosts(hosts::HostsArgs),
    /// Why an agent has its state: which signal decided, when, the evidence
    Explain(explain::ExplainArgs),
    /// Check each agent and this host for durability and policy; say how to fix
    Verify(verify::VerifyArgs),
    /// The present state, then transitions as they happen: exited, drift, idle, waiting…
    Watch(watch::WatchArgs),
    /// Keep the declared fleet up: relaunch agents that die, as their restart policy says
    Supervise(supervise::SuperviseArgs),
    /// One short line for tmux's status bar: how many run, who waits, who exited
    StatusLine(status_line::StatusLineArgs),
    /// Print an agent's current screen, read-only
    Peek(peek::PeekArgs),
    /// Print an agent's persisted transcript, kept after its pane is gone
    Logs(logs::LogsArgs),
    /// History: launches, stops, exits with codes, restarts, drift, takeovers
    Events(events::EventsArgs),
    /// Attach to an agent's session, read-only unless --takeover
    Attach(attach::AttachArgs),
    /// Type text or press keys in agents (a takeover act), confirmed by their screens
    Send(send::SendArgs),
    /// Block until agents reach a state (exit 1 on --timeout)
    Wait(wait::WaitArgs),
    /// Say what an agent is doing: for runtimes' hooks and wrapper scripts
    Report(report::ReportArgs),
    /// Report what a runtime's hook says (run by the runtime, in its pane)
    #[command(name = "__hook", hide = true)]
    Hook(hook::HookArgs),
    /// Append standard input to a transcript, rotating it (run by tmux)
    #[command(name = "__log-writer", hide = true)]
    LogWriter(log_writer::LogWriterArgs),
    /// Serve one request of the operator's host, read from stdin (run over ssh)
    #[command(hide = true)]
    Remote(RemoteArgs),
}

/// `fleet remote` takes everything from its request.
#[derive(Debug, Args)]
pub struct RemoteArgs {}
