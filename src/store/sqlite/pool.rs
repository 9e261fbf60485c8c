//! serve's store connections: a few, opened once at startup and kept for
//! the life of the process.
//!
//! Opening a connection per thread (or per Last Used flush) meant a new
//! connection for every blocking thread tokio started: a `/healthz` flood
//! held hundreds, each with its own descriptors on the store, until
//! `/verify` could no longer open anything. Reopening also looked at the
//! file outside SQLite, and closing any descriptor on the store file drops
//! every POSIX lock this process holds on it, the open connections' too.
//! So the set is fixed: every lookup, health probe and Last Used write
//! borrows one, and waits (without blocking a thread) while all are busy.
//!
//! A restore (`tokenctl db restore`) writes into the live file, so these
//! connections read the restored data from their next statement. A file
//! moved over the store is not seen, by design (README, "serve").

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::sync::Semaphore;

use super::SqliteStore;
use crate::model::Found;
use crate::store::{Changes, Queries, Use};

/// Connections for lookups run on the async workers (microseconds each).
const MAX_READERS: usize = 4;
/// One for the Last Used flusher, one for the shared health probe: the
/// only jobs that run on blocking threads, and never more than one each.
const BLOCKING_JOBS: usize = 2;

pub struct SqlitePool {
    idle: Mutex<Vec<SqliteStore>>,
    /// One permit per connection: holding a permit guarantees an idle
    /// connection, and bounds the store work in flight.
    permits: Arc<Semaphore>,
}

impl SqlitePool {
    /// Opens the whole set next to `first`, through SQLite only (see the
    /// module comment for why never through the file itself).
    pub fn open(first: SqliteStore) -> anyhow::Result<SqlitePool> {
        let readers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_READERS);
        let mut idle = Vec::with_capacity(readers + BLOCKING_JOBS);
        for _ in 1..readers + BLOCKING_JOBS {
            idle.push(first.another_connection()?);
        }
        idle.push(first);
        for store in &idle {
            store
                .keep_query_plans()
                .context("configuring a store connection")?;
        }
        Ok(SqlitePool {
            permits: Arc::new(Semaphore::new(idle.len())),
            idle: Mutex::new(idle),
        })
    }

    /// The token with this id and its live account.
    pub async fn lookup(&self, id: &str) -> anyhow::Result<Option<Found>> {
        self.read(|store| Ok(store.lookup(id)?)).await
    }

    /// The names in the catalogue of privileges, read afresh.
    pub async fn catalogue(&self) -> anyhow::Result<Vec<String>> {
        self.read(|store| Ok(store.catalogue()?.into_iter().map(|p| p.name).collect()))
            .await
    }

    /// Writes Last Used for each use, in one transaction.
    pub async fn record_uses(self: &Arc<Self>, uses: Vec<Use>) -> anyhow::Result<()> {
        self.blocking(move |store| {
            store.write(|tx: &dyn Changes| {
                for u in &uses {
                    tx.record_use(&u.id, u.at, u.ip.as_deref())?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Whether the store answers a read.
    pub async fn ping(self: &Arc<Self>) -> anyhow::Result<()> {
        self.blocking(|store| Ok(store.ping()?)).await
    }

    /// Runs `f` on a connection, on this thread: for reads that take
    /// microseconds and never wait for a lock (WAL readers do not).
    async fn read<T>(
        &self,
        f: impl FnOnce(&SqliteStore) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let permit = self.permits.acquire().await?;
        // No await from here on: the connection is back in the set before
        // this future can be dropped, and before the permit is.
        let result = f(&self.take());
        drop(permit);
        result
    }

    /// Runs `f` on a connection on a blocking thread: for writes, which
    /// may wait for another process's write lock. The job owns its permit
    /// and connection, so a request that goes away while it runs cannot
    /// lose either, nor start another job beside it.
    async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut SqliteStore) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self.permits.clone().acquire_owned().await?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let result = f(&mut this.take());
            // The connection went back when `take`'s guard dropped.
            drop(permit);
            result
        })
        .await?
    }

    /// Only with a permit held: there is then an idle connection. It goes
    /// back to the set when the guard drops (even if `f` panics).
    fn take(&self) -> Borrowed<'_> {
        let store = self
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .expect("a permit is held for every connection taken");
        Borrowed {
            set: self,
            store: Some(store),
        }
    }
}

struct Borrowed<'a> {
    set: &'a SqlitePool,
    store: Option<SqliteStore>,
}

impl std::ops::Deref for Borrowed<'_> {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        self.store.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Borrowed<'_> {
    fn deref_mut(&mut self) -> &mut SqliteStore {
        self.store.as_mut().expect("held until dropped")
    }
}

impl Drop for Borrowed<'_> {
    fn drop(&mut self) {
        if let Some(store) = self.store.take() {
            self.set
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(store);
        }
    }
}
