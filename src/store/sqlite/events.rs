//! The audit trail: written in the transaction of the change it records.

use rusqlite::{Connection, params};

use crate::model::Event;
use crate::store::EventQuery;

pub(super) fn record_event(conn: &Connection, event: &Event) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (at, actor, action, account_id, account, token_id, token_name, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        event.at,
        event.actor,
        event.action,
        event.account_id,
        event.account,
        event.token_id,
        event.token_name,
        event.detail
    ])?;
    Ok(())
}

/// Events matching `query`, oldest first (in the order they were written).
pub(super) fn list_events(conn: &Connection, query: &EventQuery) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, actor, action, account_id, account, token_id, token_name, detail FROM (
             SELECT * FROM events
             WHERE (?1 IS NULL OR account_id = ?1)
               AND (?2 IS NULL OR token_id = ?2)
               AND (?3 IS NULL OR at >= ?3)
             ORDER BY id DESC LIMIT ?4
         ) ORDER BY id",
    )?;
    // SQLite reads a negative LIMIT as no limit.
    let limit = query
        .limit
        .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows = stmt.query_map(
        params![query.account_id, query.token_id, query.since, limit],
        |row| {
            Ok(Event {
                at: row.get(0)?,
                actor: row.get(1)?,
                action: row.get(2)?,
                account_id: row.get(3)?,
                account: row.get(4)?,
                token_id: row.get(5)?,
                token_name: row.get(6)?,
                detail: row.get(7)?,
            })
        },
    )?;
    rows.collect()
}
