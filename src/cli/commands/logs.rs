use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use clap::Args;

use crate::cli::commands::log_writer::rotated;
use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::context::{Context, agent_name};
use crate::core::transcript::strip::Stripper;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The agent whose transcript to print
    pub name: String,
    /// Keep printing as the agent writes (until interrupted)
    #[arg(short, long)]
    pub follow: bool,
    /// Print the transcript as recorded, escape sequences and all
    #[arg(long)]
    pub raw: bool,
}

/// Read-only: the transcript is a file the pane's pipe writes; reading it
/// never touches the agent, and it stays after the pane is gone.
pub fn cmd_logs(ctx: &Context, args: &LogsArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let path = ctx.transcripts()?.path(name.as_str());
    let older = rotated(&path);
    if !path.exists() && !older.exists() {
        return Err(CliError::failed(format!(
            "no transcript for {name} in {}: transcripts begin when fleet launches an agent",
            path.parent()
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_default()
        )));
    }
    let mut stripper = Stripper::new();
    let mut emit = |bytes: &[u8]| -> bool {
        if args.raw {
            output::print(&String::from_utf8_lossy(bytes))
        } else {
            output::print(&stripper.feed(bytes))
        }
    };
    let read_err = |e: std::io::Error| CliError::failed(format!("{}: {e}", path.display()));
    if let Ok(bytes) = std::fs::read(&older) {
        emit(&bytes);
    }
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(_) if !args.follow => return Ok(0),
        Err(e) => return Err(read_err(e)),
    };
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).map_err(read_err)?;
    emit(&buf);
    if !args.follow {
        return Ok(0);
    }
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let current = std::fs::metadata(&path).map(|m| m.ino()).ok();
        let held = file.metadata().map(|m| m.ino()).ok();
        let rotated_since = current.is_some() && current != held;
        // Drain what we hold (after a rotation it is NAME.log.1 or older,
        // and its writer has finished with it).
        buf.clear();
        file.read_to_end(&mut buf).map_err(read_err)?;
        if rotated_since {
            // More than one rotation since the last look: the file between
            // the one we held and the new one is NAME.log.1 now.
            if let Ok(between) = File::open(&older)
                && between.metadata().map(|m| m.ino()).ok() != held
                && between.metadata().map(|m| m.ino()).ok() != current
            {
                let mut between = between;
                between.read_to_end(&mut buf).map_err(read_err)?;
            }
            file = File::open(&path).map_err(read_err)?;
            file.seek(SeekFrom::Start(0)).map_err(read_err)?;
            file.read_to_end(&mut buf).map_err(read_err)?;
        }
        if !emit(&buf) {
            // Nobody reads any more (`fleet logs -f | head`).
            return Ok(0);
        }
    }
}
