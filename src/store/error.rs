//! What can go wrong with the store itself, whatever keeps it: the kinds
//! commands act on, each worded once, with the fix, for the user.

use std::fmt;

use super::{BUSY_TIMEOUT, Location};
use crate::error::{Error as UserError, Kind};

/// What went wrong, as far as a command cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A change collided with the store's contents (a name taken).
    Conflict,
    /// Another process held the write lock for longer than we wait.
    Busy,
    /// Something other than a tokenctl store is at the location.
    NotAStore,
    /// A newer tokenctl wrote this store, at this schema version.
    NewerSchema(i64),
    /// The store cannot be written here (permissions, a read-only file).
    ReadOnly,
    /// No room left to write the change.
    DiskFull,
    /// A statement reached a PostgreSQL connection set up for this
    /// schema instead of the store's: a pooler in transaction or statement
    /// mode hands each transaction to any server connection.
    OtherSchema(String),
    /// Anything else the engine reported.
    Other,
}

/// A failure of the store at `location`; `detail` is the engine's own
/// words, shown where they help.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub location: String,
    /// Whether the store is in PostgreSQL (a SQLite file's fixes are not
    /// a server's).
    pub on_postgres: bool,
    pub detail: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, location: &Location, detail: impl Into<String>) -> Error {
        Error {
            kind,
            location: location.to_string(),
            on_postgres: matches!(location, Location::Postgres(_)),
            detail: detail.into(),
        }
    }

    /// The one-line message, hint and exit code the user gets.
    pub fn for_user(&self) -> UserError {
        let at = &self.location;
        match &self.kind {
            ErrorKind::Conflict => UserError::conflict(format!("store {at}: {}", self.detail)),
            ErrorKind::Busy => UserError::runtime(format!(
                "the store {at} stayed locked by another process for {} s",
                BUSY_TIMEOUT.as_secs()
            ))
            .with_hint("try again; check for a stuck tokenctl process"),
            ErrorKind::NotAStore => UserError::runtime(format!("{at} is not a tokenctl store"))
                .with_hint(if self.on_postgres {
                    "point --db (or TOKENCTL_DB) at a tokenctl store, or pick another schema \
                     with ?schema=NAME"
                } else {
                    "point --db (or TOKENCTL_DB) at a tokenctl store, or at a new path"
                }),
            ErrorKind::NewerSchema(version) => UserError::runtime(format!(
                "the store {at} was written by a newer tokenctl (schema {version})"
            ))
            .with_hint("upgrade tokenctl to use this store"),
            ErrorKind::ReadOnly => {
                UserError::runtime(format!("cannot write the store {at}: {}", self.detail))
                    .with_hint(if self.on_postgres {
                        "run it on the primary server, as a role allowed to write the store's \
                         schema and tables"
                    } else {
                        "check the permissions of the store and its folder"
                    })
            }
            ErrorKind::DiskFull => UserError::runtime(format!(
                "cannot write the store {at}: the disk is full; nothing was changed"
            ))
            .with_hint("free some space, then run the command again"),
            ErrorKind::OtherSchema(schema) => UserError::runtime(format!(
                "store {at}: a statement reached a connection set up for schema \"{schema}\"; \
                 nothing was changed"
            ))
            .with_hint(
                "a connection pooler in transaction or statement mode? tokenctl needs session \
                 mode (PgBouncer: pool_mode = session)",
            ),
            ErrorKind::Other => {
                UserError::new(Kind::Runtime, format!("store {at}: {}", self.detail))
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.for_user().message)
    }
}

impl std::error::Error for Error {}
