//! Where the store is: `--db` (or `TOKENCTL_DB`) read once, or the default.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// A store's location. Today a SQLite file; each kind of store adds its
/// own variant, and `Store` opens whichever it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file at this path.
    Sqlite(PathBuf),
}

impl Location {
    /// The location `--db` names.
    pub fn parse(arg: &Path) -> Location {
        Location::Sqlite(arg.to_path_buf())
    }

    /// `<data dir>/tokenctl/tokens.db` (on Linux
    /// `$XDG_DATA_HOME/tokenctl/tokens.db`).
    pub fn default_store() -> Result<Location, Error> {
        let dirs = directories::BaseDirs::new().ok_or_else(|| {
            Error::usage("cannot find a data folder for the default store (HOME is not set)")
                .with_hint("pass --db PATH or set TOKENCTL_DB")
        })?;
        Ok(Location::Sqlite(
            dirs.data_dir().join("tokenctl").join("tokens.db"),
        ))
    }

    /// The store's file, for a store kept in one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(path) => Some(path),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
        }
    }
}
