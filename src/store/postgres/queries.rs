//! `Queries` and `Changes` on PostgreSQL: the same results as SQLite's,
//! row for row and in the same order; bulk changes as sets.

use postgres::fallible_iterator::FallibleIterator;
use postgres::{GenericClient, Row, Transaction};

use super::params::{Param, typed};
use super::{Pg, on_the_store_schema, sql_error};
use crate::model::{Account, CataloguedPrivilege, Event, Token};
use crate::store::Location;
use crate::store::{Changes, Error, EventQuery, Queries, Result, TokenQuery};
use crate::values::{AllowList, Privileges};

pub(super) const TOKEN_COLUMNS: &str = "t.id, t.account_id, a.name, t.name, t.secret_hash,
    t.prev_secret_hash, t.prev_valid_until, t.acls::text, t.allow_ips::text, t.note,
    t.created_at, t.expires_at, t.last_used_at, t.last_used_ip, t.disabled_at, t.revoked_at,
    a.acls::text, a.suspended";

/// How many columns `TOKEN_COLUMNS` names.
pub(super) const TOKEN_COLUMN_COUNT: usize = 18;

pub(super) const ACCOUNT_COLUMNS: &str = "id, name, acls::text, suspended, created_at";

impl<C: GenericClient> Pg<C> {
    fn fail(&self, e: postgres::Error) -> Error {
        sql_error(&self.location, e)
    }

    pub(super) fn opt(&self, sql: &str, params: &[&dyn Param]) -> Result<Option<Row>> {
        let mut client = self.client.borrow_mut();
        client
            .query_typed_opt(sql, &typed(params))
            .map_err(|e| self.fail(e))
    }

