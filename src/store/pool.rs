//! serve's store: the few operations a request needs, asked from async
//! code without blocking the HTTP workers.

use std::sync::Arc;

use super::Location;
use super::postgres::{PgPool, PgStore};
use super::sqlite::{SqlitePool, SqliteStore};
use crate::model::Found;

/// One use of a token, for Last Used.
#[derive(Debug, Clone)]
pub struct Use {
    pub id: String,
    pub at: i64,
    pub ip: Option<String>,
}

/// Connections to the store, kept for the life of the process (on
/// PostgreSQL, reopened when they break).
pub enum Pool {
    Sqlite(Arc<SqlitePool>),
    Postgres(Arc<PgPool>),
}

impl Pool {
    /// Opens the store's connections; `Ok(None)` when there is no store
    /// at `location` (serve never creates one).
    pub fn open(location: &Location) -> anyhow::Result<Option<Pool>> {
        Ok(match location {
            Location::Sqlite(path) => match SqliteStore::open_existing(path)? {
                Some(first) => Some(Pool::Sqlite(Arc::new(SqlitePool::open(first)?))),
                None => None,
            },
            // Checked once like any command's (no store, not a store, a
            // newer schema); serve's own connections open in its runtime.
            Location::Postgres(target) => PgStore::open_existing(target)?
                .map(|_| Pool::Postgres(Arc::new(PgPool::new(target)))),
        })
    }

    /// The token with this id and its live account (verify's lookup).
    pub async fn lookup(&self, id: &str) -> anyhow::Result<Option<Found>> {
        match self {
            Pool::Sqlite(pool) => pool.lookup(id).await,
            Pool::Postgres(pool) => pool.lookup(id).await,
        }
    }

    /// The names in the catalogue of privileges, read on each call (a
    /// change is seen by the next request, as a revocation is); empty
    /// while the catalogue is, or the store predates it.
    pub async fn catalogue(&self) -> anyhow::Result<Vec<String>> {
        match self {
            Pool::Sqlite(pool) => pool.catalogue().await,
            Pool::Postgres(pool) => pool.catalogue().await,
        }
    }

    /// Writes Last Used for each use, in one transaction.
    pub async fn record_uses(&self, uses: Vec<Use>) -> anyhow::Result<()> {
        match self {
            Pool::Sqlite(pool) => pool.record_uses(uses).await,
            Pool::Postgres(pool) => pool.record_uses(uses).await,
        }
    }

    /// Whether the store answers a read (`/healthz`).
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self {
            Pool::Sqlite(pool) => pool.ping().await,
            Pool::Postgres(pool) => pool.ping().await,
        }
    }
}
