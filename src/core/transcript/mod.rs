//! Transcripts: what each agent printed, kept on disk after its pane is
//! gone.
//!
//! Theory of operation. Every launch pipes the pane's output (tmux
//! `pipe-pane`) into `fleet __log-writer`, which appends it to
//! `DIR/NAME.log` and rotates at a size cap ([`writer`]); one older file,
//! `NAME.log.1`, is kept, so an agent never takes more than twice the cap.
//! A [`TranscriptReader`] reads what is there and then what comes, across
//! rotations; [`render`] turns the bytes into the text that was on the
//! screen, safe to print.

pub mod lines;
pub mod render;
pub mod writer;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::core::desired::agent::AgentName;
use crate::core::error::Error;
use crate::core::store::private::{self, Access, Refused};

/// Where transcripts go, and how big each may grow.
#[derive(Debug, Clone)]
pub struct Transcripts {
    /// The `fleet` binary that writes them, if known.
    pub fleet_exe: Option<PathBuf>,
    pub dir: PathBuf,
    pub max_bytes: u64,
}

impl Transcripts {
    pub fn path(&self, name: &AgentName) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// The command a pane's output is piped into.
    pub fn writer_argv(&self, name: &AgentName) -> Result<Vec<String>, Error> {
        let exe = self.fleet_exe.as_ref().ok_or(Error::NoFleetBinary)?;
        Ok(vec![
            exe.to_string_lossy().into_owned(),
            "__log-writer".into(),
            "--path".into(),
            self.path(name).to_string_lossy().into_owned(),
            "--max-bytes".into(),
            self.max_bytes.to_string(),
        ])
    }
}

/// `NAME.log.1`, the older file of `NAME.log`.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Whether a writer is writing the transcript at `path`. Each writer holds
/// a shared `flock` on the file it writes, which the kernel lets go however
/// the writer ends (`kill -9` too), so a dead writer is known at once, not
/// at the pane's next output as tmux knows it. `None` when it cannot be
/// told (no file to ask).
pub fn writer_alive(path: &Path) -> Option<bool> {
    use rustix::fs::{FlockOperation, flock};
    // A rotation opens the next file a moment before it locks it: a file
    // found free is asked once more.
    for attempt in 0..2 {
        let file = private::open(path, Access::Read).ok()?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => drop(file),
            Err(rustix::io::Errno::WOULDBLOCK) => return Some(true),
            Err(_) => return None,
        }
        if attempt == 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    Some(false)
}

/// What tmux says of each managed pane's transcript pipe (`pane_pipe`),
/// corrected by what the host knows of the writers (`gone`): a pipe whose
/// writer is gone is no pipe, though tmux learns so only when the pane
/// next prints.
pub fn mark_gone_writers(
    sessions: &mut crate::core::ops::Sessions,
    transcripts: &Transcripts,
    gone: impl Fn(&Path) -> bool,
) {
    for (name, session) in sessions.iter_mut() {
        if !session.is_managed() || !session.pane.piped || session.pane.dead {
            continue;
        }
        let Ok(name) = AgentName::parse(name) else {
            continue;
        };
        if gone(&transcripts.path(&name)) {
            session.pane.piped = false;
        }
    }
}

/// Reads a transcript: what is there, then what is written after.
#[derive(Debug)]
pub struct TranscriptReader {
    path: PathBuf,
    file: Option<File>,
}

impl TranscriptReader {
    /// Opens a transcript and reads all of it, the older file first.
    pub fn open(path: &Path) -> io::Result<(Self, Vec<u8>)> {
        let mut bytes = match private::read(&rotated(path)) {
            Ok(bytes) => bytes,
            Err(Refused::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        let file = match private::open(path, Access::Read).map_err(io::Error::from) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
                Some(f)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let reader = Self {
            path: path.to_path_buf(),
            file,
        };
        Ok((reader, bytes))
    }

    /// What was written since the last read. After a rotation the file
    /// held is drained first (its writer has finished with it); when more
    /// than one rotation happened, the file between the one held and the
    /// new one is `NAME.log.1` by now, and is read too.
    pub fn read_new(&mut self) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let f = private::open(&self.path, Access::Read)?;
                self.file.insert(f)
            }
        };
        let current = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
        let held = file.metadata().map(|m| m.ino()).ok();
        file.read_to_end(&mut buf)?;
        if current.is_some() && current != held {
            if let Ok(mut between) = private::open(&rotated(&self.path), Access::Read) {
                let inode = between.metadata().map(|m| m.ino()).ok();
                if inode != held && inode != current {
                    between.read_to_end(&mut buf)?;
                }
            }
            let mut fresh = private::open(&self.path, Access::Read)?;
            fresh.seek(SeekFrom::Start(0))?;
            fresh.read_to_end(&mut buf)?;
            self.file = Some(fresh);
        }
        Ok(buf)
    }

    /// Whether the transcript file itself was there when opened.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }
}
