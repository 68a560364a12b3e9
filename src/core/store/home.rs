//! Where the fleet keeps its state (`$FLEET_HOME`), and the lock that makes
//! two `fleet up` at once start each agent once.
//!
//! The lock is an advisory `flock` on `locks/SOCKET.lock`. Waiting for it
//! is bounded, and says who holds it (from the kernel's own table of
//! locks, `/proc/locks`) once it takes more than a moment. A lock is only
//! good if the file locked is still the file at the path: one deleted or
//! replaced meanwhile is let go and the new one locked instead.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::core::store::private::{self, Access, Refused};

/// The state directory (`settings` says where).
#[derive(Debug, Clone)]
pub struct FleetHome {
    root: PathBuf,
}

/// Held while a command changes the fleet; released on drop.
#[derive(Debug)]
pub struct FleetLock {
    file: File,
    path: PathBuf,
}

impl FleetLock {
    /// Whether the file held is still the lock file at its path: one
    /// deleted or replaced since no longer keeps another command out.
    pub fn is_current(&self) -> bool {
        is_at(&self.file, &self.path)
    }
}

/// Who holds a lock, as far as the kernel and the holder's note say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    /// Its command line.
    pub command: Option<String>,
    /// When it took the lock (RFC 3339), from the note it left.
    pub since: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            None => write!(f, "an unknown process")?,
        }
        if let Some(command) = &self.command {
            write!(f, " ({command})")?;
        }
        if let Some(since) = &self.since {
            write!(f, " since {since}")?;
        }
        Ok(())
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("another fleet command held the lock for {}s: {holder}", waited.as_secs())]
    TimedOut { holder: Holder, waited: Duration },
}

/// How long a wait for the lock goes unannounced.
const QUIET_WAIT: Duration = Duration::from_secs(1);

impl FleetHome {
    /// The state directory at `root`, made if missing; refused unless it
    /// is a directory of the user's own (looser modes are tightened).
    pub fn open(root: PathBuf) -> Result<Self, Refused> {
        private::root(&root)?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the fleet-wide lock for one tmux socket, waiting at most
    /// `wait` for another `fleet` that holds it; `waiting` is told who
    /// holds it once the wait takes more than a moment.
    pub fn lock(
        &self,
        socket: &str,
        wait: Duration,
        mut waiting: impl FnMut(&Holder),
    ) -> Result<FleetLock, LockError> {
        let dir = self.root.join("locks");
        private::dir(&self.root, &dir)?;
        let path = dir.join(format!("{socket}.lock"));
        let started = Instant::now();
        let mut told = false;
        loop {
            let file = private::open(&path, Access::ReadWrite)?;
            match file.try_lock() {
                Ok(()) if is_at(&file, &path) => {
                    note_holder(&file);
                    return Ok(FleetLock { file, path });
                }
                // Deleted or replaced since it was opened: lock the new one.
                Ok(()) => continue,
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
            }
            let waited = started.elapsed();
            if waited >= wait {
                return Err(LockError::TimedOut {
                    holder: holder_of(&file),
                    waited,
                });
            }
            if !told && waited >= QUIET_WAIT {
                waiting(&holder_of(&file));
                told = true;
            }
            std::thread::sleep(Duration::from_millis(50).min(wait - waited));
        }
    }
}

/// Writes a file of the state directory atomically: a temp file (0600) in
/// the same private directory, synced, then renamed over the old one (a
/// rename replaces a link rather than following it). A reader sees the old
/// or the new, whole.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    private::parent_of(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether the open `file` is still the file at `path`.
fn is_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(held), Ok(there)) => held.ino() == there.ino() && held.dev() == there.dev(),
        _ => false,
    }
}

/// Leaves a note in the lock file: who holds it, since when.
fn note_holder(mut file: &File) {
    let command: Vec<String> = std::env::args().collect();
    let since = crate::core::clock::rfc3339_ms(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
            .unwrap_or(0),
    );
    let note = format!("{} {since} {}\n", std::process::id(), command.join(" "));
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(note.as_bytes());
}

/// Who holds the lock on `file`: the pid from the kernel's table of locks,
/// its command line, and the time from the note it left.
fn holder_of(mut file: &File) -> Holder {
    let inode = file.metadata().map(|m| m.ino()).ok();
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let pid = inode.and_then(|inode| holder_pid(&locks, inode));
    let mut note = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut note);
    let mut words = note.split_whitespace();
    let noted_pid = words.next().and_then(|p| p.parse::<u32>().ok());
    let since = words.next().map(String::from);
    let command = pid.and_then(|pid| {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let text = String::from_utf8_lossy(&raw).replace('\0', " ");
        let text = text.trim();
        (!text.is_empty()).then(|| text.chars().take(200).collect())
    });
    Holder {
        pid,
        command,
        // The note is the holder's only if the kernel agrees who holds it.
        since: since.filter(|_| pid.is_some() && noted_pid == pid),
    }
}

/// The pid holding a `flock` on `inode`, from `/proc/locks` lines such as
/// `1: FLOCK  ADVISORY  WRITE 4242 00:2e:1234 0 EOF`.
fn holder_pid(locks: &str, inode: u64) -> Option<u32> {
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let flock = fields.get(1) == Some(&"FLOCK") && fields.get(2) != Some(&"->");
        let ino = fields.get(5)?.rsplit(':').next()?.parse::<u64>().ok()?;
        (flock && ino == inode).then(|| fields.get(4)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_holder_in_the_kernels_table() {
        let locks = "1: POSIX  ADVISORY  WRITE 11 00:2e:99 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 00:2e:1234 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 5 00:2e:1234 0 EOF\n";
        assert_eq!(holder_pid(locks, 1234), Some(4242));
        assert_eq!(holder_pid(locks, 99), None);
    }

    #[test]
    fn waits_a_bounded_time_and_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let home = FleetHome::open(tmp.path().join("home")).unwrap_or_else(|e| panic!("{e}"));
        let held = home
            .lock("s", Duration::ZERO, |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        let mut told = Vec::new();
        let started = Instant::now();
        let refused = home.lock("s", Duration::from_millis(1300), |h| told.push(h.clone()));
        assert!(started.elapsed() < Duration::from_secs(3));
        let Err(LockError::TimedOut { holder, .. }) = refused else {
            panic!("not refused: {refused:?}");
        };
        assert_eq!(holder.pid, Some(std::process::id()));
        assert!(holder.since.is_some(), "{holder}");
        assert_eq!(told, vec![holder]);
        drop(held);
        assert!(home.lock("s", Duration::ZERO, |_| {}).is_ok());
    }

    #[test]
    fn a_lock_file_replaced_meanwhile_is_not_held() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let home = FleetHome::open(tmp.path().join("home")).unwrap_or_else(|e| panic!("{e}"));
        let held = home
            .lock("s", Duration::ZERO, |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        // Someone deletes the held file: a new lock must not be taken on a
        // new file while the old holder goes on.
        std::fs::remove_file(tmp.path().join("home/locks/s.lock"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!held.is_current());
        let second = home
            .lock("s", Duration::ZERO, |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(second.is_current());
        // The first lets go of its (deleted) file: the lock is still the
        // second's, the one at the path.
        drop(held);
        assert!(matches!(
            home.lock("s", Duration::ZERO, |_| {}),
            Err(LockError::TimedOut { .. })
        ));
    }
}
