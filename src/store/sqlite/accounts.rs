//! Queries on accounts. Deleted accounts keep their row (their revoked
//! tokens point at it) and are invisible to every query here.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{from_json, to_json};
use crate::model::Account;
use crate::values::Privileges;

const COLUMNS: &str = "id, name, acls, suspended, created_at";

fn account_from_row(row: &Row) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        acls: Privileges::from_stored(from_json(&row.get::<_, String>(2)?)?),
        suspended: row.get(3)?,
        created_at: row.get(4)?,
    })
}

/// The live account with this name.
pub(super) fn find_account(conn: &Connection, name: &str) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE name = ?1 AND deleted_at IS NULL"
    ))?
    .query_row([name], account_from_row)
    .optional()
}

/// The live account with this id.
pub(super) fn account_by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE id = ?1 AND deleted_at IS NULL"
    ))?
    .query_row([id], account_from_row)
    .optional()
}

pub(super) fn insert_account(
    conn: &Connection,
    name: &str,
    acls: &Privileges,
    now: i64,
) -> rusqlite::Result<Account> {
    conn.execute(
        "INSERT INTO accounts (name, acls, created_at) VALUES (?1, ?2, ?3)",
        params![name, to_json(acls.as_slice()), now],
    )?;
    Ok(Account {
        id: conn.last_insert_rowid(),
        name: name.to_string(),
        acls: acls.clone(),
        suspended: false,
        created_at: now,
    })
}

/// Whether the store has ever had an account. Bootstrap happens once per
/// store, so this is a flag rather than a count of accounts.
pub(super) fn is_bootstrapped(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'bootstrapped')",
        [],
        |row| row.get(0),
    )
}

pub(super) fn mark_bootstrapped(conn: &Connection, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('bootstrapped', ?1)",
        [now.to_string()],
    )?;
    Ok(())
}

/// Every live account with its count of live tokens, sorted by name.
pub(super) fn list_accounts(conn: &Connection) -> rusqlite::Result<Vec<(Account, i64)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS},
             (SELECT count(*) FROM tokens t WHERE t.account_id = accounts.id AND t.revoked_at IS NULL)
         FROM accounts WHERE deleted_at IS NULL ORDER BY name"
    ))?;
    let rows = stmt.query_map([], |row| Ok((account_from_row(row)?, row.get(5)?)))?;
    rows.collect()
}

/// The number of the account's live tokens.
pub(super) fn live_token_count(conn: &Connection, account_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM tokens WHERE account_id = ?1 AND revoked_at IS NULL",
        [account_id],
        |row| row.get(0),
    )
}

/// Writes the account's name, privileges and suspension.
pub(super) fn update_account(conn: &Connection, account: &Account) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE accounts SET name = ?2, acls = ?3, suspended = ?4 WHERE id = ?1",
        params![
            account.id,
            account.name,
            to_json(account.acls.as_slice()),
            account.suspended
        ],
    )?;
    Ok(())
}

/// Marks the account deleted; its name becomes free again.
pub(super) fn delete_account(conn: &Connection, account_id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE accounts SET deleted_at = ?2 WHERE id = ?1",
        params![account_id, now],
    )?;
    Ok(())
}

/// Names of every live account, sorted.
pub(super) fn account_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM accounts WHERE deleted_at IS NULL ORDER BY name")?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    rows.collect()
}

/// Every privilege some live account or live token holds, sorted.
pub(super) fn privileges_in_use(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.value FROM accounts a, json_each(a.acls) j WHERE a.deleted_at IS NULL
         UNION
         SELECT j.value FROM tokens t, json_each(t.acls) j WHERE t.revoked_at IS NULL
         ORDER BY 1",
    )?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    rows.collect()
}
