//! The command line: clap parses, a command asks the core, and renders what
//! it answers. Exit codes are decided here, at the edge.

pub mod args;
pub mod commands;
pub mod error;
pub mod output;

use std::ffi::OsString;

use clap::Parser;

/// Runs `fleet` with these arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match args::Cli::try_parse_from(args) {
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
