//! The transcript writer: what tmux's `pipe-pane` runs for each agent
//! (as `fleet __log-writer`). It appends the pane's output to the
//! transcript and rotates it at a size cap, so a chatty agent cannot fill
//! the disk. Runs until the pipe closes.
//!
//! It does not die when the transcript cannot be written (a full disk, a
//! quota): it keeps reading, so the pane never blocks on it, holds up to
//! [`HELD_MAX`] bytes in memory, tries again every [`RETRY_EVERY`], and
//! when writing works again writes what it held and then one line saying
//! how many bytes were lost after that, and why. A writer killed outright
//! is what `verify` and `up` look for (tmux's `pane_pipe`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::core::store::private::{self, Access};
use crate::core::transcript::rotated;

/// The most output held in memory while the transcript cannot be written.
pub const HELD_MAX: usize = 1024 * 1024;

/// How often writing is tried again while it fails.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Where the bytes go.
pub trait Append {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
}

/// How often the writer looks whether its file is still the transcript.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The transcript file, rotated at its cap.
pub struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    /// When the file was last found still in place.
    looked: Instant,
    /// Whether this writer holds the file's lock (see `lock_as_alive`).
    locked: bool,
}

impl Rotating {
    pub fn open(path: &Path, max_bytes: u64) -> io::Result<Self> {
        let (file, locked) = open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes: max_bytes.max(1),
            looked: Instant::now(),
            locked,
        })
    }

    /// A transcript deleted while written (by hand, a cleanup) would take
    /// everything after into a file no one can read: at most a second
    /// after, a new one begins, saying so.
    fn still_there(&mut self) -> io::Result<()> {
        if self.looked.elapsed() < LOOK_EVERY {
            return Ok(());
        }
        self.looked = Instant::now();
        // Someone held the file when it was opened: take the lock now.
        if !self.locked {
            self.locked = lock_as_alive(&self.file);
        }
        use std::os::unix::fs::MetadataExt;
        if self.file.metadata()?.nlink() > 0 {
            return Ok(());
        }
        (self.file, self.locked) = open(&self.path)?;
        self.size = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        let mark =
            "[fleet: the transcript was deleted while it was written; it begins again here]\r\n";
        self.file.write_all(mark.as_bytes())?;
        self.size += mark.len() as u64;
        Ok(())
    }
}

impl Append for Rotating {
    /// Fills the file to exactly its cap, rotates, goes on with the rest: a
    /// transcript file never exceeds the cap, whatever the chunk sizes.
    fn append(&mut self, mut chunk: &[u8]) -> io::Result<()> {
        self.still_there()?;
        while !chunk.is_empty() {
            if self.size >= self.max_bytes {
                (self.file, self.locked) = rotate(&self.path)?;
                self.size = 0;
            }
            let room = usize::try_from(self.max_bytes - self.size).unwrap_or(usize::MAX);
            let (now, later) = chunk.split_at(chunk.len().min(room));
            if let Err(e) = self.file.write_all(now) {
                // What part got through is unknown: count from the file.
                self.size = self.file.metadata().map(|m| m.len()).unwrap_or(self.size);
                return Err(e);
            }
            self.size += now.len() as u64;
            chunk = later;
        }
        Ok(())
    }
}

/// Copies `input` into the transcript at `path` until it ends.
pub fn write(input: impl Read + Send + 'static, path: &Path, max_bytes: u64) -> io::Result<()> {
    let mut out = Rotating::open(path, max_bytes)?;
    copy(input, &mut out);
    Ok(())
}

/// What could not be written yet.
#[derive(Debug, Default)]
struct Held {
    bytes: Vec<u8>,
    /// Bytes dropped after `bytes`, for want of room.
    lost: u64,
    /// Why writing failed, and when it was last tried.
    failing: Option<(String, Instant)>,
}

