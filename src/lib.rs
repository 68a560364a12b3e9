//! mosaic-fleet: run a fleet of long-lived AI coding agents in detached tmux
//! sessions, durably and observably.
//!
//! The flow of data: the fleet file becomes a desired state
//! ([`fleetfile`]); tmux reports the observed state ([`tmux`], [`observe`]);
//! the [`reconcile`]r compares the two and acts; views ([`status`] and the
//! commands) only read.

pub mod activity;
pub mod agent;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod context;
pub mod error;
pub mod fleetfile;
pub mod hostname;
pub mod launch;
pub mod observe;
pub mod output;
pub mod reconcile;
pub mod runtime;
pub mod screen;
pub mod state;
pub mod status;
pub mod store;
pub mod tmux;
pub mod transitions;
pub mod waiting;

use std::ffi::OsString;

use clap::Parser;

/// Runs `fleet` with these arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { error::EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fleet: error: {e}");
            e.code
        }
    }
}
