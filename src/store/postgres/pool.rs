//! serve's connections to a PostgreSQL store: asynchronous
//! (tokio-postgres), so a slow database holds no HTTP worker, and few.
//!
//! - Lookups and health probes share a handful of reader connections,
//!   taken in turn. tokio-postgres pipelines the queries of concurrent
//!   requests on one connection, so none is checked out for a request.
//! - Lookups are batched: the requests that arrive while `READERS`
//!   batches are in flight are read by the next one, in one statement
//!   (`id = ANY($1)`). Each is still answered from a read sent after it
//!   arrived (README, "serve": nothing stale), and the database does a
//!   fraction of the work under load.
//! - Last Used has a connection of its own, for its transaction.
//! - Each connection prepares its statements once, when it opens.
//!
//! Fail closed, recover alone: a connection is opened on first need, and
//! dropped as soon as it breaks or a call on it outlasts `CALL_TIMEOUT`;
//! the next call opens another. While the database does not answer, every
//! call fails within `CALL_TIMEOUT` (serve answers 503), and the first
//! call after it answers again succeeds, without a restart.
//!
//! Hand-made rather than a pool crate: a fixed set of shared slots, a
//! timeout and a reconnect is all serve needs, and exactly how a broken
//! connection is noticed and dropped is what fail-closed rests on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tokio_postgres::{Client, Row, Statement};

use super::queries::token_from_row;
use super::{LOCK, on_the_store_schema};
use super::{PgTarget, engine_words, sql_error};
use crate::model::{Account, Found};
use crate::store::error::{Error, ErrorKind};
use crate::store::{BUSY_TIMEOUT, Location, Use};

/// Connections shared by lookups and health probes.
const READERS: usize = 4;
/// The most lookups read by one statement.
const MAX_BATCH: usize = 256;
/// The longest a lookup or health probe waits, connecting included.
const CALL_TIMEOUT: Duration = Duration::from_millis(2500);
/// The longest a connection attempt takes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Tokens and their live accounts, in one statement: for each id, the same
/// rows as the commands' `Queries::lookup` (the account by id, deleted or
/// not, and shown only while live).
const LOOKUP: &str = "SELECT t.id, t.account_id, a.name, t.name, t.secret_hash,
        t.prev_secret_hash, t.prev_valid_until, t.acls::text, t.allow_ips::text, t.note,
        t.created_at, t.expires_at, t.last_used_at, t.last_used_ip, t.disabled_at,
        t.revoked_at, a.acls::text, a.suspended, a.deleted_at IS NULL, a.created_at,
        current_schema()::text
    FROM tokens t JOIN accounts a ON a.id = t.account_id
    WHERE t.id = ANY($1)";

/// A batch of uses in one statement; a time never moves backwards, as
/// uses from several servers may arrive late.
const RECORD_USES: &str = "UPDATE tokens t SET last_used_at = u.at, last_used_ip = u.ip
    FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(id, at, ip)
    WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at <= u.at)";

const PING: &str = "SELECT count(*) FROM accounts";

const CATALOGUE: &str = "SELECT name FROM privileges";

pub struct PgPool {
    target: PgTarget,
    location: Location,
    /// Lookups waiting for a batch; the batching task starts on first use.
    asks: std::sync::OnceLock<mpsc::UnboundedSender<Ask>>,
    /// One permit per batch in flight.
    batches: Arc<Semaphore>,
    readers: Vec<Mutex<Option<Arc<Connection>>>>,
    next: AtomicUsize,
    writer: Mutex<Option<Connection>>,
}

/// A lookup waiting for its batch, and where its answer goes.
type Ask = (String, oneshot::Sender<Result<Option<Found>, Error>>);

/// An open connection and its prepared statements.
struct Connection {
    client: Client,
    lookup: Statement,
    lock: Statement,
    record_uses: Statement,
    ping: Statement,
}

