//! `db restore`: a backup's contents written into the live store.
//!
//! Moving or copying a file over a store in use does not restore it: the
//! processes that have it open keep the old file, or replay its leftover
//! `-wal` over the new one. A restore is instead a write into the store
//! itself, through SQLite, like any other change; every open connection
//! (a running `serve` too) reads the restored data from its next read.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{SqliteStore, schema};
use crate::error::Error;
use crate::store::{BUSY_TIMEOUT, Location};

/// A backup file checked to be a healthy tokenctl store this version can
/// read: its contents, in memory, at this version's schema.
pub struct BackupFile {
    conn: Connection,
    path: PathBuf,
}

impl BackupFile {
    /// Opens and checks `path`; nothing is written to it.
    pub fn open(path: &Path) -> anyhow::Result<BackupFile> {
        match fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            // A folder, a FIFO (opening it would block), a device.
            Ok(_) => {
                return Err(
                    Error::runtime(format!("the backup {} is not a file", path.display())).into(),
                );
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::runtime(format!("no backup at {}", path.display()))
                    .with_hint("give the path of a file written by tokenctl db backup")
                    .into());
            }
            Err(e) => {
                return Err(Error::runtime(format!(
                    "cannot read the backup {}: {e}",
                    path.display()
                ))
                .into());
            }
        }
        let cannot_read = |e: rusqlite::Error| -> anyhow::Error {
            match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase) => not_a_backup(path).into(),
                _ => {
                    Error::runtime(format!("cannot read the backup {}: {e}", path.display())).into()
                }
            }
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(cannot_read)?;
        let read = |sql: &str| -> anyhow::Result<i64> {
            conn.query_row(sql, [], |row| row.get(0))
                .map_err(cannot_read)
        };
        let app_id = read("PRAGMA application_id")?;
        let version = read("PRAGMA user_version")?;
        if app_id != schema::APPLICATION_ID || version < 1 {
            return Err(not_a_backup(path).into());
        }
        if version > schema::MIGRATIONS.len() as i64 {
            return Err(Error::runtime(format!(
                "the backup {} was written by a newer tokenctl (schema {version})",
                path.display()
            ))
            .with_hint("restore it with that tokenctl, or upgrade this one")
            .into());
        }
        // What the store will receive: the backup brought to this
        // version's schema, in memory, and passed through `db check`'s
        // checks, so that an old backup lands in one commit and a damaged
        // one (a table missing, a bad hash) is refused before any write.
        let mut copy = SqliteStore {
            conn: Connection::open_in_memory()?,
            location: Location::Sqlite(path.to_path_buf()),
        };
        let copied = Backup::new(&conn, &mut copy.conn)
            .and_then(|b| b.step(-1))
            .map_err(cannot_read)?;
        if copied != StepResult::Done {
            return Err(Error::runtime(format!(
                "cannot read the backup {}: another program is writing it",
                path.display()
            ))
            .into());
        }
        let problems: Vec<String> = match copy.migrate().and_then(|()| copy.check()) {
            Ok(checks) => checks
                .into_iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect(),
            Err(e) => vec![format!("{e:#}")],
        };
        if !problems.is_empty() {
            return Err(Error::runtime(format!(
                "the backup {} is damaged: {}",
                path.display(),
                problems.join("; ")
            ))
            .with_hint("restore another backup; tokenctl db check shows what a store lacks")
            .into());
        }
        Ok(BackupFile {
            conn: copy.conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every row of the backup, to write into a store of another kind.
    pub fn snapshot(&self) -> anyhow::Result<crate::store::transfer::Snapshot> {
        Ok(super::transfer::export(&self.conn)?)
    }
}

fn not_a_backup(path: &Path) -> Error {
    Error::runtime(format!("{} is not a tokenctl store", path.display()))
        .with_hint("give the path of a file written by tokenctl db backup")
}

impl SqliteStore {
    /// Replaces every page of the store with the backup's, in one write
    /// transaction of the store's own.
    ///
    /// SQLite's online backup API, from the backup into this connection.
    /// It cannot run inside a transaction we open (it refuses a
    /// destination with a transaction already open), and needs none: a
    /// step takes the store's write lock itself, as BEGIN IMMEDIATE does,
    /// waiting for it as long as the busy timeout allows, and one step of
    /// every page (-1) copies them all and commits under that one lock. So
    /// no other writer interleaves, and readers (WAL) see the old store
    /// until the commit and the restored one from their next read, with
    /// the schema cookie changed so that their cached statements are
    /// prepared again. The store stays in WAL mode (SQLite marks the
    /// copied header so), and a failure before the commit leaves it as it
    /// was.
    pub fn restore_from(&mut self, backup: &BackupFile) -> anyhow::Result<()> {
        let path = self.path().to_path_buf();
        let failed = |e: &dyn std::fmt::Display| {
            Error::runtime(format!(
                "cannot restore {} into {}: {e}; the store was not changed",
                backup.path.display(),
                path.display()
            ))
        };
        // A store in WAL mode cannot change its page size, and SQLite
        // refuses such a copy as "readonly database": say what is wrong.
        let page_size = |conn: &Connection| -> rusqlite::Result<i64> {
            conn.pragma_query_value(None, "page_size", |row| row.get(0))
        };
        let (theirs, ours) = (
            page_size(&backup.conn).map_err(|e| failed(&e))?,
            page_size(&self.conn).map_err(|e| failed(&e))?,
        );
        if theirs != ours {
            return Err(failed(&format!(
                "its page size ({theirs} bytes) is not the store's ({ours} bytes)"
            ))
            .with_hint("restore a file written by tokenctl db backup from this store")
            .into());
        }
        {
            let copy = Backup::new(&backup.conn, &mut self.conn).map_err(|e| failed(&e))?;
            let deadline = Instant::now() + BUSY_TIMEOUT;
            loop {
                match copy.step(-1).map_err(|e| failed(&e))? {
                    StepResult::Done => break,
                    StepResult::More | StepResult::Busy | StepResult::Locked
                        if Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        return Err(failed(&format!(
                            "the store stayed locked by another process for {} s",
                            BUSY_TIMEOUT.as_secs()
                        ))
                        .with_hint("try again; check for a stuck tokenctl process")
                        .into());
                    }
                }
            }
        }
        Ok(())
    }
}
