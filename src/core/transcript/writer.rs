//! The transcript writer: what tmux's `pipe-pane` runs for each agent
//! (as `fleet __log-writer`). It appends the pane's output to the
//! transcript and rotates it at a size cap, so a chatty agent cannot fill
//! the disk. Runs until the pipe closes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::core::store::private::{self, Access};
use crate::core::transcript::rotated;

/// Copies `input` into the transcript at `path` until it ends.
pub fn write(mut input: impl Read, path: &Path, max_bytes: u64) -> io::Result<()> {
    let max_bytes = max_bytes.max(1);
    let mut file = open(path)?;
    let mut size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Fill the file to exactly its cap, rotate, go on with the rest: a
        // transcript file never exceeds the cap, whatever the chunk sizes.
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            if size >= max_bytes {
                file = rotate(path)?;
                size = 0;
            }
            let room = usize::try_from(max_bytes - size).unwrap_or(usize::MAX);
            let (now, later) = chunk.split_at(chunk.len().min(room));
            file.write_all(now)?;
            size += now.len() as u64;
            chunk = later;
        }
    }
}

/// Opens the transcript for appending, readable by the user alone (0600
/// whatever the umask, never through a link): it holds what the agent
/// printed, tokens included.
fn open(path: &Path) -> io::Result<File> {
    private::parent_of(path)?;
    Ok(private::open(path, Access::Append)?)
}

/// `NAME.log` becomes `NAME.log.1` (replacing the older one), and a fresh
/// `NAME.log` begins. A rename is atomic: a reader sees one file or the other.
fn rotate(path: &Path) -> io::Result<File> {
    std::fs::rename(path, rotated(path))?;
    open(path)
}