impl PgPool {
    /// Opens nothing yet: connections open on first use, inside serve's
    /// runtime.
    pub fn new(target: &PgTarget) -> PgPool {
        PgPool {
            target: target.clone(),
            location: Location::Postgres(Box::new(target.clone())),
            asks: std::sync::OnceLock::new(),
            batches: Arc::new(Semaphore::new(READERS)),
            readers: (0..READERS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            writer: Mutex::new(None),
        }
    }

    /// The token with this id and its live account, read in the next
    /// batch.
    pub async fn lookup(self: &Arc<Self>, id: &str) -> anyhow::Result<Option<Found>> {
        let asks = self.asks.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(self.clone().batch(rx));
            tx
        });
        let (tx, rx) = oneshot::channel();
        asks.send((id.to_string(), tx))
            .map_err(|_| self.timed_out(Duration::ZERO))?;
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(answer)) => Ok(answer?),
            Ok(Err(_)) | Err(_) => Err(self.timed_out(CALL_TIMEOUT).into()),
        }
    }

    /// Takes the waiting lookups in batches, at most `READERS` in flight,
    /// for the life of the process.
    async fn batch(self: Arc<Self>, mut asks: mpsc::UnboundedReceiver<Ask>) {
        loop {
            let Ok(permit) = self.batches.clone().acquire_owned().await else {
                return;
            };
            let Some(first) = asks.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH
                && let Ok(ask) = asks.try_recv()
            {
                batch.push(ask);
            }
            let pool = self.clone();
            tokio::spawn(async move {
                pool.answer(batch).await;
                drop(permit);
            });
        }
    }

    /// Reads a batch's tokens in one statement and answers each lookup.
    async fn answer(&self, batch: Vec<Ask>) {
        let mut ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let ids = &ids;
        let rows = self
            .on_reader(|c| async move { c.client.query(&c.lookup, &[ids]).await })
            .await;
        let found = rows.and_then(|rows| {
            rows.iter()
                .map(|r| self.found(r).map(|f| (f.token.id.clone(), f)))
                .collect::<Result<BTreeMap<_, _>, _>>()
        });
        for (id, tx) in batch {
            let answer = match &found {
                Ok(found) => Ok(found.get(&id).cloned()),
                Err(e) => Err(Error::new(e.kind.clone(), &self.location, e.detail.clone())),
            };
            // A lookup given up (timed out) no longer listens.
            let _ = tx.send(answer);
        }
    }

    /// The names in the catalogue of privileges, read afresh (README,
    /// "serve": nothing stale); none on a store older than the catalogue.
    /// A simple query: one round trip, and no statement prepared on a
    /// table such a store lacks.
    pub async fn catalogue(&self) -> anyhow::Result<Vec<String>> {
        use tokio_postgres::SimpleQueryMessage;
        use tokio_postgres::error::SqlState;
        let names = self
            .on_reader(|c| async move {
                match c.client.simple_query(CATALOGUE).await {
                    Ok(messages) => Ok(messages
                        .iter()
                        .filter_map(|m| match m {
                            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                            _ => None,
                        })
                        .collect()),
                    Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(names)
    }

    /// Whether the store answers a read.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.on_reader(|c| async move { c.client.query_one(&c.ping, &[]).await })
            .await?;
        Ok(())
    }

    /// Writes Last Used for each use: one statement, under the writers'
    /// lock, ids in order.
    pub async fn record_uses(&self, uses: Vec<Use>) -> anyhow::Result<()> {
        let (ids, ats, ips) = newest_uses(&uses);
        let mut slot = self.writer.lock().await;
        // A lock held by a command is waited for (lock_timeout), then
        // the call is given up like any other.
        let written = tokio::time::timeout(BUSY_TIMEOUT + CALL_TIMEOUT, async {
            loop {
                let fresh = slot.is_none();
                if fresh {
                    *slot = Some(self.connect().await?);
                }
                let c = slot.as_mut().expect("kept or just opened");
                match record(c, &ids, &ats, &ips).await {
                    Ok(()) => return Ok(()),
                    // As for readers: a kept connection closed since.
                    Err(e) if !fresh && gone(&e, Some(c)) => *slot = None,
                    Err(e) => return Err(self.fail(e)),
                }
            }
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                if slot.as_ref().is_some_and(|c| c.client.is_closed()) {
                    *slot = None;
                }
                Err(e.into())
            }
            Err(_) => {
                *slot = None;
                Err(self.timed_out(BUSY_TIMEOUT + CALL_TIMEOUT).into())
            }
        }
    }

    /// Runs `f` on the next reader connection, opening it if needed,
    /// within `CALL_TIMEOUT`; a connection that broke or hung is dropped.
    async fn on_reader<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        F: Fn(Arc<Connection>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let slot = &self.readers[self.next.fetch_add(1, Ordering::Relaxed) % READERS];
        let mut used = None;
        let answered = tokio::time::timeout(CALL_TIMEOUT, async {
            loop {
                let (connection, fresh) = self.reader(slot).await?;
                used = Some(connection.clone());
                match f(connection).await {
                    Ok(value) => return Ok(value),
                    // A kept connection the server has closed since (a
                    // restart, an idle timeout): once more, on a new one.
                    Err(e) if !fresh && gone(&e, used.as_deref()) => {
                        self.forget(slot, &used).await;
                    }
                    Err(e) => return Err(self.fail(e)),
                }
            }
        })
        .await;
        match answered {
            Ok(result) => {
                if result.is_err() && used.as_ref().is_some_and(|c| c.client.is_closed()) {
                    self.forget(slot, &used).await;
                }
                result
            }
            // Hung: whatever it waits for, the next call starts afresh.
            Err(_) => {
                self.forget(slot, &used).await;
                Err(self.timed_out(CALL_TIMEOUT))
            }
        }
    }

    /// The slot's connection, opened first if it has none or it closed;
    /// and whether it was just opened.
    async fn reader(
        &self,
        slot: &Mutex<Option<Arc<Connection>>>,
    ) -> Result<(Arc<Connection>, bool), Error> {
        let mut open = slot.lock().await;
        if let Some(c) = &*open
            && !c.client.is_closed()
        {
            return Ok((c.clone(), false));
        }
        *open = None;
        let c = Arc::new(self.connect().await?);
        *open = Some(c.clone());
        Ok((c, true))
    }

    /// Empties the slot if it still holds `used` (another call may have
    /// replaced it already).
    async fn forget(&self, slot: &Mutex<Option<Arc<Connection>>>, used: &Option<Arc<Connection>>) {
        let Some(used) = used else { return };
        let mut open = slot.lock().await;
        if open.as_ref().is_some_and(|c| Arc::ptr_eq(c, used)) {
            *open = None;
        }
    }

    /// A new connection: our schema first, commands' locks waited for as
    /// long as on the command line, the statements prepared.
    async fn connect(&self) -> Result<Connection, Error> {
        let cannot = |words: String| {
            Error::new(
                ErrorKind::Other,
                &self.location,
                format!("cannot connect: {words}"),
            )
        };
        let mut config = self.target.config().clone();
        config.connect_timeout(CONNECT_TIMEOUT);
        let connector = self.target.connector().map_err(|e| cannot(e.message))?;
        let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(connector))
            .await
            .map_err(|_| cannot("timed out".into()))?
            .map_err(|e| cannot(engine_words(&e)))?;
        // Ends when the client is dropped or the server goes away; the
        // client then reports itself closed.
        tokio::spawn(connection);
        client
            .batch_execute(&super::settings(&self.target))
            .await
            .map_err(|e| cannot(engine_words(&e)))?;
        // A standby's rows may lag the primary's: a revoke made there
        // could still be allowed here (README, "Many servers").
        let standby: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|e| self.fail(e))?
            .get(0);
        if standby {
            return Err(cannot(
                "the server is a standby, whose data may be stale".into(),
            ));
        }
        let prepare = |sql| client.prepare(sql);
        let (lookup, lock, record_uses, ping) = tokio::try_join!(
            prepare(LOOKUP),
            prepare(LOCK),
            prepare(RECORD_USES),
            prepare(PING)
        )
        .map_err(|e| self.fail(e))?;
        Ok(Connection {
            client,
            lookup,
            lock,
            record_uses,
            ping,
        })
    }

    fn fail(&self, e: tokio_postgres::Error) -> Error {
        sql_error(&self.location, e)
    }

    fn timed_out(&self, after: Duration) -> Error {
        let detail = format!("no answer within {} ms", after.as_millis());
        Error::new(ErrorKind::Other, &self.location, detail)
    }

    /// A `LOOKUP` row as the token and its account while live.
    fn found(&self, row: &Row) -> Result<Found, Error> {
        on_the_store_schema(&self.location, row.get(20))?;
        let token = token_from_row(row, &self.location)?;
        let live: bool = row.get(18);
        let account = if live {
            Some(Account {
                id: token.account_id,
                name: token.account.clone(),
                acls: token.account_acls.clone(),
                suspended: token.account_suspended,
                created_at: row.get(19),
            })
        } else {
            None
        };
        Ok(Found { token, account })
    }
}

