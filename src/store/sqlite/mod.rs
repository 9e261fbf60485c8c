//! The store in a SQLite file (the default): opening it safely, its
//! schema and migrations, and the queries behind `Queries` and `Changes`.
//! The only module that speaks SQLite.

mod accounts;
mod events;
mod files;
mod maintenance;
mod pool;
mod privileges;
mod queries;
mod restore;
mod schema;
mod tokens;
mod transfer;

pub use maintenance::Check;
pub use pool::SqlitePool;
pub use restore::BackupFile;
pub use transfer::{create_from, write_snapshot};

use std::fs;
use std::io;
use std::path::Path;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::error::{Error, ErrorKind};
use super::{BUSY_TIMEOUT, Changes, Location, Queries, Scratch};
use crate::error::Error as UserError;
use files::OnDisk;

/// One connection to a store file.
pub struct SqliteStore {
    conn: Connection,
    location: Location,
}

/// A connection to read and write through, and the location its errors
/// name: a store's own connection, or its write transaction.
trait Session {
    fn conn(&self) -> &Connection;
    fn location(&self) -> &Location;

    fn fail(&self, e: rusqlite::Error) -> Error {
        sql_error(self.location(), e)
    }
}

impl Session for SqliteStore {
    fn conn(&self) -> &Connection {
        &self.conn
    }
    fn location(&self) -> &Location {
        &self.location
    }
}

/// A transaction: a write (begun with the write lock, `BEGIN
/// IMMEDIATE`), or a read of one snapshot.
struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    location: &'a Location,
}

impl Session for Tx<'_> {
    fn conn(&self) -> &Connection {
        &self.tx
    }
    fn location(&self) -> &Location {
        self.location
    }
}

impl SqliteStore {
    /// Opens an existing store without ever creating one. `Ok(None)` when
    /// there is no store at `path` yet.
    pub fn open_existing(path: &Path) -> anyhow::Result<Option<SqliteStore>> {
        match files::inspect(path)? {
            // An empty file is not a store yet, and opening it would write.
            OnDisk::Nothing | OnDisk::Empty => return Ok(None),
            OnDisk::File => {}
        }
        let store = SqliteStore::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        if store.schema_version()? == 0 {
            return Ok(None);
        }
        Ok(Some(store))
    }

    /// Opens an existing store to change it, and whether its schema is
    /// behind this version's (`migrate` before the first change);
    /// `Ok(None)` when there is no store at `path` yet.
    pub fn open_to_change(path: &Path) -> anyhow::Result<Option<(SqliteStore, bool)>> {
        let Some(store) = SqliteStore::open_existing(path)? else {
            return Ok(None);
        };
        let behind = store.schema_version()? < schema::MIGRATIONS.len() as i64;
        Ok(Some((store, behind)))
    }

