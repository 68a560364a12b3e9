//! Where the fleet keeps its state (`$FLEET_HOME`), and the lock that makes
//! two `fleet up` at once start each agent once.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The state directory (`settings` says where).
#[derive(Debug, Clone)]
pub struct FleetHome {
    root: PathBuf,
}

/// Held while a command changes the fleet; released on drop.
#[derive(Debug)]
pub struct FleetLock {
    _file: File,
}

impl FleetHome {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the fleet-wide lock for one tmux socket, waiting for another
    /// `fleet` that holds it.
    pub fn lock(&self, socket: &str) -> io::Result<FleetLock> {
        let dir = self.root.join("locks");
        std::fs::create_dir_all(&dir)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{socket}.lock")))?;
        file.lock()?;
        Ok(FleetLock { _file: file })
    }
}

/// Creates a directory (and its missing parents) readable by the user
/// alone, 0700 whatever the umask: what fleet keeps there (transcripts,
/// signals) holds what agents print and operators type.
pub fn private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// Writes a file atomically: a temp file in the same directory, synced,
/// then renamed over the old one. A reader sees the old or the new, whole.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
