//! The audit trail: written in the transaction of the change it records.

use rusqlite::{Connection, params};

use crate::model::Event;

pub fn record_event(conn: &Connection, event: &Event) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (at, actor, action, account, token_id, token_name, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        event.at,
        event.actor,
        event.action,
        event.account,
        event.token_id,
        event.token_name,
        event.detail
    ])?;
    Ok(())
}