    /// Another connection to this store, opened through SQLite alone: the
    /// file is not looked at from outside, as closing any descriptor on it
    /// would drop the POSIX locks of the connections this process holds.
    pub fn another_connection(&self) -> anyhow::Result<SqliteStore> {
        SqliteStore::connect(self.path(), OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Opens an existing store to read it, without ever creating it or
    /// writing to it; `Ok(None)` when there is no store at `path` yet.
    /// Works on a store the caller can read in a folder it cannot write
    /// (README "Guarantees").
    pub fn open_read(path: &Path) -> anyhow::Result<Option<SqliteStore>> {
        match files::inspect(path)? {
            OnDisk::Nothing | OnDisk::Empty => return Ok(None),
            OnDisk::File => {}
        }
        // Opened as for a write, though nothing is written: on close the
        // last connection checkpoints and removes the -wal and -shm, as
        // every other command does.
        let store = match SqliteStore::connect_read(path, false) {
            // WAL needs the -shm beside the store even to read, and SQLite
            // cannot create it in a folder we cannot write. With no -wal
            // the file holds every committed change, so it can be read as
            // it is (SQLite's immutable mode): a writer could only be
            // someone who can write the folder, and would need a -wal.
            Err(e) if files::no_side_files(path) => {
                SqliteStore::connect_read(path, true).map_err(|_| e)?
            }
            other => other?,
        };
        if store.schema_version()? == 0 {
            return Ok(None);
        }
        Ok(Some(store))
    }

    fn connect_read(path: &Path, immutable: bool) -> anyhow::Result<SqliteStore> {
        let access = match immutable {
            true => OpenFlags::SQLITE_OPEN_READ_ONLY,
            false => OpenFlags::SQLITE_OPEN_READ_WRITE,
        };
        let store = SqliteStore::open_checked(
            path,
            files::path_uri(path, immutable),
            access | OpenFlags::SQLITE_OPEN_URI,
        )?;
        store.conn.pragma_update(None, "cache_size", -65_536)?;
        Ok(store)
    }

    /// A connection to `path` (opened by `name`, the path or a URI for it)
    /// that is a tokenctl store no newer than this version, and private.
    fn open_checked(
        path: &Path,
        name: impl AsRef<Path>,
        flags: OpenFlags,
    ) -> anyhow::Result<SqliteStore> {
        let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(name, flags)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let store = SqliteStore {
            conn,
            location: Location::Sqlite(path.to_path_buf()),
        };
        store.check_identity()?;
        files::check_private(path)?;
        Ok(store)
    }

    /// For connections that run the same lookups all their life (serve):
    /// the token lookup joins tokens and accounts, and SQLite (3.54) marks
    /// that statement to be re-planned each time ?1 is bound, even to the
    /// same value, so the cached statement was planned afresh on every
    /// request (a third of serve's CPU for a cached valid token). The query
    /// planner stability guarantee keeps the one plan (a primary-key
    /// lookup: there is no better one).
    pub fn keep_query_plans(&self) -> anyhow::Result<()> {
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        Ok(())
    }

    /// Opens the store, creating it (folder 0700, file 0600) and bringing
    /// its schema up to date as needed.
    pub fn open_or_create(path: &Path) -> anyhow::Result<SqliteStore> {
        match files::inspect(path)? {
            OnDisk::Nothing => create_store(path)?,
            OnDisk::Empty => files::check_adoptable(path)?,
            OnDisk::File => {}
        }
        let mut store = SqliteStore::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        store.migrate()?;
        Ok(store)
    }

    fn connect(path: &Path, flags: OpenFlags) -> anyhow::Result<SqliteStore> {
        let store = SqliteStore::open_checked(path, path, flags)?;
        // WAL lets readers (verify, list) run while a writer commits;
        // synchronous=FULL makes a committed revoke survive a power cut.
        store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(|e| store.fail(e))?;
        store.conn.pragma_update(None, "synchronous", "FULL")?;
        store.conn.pragma_update(None, "foreign_keys", "ON")?;
        // Up to 64 MiB of page cache (allocated only as used): large stores
        // are read and sorted without re-reading pages.
        store.conn.pragma_update(None, "cache_size", -65_536)?;
        Ok(store)
    }

    /// Refuses another program's SQLite file, or a store written by a newer
    /// tokenctl, before anything is written to it.
    fn check_identity(&self) -> anyhow::Result<()> {
        // The three reads below must see one snapshot. As separate
        // autocommit reads, another process's first-use migration could
        // commit between them (application_id still 0, user_version
        // already 1), and a brand-new store was refused as "not a tokenctl
        // store" (found by tests/cli/concurrency.rs). A deferred read
        // transaction writes nothing; dropping it ends it.
        let _snapshot = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.fail(e))?;
        let read = |pragma: &str| -> Result<i64, Error> {
            self.conn
                .pragma_query_value(None, pragma, |row| row.get(0))
                .map_err(|e| self.fail(e))
        };
        let app_id = read("application_id")?;
        let version = read("user_version")?;
        let objects: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(|e| self.fail(e))?;
        let fresh = app_id == 0 && version == 0 && objects == 0;
        if !fresh && app_id != schema::APPLICATION_ID {
            return Err(Error::new(ErrorKind::NotAStore, &self.location, "").into());
        }
        if version > schema::MIGRATIONS.len() as i64 {
            return Err(Error::new(ErrorKind::NewerSchema(version), &self.location, "").into());
        }
        Ok(())
    }

    fn schema_version(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    /// Applies the migrations this store lacks, in one exclusive transaction.
    pub fn migrate(&mut self) -> anyhow::Result<()> {
        if self.schema_version()? == schema::MIGRATIONS.len() as i64 {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)?;
        // Another process may have migrated while we waited for the lock.
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)
                .with_context(|| format!("applying store migration {}", index + 1))?;
        }
        tx.pragma_update(None, "application_id", schema::APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", schema::MIGRATIONS.len() as i64)?;
        tx.commit()?;
        Ok(())
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: the write lock is
    /// taken up front, so two writers never deadlock upgrading a read lock.
    /// Nothing is written unless `f` succeeds.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&dyn Changes) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let location = &self.location;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(location, e))?;
        let tx = Tx { tx, location };
        // A failure of the file itself met inside `f` (a read-only store
        // file, a full disk) comes as a store error naming the store.
        let value = f(&tx)?;
        tx.tx.commit().map_err(|e| sql_error(location, e))?;
        Ok(value)
    }

    /// Runs `f` on one snapshot of the store: a read transaction, which
    /// writes nothing and ends when `f` does.
    pub fn read<T>(&self, f: impl FnOnce(&dyn Queries) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.fail(e))?;
        f(&Tx {
            tx,
            location: &self.location,
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    fn path(&self) -> &Path {
        match &self.location {
            Location::Sqlite(path) => path,
            Location::Postgres(_) => unreachable!("a SQLite store has a path"),
        }
    }
}

/// Creates a store at `path` (file 0600, missing folders 0700) that
/// appears fully formed: it is built in a file of its own beside `path`
/// (WAL mode, schema) and linked into place only if nothing is there yet.
/// Processes that race to create it never see each other's half-made
/// store; the losers discard theirs and open the winner's.
fn create_store(path: &Path) -> anyhow::Result<()> {
    files::create_folders(path)?;
    let cannot = |e: &dyn std::fmt::Display| {
        UserError::runtime(format!("cannot create the store {}: {e}", path.display()))
    };
    let scratch = Scratch::new(path, "new").map_err(|e| cannot(&e))?;
    let new = &scratch.file;
    let built =
        SqliteStore::connect(new, OpenFlags::SQLITE_OPEN_READ_WRITE).and_then(|mut store| {
            store.migrate()?;
            // Closing checkpoints the WAL into the file and removes it.
            store.conn.close().map_err(|(_, e)| anyhow::Error::new(e))
        });
    built.and_then(|()| match fs::hard_link(new, path) {
        Ok(()) => Ok(()),
        // Another process's store got there first: use that one.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        // A filesystem without hard links: a rename, unless one appeared.
        Err(_) if !path.exists() => fs::rename(new, path).map_err(|e| cannot(&e).into()),
        Err(_) => Ok(()),
    })
}

/// A SQLite failure, as the kind of store error it is.
fn sql_error(location: &Location, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    let kind = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => ErrorKind::NotAStore,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => ErrorKind::Busy,
        Some(ErrorCode::DiskFull) => ErrorKind::DiskFull,
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            ErrorKind::ReadOnly
        }
        // A name or id already taken; not a trigger's refusal, which is
        // a constraint failure too.
        Some(ErrorCode::ConstraintViolation) if is_uniqueness(&e) => ErrorKind::Conflict,
        _ => ErrorKind::Other,
    };
    Error::new(kind, location, e.to_string())
}

fn is_uniqueness(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    matches!(e, rusqlite::Error::SqliteFailure(failure, _)
        if [SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY].contains(&failure.extended_code))
}

/// JSON text for a list column.
fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// A list column back from JSON text.
fn from_json(text: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}
