//! Whole stores read and written row for row (`db copy`, and backups of
//! a PostgreSQL store), into a SQLite file made for them.

use std::fs;
use std::io;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{SqliteStore, files, from_json, privileges, sql_error, to_json, tokens};
use crate::error::Error as UserError;
use crate::model::{Account, Event};
use crate::store::transfer::{AccountRecord, Counts, EventRecord, Snapshot, not_empty};
use crate::store::{Location, Scratch};
use crate::values::Privileges;

impl SqliteStore {
    /// Every row of the store, read in one snapshot.
    pub fn export(&self) -> anyhow::Result<Snapshot> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| sql_error(&self.location, e))?;
        Ok(export(&tx).map_err(|e| sql_error(&self.location, e))?)
    }
}

/// Every row `conn` holds; the caller keeps the reads in one transaction.
pub(super) fn export(conn: &Connection) -> rusqlite::Result<Snapshot> {
    let mut stmt = conn.prepare(
        "SELECT id, name, acls, suspended, created_at, deleted_at FROM accounts ORDER BY id",
    )?;
    let accounts = stmt
        .query_map([], |row| {
            Ok(AccountRecord {
                account: Account {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    acls: Privileges::from_stored(from_json(&row.get::<_, String>(2)?)?),
                    suspended: row.get(3)?,
                    created_at: row.get(4)?,
                },
                deleted_at: row.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM tokens t JOIN accounts a ON a.id = t.account_id ORDER BY t.id",
        tokens::COLUMNS
    ))?;
    let tokens = stmt
        .query_map([], tokens::token_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, action, account_id, account, token_id, token_name, detail
         FROM events ORDER BY id",
    )?;
    let events = stmt
        .query_map([], |row| {
            Ok(EventRecord {
                id: row.get(0)?,
                event: Event {
                    at: row.get(1)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    account_id: row.get(4)?,
                    account: row.get(5)?,
                    token_id: row.get(6)?,
                    token_name: row.get(7)?,
                    detail: row.get(8)?,
                },
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let bootstrapped = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'bootstrapped'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(Snapshot {
        accounts,
        tokens,
        events,
        privileges: privileges::catalogue(conn)?,
        bootstrapped,
        counted: counts(conn)?,
    })
}

fn counts(conn: &Connection) -> rusqlite::Result<Counts> {
    let privileges = privileges::count(conn)?;
    conn.query_row(
        "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM tokens),
                (SELECT count(*) FROM events)",
        [],
        |r| {
            Ok(Counts {
                accounts: r.get(0)?,
                tokens: r.get(1)?,
                events: r.get(2)?,
                privileges,
            })
        },
    )
}

/// Writes every row of `snapshot` into an empty store.
fn import(conn: &Connection, s: &Snapshot) -> rusqlite::Result<()> {
    let mut insert = conn.prepare(
        "INSERT INTO accounts (id, name, acls, suspended, created_at, deleted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for r in &s.accounts {
        let a = &r.account;
        insert.execute(params![
            a.id,
            a.name,
            to_json(a.acls.as_slice()),
            a.suspended,
            a.created_at,
            r.deleted_at
        ])?;
    }
    for t in &s.tokens {
        tokens::insert_token(conn, t)?;
    }
    let mut insert = conn.prepare(
        "INSERT INTO events (id, at, actor, action, account_id, account, token_id, token_name,
             detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for r in &s.events {
        let e = &r.event;
        insert.execute(params![
            r.id,
            e.at,
            e.actor,
            e.action,
            e.account_id,
            e.account,
            e.token_id,
            e.token_name,
            e.detail
        ])?;
    }
    for p in &s.privileges {
        privileges::put_privilege(conn, p)?;
    }
    if let Some(value) = &s.bootstrapped {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('bootstrapped', ?1)",
            [value],
        )?;
    }
    Ok(())
}

/// Makes `path`, an empty private file, a store holding `snapshot`: the
/// schema, then every row in one transaction whose counts must agree
/// with the source's. A backup (`single_file`) is left without a -wal.
pub fn write_snapshot(path: &Path, snapshot: &Snapshot, single_file: bool) -> anyhow::Result<()> {
    let mut store = SqliteStore::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    store.migrate()?;
    store.write_rows(snapshot)?;
    if single_file {
        store
            .conn
            .pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))?;
    }
    // Closing checkpoints the WAL into the file and removes it.
    store.conn.close().map_err(|(_, e)| anyhow::Error::new(e))
}

impl SqliteStore {
    fn write_rows(&mut self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let location = &self.location;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_error(location, e))?;
        import(&tx, snapshot).map_err(|e| sql_error(location, e))?;
        snapshot.expect(counts(&tx).map_err(|e| sql_error(location, e))?)?;
        tx.commit().map_err(|e| sql_error(location, e))?;
        Ok(())
    }
}

/// Creates a store at `path`, which must not exist, holding `snapshot`:
/// built in a folder of our own beside it and linked into place only if
/// nothing has appeared there meanwhile, as a new store is.
pub fn create_from(path: &Path, snapshot: &Snapshot) -> anyhow::Result<()> {
    let target = Location::Sqlite(path.to_path_buf());
    if fs::symlink_metadata(path).is_ok() {
        return Err(not_empty(&target, "the file exists"));
    }
    files::create_folders(path)?;
    let cannot = |e: &dyn std::fmt::Display| {
        UserError::runtime(format!("cannot create the store {}: {e}", path.display()))
    };
    let scratch = Scratch::new(path, "copy").map_err(|e| cannot(&e))?;
    write_snapshot(&scratch.file, snapshot, false)?;
    match fs::hard_link(&scratch.file, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(not_empty(&target, "the file appeared during the copy"))
        }
        // A filesystem without hard links: a rename, unless one appeared.
        Err(_) if fs::symlink_metadata(path).is_err() => {
            fs::rename(&scratch.file, path).map_err(|e| cannot(&e).into())
        }
        Err(_) => Err(not_empty(&target, "the file appeared during the copy")),
    }
}
