//! Whole stores read and written row for row on PostgreSQL (`db copy`,
//! `db backup`, `db restore`), as sets: a table is one statement however
//! many rows it holds.

use postgres::{GenericClient, IsolationLevel, Transaction};

use super::queries::{ACCOUNT_COLUMNS, TOKEN_COLUMNS, to_json};
use super::{Pg, PgStore, PgTarget, sql_error};
use crate::model::Event;
use crate::store::Result;
use crate::store::transfer::{AccountRecord, Counts, EventRecord, Snapshot, not_empty};

impl<C: GenericClient> Pg<C> {
    /// Every row; the caller keeps the reads in one snapshot.
    fn export_rows(&self) -> Result<Snapshot> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS}, deleted_at FROM accounts ORDER BY id");
        let accounts = self
            .all(&sql, &[])?
            .iter()
            .map(|r| {
                Ok(AccountRecord {
                    account: self.account(r)?,
                    deleted_at: r.get(5),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let sql = format!(
            "SELECT {TOKEN_COLUMNS}, current_schema()::text FROM tokens t JOIN accounts a ON a.id = t.account_id
             ORDER BY t.id"
        );
        let tokens = self
            .all(&sql, &[])?
            .iter()
            .map(|r| self.token(r))
            .collect::<Result<Vec<_>>>()?;
        let sql = "SELECT id, at, actor, action, account_id, account, token_id, token_name, detail
                   FROM events ORDER BY id";
        let events = self
            .all(sql, &[])?
            .iter()
            .map(|r| EventRecord {
                id: r.get(0),
                event: Event {
                    at: r.get(1),
                    actor: r.get(2),
                    action: r.get(3),
                    account_id: r.get(4),
                    account: r.get(5),
                    token_id: r.get(6),
                    token_name: r.get(7),
                    detail: r.get(8),
                },
            })
            .collect();
        let bootstrapped = self
            .opt("SELECT value FROM meta WHERE key = 'bootstrapped'", &[])?
            .map(|r| r.get(0));
        Ok(Snapshot {
            accounts,
            tokens,
            events,
            privileges: self.read_catalogue()?,
            bootstrapped,
            counted: self.counts()?,
        })
    }

    fn counts(&self) -> Result<Counts> {
        let row = self.one(
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM tokens),
                    (SELECT count(*) FROM events)",
            &[],
        )?;
        Ok(Counts {
            accounts: row.get(0),
            tokens: row.get(1),
            events: row.get(2),
            privileges: self.privilege_count()?,
        })
    }
}

impl Pg<Transaction<'_>> {
    /// Writes every row of `s` into empty tables, then moves the id
    /// sequences past the copied ids, so that new accounts and events
    /// follow them.
    fn import(&self, s: &Snapshot) -> Result<()> {
        let accounts = &s.accounts;
        let id: Vec<i64> = accounts.iter().map(|r| r.account.id).collect();
        let name: Vec<&str> = accounts.iter().map(|r| r.account.name.as_str()).collect();
        let acls: Vec<String> = accounts
            .iter()
            .map(|r| to_json(r.account.acls.as_slice()))
            .collect();
        let suspended: Vec<bool> = accounts.iter().map(|r| r.account.suspended).collect();
        let created: Vec<i64> = accounts.iter().map(|r| r.account.created_at).collect();
        let deleted: Vec<Option<i64>> = accounts.iter().map(|r| r.deleted_at).collect();
        self.run(
            "INSERT INTO accounts (id, name, acls, suspended, created_at, deleted_at)
             SELECT id, name, acls::jsonb, suspended, created_at, deleted_at
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[], $5::bigint[],
                         $6::bigint[]) AS a(id, name, acls, suspended, created_at, deleted_at)",
            &[&id, &name, &acls, &suspended, &created, &deleted],
        )?;

        let t = &s.tokens;
        let text = |f: fn(&crate::model::Token) -> &str| t.iter().map(f).collect::<Vec<_>>();
        let opt_text =
            |f: fn(&crate::model::Token) -> Option<&str>| t.iter().map(f).collect::<Vec<_>>();
        let time = |f: fn(&crate::model::Token) -> Option<i64>| t.iter().map(f).collect::<Vec<_>>();
        let acls: Vec<String> = t.iter().map(|t| to_json(t.acls.as_slice())).collect();
        let allow: Vec<String> = t.iter().map(|t| to_json(t.allow_ips.entries())).collect();
        let account_id: Vec<i64> = t.iter().map(|t| t.account_id).collect();
        let created: Vec<i64> = t.iter().map(|t| t.created_at).collect();
        self.run(
            "INSERT INTO tokens (id, account_id, name, secret_hash, prev_secret_hash,
                 prev_valid_until, acls, allow_ips, note, created_at, expires_at, last_used_at,
                 last_used_ip, disabled_at, revoked_at)
             SELECT id, account_id, name, secret_hash, prev_secret_hash, prev_valid_until,
                 acls::jsonb, allow_ips::jsonb, note, created_at, expires_at, last_used_at,
                 last_used_ip, disabled_at, revoked_at
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                         $6::bigint[], $7::text[], $8::text[], $9::text[], $10::bigint[],
                         $11::bigint[], $12::bigint[], $13::text[], $14::bigint[], $15::bigint[])
                  AS t(id, account_id, name, secret_hash, prev_secret_hash, prev_valid_until,
                       acls, allow_ips, note, created_at, expires_at, last_used_at,
                       last_used_ip, disabled_at, revoked_at)",
            &[
                &text(|t| &t.id),
                &account_id,
                &text(|t| &t.name),
                &text(|t| &t.secret_hash),
                &opt_text(|t| t.prev_secret_hash.as_deref()),
                &time(|t| t.prev_valid_until),
                &acls,
                &allow,
                &opt_text(|t| t.note.as_deref()),
                &created,
                &time(|t| t.expires_at),
                &time(|t| t.last_used_at),
                &opt_text(|t| t.last_used_ip.as_deref()),
                &time(|t| t.disabled_at),
                &time(|t| t.revoked_at),
            ],
        )?;

        let e = &s.events;
        let text = |f: fn(&Event) -> &str| e.iter().map(|r| f(&r.event)).collect::<Vec<_>>();
        let opt_text =
            |f: fn(&Event) -> Option<&str>| e.iter().map(|r| f(&r.event)).collect::<Vec<_>>();
        let id: Vec<i64> = e.iter().map(|r| r.id).collect();
        let at: Vec<i64> = e.iter().map(|r| r.event.at).collect();
        let account_id: Vec<i64> = e.iter().map(|r| r.event.account_id).collect();
        self.run(
            "INSERT INTO events (id, at, actor, action, account_id, account, token_id,
                 token_name, detail)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],
                                  $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[])",
            &[
                &id,
                &at,
                &text(|e| &e.actor),
                &text(|e| &e.action),
                &account_id,
                &text(|e| &e.account),
                &opt_text(|e| e.token_id.as_deref()),
                &opt_text(|e| e.token_name.as_deref()),
                &opt_text(|e| e.detail.as_deref()),
            ],
        )?;

        let p = &s.privileges;
        let name: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        let description: Vec<Option<&str>> = p.iter().map(|p| p.description.as_deref()).collect();
        let created: Vec<i64> = p.iter().map(|p| p.created_at).collect();
        self.run(
            "INSERT INTO privileges (name, description, created_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])",
            &[&name, &description, &created],
        )?;

        if let Some(value) = &s.bootstrapped {
            self.run(
                "INSERT INTO meta (key, value) VALUES ('bootstrapped', $1)",
                &[value],
            )?;
        }
        for table in ["accounts", "events"] {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            );
            self.one(&sql, &[])?;
        }
        Ok(())
    }

    /// Every row of the store, gone (`db restore` writes the backup's next).
    fn clear(&self) -> Result<()> {
        for sql in [
            "DELETE FROM privileges",
            "DELETE FROM events",
            "DELETE FROM tokens",
            "DELETE FROM accounts",
            "DELETE FROM meta WHERE key = 'bootstrapped'",
        ] {
            self.run(sql, &[])?;
        }
        Ok(())
    }

    /// Writes `s` and checks the counts, all in this transaction.
    fn import_checked(&self, s: &Snapshot) -> anyhow::Result<()> {
        self.import(s)?;
        s.expect(self.counts()?)
    }
}

