//! `fleet __log-writer`: what tmux's `pipe-pane` runs for each agent (see
//! `core::transcript::writer`).

use std::path::PathBuf;

use clap::Args;

use crate::cli::error::CliError;
use crate::core::transcript::writer;

#[derive(Debug, Args)]
pub struct LogWriterArgs {
    /// The transcript file
    #[arg(long)]
    pub path: PathBuf,
    /// Rotate to PATH.1 when the file would grow past this
    #[arg(long)]
    pub max_bytes: u64,
}

pub fn cmd_log_writer(args: &LogWriterArgs) -> Result<i32, CliError> {
    writer::write(std::io::stdin(), &args.path, args.max_bytes)
        .map_err(|e| CliError::failed(format!("transcript {}: {e}", args.path.display())))?;
    Ok(0)
}
