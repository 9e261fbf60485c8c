//! The catalogue of privileges (`privileges`, migration 2).

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::CataloguedPrivilege;

/// The catalogue, sorted by name; empty on a store older than it, which
/// a read leaves as it is (the table appears at the first write).
pub(super) fn catalogue(conn: &Connection) -> rusqlite::Result<Vec<CataloguedPrivilege>> {
    if !exists(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare_cached("SELECT name, description, created_at FROM privileges ORDER BY name")?;
    let rows = stmt.query_map([], |row| {
        Ok(CataloguedPrivilege {
            name: row.get(0)?,
            description: row.get(1)?,
            created_at: row.get(2)?,
        })
    })?;
    rows.collect()
}

/// How many privileges the catalogue holds (0 without one).
pub(super) fn count(conn: &Connection) -> rusqlite::Result<i64> {
    if !exists(conn)? {
        return Ok(0);
    }
    conn.query_row("SELECT count(*) FROM privileges", [], |r| r.get(0))
}

fn exists(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'privileges'")?
        .query_row([], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(super) fn put_privilege(conn: &Connection, p: &CataloguedPrivilege) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO privileges (name, description, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET description = excluded.description",
    )?
    .execute(params![p.name, p.description, p.created_at])?;
    Ok(())
}

pub(super) fn delete_privilege(conn: &Connection, name: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM privileges WHERE name = ?1")?
        .execute([name])?;
    Ok(())
}
