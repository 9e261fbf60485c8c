//! Queries on tokens. Revocation is a soft delete: the row stays, with
//! `revoked_at` set, for `list --all` and the audit trail.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{from_json, to_json};
use crate::model::Token;
use crate::store::{Error, TokenQuery};
use crate::values::{AllowList, Privileges};

pub(super) const COLUMNS: &str =
    "t.id, t.account_id, a.name, t.name, t.secret_hash, t.prev_secret_hash,
    t.prev_valid_until, t.acls, t.allow_ips, t.note, t.created_at, t.expires_at,
    t.last_used_at, t.last_used_ip, t.disabled_at, t.revoked_at, a.acls, a.suspended";

pub(super) fn token_from_row(row: &Row) -> rusqlite::Result<Token> {
    Ok(Token {
        id: row.get(0)?,
        account_id: row.get(1)?,
        account: row.get(2)?,
        name: row.get(3)?,
        secret_hash: row.get(4)?,
        prev_secret_hash: row.get(5)?,
        prev_valid_until: row.get(6)?,
        acls: Privileges::from_stored(from_json(&row.get::<_, String>(7)?)?),
        allow_ips: AllowList::from_stored(from_json(&row.get::<_, String>(8)?)?),
        note: row.get(9)?,
        created_at: row.get(10)?,
        expires_at: row.get(11)?,
        last_used_at: row.get(12)?,
        last_used_ip: row.get(13)?,
        disabled_at: row.get(14)?,
        revoked_at: row.get(15)?,
        account_acls: Privileges::from_stored(from_json(&row.get::<_, String>(16)?)?),
        account_suspended: row.get(17)?,
    })
}

/// The token with this id, in any account (verify's lookup).
pub(super) fn token_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<Token>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id = ?1"
    ))?
    .query_row([id], token_from_row)
    .optional()
}

/// A `<TOKEN>` argument: the name of one of the account's live tokens, or
/// the id of one of its tokens (revoked included). Names are tried first.
pub(super) fn resolve_token(
    conn: &Connection,
    account_id: i64,
    name_or_id: &str,
) -> rusqlite::Result<Option<Token>> {
    let by_name = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tokens t JOIN accounts a ON a.id = t.account_id
             WHERE t.account_id = ?1 AND t.name = ?2 AND t.revoked_at IS NULL"
        ))?
        .query_row(params![account_id, name_or_id], token_from_row)
        .optional()?;
    if by_name.is_some() {
        return Ok(by_name);
    }
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens t JOIN accounts a ON a.id = t.account_id
         WHERE t.account_id = ?1 AND t.id = ?2"
    ))?
    .query_row(params![account_id, name_or_id], token_from_row)
    .optional()
}

/// Calls `f` with each token matching `query`, sorted by name (byte
/// order), account, created; `fail` words SQLite's errors.
pub(super) fn each_token(
    conn: &Connection,
    query: &TokenQuery,
    f: &mut dyn FnMut(Token) -> anyhow::Result<()>,
    fail: &dyn Fn(rusqlite::Error) -> Error,
) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tokens t JOIN accounts a ON a.id = t.account_id
         WHERE (?1 IS NULL OR t.account_id = ?1)
           AND (?2 OR t.revoked_at IS NULL)
           AND (?3 IS NULL OR instr(lower(t.name), lower(?3)) > 0)
           AND (?4 IS NULL OR t.expires_at <= ?4)
           AND (?5 IS NULL OR coalesce(t.last_used_at, t.created_at) < ?5)
         ORDER BY t.name, a.name, t.created_at, t.id"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(fail)?;
    let mut rows = stmt
        .query(params![
            query.account_id,
            query.include_revoked,
            query.search,
            query.expired_at,
            query.unused_since
        ])
        .map_err(fail)?;
    while let Some(row) = rows.next().map_err(fail)? {
        let token = token_from_row(row).map_err(fail)?;
        if query.matches_glob(&token.name) {
            f(token)?;
        }
    }
    Ok(())
}

pub(super) fn token_id_taken(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tokens WHERE id = ?1)",
        [id],
        |row| row.get(0),
    )
}

/// Whether one of the account's live tokens other than `except_id` has
/// this name.
pub(super) fn live_name_taken(
    conn: &Connection,
    account_id: i64,
    name: &str,
    except_id: Option<&str>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tokens WHERE account_id = ?1 AND name = ?2
             AND revoked_at IS NULL AND (?3 IS NULL OR id <> ?3))",
        params![account_id, name, except_id],
        |row| row.get(0),
    )
}

pub(super) fn insert_token(conn: &Connection, t: &Token) -> rusqlite::Result<()> {
    // Cached: a copy inserts every token of a store through it.
    conn.prepare_cached(
        "INSERT INTO tokens (id, account_id, name, secret_hash, prev_secret_hash,
             prev_valid_until, acls, allow_ips, note, created_at, expires_at,
             last_used_at, last_used_ip, disabled_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        t.id,
        t.account_id,
        t.name,
        t.secret_hash,
        t.prev_secret_hash,
        t.prev_valid_until,
        to_json(t.acls.as_slice()),
        to_json(t.allow_ips.entries()),
        t.note,
        t.created_at,
        t.expires_at,
        t.last_used_at,
        t.last_used_ip,
        t.disabled_at,
        t.revoked_at
    ])?;
    Ok(())
}

/// Writes every field a command may change (not id, account, created or
/// Last Used, which have their own paths).
pub(super) fn update_token(conn: &Connection, t: &Token) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE tokens SET name = ?2, secret_hash = ?3, prev_secret_hash = ?4,
             prev_valid_until = ?5, acls = ?6, allow_ips = ?7, note = ?8,
             expires_at = ?9, disabled_at = ?10, revoked_at = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        t.id,
        t.name,
        t.secret_hash,
        t.prev_secret_hash,
        t.prev_valid_until,
        to_json(t.acls.as_slice()),
        to_json(t.allow_ips.entries()),
        t.note,
        t.expires_at,
        t.disabled_at,
        t.revoked_at
    ])?;
    Ok(())
}

pub(super) fn revoke_token(conn: &Connection, id: &str, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")?
        .execute(params![id, now])?;
    Ok(())
}

/// Records Last Used: the time, and the client address when known.
/// Never backwards: a use that arrives late (serve writes in batches)
/// does not hide a newer one.
pub(super) fn record_use(
    conn: &Connection,
    id: &str,
    now: i64,
    ip: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE tokens SET last_used_at = ?2, last_used_ip = ?3
         WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?2)",
    )?
    .execute(params![id, now, ip])?;
    Ok(())
}

/// Names of the account's live tokens, sorted.
pub(super) fn live_token_names(
    conn: &Connection,
    account_id: i64,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name FROM tokens WHERE account_id = ?1 AND revoked_at IS NULL ORDER BY name",
    )?;
    let rows = stmt.query_map([account_id], |row| row.get(0))?;
    rows.collect()
}