impl PgStore {
    /// Every row of the store, read in one snapshot.
    pub fn export(&self) -> anyhow::Result<Snapshot> {
        let mut client = self.client.borrow_mut();
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| sql_error(&self.location, e))?;
        let tx = Pg {
            client: std::cell::RefCell::new(tx),
            location: self.location.clone(),
        };
        Ok(tx.export_rows()?)
    }

    /// Creates a store in `target`'s schema, which must hold no tables,
    /// holding `snapshot`: the schema, its tables and every row in one
    /// transaction, so a failed copy leaves nothing behind.
    pub fn create_from(target: &PgTarget, snapshot: &Snapshot) -> anyhow::Result<()> {
        let store = PgStore::connect_to_schema(target)?;
        let location = &store.location;
        let mut client = store.client.borrow_mut();
        let mut tx = client.transaction().map_err(|e| sql_error(location, e))?;
        super::lock_schema(&mut tx, location, target)?;
        let tables =
            super::table_count(&mut tx, target.schema()).map_err(|e| sql_error(location, e))?;
        if tables > 0 {
            return Err(not_empty(
                location,
                &format!("its schema {} holds tables", target.schema()),
            ));
        }
        super::migrate(&mut tx, location, 0)?;
        let tx = Pg {
            client: std::cell::RefCell::new(tx),
            location: location.clone(),
        };
        tx.import_checked(snapshot)?;
        tx.client
            .into_inner()
            .commit()
            .map_err(|e| sql_error(location, e))?;
        Ok(())
    }

    /// Replaces every row with `snapshot`'s, in one transaction under the
    /// writers' lock: readers see the old store until the commit.
    pub fn replace_with(&mut self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let location = &self.location;
        let mut client = self.client.borrow_mut();
        let tx = super::begin_write(&mut client, location)?;
        let tx = Pg {
            client: std::cell::RefCell::new(tx),
            location: location.clone(),
        };
        tx.clear()?;
        tx.import_checked(snapshot)?;
        tx.client
            .into_inner()
            .commit()
            .map_err(|e| sql_error(location, e))?;
        Ok(())
    }
}
