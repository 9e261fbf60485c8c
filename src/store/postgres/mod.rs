//! The store in PostgreSQL, for several servers sharing one store: where
//! it is (`url`), how its connections are secured (`tls`), its schema, and
//! the queries behind `Queries` and `Changes`.
//!
//! The store lives in a schema of its own (`?schema=`, default
//! `tokenctl`), which every connection puts first on its `search_path`.
//! Writers on every machine serialise on one row (`meta`'s
//! `schema_version`, locked `FOR UPDATE` first in every write), so a
//! write sees every earlier commit, as `BEGIN IMMEDIATE` gives on SQLite.

mod check;
mod params;
mod pool;
mod privileges;
mod queries;
mod schema;
pub mod tls;
mod transfer;
pub mod url;

use std::cell::RefCell;

use postgres::{Client, IsolationLevel};

use super::error::{Error, ErrorKind};
use super::{BUSY_TIMEOUT, Changes, Location, Queries};
use crate::error::Error as UserError;
use params::typed;
pub use pool::PgPool;
pub use url::PgTarget;

/// A connection (`Pg<Client>`, the store) or one of its transactions
/// (`Pg<Transaction>`), and the location its errors name.
pub struct Pg<C> {
    client: RefCell<C>,
    location: Location,
}

pub type PgStore = Pg<Client>;

/// What the store's schema holds.
enum Found {
    /// Nothing yet: no schema, or one without tables.
    Nothing,
    /// A tokenctl store at this schema version.
    Store(i64),
}

impl PgStore {
    /// Opens an existing store without ever creating one. `Ok(None)` when
    /// the schema holds no store yet.
    pub fn open_existing(target: &PgTarget) -> anyhow::Result<Option<PgStore>> {
        let (store, found) = PgStore::connect(target)?;
        Ok(match found {
            Found::Nothing => None,
            Found::Store(_) => Some(store),
        })
    }

    /// Opens the store, creating its schema and tables as needed, in one
    /// transaction that concurrent first uses take turns at.
    pub fn open_or_create(target: &PgTarget) -> anyhow::Result<PgStore> {
        let (store, found) = PgStore::connect(target)?;
        if matches!(found, Found::Store(v) if v == latest()) {
            return Ok(store);
        }
        store.bring_up_to_date(target)?;
        Ok(store)
    }

    /// Opens an existing store to change it, and whether its schema is
    /// behind this version's (`up_to_date` before the first change);
    /// `Ok(None)` when the schema holds no store yet.
    pub fn open_to_change(target: &PgTarget) -> anyhow::Result<Option<(PgStore, bool)>> {
        let (store, found) = PgStore::connect(target)?;
        Ok(match found {
            Found::Nothing => None,
            Found::Store(v) => Some((store, v < latest())),
        })
    }

    /// Applies the migrations a store of an older version lacks (`db
    /// restore` writes every table of this version).
    pub fn up_to_date(&self) -> anyhow::Result<()> {
        let Location::Postgres(target) = &self.location else {
            unreachable!("a PostgreSQL store has a PostgreSQL location")
        };
        let found = inspect(
            &mut *self.client.borrow_mut(),
            &self.location,
            target.schema(),
        )?;
        match found {
            Found::Store(v) if v < latest() => self.bring_up_to_date(target),
            _ => Ok(()),
        }
    }

    /// Creates the schema and tables, or applies the migrations the store
    /// lacks, in one transaction that concurrent first uses take turns at.
    fn bring_up_to_date(&self, target: &PgTarget) -> anyhow::Result<()> {
        let store = self;
        {
            let mut client = store.client.borrow_mut();
            let mut tx = client
                .transaction()
                .map_err(|e| sql_error(&store.location, e))?;
            lock_schema(&mut tx, &store.location, target)?;
            let version = match inspect(&mut tx, &store.location, target.schema())? {
                Found::Nothing => 0,
                Found::Store(version) => version,
            };
            // Another process may have made it while we waited our turn.
            if version < latest() {
                migrate(&mut tx, &store.location, version)?;
            }
            tx.commit().map_err(|e| sql_error(&store.location, e))?;
        }
        Ok(())
    }