    pub(super) fn all(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>> {
        let mut client = self.client.borrow_mut();
        client
            .query_typed(sql, &typed(params))
            .map_err(|e| self.fail(e))
    }

    pub(super) fn one(&self, sql: &str, params: &[&dyn Param]) -> Result<Row> {
        let mut client = self.client.borrow_mut();
        client
            .query_typed_one(sql, &typed(params))
            .map_err(|e| self.fail(e))
    }

    pub(super) fn run(&self, sql: &str, params: &[&dyn Param]) -> Result<u64> {
        let mut client = self.client.borrow_mut();
        client
            .execute_typed(sql, &typed(params))
            .map_err(|e| self.fail(e))
    }

    /// A row of `TOKEN_COLUMNS` followed by `current_schema()`, which must
    /// be the store's (see `on_the_store_schema`).
    pub(super) fn token(&self, row: &Row) -> Result<Token> {
        on_the_store_schema(&self.location, row.get(TOKEN_COLUMN_COUNT))?;
        token_from_row(row, &self.location)
    }

    pub(super) fn account(&self, row: &Row) -> Result<Account> {
        Ok(Account {
            id: row.get(0),
            name: row.get(1),
            acls: Privileges::from_stored(self.list(row.get(2))?),
            suspended: row.get(3),
            created_at: row.get(4),
        })
    }

    /// The store's schema.
    fn schema(&self) -> String {
        match &self.location {
            Location::Postgres(target) => target.schema().to_string(),
            Location::Sqlite(_) => String::new(),
        }
    }

    fn list(&self, text: &str) -> Result<Vec<String>> {
        list_from_text(text, &self.location)
    }

    fn strings(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<String>> {
        Ok(self.all(sql, params)?.iter().map(|r| r.get(0)).collect())
    }
}

impl<C: GenericClient> Queries for Pg<C> {
    fn token_by_id(&self, id: &str) -> Result<Option<Token>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS}, current_schema()::text FROM tokens t JOIN accounts a ON a.id = t.account_id
             WHERE t.id = $1"
        );
        self.opt(&sql, &[&id])?.map(|r| self.token(&r)).transpose()
    }

    fn resolve_token(&self, account_id: i64, name_or_id: &str) -> Result<Option<Token>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS}, current_schema()::text FROM tokens t JOIN accounts a ON a.id = t.account_id
             WHERE t.account_id = $1 AND (
                 (t.name = $2 AND t.revoked_at IS NULL)
                 OR (t.id = $2 AND NOT EXISTS (SELECT 1 FROM tokens n WHERE n.account_id = $1
                     AND n.name = $2 AND n.revoked_at IS NULL)))"
        );
        self.opt(&sql, &[&account_id, &name_or_id])?
            .map(|r| self.token(&r))
            .transpose()
    }

    fn each_token(
        &self,
        query: &TokenQuery,
        f: &mut dyn FnMut(Token) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t JOIN accounts a ON a.id = t.account_id
             WHERE ($1::bigint IS NULL OR t.account_id = $1)
               AND ($2 OR t.revoked_at IS NULL)
               AND ($3::text IS NULL OR strpos(lower(t.name), lower($3::text COLLATE \"C\")) > 0)
               AND ($4::bigint IS NULL OR t.expires_at <= $4)
               AND ($5::bigint IS NULL OR coalesce(t.last_used_at, t.created_at) < $5)
               -- Evaluated once (it names no column): a list read on a
               -- connection set up for another store shows none of it.
               AND current_schema()::text = $6
             ORDER BY t.name, a.name, t.created_at, t.id"
        );
        let schema = self.schema();
        let params: [&dyn Param; 6] = [
            &query.account_id,
            &query.include_revoked,
            &query.search,
            &query.expired_at,
            &query.unused_since,
            &schema,
        ];
        let mut client = self.client.borrow_mut();
        let mut rows = client
            .query_typed_raw(&sql, typed(&params))
            .map_err(|e| self.fail(e))?;
        while let Some(row) = rows.next().map_err(|e| self.fail(e))? {
            let token = token_from_row(&row, &self.location)?;
            if query.matches_glob(&token.name) {
                f(token)?;
            }
        }
        Ok(())
    }

    fn token_id_taken(&self, id: &str) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM tokens WHERE id = $1)";
        Ok(self.one(sql, &[&id])?.get(0))
    }

    fn live_name_taken(
        &self,
        account_id: i64,
        name: &str,
        except_id: Option<&str>,
    ) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM tokens WHERE account_id = $1 AND name = $2
                       AND revoked_at IS NULL AND ($3::text IS NULL OR id <> $3))";
        Ok(self.one(sql, &[&account_id, &name, &except_id])?.get(0))
    }

    fn live_token_names(&self, account_id: i64) -> Result<Vec<String>> {
        let sql = "SELECT name FROM tokens WHERE account_id = $1 AND revoked_at IS NULL
                   ORDER BY name";
        self.strings(sql, &[&account_id])
    }

    fn live_token_count(&self, account_id: i64) -> Result<i64> {
        let sql = "SELECT count(*) FROM tokens WHERE account_id = $1 AND revoked_at IS NULL";
        Ok(self.one(sql, &[&account_id])?.get(0))
    }

    fn find_account(&self, name: &str) -> Result<Option<Account>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = $1 AND deleted_at IS NULL"
        );
        self.opt(&sql, &[&name])?
            .map(|r| self.account(&r))
            .transpose()
    }

    fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        let sql =
            format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 AND deleted_at IS NULL");
        self.opt(&sql, &[&id])?
            .map(|r| self.account(&r))
            .transpose()
    }

    fn list_accounts(&self) -> Result<Vec<(Account, i64)>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS},
                 (SELECT count(*) FROM tokens t
                  WHERE t.account_id = accounts.id AND t.revoked_at IS NULL)
             FROM accounts WHERE deleted_at IS NULL ORDER BY name"
        );
        self.all(&sql, &[])?
            .iter()
            .map(|r| Ok((self.account(r)?, r.get(5))))
            .collect()
    }

    fn account_names(&self) -> Result<Vec<String>> {
        self.strings(
            "SELECT name FROM accounts WHERE deleted_at IS NULL ORDER BY name",
            &[],
        )
    }

    fn privileges_in_use(&self) -> Result<Vec<String>> {
        let sql = "SELECT p COLLATE \"C\" FROM (
                       SELECT jsonb_array_elements_text(acls) AS p FROM accounts
                       WHERE deleted_at IS NULL
                       UNION
                       SELECT jsonb_array_elements_text(acls) FROM tokens
                       WHERE revoked_at IS NULL) privileges
                   ORDER BY 1";
        self.strings(sql, &[])
    }

    fn catalogue(&self) -> Result<Vec<CataloguedPrivilege>> {
        self.read_catalogue()
    }

    fn is_bootstrapped(&self) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'bootstrapped')";
        Ok(self.one(sql, &[])?.get(0))
    }

    fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let sql = "SELECT at, actor, action, account_id, account, token_id, token_name, detail
                   FROM (SELECT * FROM events
                         WHERE ($1::bigint IS NULL OR account_id = $1)
                           AND ($2::text IS NULL OR token_id = $2)
                           AND ($3::bigint IS NULL OR at >= $3)
                         ORDER BY id DESC LIMIT $4) newest
                   ORDER BY id";
        let limit = query.limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let rows = self.all(
            sql,
            &[&query.account_id, &query.token_id, &query.since, &limit],
        )?;
        Ok(rows
            .iter()
            .map(|row| Event {
                at: row.get(0),
                actor: row.get(1),
                action: row.get(2),
                account_id: row.get(3),
                account: row.get(4),
                token_id: row.get(5),
                token_name: row.get(6),
                detail: row.get(7),
            })
            .collect())
    }

    fn ping(&self) -> Result<()> {
        self.one("SELECT count(*) FROM accounts", &[]).map(drop)
    }
}

