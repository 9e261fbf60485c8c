//! The two kinds of store a test can run on, and what a test needs to
//! reach into either one: SQL for checks and for moving stored times into
//! the past (tokenctl itself has no clock override), a fingerprint of the
//! content, and every byte the store's engine wrote.
//!
//! A test that is not about files runs on both, from one source:
//!
//! ```ignore
//! #[rstest]
//! fn revoke_is_refused(#[values(Sqlite, Postgres)] backend: Backend) {
//!     let Some(env) = TestEnv::on(backend) else { return };
//! ```
//!
//! SQL given to `sql_*` is run as is on either engine, so it keeps to what
//! both understand (times are Unix seconds in both; compute "now" in Rust
//! rather than with `strftime` or `now()`). On PostgreSQL it runs in the
//! store's schema.

use std::path::{Path, PathBuf};

use postgres::SimpleQueryMessage;
use rusqlite::types::Value as SqlValue;

use super::TestEnv;
use super::pg;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One row of a query, every value as text (`None` for NULL), as the
/// engines print them.
pub type Row = Vec<Option<String>>;

impl TestEnv {
    /// A new environment on `backend`; `None` when that is PostgreSQL and
    /// it is not installed, and the test is skipped (on CI the test fails
    /// instead).
    pub fn on(backend: Backend) -> Option<TestEnv> {
        match backend {
            Backend::Sqlite => Some(TestEnv::new()),
            Backend::Postgres => TestEnv::postgres(),
        }
    }

    /// Whether the store exists: the SQLite file, or the PostgreSQL
    /// schema (read-only commands must create neither).
    pub fn has_store(&self) -> bool {
        match &self.pg {
            None => self.db.exists(),
            Some(_) => self.pg_has_store(),
        }
    }

    pub fn backend(&self) -> Backend {
        if self.pg.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Runs `sql` (one statement or several) and returns the rows of the
    /// last one that returns rows.
    pub fn sql_rows(&self, sql: &str) -> Vec<Row> {
        match &self.pg {
            None => sqlite_rows(&self.sql(), sql),
            Some(_) => {
                let mut rows = Vec::new();
                for message in self.pg_simple_query(sql) {
                    if let SimpleQueryMessage::Row(row) = message {
                        rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).map(str::to_string))
                                .collect(),
                        );
                    }
                }
                rows
            }
        }
    }

    /// Runs one statement that changes rows and returns how many it
    /// changed.
    pub fn sql_execute(&self, sql: &str) -> u64 {
        match &self.pg {
            None => self.sql().execute(sql, []).expect("run SQL on the store") as u64,
            Some(_) => self
                .pg_simple_query(sql)
                .iter()
                .rev()
                .find_map(|m| match m {
                    SimpleQueryMessage::CommandComplete(n) => Some(*n),
                    _ => None,
                })
                .expect("a command result"),
        }
    }

    /// The first value of the first row, parsed; `None` for NULL or no row.
    pub fn sql_value<T: std::str::FromStr>(&self, sql: &str) -> Option<T>
    where
        T::Err: std::fmt::Debug,
    {
        let rows = self.sql_rows(sql);
        let value = rows.first()?.first()?.as_deref()?;
        Some(value.parse().expect("a value of the asked type"))
    }

    /// A fingerprint of the store's logical content, to show a refused
    /// command changed nothing.
    pub fn snapshot(&self) -> String {
        if !self.has_store() {
            return "no store".into();
        }
        let mut out = String::new();
        for table in ["meta", "accounts", "tokens", "events", "privileges"] {
            if !self.has_table(table) {
                continue;
            }
            for row in self.sql_rows(&format!("SELECT * FROM {table} ORDER BY 1")) {
                let line: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
                out.push_str(&format!("{table}: {}\n", line.join("|")));
            }
        }
        out
    }

    /// Whether the store has this table (a store of an older version may
    /// lack the newer ones).
    pub fn has_table(&self, table: &str) -> bool {
        let sql = match &self.pg {
            None => format!(
                "SELECT count(*) FROM sqlite_schema WHERE name = {}",
                quote(table)
            ),
            Some(_) => format!(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'tokenctl' AND tablename = {}",
                quote(table)
            ),
        };
        self.sql_value::<i64>(&sql) == Some(1)
    }

    /// Every byte the store's engine has written: on SQLite the main, -wal
    /// and -shm files; on PostgreSQL, after a checkpoint, this test's
    /// database folder, the write-ahead log and the server log.
    pub fn store_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        match &self.pg {
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let path = PathBuf::from(format!("{}{suffix}", self.db.display()));
                    if let Ok(bytes) = std::fs::read(&path) {
                        all.extend(bytes);
                    }
                }
            }
            Some(_) => {
                let Some(pg::Server::Throwaway(cluster)) = pg::server() else {
                    panic!(
                        "reading the store's files needs the throwaway cluster \
                         (unset {})",
                        pg::URL_VAR
                    );
                };
                let oid: u32 = self
                    .sql_value("CHECKPOINT; SELECT oid FROM pg_database WHERE datname = current_database()")
                    .expect("the database's oid");
                let data = &cluster.data;
                read_tree(&data.join("base").join(oid.to_string()), &mut all);
                read_tree(&data.join("global"), &mut all);
                read_tree(&data.join("pg_wal"), &mut all);
                read_tree(&data.join("pg_xact"), &mut all);
                read_tree(&cluster.log, &mut all);
            }
        }
        all
    }

    fn pg_simple_query(&self, sql: &str) -> Vec<SimpleQueryMessage> {
        let db = self.pg.as_ref().expect("a PostgreSQL store");
        let mut client = postgres::Client::connect(&db.url, postgres::NoTls)
            .expect("connect to the test database");
        client
            .simple_query(&format!("SET search_path TO tokenctl; {sql}"))
            .unwrap_or_else(|e| panic!("SQL on the store: {e}\n{sql}"))
    }

    fn pg_has_store(&self) -> bool {
        self.sql_value::<i64>("SELECT count(*) FROM pg_namespace WHERE nspname = 'tokenctl'")
            == Some(1)
    }
}

/// `text` as an SQL string literal, for either engine.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Row> {
    let mut stmt = conn.prepare(sql).expect("prepare SQL on the store");
    let columns = stmt.column_count();
    stmt.query_map([], |row| {
        (0..columns)
            .map(|i| {
                Ok(match row.get::<_, SqlValue>(i)? {
                    SqlValue::Null => None,
                    SqlValue::Integer(n) => Some(n.to_string()),
                    SqlValue::Real(f) => Some(f.to_string()),
                    SqlValue::Text(s) => Some(s),
                    SqlValue::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                })
            })
            .collect()
    })
    .expect("query the store")
    .map(|row| row.expect("a row"))
    .collect()
}

/// Appends every file under `path` (or `path` itself, a file).
fn read_tree(path: &Path, all: &mut Vec<u8>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read a data folder") {
            read_tree(&entry.expect("a folder entry").path(), all);
        }
    } else if let Ok(bytes) = std::fs::read(path) {
        all.extend(bytes);
    }
}