    /// A connection to the store and what its schema holds. A store in
    /// use answers in the round trip that makes the session's settings;
    /// anything else is inspected closely.
    fn connect(target: &PgTarget) -> anyhow::Result<(PgStore, Found)> {
        let (mut client, location) = session(target)?;
        let settings = settings(target);
        // The statements of one simple query are one transaction: when
        // there is no meta table, the settings are undone with the rest.
        let at_once = client.simple_query(&format!(
            "{settings}; SELECT key, value FROM meta WHERE key IN ('application', 'schema_version')"
        ));
        let found = match at_once {
            Ok(messages) => store_in_use(&messages),
            Err(e) if e.as_db_error().is_some() => None,
            Err(e) => return Err(cannot_set_up(&location, &e)),
        };
        let found = match found {
            Some(found) => found,
            None => {
                client
                    .batch_execute(&settings)
                    .map_err(|e| cannot_set_up(&location, &e))?;
                inspect(&mut client, &location, target.schema())?
            }
        };
        let store = Pg {
            client: RefCell::new(client),
            location,
        };
        Ok((store, found))
    }

    /// A connection to the store's schema, whatever it holds.
    fn connect_to_schema(target: &PgTarget) -> anyhow::Result<PgStore> {
        let (mut client, location) = session(target)?;
        client
            .batch_execute(&settings(target))
            .map_err(|e| cannot_set_up(&location, &e))?;
        Ok(Pg {
            client: RefCell::new(client),
            location,
        })
    }

    /// Runs `f` in one transaction that first locks the writers' row: two
    /// writers on any machines never interleave, and nothing is written
    /// unless `f` succeeds.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&dyn Changes) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let location = &self.location;
        let mut client = self.client.borrow_mut();
        let tx = begin_write(&mut client, location)?;
        let tx = Pg {
            client: RefCell::new(tx),
            location: location.clone(),
        };
        let value = f(&tx)?;
        tx.client
            .into_inner()
            .commit()
            .map_err(|e| sql_error(location, e))?;
        Ok(value)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Runs `f` on one snapshot of the store (a read-only transaction).
    pub fn read<T>(&self, f: impl FnOnce(&dyn Queries) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let mut client = self.client.borrow_mut();
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| sql_error(&self.location, e))?;
        f(&Pg {
            client: RefCell::new(tx),
            location: self.location.clone(),
        })
    }
}

/// A new connection to `target`'s server, and the location its errors
/// name.
fn session(target: &PgTarget) -> anyhow::Result<(Client, Location)> {
    let location = Location::Postgres(Box::new(target.clone()));
    match connect_within(target.sync_config(), target.connector()?) {
        Ok(client) => Ok((client, location)),
        Err(NotConnected::TimedOut(limit)) => Err(UserError::runtime(format!(
            "cannot connect to the store {location}: no answer within connect_timeout ({} s)",
            limit.as_secs()
        ))
        .with_hint(CHECK_THE_URL)
        .into()),
        Err(NotConnected::Refused(e)) => Err(cannot_connect(target, &location, &e)),
    }
}

const CHECK_THE_URL: &str = "check --db (or TOKENCTL_DB), the server and its credentials";

/// The session's settings: our schema first on its `search_path`, and a
/// lock held by another writer waited for as long as on SQLite.
fn settings(target: &PgTarget) -> String {
    format!(
        "SET search_path TO {}; SET lock_timeout = '{}s'",
        quoted(target.schema()),
        BUSY_TIMEOUT.as_secs()
    )
}

fn cannot_set_up(location: &Location, e: &postgres::Error) -> anyhow::Error {
    UserError::runtime(format!(
        "cannot connect to the store {location}: {}",
        engine_words(e)
    ))
    .with_hint(CHECK_THE_URL)
    .into()
}

/// Why `connect_within` has no connection.
enum NotConnected {
    Refused(postgres::Error),
    TimedOut(std::time::Duration),
}

/// A new connection, within `connect_timeout` when the URL gives one.
/// tokio-postgres bounds only the socket's connect by it; libpq, whose
/// parameter it is, the whole of connecting, which a server that accepts
/// and never answers would otherwise hold up for ever. The thread left
/// waiting on such a server ends with the process.
fn connect_within(
    config: postgres::Config,
    connector: tokio_postgres_rustls::MakeRustlsConnect,
) -> Result<Client, NotConnected> {
    let Some(limit) = config.get_connect_timeout().copied() else {
        return config.connect(connector).map_err(NotConnected::Refused);
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(config.connect(connector).map_err(NotConnected::Refused));
    });
    receiver
        .recv_timeout(limit)
        .unwrap_or(Err(NotConnected::TimedOut(limit)))
}

