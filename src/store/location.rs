//! Where the store is: `--db` (or `TOKENCTL_DB`) read once, or the default.

use std::fmt;
use std::path::{Path, PathBuf};

use super::postgres::{PgTarget, url::is_postgres_url};
use crate::error::Error;

/// A store's location. Today a SQLite file; each kind of store adds its
/// own variant, and `Store` opens whichever it is given.
#[derive(Debug, Clone)]
pub enum Location {
    /// A SQLite file at this path.
    Sqlite(PathBuf),
    /// A schema in a PostgreSQL database (`postgres://` or
    /// `postgresql://`); shown without its password.
    Postgres(Box<PgTarget>),
}

impl Location {
    /// The location `--db` names: a PostgreSQL URL, else a SQLite path.
    pub fn parse(arg: &Path) -> Result<Location, Error> {
        match arg.to_str() {
            Some(text) if is_postgres_url(text) => {
                Ok(Location::Postgres(Box::new(PgTarget::parse(text)?)))
            }
            _ => Ok(Location::Sqlite(arg.to_path_buf())),
        }
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

    /// What the user should hear about how the location was read (a
    /// password file ignored for its permissions, ...).
    pub fn warnings(&self) -> &[String] {
        match self {
            Location::Sqlite(_) => &[],
            Location::Postgres(target) => target.warnings(),
        }
    }

    /// Whether the location itself carries a password.
    pub fn has_password(&self) -> bool {
        match self {
            Location::Sqlite(_) => false,
            Location::Postgres(target) => target.password_in_url(),
        }
    }

    /// The store's file, for a store kept in one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(target) => write!(f, "{target}"),
        }
    }
}