/// Whether `e` says the connection is over: closed, or being closed by
/// the server (`57P01` and the rest of its class: a shutdown, a terminated
/// backend; `08`: a connection failure).
fn gone(e: &tokio_postgres::Error, c: Option<&Connection>) -> bool {
    let class = e.code().map(|code| &code.code()[..2]);
    e.is_closed() || c.is_some_and(|c| c.client.is_closed()) || matches!(class, Some("57" | "08"))
}

/// The Last Used transaction: the writers' lock (every write takes it
/// first, see `PgStore::write`), then the batch.
async fn record(
    c: &mut Connection,
    ids: &[&str],
    ats: &[i64],
    ips: &[Option<&str>],
) -> Result<(), tokio_postgres::Error> {
    let tx = c.client.transaction().await?;
    tx.execute(&c.lock, &[]).await?;
    tx.execute(&c.record_uses, &[&ids, &ats, &ips]).await?;
    tx.commit().await
}

/// The newest use of each token (the later of equal times), as the
/// columns of `RECORD_USES`, sorted by id.
fn newest_uses(uses: &[Use]) -> (Vec<&str>, Vec<i64>, Vec<Option<&str>>) {
    let mut newest: BTreeMap<&str, (i64, Option<&str>)> = BTreeMap::new();
    for u in uses {
        let at = newest.entry(&u.id).or_insert((u.at, u.ip.as_deref()));
        if u.at >= at.0 {
            *at = (u.at, u.ip.as_deref());
        }
    }
    let mut columns = (Vec::new(), Vec::new(), Vec::new());
    for (id, (at, ip)) in newest {
        columns.0.push(id);
        columns.1.push(at);
        columns.2.push(ip);
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(id: &str, at: i64, ip: &str) -> Use {
        Use {
            id: id.into(),
            at,
            ip: Some(ip.into()),
        }
    }

    #[test]
    fn a_batch_keeps_the_newest_use_of_each_token_sorted_by_id() {
        let uses = [
            used("b", 5, "1"),
            used("a", 7, "2"),
            used("b", 3, "3"),
            used("a", 7, "4"),
        ];
        let (ids, ats, ips) = newest_uses(&uses);
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(ats, [7, 5]);
        assert_eq!(ips, [Some("4"), Some("1")]);
    }
}