/// A failed connection, worded for the user: a refused password names
/// where it came from (never the password), a missing one where to give
/// it.
fn cannot_connect(target: &PgTarget, location: &Location, e: &postgres::Error) -> anyhow::Error {
    use url::PasswordSource;
    let missing = *target.password_source() == PasswordSource::None
        && e.as_db_error().is_none()
        && engine_words(e).ends_with("password missing");
    let words = if missing {
        "the server asks for a password and none was given".to_string()
    } else {
        engine_words(e)
    };
    let hint = match target.password_source() {
        _ if missing => "set PGPASSWORD, or add a line for this server to ~/.pgpass (or the \
                         file PGPASSFILE names)"
            .to_string(),
        PasswordSource::Url if password_refused(e) => "check the password in the URL".to_string(),
        PasswordSource::Environment if password_refused(e) => {
            "check the password in PGPASSWORD".to_string()
        }
        PasswordSource::File(path) if password_refused(e) => {
            format!("check the password for this server in {}", path.display())
        }
        _ => CHECK_THE_URL.to_string(),
    };
    UserError::runtime(format!("cannot connect to the store {location}: {words}"))
        .with_hint(hint)
        .into()
}

/// Whether the server, or a pooler in front of it, refused the password.
/// PgBouncer checks it itself and says so in these words, with a generic
/// protocol error code rather than PostgreSQL's own.
fn password_refused(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code() == Some(&SqlState::INVALID_PASSWORD)
        || e.as_db_error().is_some_and(|db| {
            [
                "SASL authentication failed",
                "password authentication failed",
            ]
            .contains(&db.message())
        })
}

/// Takes the first-use lock of the store's schema (per database and
/// schema: first uses of one store queue here), and creates the schema if
/// it is missing.
fn lock_schema(
    tx: &mut postgres::Transaction,
    location: &Location,
    target: &PgTarget,
) -> anyhow::Result<()> {
    let fail = |e| sql_error(location, e);
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('tokenctl store ' || $1))",
        &[&target.schema()],
    )
    .map_err(fail)?;
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&target.schema()],
        )
        .map_err(fail)?
        .get(0);
    if !exists {
        tx.batch_execute(&format!("CREATE SCHEMA {}", quoted(target.schema())))
            .map_err(fail)?;
    }
    Ok(())
}

/// Brings a store at schema `version` (0: none yet) to this version's.
fn migrate(
    tx: &mut postgres::Transaction,
    location: &Location,
    version: i64,
) -> anyhow::Result<()> {
    let fail = |e| sql_error(location, e);
    for sql in schema::MIGRATIONS.iter().skip(version as usize) {
        tx.batch_execute(sql).map_err(fail)?;
    }
    let version = latest().to_string();
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('application', $1), ('schema_version', $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&schema::APPLICATION, &version.as_str()],
    )
    .map_err(fail)?;
    Ok(())
}

/// How many tables (and views and the like) the schema `$1` holds.
const TABLE_COUNT: &str = "SELECT count(*) FROM pg_class c JOIN pg_namespace n
    ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')";

/// How many tables (and views and the like) `schema` holds.
fn table_count(
    client: &mut impl postgres::GenericClient,
    schema: &str,
) -> Result<i64, postgres::Error> {
    Ok(client.query_one(TABLE_COUNT, &[&schema])?.get(0))
}

/// The writers' lock, and the schema the session's `search_path` reached
/// it through (see `on_the_store_schema`).
pub(super) const LOCK: &str =
    "SELECT current_schema()::text FROM meta WHERE key = 'schema_version' FOR UPDATE";

/// Refuses a statement that ran with another schema first on its
/// `search_path` than the store's. The path is set once per session (see
/// `settings`), which a pooler in transaction or statement mode does not
/// keep: the statements of one command may reach server connections set
/// up by other clients, for other stores. Writes check it in the lock that
/// starts them, token reads in their rows (lists in their filter, which
/// then selects nothing), so a misrouted command reads and changes nothing
/// of another store's tokens.
pub(super) fn on_the_store_schema(
    location: &Location,
    reached: Option<String>,
) -> Result<(), Error> {
    let expected = match location {
        Location::Postgres(target) => target.schema(),
        Location::Sqlite(_) => return Ok(()),
    };
    match reached {
        Some(schema) if schema == expected => Ok(()),
        other => Err(Error::new(
            ErrorKind::OtherSchema(other.unwrap_or_else(|| "(none)".into())),
            location,
            "",
        )),
    }
}

