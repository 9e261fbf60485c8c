//! `db check` on PostgreSQL: tokenctl's own checks of the rows (the
//! server keeps its own storage healthy), and warnings about server
//! settings under which a committed revoke could be lost or not seen.

use postgres::{GenericClient, IsolationLevel};

use super::{PgStore, latest, sql_error};
use crate::store::Check;
use crate::token;

impl PgStore {
    pub fn check(&self) -> anyhow::Result<Vec<Check>> {
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| sql_error(&self.location, e))?;
        let checks = checks(&mut tx).map_err(|e| sql_error(&self.location, e))?;
        Ok(checks)
    }
}

fn checks(c: &mut impl GenericClient) -> Result<Vec<Check>, postgres::Error> {
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

    let version: Option<String> = c
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
        .map(|r| r.get(0));
    let version = version.unwrap_or_default();
    let expected = latest().to_string();
    add(
        "schema",
        if version
            .parse::<i64>()
            .is_ok_and(|v| (1..=latest()).contains(&v))
        {
            vec![]
        } else {
            vec![format!("schema version {version}, expected {expected}")]
        },
        // An older store is healthy: its next change migrates it.
        match version == expected {
            true => format!("schema version {version}"),
            false => format!(
                "schema version {version} of {expected}, brought up to date by the next change"
            ),
        },
    );

    let orphans = strings(
        c,
        "SELECT 'token ' || id FROM tokens t
         WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.account_id)
         UNION ALL
         SELECT 'event ' || id FROM events e
         WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = e.account_id)",
    )?;
    add(
        "references",
        orphans,
        "every token belongs to an account".into(),
    );

    // Checked here rather than in SQL: a hash must also parse and ask for
    // no more argon2 work than verification accepts.
    let mut bad_hashes = Vec::new();
    for row in c.query(
        "SELECT id, secret_hash, prev_secret_hash FROM tokens ORDER BY id",
        &[],
    )? {
        let (id, current, previous): (String, String, Option<String>) =
            (row.get(0), row.get(1), row.get(2));
        if !token::hash_is_usable(&current) || previous.is_some_and(|p| !token::hash_is_usable(&p))
        {
            bad_hashes.push(format!("token {id}"));
        }
    }
    add(
        "hashes",
        bad_hashes,
        "every secret is an argon2id hash within bounds".into(),
    );

    let not_a_list = |column: &str| {
        format!(
            "jsonb_typeof({column}) <> 'array' OR EXISTS (SELECT 1 FROM jsonb_array_elements(
                 CASE jsonb_typeof({column}) WHEN 'array' THEN {column} ELSE '[]' END) e
             WHERE jsonb_typeof(e) <> 'string')"
        )
    };
    let bad_lists = strings(
        c,
        &format!(
            "SELECT 'token ' || id FROM tokens
             WHERE {} OR {} OR (jsonb_typeof(acls) = 'array' AND jsonb_array_length(acls) = 0)
             UNION ALL
             SELECT 'account ' || name FROM accounts
             WHERE {} OR (jsonb_typeof(acls) = 'array' AND jsonb_array_length(acls) = 0)",
            not_a_list("acls"),
            not_a_list("allow_ips"),
            not_a_list("acls")
        ),
    )?;
    add(
        "privileges",
        bad_lists,
        "every privilege list is valid".into(),
    );

    let bad_ids = strings(
        c,
        "SELECT 'token ' || id FROM tokens WHERE id !~ '^[0-9A-Za-z]{10}$' ORDER BY id",
    )?;
    add(
        "ids",
        bad_ids,
        "every token id is 10 base62 characters".into(),
    );

    checks.extend(settings(c)?);
    Ok(checks)
}

/// Warnings (which leave the store healthy) about settings that weaken a
/// revoke: one that a crash can undo, or a server or a role that writes
/// cannot go through.
fn settings(c: &mut impl GenericClient) -> Result<Vec<Check>, postgres::Error> {
    // The rights every write needs: the writers' lock on `meta`, then
    // new and changed rows (each `has_table_privilege` is one right: a
    // list would mean any of them).
    let row = c.query_one(
        "SELECT current_setting('synchronous_commit'), current_setting('fsync'),
                pg_is_in_recovery(), current_setting('default_transaction_read_only'),
                current_user::text,
                has_table_privilege('meta', 'UPDATE')
                AND has_table_privilege('accounts', 'INSERT')
                AND has_table_privilege('accounts', 'UPDATE')
                AND has_table_privilege('tokens', 'INSERT')
                AND has_table_privilege('tokens', 'UPDATE')
                AND has_table_privilege('events', 'INSERT')",
        &[],
    )?;
    let (sync, fsync, standby, read_only): (String, String, bool, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let (role, may_write): (String, bool) = (row.get(4), row.get(5));
    let mut warnings = Vec::new();
    let mut warn = |name, detail: &str| {
        warnings.push(Check {
            name,
            ok: true,
            warning: true,
            detail: detail.to_string(),
        })
    };
    if sync == "off" {
        warn(
            "durability",
            "synchronous_commit=off: a revoke reported done can be lost in a crash of the server",
        );
    }
    if fsync == "off" {
        warn(
            "durability",
            "fsync=off: a crash of the server can lose or corrupt committed revokes",
        );
    }
    if standby {
        warn(
            "server",
            "a standby: it may lag its primary, so a revoke made there is not yet seen here",
        );
    }
    if read_only == "on" {
        warn(
            "server",
            "default_transaction_read_only=on: tokenctl cannot write here (revoke, Last Used)",
        );
    }
    if !may_write {
        warn(
            "role",
            &format!("the role {role} cannot write the store: creates, revokes and Last Used fail"),
        );
    }
    if warnings.is_empty() {
        return Ok(vec![Check {
            name: "settings",
            ok: true,
            warning: false,
            detail: "no server setting weakens a revoke".into(),
        }]);
    }
    Ok(warnings)
}

fn strings(c: &mut impl GenericClient, sql: &str) -> Result<Vec<String>, postgres::Error> {
    Ok(c.query(sql, &[])?.iter().map(|r| r.get(0)).collect())
}
