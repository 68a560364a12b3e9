//! `fleet __log-writer`: what tmux's `pipe-pane` runs for each agent. It
//! appends the pane's output to the transcript and rotates it at a size cap,
//! so a chatty agent cannot fill the disk. Runs until the pipe closes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::error::CliError;

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
    let fail =
        |e: std::io::Error| CliError::failed(format!("transcript {}: {e}", args.path.display()));
    let max_bytes = args.max_bytes.max(1);
    let mut file = open(&args.path).map_err(fail)?;
    let mut size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => return Ok(0),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(e)),
        };
        // Fill the file to exactly its cap, rotate, go on with the rest: a
        // transcript file never exceeds the cap, whatever the chunk sizes.
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            if size >= max_bytes {
                file = rotate(&args.path).map_err(fail)?;
                size = 0;
            }
            let room = usize::try_from(max_bytes - size).unwrap_or(usize::MAX);
            let (now, later) = chunk.split_at(chunk.len().min(room));
            file.write_all(now).map_err(fail)?;
            size += now.len() as u64;
            chunk = later;
        }
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// `NAME.log` becomes `NAME.log.1` (replacing the older one), and a fresh
/// `NAME.log` begins. A rename is atomic: a reader sees one file or the other.
fn rotate(path: &Path) -> std::io::Result<File> {
    std::fs::rename(path, rotated(path))?;
    open(path)
}

pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}
