//! The store's file, looked at from outside SQLite only by its metadata:
//! what is at the path, whether it is private, whether an empty file may
//! become a store.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// What is at the store's path before we open it.
pub(super) enum OnDisk {
    Nothing,
    /// A file of zero bytes: no schema yet.
    Empty,
    /// A file with content, a store if SQLite says so (`check_identity`).
    File,
}

/// `path` as a SQLite URI (`file:` and the path, percent-encoded), with
/// `immutable=1` when asked: no locks and no side files.
pub(super) fn path_uri(path: &Path, immutable: bool) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    if immutable {
        uri.push_str("?immutable=1");
    }
    uri
}

/// Whether SQLite cannot make the -shm and -wal it needs beside `path`
/// (a folder we cannot write), and there is no -wal there.
pub(super) fn no_side_files(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let folder = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let Ok(folder) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) with a valid NUL-terminated path.
    let writable = unsafe { libc::access(folder.as_ptr(), libc::W_OK) } == 0;
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    !writable && fs::symlink_metadata(wal).is_err()
}

/// Looks at `path` without modifying it, and without opening it: POSIX
/// locks belong to the process, so closing any descriptor on the store
/// drops the locks of every SQLite connection this process has open on it
/// (`serve` keeps some), and another program then takes the store for
/// unused and deletes its `-wal` under them. Only SQLite opens the store;
/// what is inside is checked through it (`SqliteStore::check_identity`).
pub(super) fn inspect(path: &Path) -> anyhow::Result<OnDisk> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A dangling symlink reads as "not found"; creating through it
            // would put the store somewhere unexpected. Only a link counts:
            // a file found on this second look was just created by another
            // process, and used to be misreported as a broken link (found
            // by tests/cli/concurrency.rs).
            if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(Error::runtime(format!(
                    "the store path {} is a broken symbolic link",
                    path.display()
                ))
                .with_hint("remove the link or point --db elsewhere")
                .into());
            }
            return Ok(OnDisk::Nothing);
        }
        Err(e) => {
            return Err(
                Error::runtime(format!("cannot read the store {}: {e}", path.display())).into(),
            );
        }
    };
    if meta.is_dir() {
        return Err(
            Error::runtime(format!("the store path {} is a folder", path.display()))
                .with_hint("point --db (or TOKENCTL_DB) at a file, such as tokens.db inside it")
                .into(),
        );
    }
    // A FIFO or a device would block or misbehave on open.
    if !meta.is_file() {
        return Err(Error::runtime(format!(
            "the store path {} is not a regular file",
            path.display()
        ))
        .with_hint("point --db (or TOKENCTL_DB) at a store file, or at a new path")
        .into());
    }
    if meta.len() == 0 {
        return Ok(OnDisk::Empty);
    }
    Ok(OnDisk::File)
}

/// An empty file becomes a new store only when no one else can have put
/// it there: it is ours (effective uid), 0600, in a folder no one else can
/// write. A first `token create` killed half-way may leave such a file;
/// one planted by another user in a shared folder is refused, or our
/// tokens would land in a file that user owns and can read.
pub(super) fn check_adoptable(path: &Path) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let folder = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let ours = |meta: &fs::Metadata| meta.uid() == euid || meta.uid() == 0;
    let adoptable = fs::metadata(path).is_ok_and(|m| m.uid() == euid && m.mode() & 0o7777 == 0o600)
        && fs::metadata(folder).is_ok_and(|m| ours(&m) && m.mode() & 0o022 == 0);
    if adoptable {
        return Ok(());
    }
    Err(Error::runtime(format!(
        "refusing the empty file {} as a new store: it is not yours with mode 0600 in a folder only you can write",
        path.display()
    ))
    .with_hint("remove it, or point --db (or TOKENCTL_DB) at a new path in a private folder")
    .into())
}

/// Creates the missing folders above a new store's `path`, each 0700.
pub(super) fn create_folders(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                Error::runtime(format!("cannot create the folder {}: {e}", dir.display()))
            })?;
    }
    Ok(())
}

/// Refuses a store that other users can read or write: its hashes and
/// audit trail are for its owner only (README "Guarantees").
pub(super) fn check_private(path: &Path) -> anyhow::Result<()> {
    let mode = fs::metadata(path)
        .map_err(|e| Error::runtime(format!("cannot read the store {}: {e}", path.display())))?
        .mode();
    if mode & 0o077 != 0 {
        return Err(Error::runtime(format!(
            "the store {} can be read or written by other users (mode {:04o})",
            path.display(),
            mode & 0o7777
        ))
        .with_hint(format!("chmod 600 {}", path.display()))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_escape_what_sqlite_would_read_as_uri_syntax() {
        assert_eq!(path_uri(Path::new("/a/b.db"), false), "file:/a/b.db");
        assert_eq!(
            path_uri(Path::new("/x y/a?b#c%d.db"), true),
            "file:/x%20y/a%3Fb%23c%25d.db?immutable=1"
        );
    }
}
