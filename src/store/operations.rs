//! What commands ask of a store, in the domain's terms: every kind of
//! store implements these two traits, and nothing outside `store` sees how.

use super::Result;
use crate::model::{Account, CataloguedPrivilege, Event, Found, Token};
use crate::values::Privileges;

/// Which tokens `list` shows and `revoke-all` takes; every filter given
/// must pass.
#[derive(Default)]
pub struct TokenQuery<'a> {
    /// One account's tokens; `None` for every account's.
    pub account_id: Option<i64>,
    pub include_revoked: bool,
    /// Names containing this, ignoring ASCII case.
    pub search: Option<&'a str>,
    /// Only tokens expired at this time.
    pub expired_at: Option<i64>,
    /// Only tokens last used (or, never used, created) before this time.
    pub unused_since: Option<i64>,
    /// A shell glob on the whole name, case-sensitive.
    pub name_glob: Option<&'a glob::Pattern>,
}

impl TokenQuery<'_> {
    /// The filter that a query language cannot express: the glob.
    pub fn matches_glob(&self, name: &str) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        self.name_glob.is_none_or(|g| g.matches_with(name, options))
    }
}

/// Which events `audit` shows; every filter given must pass.
#[derive(Default)]
pub struct EventQuery<'a> {
    pub account_id: Option<i64>,
    pub token_id: Option<&'a str>,
    pub since: Option<i64>,
    /// Keep only the newest this many.
    pub limit: Option<u64>,
}

/// Reads, on a store (`Store` implements them) or inside a write.
/// Deleted accounts and revoked tokens are invisible unless said.
pub trait Queries {
    /// The token with this id, in any account, revoked included.
    fn token_by_id(&self, id: &str) -> Result<Option<Token>>;

    /// The token with this id and its live account (verify's lookup).
    fn lookup(&self, id: &str) -> Result<Option<Found>> {
        let Some(token) = self.token_by_id(id)? else {
            return Ok(None);
        };
        // By id: a deleted account's name may since have been taken again.
        let account = self.account_by_id(token.account_id)?;
        Ok(Some(Found { token, account }))
    }

    /// A `<TOKEN>` argument: the name of one of the account's live tokens,
    /// or the id of one of its tokens (revoked included). Names first.
    fn resolve_token(&self, account_id: i64, name_or_id: &str) -> Result<Option<Token>>;

    /// Tokens matching `query`, sorted by name (byte order), account,
    /// created.
    fn list_tokens(&self, query: &TokenQuery) -> anyhow::Result<Vec<Token>> {
        let mut tokens = Vec::new();
        self.each_token(query, &mut |t| {
            tokens.push(t);
            Ok(())
        })?;
        Ok(tokens)
    }

    /// Calls `f` with each token matching `query`, in `list_tokens`'
    /// order, without holding them all in memory; stops at `f`'s first
    /// error. `f` must not use the store: the rows are still being read.
    fn each_token(
        &self,
        query: &TokenQuery,
        f: &mut dyn FnMut(Token) -> anyhow::Result<()>,
    ) -> anyhow::Result<()>;

    /// Whether some token, revoked included, has this id.
    fn token_id_taken(&self, id: &str) -> Result<bool>;

    /// Whether one of the account's live tokens other than `except_id`
    /// has this name.
    fn live_name_taken(&self, account_id: i64, name: &str, except_id: Option<&str>)
    -> Result<bool>;

    /// Names of the account's live tokens, sorted.
    fn live_token_names(&self, account_id: i64) -> Result<Vec<String>>;

    /// The number of the account's live tokens.
    fn live_token_count(&self, account_id: i64) -> Result<i64>;

    /// The live account with this name.
    fn find_account(&self, name: &str) -> Result<Option<Account>>;

    /// The live account with this id.
    fn account_by_id(&self, id: i64) -> Result<Option<Account>>;

    /// Every live account with its count of live tokens, sorted by name.
    fn list_accounts(&self) -> Result<Vec<(Account, i64)>>;

    /// Names of every live account, sorted.
    fn account_names(&self) -> Result<Vec<String>>;

    /// Every privilege some live account or live token holds, sorted.
    fn privileges_in_use(&self) -> Result<Vec<String>>;

    /// The catalogue of privileges, sorted by name; empty on a store
    /// older than the catalogue (which a read never migrates).
    fn catalogue(&self) -> Result<Vec<CataloguedPrivilege>>;

    /// The live accounts and tokens that hold `privilege` itself (not
    /// through `all`): `account NAME` and `token ACCOUNT/NAME`, sorted.
    fn privilege_holders(&self, privilege: &str) -> anyhow::Result<Vec<String>> {
        let mut holders: Vec<String> = self
            .list_accounts()?
            .into_iter()
            .filter(|(a, _)| a.acls.iter().any(|p| p == privilege))
            .map(|(a, _)| format!("account {}", a.name))
            .collect();
        let mut tokens = Vec::new();
        self.each_token(&TokenQuery::default(), &mut |t| {
            if t.acls.iter().any(|p| p == privilege) {
                tokens.push(format!("token {}/{}", t.account, t.name));
            }
            Ok(())
        })?;
        tokens.sort();
        holders.extend(tokens);
        Ok(holders)
    }

    /// Whether the store has ever had an account. Bootstrap happens once
    /// per store, so this is a flag rather than a count of accounts.
    fn is_bootstrapped(&self) -> Result<bool>;

    /// Events matching `query`, oldest first (in the order written).
    fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>>;

    /// A cheap read that succeeds when the store answers (`/healthz`).
    fn ping(&self) -> Result<()>;
}

/// Changes, inside one write transaction that holds the store's write
/// lock from its start (`Store::write`).
pub trait Changes: Queries {
    fn insert_token(&self, t: &Token) -> Result<()>;

    /// Writes every field a command may change (not id, account, created
    /// or Last Used, which have their own paths).
    fn update_token(&self, t: &Token) -> Result<()>;

    /// Revokes the live ones of these tokens, as a set (a `revoke-all`
    /// of 100,000 tokens is a few statements on a network database).
    /// Revocation is a soft delete: the row stays, with its time, for
    /// `list --all` and the audit trail.
    fn revoke_tokens(&self, ids: &[&str], now: i64) -> Result<()>;

    /// Records Last Used: the time, and the client address when known.
    fn record_use(&self, id: &str, now: i64, ip: Option<&str>) -> Result<()>;

    fn insert_account(&self, name: &str, acls: &Privileges, now: i64) -> Result<Account>;

    /// Writes the account's name, privileges and suspension.
    fn update_account(&self, account: &Account) -> Result<()>;

    /// Marks the account deleted; its name becomes free again.
    fn delete_account(&self, account_id: i64, now: i64) -> Result<()>;

    /// Records that the store has had its first account.
    fn mark_bootstrapped(&self, now: i64) -> Result<()>;

    /// Adds a privilege to the catalogue, or replaces the description of
    /// the one of that name.
    fn put_privilege(&self, privilege: &CataloguedPrivilege) -> Result<()>;

    /// Takes a privilege out of the catalogue.
    fn delete_privilege(&self, name: &str) -> Result<()>;

    /// Appends to the audit trail, in the transaction of the change.
    fn record_event(&self, event: &Event) -> Result<()>;

    /// Appends these events, in order, as a set where the store can.
    fn record_events(&self, events: &[Event]) -> Result<()> {
        events.iter().try_for_each(|e| self.record_event(e))
    }
}
