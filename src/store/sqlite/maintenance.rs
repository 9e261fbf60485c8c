//! Backups and health checks of the store file.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{SqliteStore, schema};
use crate::store::BUSY_TIMEOUT;
use crate::token;

/// One line of `db check`'s report.
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// Worth knowing, though the store is healthy (`ok` stays true).
    pub warning: bool,
    pub detail: String,
}

impl SqliteStore {
    /// Copies the store into `dest` (an empty file) with SQLite's
    /// online backup, in one step: one read transaction, so the copy is a
    /// consistent snapshot even while other processes write.
    pub fn backup_to(&self, dest: &Path) -> anyhow::Result<()> {
        let mut copy = Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        {
            let backup = Backup::new(&self.conn, &mut copy)?;
            // All pages in one step: under WAL the read snapshot does not
            // block writers, and the copy is of one consistent moment.
            let deadline = Instant::now() + BUSY_TIMEOUT;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More | StepResult::Busy | StepResult::Locked
                        if Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => anyhow::bail!("the store stayed busy; try again"),
                }
            }
        }
        // A single file, with no -wal beside it to carry along.
        copy.pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))?;
        copy.close().map_err(|(_, e)| e)?;
        Ok(())
    }

    /// SQLite's integrity check and tokenctl's own schema checks.
    pub fn check(&self) -> anyhow::Result<Vec<Check>> {
        let conn = &self.conn;
        let mut checks = Vec::new();
        let mut add = |name, problems: Vec<String>, ok_detail: String| {
            checks.push(Check {
                name,
                ok: problems.is_empty(),
                warning: false,
                detail: if problems.is_empty() {
                    ok_detail
                } else {
                    problems.join("; ")
                },
            })
        };

        let integrity: Vec<String> = strings(conn, "PRAGMA integrity_check")?;
        let integrity_ok = integrity == ["ok"];
        add(
            "integrity",
            if integrity_ok { vec![] } else { integrity },
            "SQLite integrity_check: ok".into(),
        );

        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let latest = schema::MIGRATIONS.len() as i64;
        add(
            "schema",
            if (1..=latest).contains(&version) {
                vec![]
            } else {
                vec![format!("schema version {version}, expected {latest}")]
            },
            // An older store is healthy: its next change migrates it.
            match version == latest {
                true => format!("schema version {version}"),
                false => format!(
                    "schema version {version} of {latest}, brought up to date by the next change"
                ),
            },
        );

        let orphans = strings(
            conn,
            "SELECT 'foreign key: ' || \"table\" || ' row ' || rowid FROM pragma_foreign_key_check",
        )?;
        add(
            "references",
            orphans,
            "every token belongs to an account".into(),
        );

        // Checked here rather than in SQL: a hash must also parse and ask
        // for no more argon2 work than verification accepts.
        let mut bad_hashes = Vec::new();
        let mut stmt = conn.prepare("SELECT id, secret_hash, prev_secret_hash FROM tokens")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let (id, current, previous): (String, String, Option<String>) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            if !token::hash_is_usable(&current)
                || previous.is_some_and(|p| !token::hash_is_usable(&p))
            {
                bad_hashes.push(format!("token {id}"));
            }
        }
        add(
            "hashes",
            bad_hashes,
            "every secret is an argon2id hash within bounds".into(),
        );

        let bad_lists = strings(
            conn,
            "SELECT 'token ' || id FROM tokens
             WHERE NOT json_valid(acls) OR json_type(acls) <> 'array' OR json_array_length(acls) = 0
                OR NOT json_valid(allow_ips) OR json_type(allow_ips) <> 'array'
             UNION ALL
             SELECT 'account ' || name FROM accounts
             WHERE NOT json_valid(acls) OR json_type(acls) <> 'array' OR json_array_length(acls) = 0",
        )?;
        add(
            "privileges",
            bad_lists,
            "every privilege list is valid".into(),
        );

        let bad_ids = strings(
            conn,
            "SELECT 'token ' || id FROM tokens WHERE length(id) <> 10 OR id GLOB '*[^0-9A-Za-z]*'",
        )?;
        add(
            "ids",
            bad_ids,
            "every token id is 10 base62 characters".into(),
        );
        Ok(checks)
    }
}

fn strings(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    rows.collect()
}
