//! The records tokenctl keeps. Times are Unix seconds (UTC).

use std::fmt;

use crate::values::{ALL, AllowList, Privileges};

#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub acls: Privileges,
    pub suspended: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub id: String,
    pub account_id: i64,
    pub account: String,
    pub name: String,
    pub secret_hash: String,
    pub prev_secret_hash: Option<String>,
    pub prev_valid_until: Option<i64>,
    pub acls: Privileges,
    pub allow_ips: AllowList,
    pub note: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub disabled_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Its account's privileges, read with the token: what bounds what it
    /// grants (see `effective_acls`).
    pub account_acls: Privileges,
    /// Whether its account was suspended when the token was read.
    pub account_suspended: bool,
}

/// A token's status; the first that applies wins, in this order (README,
/// "Token status"). `verify` and `serve` refuse a token for its status
/// first, so the status shown is the reason they give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Revoked,
    Disabled,
    /// Its account is suspended.
    Suspended,
    Expired,
    Active,
}

impl Token {
    pub fn status(&self, now: i64) -> Status {
        if self.revoked_at.is_some() {
            Status::Revoked
        } else if self.disabled_at.is_some() {
            Status::Disabled
        } else if self.account_suspended {
            Status::Suspended
        } else if self.is_expired(now) {
            Status::Expired
        } else {
            Status::Active
        }
    }

    /// What the token grants while it is active, as `verify` and `serve`
    /// grant it: its privileges as far as its account still holds them
    /// (`all` on either side defers to the other).
    pub fn effective_acls(&self) -> Privileges {
        self.acls.within(&self.account_acls)
    }

    /// Its privileges that its account no longer holds, which it does not
    /// grant. None for `all`, which stands for whatever the account holds.
    pub fn acls_not_in_effect(&self) -> Vec<&str> {
        if self.acls.iter().any(|p| p == ALL) {
            return Vec::new();
        }
        self.account_acls.lacking(&self.acls)
    }

    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Revoked => "revoked",
            Status::Disabled => "disabled",
            Status::Suspended => "suspended",
            Status::Expired => "expired",
            Status::Active => "active",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: i64,
    pub actor: String,
    pub action: String,
    /// The account's id, so its history survives a rename.
    pub account_id: i64,
    /// The account's name when the event happened.
    pub account: String,
    pub token_id: Option<String>,
    pub token_name: Option<String>,
    pub detail: Option<String>,
}

/// A stored token and its live account (`None` once the account is gone).
#[derive(Debug, Clone)]
pub struct Found {
    pub token: Token,
    pub account: Option<Account>,
}

/// A privilege of the catalogue (README, "Privileges").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CataloguedPrivilege {
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
}
