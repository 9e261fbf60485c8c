//! `Queries` and `Changes` on SQLite: each operation is one query of
//! `tokens`, `accounts` or `events`, its errors worded as store errors.

use super::{Session, Tx, accounts, events, privileges, tokens};
use crate::model::{Account, CataloguedPrivilege, Event, Token};
use crate::store::{Changes, EventQuery, Queries, Result, TokenQuery};
use crate::values::Privileges;

impl<S: Session> Queries for S {
    fn token_by_id(&self, id: &str) -> Result<Option<Token>> {
        tokens::token_by_id(self.conn(), id).map_err(|e| self.fail(e))
    }

    fn resolve_token(&self, account_id: i64, name_or_id: &str) -> Result<Option<Token>> {
        tokens::resolve_token(self.conn(), account_id, name_or_id).map_err(|e| self.fail(e))
    }

    fn each_token(
        &self,
        query: &TokenQuery,
        f: &mut dyn FnMut(Token) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        tokens::each_token(self.conn(), query, f, &|e| self.fail(e))
    }

    fn token_id_taken(&self, id: &str) -> Result<bool> {
        tokens::token_id_taken(self.conn(), id).map_err(|e| self.fail(e))
    }

    fn live_name_taken(
        &self,
        account_id: i64,
        name: &str,
        except_id: Option<&str>,
    ) -> Result<bool> {
        tokens::live_name_taken(self.conn(), account_id, name, except_id).map_err(|e| self.fail(e))
    }

    fn live_token_names(&self, account_id: i64) -> Result<Vec<String>> {
        tokens::live_token_names(self.conn(), account_id).map_err(|e| self.fail(e))
    }

    fn live_token_count(&self, account_id: i64) -> Result<i64> {
        accounts::live_token_count(self.conn(), account_id).map_err(|e| self.fail(e))
    }

    fn find_account(&self, name: &str) -> Result<Option<Account>> {
        accounts::find_account(self.conn(), name).map_err(|e| self.fail(e))
    }

    fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        accounts::account_by_id(self.conn(), id).map_err(|e| self.fail(e))
    }

    fn list_accounts(&self) -> Result<Vec<(Account, i64)>> {
        accounts::list_accounts(self.conn()).map_err(|e| self.fail(e))
    }

    fn account_names(&self) -> Result<Vec<String>> {
        accounts::account_names(self.conn()).map_err(|e| self.fail(e))
    }

    fn privileges_in_use(&self) -> Result<Vec<String>> {
        accounts::privileges_in_use(self.conn()).map_err(|e| self.fail(e))
    }

    fn catalogue(&self) -> Result<Vec<CataloguedPrivilege>> {
        privileges::catalogue(self.conn()).map_err(|e| self.fail(e))
    }

    fn is_bootstrapped(&self) -> Result<bool> {
        accounts::is_bootstrapped(self.conn()).map_err(|e| self.fail(e))
    }

    fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        events::list_events(self.conn(), query).map_err(|e| self.fail(e))
    }

    fn ping(&self) -> Result<()> {
        self.conn()
            .query_row("SELECT count(*) FROM accounts", [], |r| r.get::<_, i64>(0))
            .map(drop)
            .map_err(|e| self.fail(e))
    }
}

impl Changes for Tx<'_> {
    fn insert_token(&self, t: &Token) -> Result<()> {
        tokens::insert_token(self.conn(), t).map_err(|e| self.fail(e))
    }

    fn update_token(&self, t: &Token) -> Result<()> {
        tokens::update_token(self.conn(), t).map_err(|e| self.fail(e))
    }

    fn revoke_tokens(&self, ids: &[&str], now: i64) -> Result<()> {
        // One prepared statement, run per id: SQLite is in-process, so
        // a statement per token costs microseconds, not a round trip.
        ids.iter()
            .try_for_each(|id| tokens::revoke_token(self.conn(), id, now))
            .map_err(|e| self.fail(e))
    }

    fn record_use(&self, id: &str, now: i64, ip: Option<&str>) -> Result<()> {
        tokens::record_use(self.conn(), id, now, ip).map_err(|e| self.fail(e))
    }

    fn insert_account(&self, name: &str, acls: &Privileges, now: i64) -> Result<Account> {
        accounts::insert_account(self.conn(), name, acls, now).map_err(|e| self.fail(e))
    }

    fn update_account(&self, account: &Account) -> Result<()> {
        accounts::update_account(self.conn(), account).map_err(|e| self.fail(e))
    }

    fn delete_account(&self, account_id: i64, now: i64) -> Result<()> {
        accounts::delete_account(self.conn(), account_id, now).map_err(|e| self.fail(e))
    }

    fn mark_bootstrapped(&self, now: i64) -> Result<()> {
        accounts::mark_bootstrapped(self.conn(), now).map_err(|e| self.fail(e))
    }

    fn put_privilege(&self, privilege: &CataloguedPrivilege) -> Result<()> {
        privileges::put_privilege(self.conn(), privilege).map_err(|e| self.fail(e))
    }

    fn delete_privilege(&self, name: &str) -> Result<()> {
        privileges::delete_privilege(self.conn(), name).map_err(|e| self.fail(e))
    }

    fn record_event(&self, event: &Event) -> Result<()> {
        events::record_event(self.conn(), event).map_err(|e| self.fail(e))
    }
}
