//! The store: accounts, tokens and the audit trail, behind one interface
//! whatever keeps them.
//!
//! - `Location`: where the store is, read once from `--db`.
//! - `Store`: an open store. Reads through `Queries` (which `Store`
//!   implements), changes through `Changes` inside `Store::write`, one transaction
//!   that holds the write lock from its start.
//! - `Pool`: serve's store, asked from async code.
//! - `Error`: what can go wrong with the store itself, by kind.
//!
//! Each kind of store is a module of its own (`sqlite`, the default), and
//! nothing outside this folder names its engine.

mod error;
mod location;
mod operations;
mod pool;
mod postgres;
mod scratch;
mod sqlite;
pub mod transfer;

pub use error::{Error, ErrorKind, Result};
pub use location::Location;
pub use operations::{Changes, EventQuery, Queries, TokenQuery};
pub use pool::{Pool, Use};
pub use scratch::Scratch;
pub use sqlite::{BackupFile, Check};
pub use transfer::{Counts, Snapshot};

use std::path::Path;
use std::time::Duration;

use crate::model::{Account, CataloguedPrivilege, Event, Found, Token};
use postgres::PgStore;
use sqlite::SqliteStore;

/// How long a command waits for another process's write to finish.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open store.
pub struct Store {
    backend: Backend,
    /// The schema is older than this version's, to be migrated by the
    /// first write (never by a read, a dry run or a declined change).
    behind: bool,
}

/// The kinds of store: a new one is a variant here and a module beside
/// `sqlite`, and the methods below dispatch to it.
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens an existing store to change it, without ever creating one;
    /// a store of an older version is brought up to date by its first
    /// write, never by a read. `Ok(None)` when there is no store at
    /// `location` yet.
    pub fn open_to_change(location: &Location) -> anyhow::Result<Option<Store>> {
        Ok(match location {
            Location::Sqlite(path) => SqliteStore::open_to_change(path)?
                .map(|(s, behind)| Store::sqlite(s).behind(behind)),
            Location::Postgres(target) => PgStore::open_to_change(target)?
                .map(|(s, behind)| Store::postgres(s).behind(behind)),
        })
    }

    /// Opens an existing store at whatever schema version it has, for
    /// changes that an older schema holds too (Last Used): a store is not
    /// migrated by a verification. `Ok(None)` when there is no store yet.
    pub fn open_as_is(location: &Location) -> anyhow::Result<Option<Store>> {
        Ok(match location {
            Location::Sqlite(path) => SqliteStore::open_existing(path)?.map(Store::sqlite),
            Location::Postgres(target) => PgStore::open_existing(target)?.map(Store::postgres),
        })
    }

    /// Opens an existing store to read it, without ever creating it or
    /// writing to it; `Ok(None)` when there is no store yet. Works on a
    /// store the caller can read but not write (README "Guarantees").
    pub fn open_read(location: &Location) -> anyhow::Result<Option<Store>> {
        Ok(match location {
            Location::Sqlite(path) => SqliteStore::open_read(path)?.map(Store::sqlite),
            // Reading writes nothing on PostgreSQL either.
            Location::Postgres(target) => PgStore::open_existing(target)?.map(Store::postgres),
        })
    }

    /// Opens the store, creating it and bringing its schema up to date as
    /// needed.
    pub fn open_or_create(location: &Location) -> anyhow::Result<Store> {
        Ok(match location {
            Location::Sqlite(path) => Store::sqlite(SqliteStore::open_or_create(path)?),
            Location::Postgres(target) => Store::postgres(PgStore::open_or_create(target)?),
        })
    }

    /// This store, to write to after reading it: on PostgreSQL the same
    /// connection, which can write (a second one would cost the server a
    /// new process); on SQLite `reopen`'s, as `open_read` may have opened
    /// the file read-only.
    pub fn to_change(
        self,
        reopen: impl FnOnce() -> anyhow::Result<Store>,
    ) -> anyhow::Result<Store> {
        match self.backend {
            Backend::Postgres(_) => Ok(self),
            Backend::Sqlite(_) => {
                drop(self);
                reopen()
            }
        }
    }

    /// The backend's own reads, outside a transaction.
    fn queries(&self) -> &dyn Queries {
        match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(s) => s,
        }
    }

    fn sqlite(store: SqliteStore) -> Store {
        Store {
            backend: Backend::Sqlite(store),
            behind: false,
        }
    }

    fn postgres(store: PgStore) -> Store {
        Store {
            backend: Backend::Postgres(store),
            behind: false,
        }
    }

    fn behind(self, behind: bool) -> Store {
        Store { behind, ..self }
    }

    /// Runs `f` in one write transaction, which holds the store's write
    /// lock from its start: two writers never interleave, and nothing is
    /// written unless `f` succeeds.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&dyn Changes) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        if self.behind {
            match &mut self.backend {
                Backend::Sqlite(s) => s.migrate()?,
                Backend::Postgres(s) => s.up_to_date()?,
            }
            self.behind = false;
        }
        match &mut self.backend {
            Backend::Sqlite(s) => s.write(f),
            Backend::Postgres(s) => s.write(f),
        }
    }

    /// Runs `f` on one consistent snapshot of the store.
    pub fn read<T>(&self, f: impl FnOnce(&dyn Queries) -> anyhow::Result<T>) -> anyhow::Result<T> {
        match &self.backend {
            Backend::Sqlite(s) => s.read(f),
            Backend::Postgres(s) => s.read(f),
        }
    }

    /// Writes a consistent copy of the store into `dest`, an empty file.
    pub fn backup_to(&self, dest: &Path) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.backup_to(dest),
            // A SQLite file of one snapshot, which any store can restore.
            Backend::Postgres(s) => sqlite::write_snapshot(dest, &s.export()?, true),
        }
    }

    /// The engine's integrity check and tokenctl's own checks (`db check`).
    pub fn check(&self) -> anyhow::Result<Vec<Check>> {
        match &self.backend {
            Backend::Sqlite(s) => s.check(),
            Backend::Postgres(s) => s.check(),
        }
    }

    /// Replaces the store's contents with the backup's, in one write under
    /// the store's write lock (`db restore`).
    pub fn restore_from(&mut self, backup: &BackupFile) -> anyhow::Result<()> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.restore_from(backup),
            Backend::Postgres(s) => {
                let location = s.location().to_string();
                backup
                    .snapshot()
                    .and_then(|rows| {
                        s.up_to_date()?;
                        s.replace_with(&rows)
                    })
                    .map_err(|e| {
                        // The location is named once; a store error's
                        // hint (what to fix on the server) is kept.
                        let store = e.downcast_ref::<error::Error>();
                        let words = match store {
                            Some(s) if s.kind == error::ErrorKind::ReadOnly => s.detail.clone(),
                            _ => format!("{e:#}"),
                        };
                        let failed = crate::error::Error::runtime(format!(
                            "cannot restore {} into {location}: {words}; the store was not changed",
                            backup.path().display()
                        ));
                        match store.and_then(|s| s.for_user().hint) {
                            Some(hint) => failed.with_hint(hint),
                            None => failed,
                        }
                        .into()
                    })
            }
        }
    }
}