/// Copies `input` into `out` until the input ends, riding out failures.
pub fn copy(mut input: impl Read + Send + 'static, out: &mut impl Append) {
    let (chunks, received) = mpsc::sync_channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match input.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if chunks.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    });
    let mut held = Held::default();
    loop {
        // A writer with nothing held sleeps until the pane prints: ten
        // thousand idle writers must cost nothing, not a wake-up a second.
        let next = if held.failing.is_none() && held.bytes.is_empty() {
            received.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            received.recv_timeout(RETRY_EVERY)
        };
        match next {
            Ok(chunk) => pass(out, &mut held, &chunk, Instant::now()),
            Err(RecvTimeoutError::Timeout) => pass(out, &mut held, &[], Instant::now()),
            Err(RecvTimeoutError::Disconnected) => {
                // The pane is gone: one last try for what is held.
                if held.failing.is_some() {
                    held.failing = None;
                    pass(out, &mut held, &[], Instant::now());
                }
                return;
            }
        }
    }
}

/// Writes `chunk` (after anything held), or holds it while writing fails.
fn pass(out: &mut impl Append, held: &mut Held, chunk: &[u8], now: Instant) {
    let due = held
        .failing
        .as_ref()
        .is_none_or(|(_, tried)| now.duration_since(*tried) >= RETRY_EVERY);
    if due && (held.failing.is_some() || !held.bytes.is_empty()) {
        match flush(out, held) {
            Ok(()) => held.failing = None,
            Err(e) => held.failing = Some((e.to_string(), now)),
        }
    }
    if held.failing.is_none() && held.bytes.is_empty() {
        if let Err(e) = out.append(chunk) {
            held.failing = Some((e.to_string(), now));
            hold(held, chunk);
        }
        return;
    }
    hold(held, chunk);
}

/// Keeps what fits in memory, counts the rest as lost.
fn hold(held: &mut Held, chunk: &[u8]) {
    if held.lost > 0 {
        held.lost += chunk.len() as u64;
        return;
    }
    let room = HELD_MAX.saturating_sub(held.bytes.len());
    let (keep, drop) = chunk.split_at(chunk.len().min(room));
    held.bytes.extend_from_slice(keep);
    held.lost += drop.len() as u64;
}

/// Writes what was held, then the mark of what was lost.
fn flush(out: &mut impl Append, held: &mut Held) -> io::Result<()> {
    if !held.bytes.is_empty() {
        out.append(&held.bytes)?;
        held.bytes.clear();
    }
    if held.lost > 0 {
        let why = held
            .failing
            .as_ref()
            .map(|(why, _)| why.as_str())
            .unwrap_or("an error");
        let mark = format!(
            "\r\n[fleet: {} bytes of output lost here: the transcript could not be written ({why})]\r\n",
            held.lost
        );
        out.append(mark.as_bytes())?;
        held.lost = 0;
    }
    Ok(())
}

/// Opens the transcript for appending, readable by the user alone (0600
/// whatever the umask, never through a link): it holds what the agent
/// printed, tokens included.
/// The file, and whether its lock was taken.
fn open(path: &Path) -> io::Result<(File, bool)> {
    private::existing_dir_of(path)?;
    let file = private::open(path, Access::Append)?;
    let locked = lock_as_alive(&file);
    Ok((file, locked))
}

/// Takes the shared lock that says a writer is alive (see
/// `transcript::writer_alive`). Someone asking holds it exclusively for a
/// moment: wait that out, briefly; without the lock, the writer still
/// writes (and `up` may give the pane a new one).
fn lock_as_alive(file: &File) -> bool {
    use rustix::fs::{FlockOperation, flock};
    for _ in 0..50 {
        match flock(file, FlockOperation::NonBlockingLockShared) {
            Err(rustix::io::Errno::WOULDBLOCK) => {
                std::thread::sleep(Duration::from_millis(2));
            }
            done => return done.is_ok(),
        }
    }
    false
}

