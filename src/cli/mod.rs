//! The command line: clap parses, a command asks the core, and renders what
//! it answers. Settings are read here, once; exit codes are decided here,
//! at the edge. Everything reaches the terminal through `output`, which
//! makes it safe: the lint below keeps it so.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod args;
pub mod commands;
pub mod dash;
pub mod error;
pub mod hosts;
pub mod output;
pub mod remote;
pub mod report;
pub mod serve;
pub mod words;

use std::ffi::OsString;
use std::sync::Arc;

use clap::Parser;

use crate::core::Core;
use crate::core::clock::SystemClock;
use crate::core::host::local::{LocalEnv, LocalHost};
use crate::core::host::{hostname, systemd::Systemd, tmux::Tmux};
use crate::core::settings::{Env, Flags, Settings};
use args::{Command, GlobalArgs};
use error::CliError;

/// Runs `fleet` with these arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    // tmux starts a transcript writer for every agent it launches: in the
    // exact form fleet writes, it starts without building the whole CLI.
    if let Some(writer) = commands::log_writer::LogWriterArgs::exact(&args) {
        return match commands::log_writer::cmd_log_writer(&writer) {
            Ok(code) => code,
            Err(e) => {
                output::eprint(&format!("fleet: error: {e}"));
                e.code
            }
        };
    }
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { error::EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // The transcript writer runs under tmux and needs no fleet context.
    let result = match &cli.command {
        Command::LogWriter(args) => commands::log_writer::cmd_log_writer(args),
        // Serving the operator's host: its request says the rest.
        Command::Remote(_) => return remote::serve(),
        // A hook never fails its runtime, whatever is wrong here.
        Command::Hook(args) => {
            return core_for(&cli.global).map_or(0, |core| commands::hook::cmd_hook(&core, args));
        }
        _ => core_for(&cli.global).and_then(|core| {
            let result = commands::dispatch(&core, cli.command);
            print_warnings(&core);
            result
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            output::eprint(&format!("fleet: error: {e}"));
            e.code
        }
    }
}

/// The core for this process: settings from the flags and the
/// environment, tmux on this machine, the system clock.
fn core_for(global: &GlobalArgs) -> Result<Core, CliError> {
    let mut settings = settings_for(global, Env::from_process())?;
    // A supervisor of another host's share: the operator's host said who
    // this host is and what it wants.
    if let Some(path) = settings.sent.clone() {
        let sent = crate::core::ops::read_sent(&path)?;
        settings.file = Some(sent.file.path);
        settings.control_host = Some(sent.control);
        return core_with(settings, sent.host);
    }
    core_with(settings, hostname::local().to_string())
}

/// Settings from the flags and this environment.
pub(crate) fn settings_for(global: &GlobalArgs, env: Env) -> Result<Settings, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::user(format!("the current directory is unusable: {e}")))?;
    let flags = Flags {
        file: global.file.clone(),
        socket: global.socket.clone(),
        lock_wait: global.lock_wait.clone(),
        by: global.by.clone(),
    };
    Ok(Settings::resolve(
        &flags,
        &env,
        cwd,
        std::env::current_exe().ok(),
    )?)
}

/// The core over tmux on this machine, known to the fleet as `host_name`.
pub(crate) fn core_with(settings: Settings, host_name: String) -> Result<Core, CliError> {
    let mut tmux = Tmux::new(settings.socket.clone()).with_timeout(settings.tmux_timeout);
    let mut systemd = Systemd::new();
    if settings.trace {
        tmux = tmux.traced(Arc::new(|line| output::eprint(&format!("fleet: {line}"))));
        systemd = systemd.traced(Arc::new(|line| output::eprint(&format!("fleet: {line}"))));
    }
    let env = LocalEnv {
        home: settings.home_dir.clone(),
        runtime_bin: settings.runtime_bin.clone(),
        path: settings.path.clone(),
        config_home: settings.config_home.clone(),
        user: settings.user.clone(),
        fleet_home: settings.fleet_home.clone(),
        cwd: settings.cwd.clone(),
        npm_env: settings.npm_env.clone(),
    };
    let host = LocalHost::new(tmux, host_name, env).with_systemd(systemd);
    Ok(
        Core::new(settings, Arc::new(host), Arc::new(SystemClock)).with_notice(|warning| {
            output::eprint(&format!("fleet: {warning}"));
        }),
    )
}

/// Warnings go to stderr, apart from the answer.
pub fn print_warnings(core: &Core) {
    for warning in core.take_warnings() {
        output::eprint(&format!("fleet: {}", warning_line(warning)));
    }
}

/// A warning as one line (without the `fleet: ` that begins it on a
/// terminal).
pub fn warning_line(warning: crate::core::Warning) -> String {
    match warning {
        // Another host's own words, already saying what they are.
        crate::core::Warning::FromHost { host, line } => hosts::from_host(&host, &line),
        warning => format!("warning: {warning}"),
    }
}
