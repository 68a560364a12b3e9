//! Files under `$FLEET_HOME`: the user's alone, never reached through a
//! link, never someone else's.
//!
//! Theory of operation. What fleet keeps holds what agents print and what
//! operators type (tokens, OAuth URLs), so every directory it makes or uses
//! is 0700 and every file 0600, whatever the umask; looser modes on what is
//! ours are tightened. Inside the state directory nothing is reached
//! through a symbolic link (files are opened `O_NOFOLLOW`, directories
//! checked with `lstat`): a link planted there while it was open to others
//! would send agent output, or `fleet logs`, somewhere else. Anything owned
//! by another user is refused, with one line that says what to do.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a path of the state directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(
        "{} belongs to another user (uid {uid}): fleet keeps its state only where you alone own it; set FLEET_HOME to a directory of your own",
        path.display()
    )]
    Foreign { path: PathBuf, uid: u32 },
    #[error(
        "{} is a symbolic link: fleet follows no links inside its state directory; remove it",
        path.display()
    )]
    Link { path: PathBuf },
    #[error("{} is not a {want}: move it out of fleet's state directory", path.display())]
    Kind { path: PathBuf, want: &'static str },
    #[error(
        "{} is open to other users (mode {mode:o}): fleet writes there only when it is yours alone; `chmod 700` it (fleet up does)",
        path.display()
    )]
    Loose { path: PathBuf, mode: u32 },
    #[error(
        "{} has another name (a hard link): fleet writes only to files no other name reaches; remove it",
        path.display()
    )]
    Linked { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl From<Refused> for io::Error {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Io { source, .. } => source,
            other => io::Error::new(io::ErrorKind::PermissionDenied, other.to_string()),
        }
    }
}

/// The user fleet runs as.
pub fn me() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Refused + '_ {
    move |source| Refused::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The state directory itself: made if missing (0700), else it must be a
/// directory of ours (it may be reached through a link the user made);
/// looser modes are tightened.
pub fn root(path: &Path) -> Result<(), Refused> {
    // A link another user made could point anywhere: it is theirs.
    if let Ok(link) = std::fs::symlink_metadata(path)
        && link.file_type().is_symlink()
        && link.uid() != me()
        && link.uid() != 0
    {
        return Err(Refused::Foreign {
            path: path.to_path_buf(),
            uid: link.uid(),
        });
    }
    // Nor may it sit where others can swap it (a shared, unsticky dir).
    if let Some(parent) = path.parent()
        && let Ok(meta) = std::fs::metadata(parent)
        && meta.mode() & 0o022 != 0
        && meta.mode() & 0o1000 == 0
        && meta.uid() != me()
    {
        return Err(Refused::Foreign {
            path: parent.to_path_buf(),
            uid: meta.uid(),
        });
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_err(path))?;
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    if !meta.is_dir() {
        return Err(Refused::Kind {
            path: path.to_path_buf(),
            want: "directory",
        });
    }
    tighten(path, &meta, 0o700)
}

/// A directory inside the state directory `root`, and every one between:
/// made if missing (0700), else each must be a real directory of ours.
pub fn dir(root: &Path, path: &Path) -> Result<(), Refused> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut at = root.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match std::fs::DirBuilder::new().mode(0o700).create(&at) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(&at)(e)),
        }
        let meta = std::fs::symlink_metadata(&at).map_err(io_err(&at))?;
        if meta.file_type().is_symlink() {
            return Err(Refused::Link { path: at });
        }
        if !meta.is_dir() {
            return Err(Refused::Kind {
                path: at,
                want: "directory",
            });
        }
        tighten(&at, &meta, 0o700)?;
    }
    Ok(())
}

/// The directory a file of the state directory goes in: made if missing
/// (0700), else it must be a real directory of ours.
pub fn parent_of(path: &Path) -> Result<(), Refused> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .map_err(io_err(parent))?;
    dir(parent, parent)?;
    let meta = std::fs::symlink_metadata(parent).map_err(io_err(parent))?;
    if meta.file_type().is_symlink() {
        return Err(Refused::Link {
            path: parent.to_path_buf(),
        });
    }
    tighten(parent, &meta, 0o700)
}