/// `NAME.log` becomes `NAME.log.1` (replacing the older one), and a fresh
/// `NAME.log` begins. A rename is atomic: a reader sees one file or the other.
fn rotate(path: &Path) -> io::Result<(File, bool)> {
    match std::fs::rename(path, rotated(path)) {
        // Deleted meanwhile: there is nothing to keep, only to begin again.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => other?,
    }
    open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transcript on a disk that is full while `full` says so.
    #[derive(Default)]
    struct Disk {
        written: Vec<u8>,
        full: bool,
    }

    impl Append for Disk {
        fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
            if self.full && !bytes.is_empty() {
                return Err(io::Error::from_raw_os_error(28));
            }
            self.written.extend_from_slice(bytes);
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_holds_then_marks_the_gap_and_goes_on() {
        let mut disk = Disk::default();
        let mut held = Held::default();
        let t0 = Instant::now();
        pass(&mut disk, &mut held, b"before ", t0);
        disk.full = true;
        pass(&mut disk, &mut held, b"held ", t0);
        let big = vec![b'x'; HELD_MAX];
        pass(&mut disk, &mut held, &big, t0);
        assert_eq!(held.bytes.len(), HELD_MAX);
        // Not yet time to try again: still held, nothing written.
        disk.full = false;
        pass(&mut disk, &mut held, b"soon ", t0 + RETRY_EVERY / 2);
        assert_eq!(disk.written, b"before ");
        // Time to try again: what was held, the mark, then the new output.
        pass(&mut disk, &mut held, b"after", t0 + RETRY_EVERY);
        let text = String::from_utf8_lossy(&disk.written);
        assert!(text.starts_with("before held xxx"), "{}", &text[..40]);
        let lost = 5 + 5; // the part of `big` past the cap, then "soon "
        assert!(
            text.contains(&format!(
                "[fleet: {lost} bytes of output lost here: the transcript could not be written (No space left on device"
            )),
            "{}",
            &text[text.len() - 200..]
        );
        assert!(text.ends_with("]\r\nafter"));
        assert!(held.failing.is_none() && held.bytes.is_empty() && held.lost == 0);
    }

    #[test]
    fn copies_everything_through_a_real_file_and_rotates() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = logs_in(dir.path()).join("a.log");
        let input: &'static [u8] = b"0123456789abcdef";
        write(input, &path, 10).unwrap_or_else(|e| panic!("{e}"));
        let now = std::fs::read(&path).unwrap_or_default();
        let old = std::fs::read(rotated(&path)).unwrap_or_default();
        assert_eq!([old, now].concat(), b"0123456789abcdef");
    }

    /// `DIR/logs`, as `up` makes it.
    fn logs_in(dir: &Path) -> PathBuf {
        let logs = dir.join("logs");
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&logs)
            .unwrap_or_else(|e| panic!("{e}"));
        logs
    }

    #[test]
    fn a_transcript_deleted_while_written_begins_again_and_says_so() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = logs_in(dir.path()).join("a.log");
        let mut out = Rotating::open(&path, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        out.append(b"first\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(LOOK_EVERY);
        out.append(b"second\n").unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            text,
            "[fleet: the transcript was deleted while it was written; it begins again here]\r\nsecond\n"
        );
        // Deleted again, and due to rotate before the look: no error either.
        let mut small = Rotating::open(&path, 8).unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
        small
            .append(b"0123456789")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(path.exists());
    }

    #[test]
    fn a_writer_is_known_alive_by_its_lock_and_gone_when_it_ends() {
        use crate::core::transcript::writer_alive;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = logs_in(dir.path()).join("a.log");
        assert_eq!(writer_alive(&path), None, "no file: cannot tell");
        let mut out = Rotating::open(&path, 8).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(writer_alive(&path), Some(true));
        // Past a rotation, the new file is held too.
        out.append(b"0123456789").unwrap_or_else(|e| panic!("{e}"));
        assert!(rotated(&path).exists());
        assert_eq!(writer_alive(&path), Some(true));
        drop(out);
        assert_eq!(writer_alive(&path), Some(false));
    }

    #[test]
    fn a_directory_open_to_others_or_a_second_name_is_refused_untouched() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let logs = logs_in(dir.path());
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = Rotating::open(&logs.join("a.log"), 100).err();
        assert!(
            refused.is_some_and(|e| e.to_string().contains("open to other users")),
            "a 0755 directory was written into"
        );
        let mode = std::fs::metadata(&logs).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o755), "the writer changed the directory");
        assert!(!logs.join("a.log").exists());

        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("{e}"));
        let victim = logs.join("victim");
        std::fs::write(&victim, b"mine\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::hard_link(&victim, logs.join("b.log")).unwrap_or_else(|e| panic!("{e}"));
        let refused = Rotating::open(&logs.join("b.log"), 100).err();
        assert!(refused.is_some_and(|e| e.to_string().contains("hard link")));
        assert_eq!(std::fs::read(&victim).unwrap_or_default(), b"mine\n");
    }
}
