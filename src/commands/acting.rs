//! What a change records about who made it: audit events stamped with the
//! command's time and actor, and the first use of a store, which makes the
//! acting user its first account (bootstrap).

use anyhow::Result;

use super::{Context, os_user, unknown_account};
use crate::model::{Account, Event, Token};
use crate::store::{Changes, Store};
use crate::values::Privileges;

impl Context {
    /// An audit event about an account, stamped with this command's time
    /// and actor.
    pub fn account_event(&self, action: &str, account: &Account) -> Event {
        self.event(action, account.id, &account.name)
    }

    fn event(&self, action: &str, account_id: i64, account: &str) -> Event {
        Event {
            at: self.now,
            actor: os_user::actor(),
            action: action.to_string(),
            account_id,
            account: account.to_string(),
            token_id: None,
            token_name: None,
            detail: None,
        }
    }

    /// An audit event about one token.
    pub fn token_event(&self, action: &str, t: &Token) -> Event {
        let mut event = self.event(action, t.account_id, &t.account);
        event.token_id = Some(t.id.clone());
        event.token_name = Some(t.name.clone());
        event
    }

    /// Runs `f` in one write transaction as the acting account, which is
    /// bootstrapped first on a store that has never had an account.
    pub fn write_as_account<T>(
        &self,
        store: &mut Store,
        f: impl FnOnce(&dyn Changes, &Account) -> Result<T>,
    ) -> Result<T> {
        let user = self.user()?;
        let (value, bootstrapped) = store.write(|tx| {
            let bootstrapped = self.bootstrap_if_fresh(tx, &user)?;
            let account = tx
                .find_account(&user)?
                .ok_or_else(|| unknown_account(&user))?;
            Ok((f(tx, &account)?, bootstrapped))
        })?;
        if bootstrapped {
            self.note_bootstrap(&user);
        }
        Ok(value)
    }

    /// On a store that has never had an account, creates one for `user`
    /// with `all`, in the caller's transaction, so that a refused command
    /// bootstraps nothing. Happens once per store. Returns whether it did.
    pub fn bootstrap_if_fresh(&self, tx: &dyn Changes, user: &str) -> Result<bool> {
        if tx.is_bootstrapped()? {
            return Ok(false);
        }
        let account = tx.insert_account(user, &Privileges::all(), self.now)?;
        tx.mark_bootstrapped(self.now)?;
        let mut event = self.account_event("account-add", &account);
        event.detail = Some("acls=all (first use of the store)".into());
        tx.record_event(&event)?;
        Ok(true)
    }

    pub fn note_bootstrap(&self, user: &str) {
        self.msg.note(&format!(
            "created account '{user}' with privilege 'all' (first use of {})",
            self.db
        ));
    }
}