/// A transaction holding the writers' lock: the one row every write locks
/// first. `query_one` fails if the row were missing, rather than letting
/// writers run unserialised.
fn begin_write<'c>(
    client: &'c mut Client,
    location: &Location,
) -> anyhow::Result<postgres::Transaction<'c>> {
    let mut tx = client.transaction().map_err(|e| sql_error(location, e))?;
    let row = tx
        .query_typed_one(LOCK, &[])
        .map_err(|e| sql_error(location, e))?;
    on_the_store_schema(location, row.get(0))?;
    Ok(tx)
}

fn latest() -> i64 {
    schema::MIGRATIONS.len() as i64
}

/// `Found::Store` when the meta rows of a simple query's answer are a
/// tokenctl store's no newer than this version; `None` (look closer)
/// otherwise.
fn store_in_use(messages: &[postgres::SimpleQueryMessage]) -> Option<Found> {
    let (mut application, mut version) = (None, None);
    for message in messages {
        if let postgres::SimpleQueryMessage::Row(row) = message {
            match row.get(0) {
                Some("application") => application = row.get(1),
                Some("schema_version") => version = row.get(1),
                _ => {}
            }
        }
    }
    let version = version?.parse::<i64>().ok()?;
    (application? == schema::APPLICATION && (1..=latest()).contains(&version))
        .then_some(Found::Store(version))
}

/// What `schema` holds: nothing, a tokenctl store no newer than this
/// version, or else a refusal.
fn inspect(
    client: &mut impl postgres::GenericClient,
    location: &Location,
    schema: &str,
) -> anyhow::Result<Found> {
    let fail = |e| sql_error(location, e);
    // One round trip, at every open.
    let row = client
        .query_typed_one(
            &format!("SELECT ({TABLE_COUNT}), to_regclass(quote_ident($1) || '.meta') IS NOT NULL"),
            &typed(&[&schema]),
        )
        .map_err(fail)?;
    let (tables, has_meta): (i64, bool) = (row.get(0), row.get(1));
    if tables == 0 {
        return Ok(Found::Nothing);
    }
    let not_a_store = || Error::new(ErrorKind::NotAStore, location, "");
    if !has_meta {
        return Err(not_a_store().into());
    }
    if meta_value(client, schema, "application")
        .map_err(fail)?
        .as_deref()
        != Some(schema::APPLICATION)
    {
        return Err(not_a_store().into());
    }
    let version = meta_value(client, schema, "schema_version")
        .map_err(fail)?
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(not_a_store)?;
    if version > latest() {
        return Err(Error::new(ErrorKind::NewerSchema(version), location, "").into());
    }
    Ok(Found::Store(version))
}

fn meta_value(
    client: &mut impl postgres::GenericClient,
    schema: &str,
    key: &str,
) -> Result<Option<String>, postgres::Error> {
    let sql = format!("SELECT value FROM {}.meta WHERE key = $1", quoted(schema));
    Ok(client
        .query_typed_opt(&sql, &typed(&[&key]))?
        .map(|row| row.get(0)))
}

/// `name` as a quoted SQL identifier (the schema name is checked to be a
/// plain identifier already; this keeps it one).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The server's own words for a failure, without the driver's prefix;
/// else the driver's, with their causes (why a connection failed).
fn engine_words(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut words = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        words = format!("{words}: {c}");
        cause = c.source();
    }
    words
}

/// A PostgreSQL failure, as the kind of store error it is.
fn sql_error(location: &Location, e: postgres::Error) -> Error {
    use postgres::error::SqlState;
    let kind = match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => ErrorKind::Conflict,
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => ErrorKind::Busy,
        Some(c) if *c == SqlState::DISK_FULL => ErrorKind::DiskFull,
        Some(c)
            if *c == SqlState::READ_ONLY_SQL_TRANSACTION
                || *c == SqlState::INSUFFICIENT_PRIVILEGE =>
        {
            ErrorKind::ReadOnly
        }
        _ => ErrorKind::Other,
    };
    Error::new(kind, location, engine_words(&e))
}