impl Changes for Pg<Transaction<'_>> {
    fn insert_token(&self, t: &Token) -> Result<()> {
        let sql = "INSERT INTO tokens (id, account_id, name, secret_hash, prev_secret_hash,
                       prev_valid_until, acls, allow_ips, note, created_at, expires_at,
                       last_used_at, last_used_ip, disabled_at, revoked_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb, $9, $10,
                       $11, $12, $13, $14, $15)";
        self.run(
            sql,
            &[
                &t.id,
                &t.account_id,
                &t.name,
                &t.secret_hash,
                &t.prev_secret_hash,
                &t.prev_valid_until,
                &to_json(t.acls.as_slice()),
                &to_json(t.allow_ips.entries()),
                &t.note,
                &t.created_at,
                &t.expires_at,
                &t.last_used_at,
                &t.last_used_ip,
                &t.disabled_at,
                &t.revoked_at,
            ],
        )
        .map(drop)
    }

    fn update_token(&self, t: &Token) -> Result<()> {
        let sql = "UPDATE tokens SET name = $2, secret_hash = $3, prev_secret_hash = $4,
                       prev_valid_until = $5, acls = $6::text::jsonb,
                       allow_ips = $7::text::jsonb, note = $8, expires_at = $9,
                       disabled_at = $10, revoked_at = $11
                   WHERE id = $1";
        self.run(
            sql,
            &[
                &t.id,
                &t.name,
                &t.secret_hash,
                &t.prev_secret_hash,
                &t.prev_valid_until,
                &to_json(t.acls.as_slice()),
                &to_json(t.allow_ips.entries()),
                &t.note,
                &t.expires_at,
                &t.disabled_at,
                &t.revoked_at,
            ],
        )
        .map(drop)
    }

    fn revoke_tokens(&self, ids: &[&str], now: i64) -> Result<()> {
        let sql = "UPDATE tokens SET revoked_at = $2 WHERE id = ANY($1) AND revoked_at IS NULL";
        self.run(sql, &[&ids, &now]).map(drop)
    }

    fn record_use(&self, id: &str, now: i64, ip: Option<&str>) -> Result<()> {
        // Never backwards: uses from several servers may arrive late.
        let sql = "UPDATE tokens SET last_used_at = $2, last_used_ip = $3
                   WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2)";
        self.run(sql, &[&id, &now, &ip]).map(drop)
    }

    fn insert_account(&self, name: &str, acls: &Privileges, now: i64) -> Result<Account> {
        let sql = "INSERT INTO accounts (name, acls, created_at) VALUES ($1, $2::text::jsonb, $3)
                   RETURNING id";
        let id: i64 = self
            .one(sql, &[&name, &to_json(acls.as_slice()), &now])?
            .get(0);
        Ok(Account {
            id,
            name: name.to_string(),
            acls: acls.clone(),
            suspended: false,
            created_at: now,
        })
    }

    fn update_account(&self, account: &Account) -> Result<()> {
        let sql = "UPDATE accounts SET name = $2, acls = $3::text::jsonb, suspended = $4
                   WHERE id = $1";
        let acls = to_json(account.acls.as_slice());
        self.run(
            sql,
            &[&account.id, &account.name, &acls, &account.suspended],
        )
        .map(drop)
    }

    fn delete_account(&self, account_id: i64, now: i64) -> Result<()> {
        let sql = "UPDATE accounts SET deleted_at = $2 WHERE id = $1";
        self.run(sql, &[&account_id, &now]).map(drop)
    }

    fn mark_bootstrapped(&self, now: i64) -> Result<()> {
        let sql = "INSERT INTO meta (key, value) VALUES ('bootstrapped', $1)
                   ON CONFLICT (key) DO NOTHING";
        self.run(sql, &[&now.to_string()]).map(drop)
    }

    fn put_privilege(&self, privilege: &CataloguedPrivilege) -> Result<()> {
        self.write_privilege(privilege)
    }

    fn delete_privilege(&self, name: &str) -> Result<()> {
        self.remove_privilege(name)
    }

    fn record_event(&self, event: &Event) -> Result<()> {
        self.record_events(std::slice::from_ref(event))
    }

    fn record_events(&self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        // One statement for the set, in the given order (the ids follow
        // it: the writers' lock makes them follow commit order too).
        let column = |f: fn(&Event) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
        let at: Vec<i64> = events.iter().map(|e| e.at).collect();
        let account_id: Vec<i64> = events.iter().map(|e| e.account_id).collect();
        let actor = column(|e| Some(e.actor.clone()));
        let action = column(|e| Some(e.action.clone()));
        let account = column(|e| Some(e.account.clone()));
        let token_id = column(|e| e.token_id.clone());
        let token_name = column(|e| e.token_name.clone());
        let detail = column(|e| e.detail.clone());
        let sql = "INSERT INTO events (at, actor, action, account_id, account, token_id,
                       token_name, detail)
                   SELECT at, actor, action, account_id, account, token_id, token_name, detail
                   FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                               $6::text[], $7::text[], $8::text[])
                        WITH ORDINALITY AS e(at, actor, action, account_id, account,
                                             token_id, token_name, detail, n)
                   ORDER BY n";
        self.run(
            sql,
            &[
                &at,
                &actor,
                &action,
                &account_id,
                &account,
                &token_id,
                &token_name,
                &detail,
            ],
        )
        .map(drop)
    }
}

/// A row of `TOKEN_COLUMNS` (first) as a token.
pub(super) fn token_from_row(row: &Row, location: &Location) -> Result<Token> {
    let list = |i| list_from_text(row.get(i), location);
    Ok(Token {
        id: row.get(0),
        account_id: row.get(1),
        account: row.get(2),
        name: row.get(3),
        secret_hash: row.get(4),
        prev_secret_hash: row.get(5),
        prev_valid_until: row.get(6),
        acls: Privileges::from_stored(list(7)?),
        allow_ips: AllowList::from_stored(list(8)?),
        note: row.get(9),
        created_at: row.get(10),
        expires_at: row.get(11),
        last_used_at: row.get(12),
        last_used_ip: row.get(13),
        disabled_at: row.get(14),
        revoked_at: row.get(15),
        account_acls: Privileges::from_stored(list(16)?),
        account_suspended: row.get(17),
    })
}

/// A list column, from its JSON text.
pub(super) fn list_from_text(text: &str, location: &Location) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            crate::store::ErrorKind::Other,
            location,
            format!("a stored list is not a JSON array of strings: {e}"),
        )
    })
}

pub(super) fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}