/// The directory a file of the state directory goes in, as it is: a real
/// directory of ours, closed to others. Nothing is made or changed (what
/// runs under tmux, such as the transcript writer, touches no directory:
/// `up` prepared it).
pub fn existing_dir_of(path: &Path) -> Result<(), Refused> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let meta = std::fs::symlink_metadata(parent).map_err(io_err(parent))?;
    if meta.file_type().is_symlink() {
        return Err(Refused::Link {
            path: parent.to_path_buf(),
        });
    }
    if !meta.is_dir() {
        return Err(Refused::Kind {
            path: parent.to_path_buf(),
            want: "directory",
        });
    }
    if meta.uid() != me() {
        return Err(Refused::Foreign {
            path: parent.to_path_buf(),
            uid: meta.uid(),
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(Refused::Loose {
            path: parent.to_path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// All of a private file.
pub fn read(path: &Path) -> Result<Vec<u8>, Refused> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open(path, Access::Read)?
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    Ok(bytes)
}

/// How a private file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Created if missing; writes go to its end.
    Append,
    /// Created if missing; read and written in place.
    ReadWrite,
}

/// Opens a file of the state directory without following a link: created
/// 0600 if missing, else it must be a regular file of ours (tightened to
/// 0600 if looser).
pub fn open(path: &Path, access: Access) -> Result<File, Refused> {
    let mut options = OpenOptions::new();
    options
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .mode(0o600);
    match access {
        Access::Read => options.read(true),
        Access::Append => options.create(true).append(true),
        Access::ReadWrite => options.create(true).read(true).write(true),
    };
    let file = options.open(path).map_err(|e| {
        // ELOOP: the last component is a link.
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            Refused::Link {
                path: path.to_path_buf(),
            }
        } else {
            io_err(path)(e)
        }
    })?;
    let meta = file.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(Refused::Kind {
            path: path.to_path_buf(),
            want: "regular file",
        });
    }
    if meta.uid() != me() {
        return Err(Refused::Foreign {
            path: path.to_path_buf(),
            uid: meta.uid(),
        });
    }
    // Another name for the file would take what is written somewhere else.
    if access != Access::Read && meta.nlink() > 1 {
        return Err(Refused::Linked {
            path: path.to_path_buf(),
        });
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(path))?;
    }
    Ok(file)
}

/// Refuses a path that exists as a link (a file another program, such as
/// SQLite, will open by name).
pub fn no_link(path: &Path) -> Result<(), Refused> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Refused::Link {
            path: path.to_path_buf(),
        }),
        Ok(meta) if meta.uid() != me() => Err(Refused::Foreign {
            path: path.to_path_buf(),
            uid: meta.uid(),
        }),
        Ok(meta) if meta.mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(io_err(path))
        }
        _ => Ok(()),
    }
}

/// Ours, and no looser than `mode`.
fn tighten(path: &Path, meta: &std::fs::Metadata, mode: u32) -> Result<(), Refused> {
    if meta.uid() != me() {
        return Err(Refused::Foreign {
            path: path.to_path_buf(),
            uid: meta.uid(),
        });
    }
    if meta.mode() & 0o777 & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(io_err(path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .map(|m| m.mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn makes_and_tightens_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root_dir = tmp.path().join("home");
        std::fs::create_dir(&root_dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&root_dir, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        root(&root_dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&root_dir), 0o700);
        let logs = root_dir.join("logs/sock");
        dir(&root_dir, &logs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((mode(&root_dir.join("logs")), mode(&logs)), (0o700, 0o700));
        let file = logs.join("a.log");
        std::fs::write(&file, "x").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        open(&file, Access::Append).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&file), 0o600);
        let fresh = logs.join("b.log");
        open(&fresh, Access::Append).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&fresh), 0o600);
    }

    #[test]
    fn follows_no_link_inside() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root_dir = tmp.path().join("home");
        root(&root_dir).unwrap_or_else(|e| panic!("{e}"));
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "secret").unwrap_or_else(|e| panic!("{e}"));
        let link = root_dir.join("a.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap_or_else(|e| panic!("{e}"));
        for access in [Access::Read, Access::Append, Access::ReadWrite] {
            assert!(matches!(open(&link, access), Err(Refused::Link { .. })));
        }
        assert!(matches!(no_link(&link), Err(Refused::Link { .. })));
        std::os::unix::fs::symlink(tmp.path(), root_dir.join("logs"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            dir(&root_dir, &root_dir.join("logs/sock")),
            Err(Refused::Link { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap_or_default(),
            "secret"
        );
        // A root reached through the user's own link is fine.
        let via = tmp.path().join("via");
        std::os::unix::fs::symlink(&root_dir, &via).unwrap_or_else(|e| panic!("{e}"));
        assert!(root(&via).is_ok());
    }
}
