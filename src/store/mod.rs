//! The only module that speaks SQL: opening the store safely, migrations,
//! and the queries the commands need.

mod accounts;
mod events;
mod maintenance;
mod restore;
mod schema;
mod scratch;
mod tokens;

pub use accounts::*;
pub use events::*;
pub use maintenance::Check;
pub use restore::BackupFile;
pub use scratch::Scratch;
pub use tokens::*;

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::Error;

/// How long a command waits for another process's write to finish.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What is at the store's path before we open it.
enum Found {
    Nothing,
    /// A file of zero bytes: no schema yet.
    Empty,
    /// A file with content, a store if SQLite says so (`check_identity`).
    File,
}

impl Store {
    /// Opens an existing store without ever creating one. `Ok(None)` when
    /// there is no store at `path` yet.
    pub fn open_existing(path: &Path) -> anyhow::Result<Option<Store>> {
        match inspect(path)? {
            // An empty file is not a store yet, and opening it would write.
            Found::Nothing | Found::Empty => return Ok(None),
            Found::File => {}
        }
        let store = Store::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        if store.schema_version()? == 0 {
            return Ok(None);
        }
        Ok(Some(store))
    }

    /// Another connection to this store, opened through SQLite alone: the
    /// file is not looked at from outside, as closing any descriptor on it
    /// would drop the POSIX locks of the connections this process holds.
    pub fn another_connection(&self) -> anyhow::Result<Store> {
        Store::connect(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Opens an existing store to read it, without ever creating it or
    /// writing to it; `Ok(None)` when there is no store at `path` yet.
    /// Works on a store the caller can read in a folder it cannot write
    /// (README "Guarantees").
    pub fn open_read(path: &Path) -> anyhow::Result<Option<Store>> {
        match inspect(path)? {
            Found::Nothing | Found::Empty => return Ok(None),
            Found::File => {}
        }
        // Opened as for a write, though nothing is written: on close the
        // last connection checkpoints and removes the -wal and -shm, as
        // every other command does.
        let store = match Store::connect_read(path, false) {
            // WAL needs the -shm beside the store even to read, and SQLite
            // cannot create it in a folder we cannot write. With no -wal
            // the file holds every committed change, so it can be read as
            // it is (SQLite's immutable mode): a writer could only be
            // someone who can write the folder, and would need a -wal.
            Err(e) if no_side_files(path) => Store::connect_read(path, true).map_err(|_| e)?,
            other => other?,
        };
        if store.schema_version()? == 0 {
            return Ok(None);
        }
        Ok(Some(store))
    }

    fn connect_read(path: &Path, immutable: bool) -> anyhow::Result<Store> {
        let access = match immutable {
            true => OpenFlags::SQLITE_OPEN_READ_ONLY,
            false => OpenFlags::SQLITE_OPEN_READ_WRITE,
        };
        let store = Store::open_checked(
            path,
            path_uri(path, immutable),
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
    ) -> anyhow::Result<Store> {
        let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(name, flags)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.check_identity()?;
        check_private(path)?;
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
    pub fn open_or_create(path: &Path) -> anyhow::Result<Store> {
        match inspect(path)? {
            Found::Nothing => create_store(path)?,
            Found::Empty => check_adoptable(path)?,
            Found::File => {}
        }
        let mut store = Store::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        store.migrate()?;
        Ok(store)
    }

    fn connect(path: &Path, flags: OpenFlags) -> anyhow::Result<Store> {
        let store = Store::open_checked(path, path, flags)?;
        // WAL lets readers (verify, list) run while a writer commits;
        // synchronous=FULL makes a committed revoke survive a power cut.
        store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(|e| store_error(path, e))?;
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
            .map_err(|e| store_error(&self.path, e))?;
        let read = |pragma: &str| -> anyhow::Result<i64> {
            self.conn
                .pragma_query_value(None, pragma, |row| row.get(0))
                .map_err(|e| store_error(&self.path, e))
        };
        let app_id = read("application_id")?;
        let version = read("user_version")?;
        let objects: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(|e| store_error(&self.path, e))?;
        let fresh = app_id == 0 && version == 0 && objects == 0;
        if !fresh && app_id != schema::APPLICATION_ID {
            return Err(not_a_store(&self.path).into());
        }
        if version > schema::MIGRATIONS.len() as i64 {
            return Err(Error::runtime(format!(
                "the store {} was written by a newer tokenctl (schema {version})",
                self.path.display()
            ))
            .with_hint("upgrade tokenctl to use this store")
            .into());
        }
        Ok(())
    }

    fn schema_version(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    /// Applies the migrations this store lacks, in one exclusive transaction.
    fn migrate(&mut self) -> anyhow::Result<()> {
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
        f: impl FnOnce(&Transaction) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| store_error(&self.path, e))?;
        // A failure of the file itself met inside `f` (a read-only store
        // file, a full disk) is reported like one met opening or
        // committing: one line naming the store. It used to surface as
        // "attempt to write a readonly database: Error code 8: ..." with no
        // path and no hint (found by tests/cli/faults.rs).
        let value = f(&tx).map_err(|e| file_error(&self.path, e))?;
        tx.commit().map_err(|e| store_error(&self.path, e))?;
        Ok(value)
    }

    /// The connection, for reads outside a write transaction.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<data dir>/tokenctl/tokens.db` (on Linux `$XDG_DATA_HOME/tokenctl/tokens.db`).
pub fn default_path() -> Result<PathBuf, Error> {
    let dirs = directories::BaseDirs::new().ok_or_else(|| {
        Error::usage("cannot find a data folder for the default store (HOME is not set)")
            .with_hint("pass --db PATH or set TOKENCTL_DB")
    })?;
    Ok(dirs.data_dir().join("tokenctl").join("tokens.db"))
}

/// `path` as a SQLite URI (`file:` and the path, percent-encoded), with
/// `immutable=1` when asked: no locks and no side files.
fn path_uri(path: &Path, immutable: bool) -> String {
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
fn no_side_files(path: &Path) -> bool {
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
/// what is inside is checked through it (`Store::check_identity`).
fn inspect(path: &Path) -> anyhow::Result<Found> {
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
            return Ok(Found::Nothing);
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
        return Ok(Found::Empty);
    }
    Ok(Found::File)
}

/// An empty file becomes a new store only when no one else can have put
/// it there: it is ours (effective uid), 0600, in a folder no one else can
/// write. A first `token create` killed half-way may leave such a file;
/// one planted by another user in a shared folder is refused, or our
/// tokens would land in a file that user owns and can read.
fn check_adoptable(path: &Path) -> anyhow::Result<()> {
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

/// Refuses a store that other users can read or write: its hashes and
/// audit trail are for its owner only (README "Guarantees").
fn check_private(path: &Path) -> anyhow::Result<()> {
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

/// Creates a store at `path` (file 0600, missing folders 0700) that
/// appears fully formed: it is built in a file of its own beside `path`
/// (WAL mode, schema) and linked into place only if nothing is there yet.
/// Processes that race to create it never see each other's half-made
/// store; the losers discard theirs and open the winner's.
fn create_store(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                Error::runtime(format!("cannot create the folder {}: {e}", dir.display()))
            })?;
    }
    let cannot = |e: &dyn std::fmt::Display| {
        Error::runtime(format!("cannot create the store {}: {e}", path.display()))
    };
    let scratch = Scratch::new(path, "new").map_err(|e| cannot(&e))?;
    let new = &scratch.file;
    let built = Store::connect(new, OpenFlags::SQLITE_OPEN_READ_WRITE).and_then(|mut store| {
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

fn not_a_store(path: &Path) -> Error {
    Error::runtime(format!("{} is not a tokenctl store", path.display()))
        .with_hint("point --db (or TOKENCTL_DB) at a tokenctl store, or at a new path")
}

/// A SQLite error met inside a write, worded by `store_error`; any other
/// error (a refusal of the command's own) unchanged.
fn file_error(path: &Path, e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<rusqlite::Error>() {
        Ok(sql) => store_error(path, sql),
        Err(e) => e,
    }
}

/// Turns a SQLite failure on the file itself into a one-line message.
fn store_error(path: &Path, e: rusqlite::Error) -> anyhow::Error {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => not_a_store(path).into(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::runtime(format!(
            "the store {} stayed locked by another process for {} s",
            path.display(),
            BUSY_TIMEOUT.as_secs()
        ))
        .with_hint("try again; check for a stuck tokenctl process")
        .into(),
        Some(ErrorCode::DiskFull) => Error::runtime(format!(
            "cannot write the store {}: the disk is full; nothing was changed",
            path.display()
        ))
        .with_hint("free some space, then run the command again")
        .into(),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            Error::runtime(format!("cannot write the store {}: {e}", path.display()))
                .with_hint("check the permissions of the store and its folder")
                .into()
        }
        _ => anyhow::Error::new(e).context(format!("store {}", path.display())),
    }
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
