//! New files (a store being made, a backup being written) built where no
//! one else can reach them, then moved into place.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A folder of our own beside `target` (0700, created exclusively, so
/// nothing planted under its name is used), holding one new empty file
/// (0600, created exclusively) named like `target`. In a shared folder,
/// no other user can swap the file for a link of theirs before SQLite
/// opens it by name. Removed, with what is left in it, when dropped.
pub struct Scratch {
    dir: PathBuf,
    pub file: PathBuf,
}

impl Scratch {
    pub fn new(target: &Path, purpose: &str) -> io::Result<Scratch> {
        let name = target.file_name().unwrap_or_default();
        let dir = target.with_file_name(format!(
            ".{}.{purpose}-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        DirBuilder::new().mode(0o700).create(&dir)?;
        let scratch = Scratch {
            file: dir.join(name),
            dir,
        };
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&scratch.file)?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
