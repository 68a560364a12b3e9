use std::time::Duration;

use clap::Args;

use crate::cli::commands::agent_name;
use crate::cli::error::CliError;
use crate::cli::output;
use crate::core::Core;
use crate::core::transcript::render::Renderer;

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

/// How often `--follow` looks for more.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// How much of the transcript is rendered before what it gave is printed,
/// so a long transcript starts showing at once and memory stays small.
const RENDER_CHUNK: usize = 64 * 1024;

/// Read-only: the transcript is a file the pane's pipe writes; reading it
/// never touches the agent, and it stays after the pane is gone.
pub fn cmd_logs(core: &Core, args: &LogsArgs) -> Result<i32, CliError> {
    let name = agent_name(&args.name)?;
    let (mut reader, bytes) = core.transcript(&name)?;
    let mut view = View::new(args.raw);
    // Warnings first, as the answer may be long.
    crate::cli::print_warnings(core);
    if !view.feed(&bytes) {
        return Ok(0);
    }
    if !args.follow {
        view.finish();
        return Ok(0);
    }
    let path = core.transcripts()?.path(&name);
    let read_err = |e: std::io::Error| CliError::failed(format!("{}: {e}", path.display()));
    if !reader.is_open() {
        // Not there to follow: say why, as opening it says.
        reader.read_new().map_err(read_err)?;
    }
    if !view.flush() {
        return Ok(0);
    }
    loop {
        std::thread::sleep(FOLLOW_EVERY);
        let fresh = reader.read_new().map_err(read_err)?;
        if !view.feed(&fresh) || !view.tick() {
            // Nobody reads any more (`fleet logs -f | head`).
            return Ok(0);
        }
    }
}

/// The transcript as printed: as recorded (`--raw`), or rendered to the
/// text that was on the screen. Each call says whether anyone still reads.
enum View {
    Raw,
    Text(Box<Renderer>),
}

impl View {
    fn new(raw: bool) -> Self {
        if raw {
            Self::Raw
        } else {
            Self::Text(Box::default())
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> bool {
        match self {
            Self::Raw => output::print_raw(bytes),
            Self::Text(r) => bytes
                .chunks(RENDER_CHUNK)
                .all(|chunk| output::print(&r.feed(chunk))),
        }
    }

    /// `--follow`: what is on the screen now, then what settles.
    fn flush(&mut self) -> bool {
        match self {
            Self::Raw => true,
            Self::Text(r) => output::print(&r.flush()),
        }
    }

    fn tick(&mut self) -> bool {
        match self {
            Self::Raw => true,
            Self::Text(r) => output::print(&r.tick()),
        }
    }

    fn finish(self) {
        if let Self::Text(r) = self {
            output::print(&r.finish());
        }
    }
}
