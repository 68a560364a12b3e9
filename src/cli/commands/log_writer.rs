//! `fleet __log-writer`: what tmux's `pipe-pane` runs for each agent (see
//! `core::transcript::writer`).

use std::ffi::OsString;
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
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_bytes: u64,
}

impl LogWriterArgs {
    /// `ARGV0 __log-writer --path PATH --max-bytes N`, as fleet writes it
    /// into every pipe (see `core::transcript`); any other form is clap's.
    pub fn exact(args: &[OsString]) -> Option<Self> {
        match args {
            [_, command, path_flag, path, bytes_flag, max_bytes]
                if command == "__log-writer"
                    && path_flag == "--path"
                    && bytes_flag == "--max-bytes"
                    && !path.is_empty() =>
            {
                let max_bytes: u64 = max_bytes.to_str()?.parse().ok()?;
                (max_bytes > 0).then(|| Self {
                    path: PathBuf::from(path),
                    max_bytes,
                })
            }
            _ => None,
        }
    }
}

pub fn cmd_log_writer(args: &LogWriterArgs) -> Result<i32, CliError> {
    writer::write(std::io::stdin(), &args.path, args.max_bytes)
        .map_err(|e| CliError::failed(format!("transcript {}: {e}", args.path.display())))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_the_exact_form_skips_clap() {
        let args = LogWriterArgs::exact(&os(&[
            "fleet",
            "__log-writer",
            "--path",
            "/x/a.log",
            "--max-bytes",
            "8388608",
        ]));
        let args = args.map(|a| (a.path, a.max_bytes));
        assert_eq!(args, Some((PathBuf::from("/x/a.log"), 8_388_608)));
        for other in [
            &["fleet", "__log-writer", "--path", "/x/a.log"][..],
            &["fleet", "__log-writer", "--max-bytes", "1", "--path", "/x"],
            &["fleet", "__log-writer", "--path", "/x", "--max-bytes", "-1"],
            &["fleet", "__log-writer", "--path", "", "--max-bytes", "1"],
            &["fleet", "__log-writer", "--path", "/x", "--max-bytes", "0"],
            &["fleet", "ps", "--path", "/x", "--max-bytes", "1"],
        ] {
            assert!(LogWriterArgs::exact(&os(other)).is_none(), "{other:?}");
        }
    }
}