impl Store {
    /// Every row of the store, read in one snapshot (`db copy`).
    pub fn export(&self) -> anyhow::Result<Snapshot> {
        match &self.backend {
            Backend::Sqlite(s) => s.export(),
            Backend::Postgres(s) => s.export(),
        }
    }

    /// Creates a store at `target`, which must be empty (a SQLite path
    /// that does not exist yet, a PostgreSQL schema without tables),
    /// holding `snapshot`, in one transaction whose counts must agree
    /// with the source's (`db copy`).
    pub fn create_from(target: &Location, snapshot: &Snapshot) -> anyhow::Result<()> {
        match target {
            Location::Sqlite(path) => sqlite::create_from(path, snapshot),
            Location::Postgres(target) => PgStore::create_from(target, snapshot),
        }
    }
}

/// Reads outside a transaction: each is a statement of its own.
impl Queries for Store {
    fn token_by_id(&self, id: &str) -> Result<Option<Token>> {
        self.queries().token_by_id(id)
    }
    fn lookup(&self, id: &str) -> Result<Option<Found>> {
        self.queries().lookup(id)
    }
    fn resolve_token(&self, account_id: i64, name_or_id: &str) -> Result<Option<Token>> {
        self.queries().resolve_token(account_id, name_or_id)
    }
    fn list_tokens(&self, query: &TokenQuery) -> anyhow::Result<Vec<Token>> {
        self.queries().list_tokens(query)
    }
    fn each_token(
        &self,
        query: &TokenQuery,
        f: &mut dyn FnMut(Token) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.queries().each_token(query, f)
    }
    fn token_id_taken(&self, id: &str) -> Result<bool> {
        self.queries().token_id_taken(id)
    }
    fn live_name_taken(
        &self,
        account_id: i64,
        name: &str,
        except_id: Option<&str>,
    ) -> Result<bool> {
        self.queries().live_name_taken(account_id, name, except_id)
    }
    fn live_token_names(&self, account_id: i64) -> Result<Vec<String>> {
        self.queries().live_token_names(account_id)
    }
    fn live_token_count(&self, account_id: i64) -> Result<i64> {
        self.queries().live_token_count(account_id)
    }
    fn find_account(&self, name: &str) -> Result<Option<Account>> {
        self.queries().find_account(name)
    }
    fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.queries().account_by_id(id)
    }
    fn list_accounts(&self) -> Result<Vec<(Account, i64)>> {
        self.queries().list_accounts()
    }
    fn account_names(&self) -> Result<Vec<String>> {
        self.queries().account_names()
    }
    fn privileges_in_use(&self) -> Result<Vec<String>> {
        self.queries().privileges_in_use()
    }
    fn catalogue(&self) -> Result<Vec<CataloguedPrivilege>> {
        self.queries().catalogue()
    }
    fn privilege_holders(&self, privilege: &str) -> anyhow::Result<Vec<String>> {
        self.queries().privilege_holders(privilege)
    }
    fn is_bootstrapped(&self) -> Result<bool> {
        self.queries().is_bootstrapped()
    }
    fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        self.queries().list_events(query)
    }
    fn ping(&self) -> Result<()> {
        self.queries().ping()
    }
}
