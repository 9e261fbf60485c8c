//! What makes a token valid, shared by `token verify` and `serve`.
//!
//! The order is tokenctl-token-verify(1)'s: format and checksum (no store access), id known
//! (no argon2), secret matches, then the token's and its account's state,
//! privileges and address. A wrong secret reads the same as an unknown id.

use std::fmt;
use std::net::IpAddr;

use crate::model::{Account, Found, Status, Token};
use crate::values;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Malformed,
    Unknown,
    Revoked,
    Disabled,
    Expired,
    Suspended,
    Forbidden,
    Ip,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::Unknown => "unknown",
            Reason::Revoked => "revoked",
            Reason::Disabled => "disabled",
            Reason::Expired => "expired",
            Reason::Suspended => "suspended",
            Reason::Forbidden => "forbidden",
            Reason::Ip => "ip",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored hash `secret` matches: the current one, or the previous one
/// while its grace lasts. This is the argon2 work.
pub fn matching_hash<'t>(t: &'t Token, secret: &str, now: i64) -> Option<&'t str> {
    if crate::token::secret_matches(secret, &t.secret_hash) {
        return Some(&t.secret_hash);
    }
    let previous = t.prev_secret_hash.as_deref().filter(|_| in_grace(t, now))?;
    crate::token::secret_matches(secret, previous).then_some(previous)
}

/// Whether a hash a secret matched earlier still admits it: it is the
/// token's current hash, or the previous one before the grace ends.
pub fn hash_still_valid(t: &Token, hash: &str, now: i64) -> bool {
    t.secret_hash == hash || (in_grace(t, now) && t.prev_secret_hash.as_deref() == Some(hash))
}

fn in_grace(t: &Token, now: i64) -> bool {
    t.prev_valid_until.is_some_and(|until| now < until)
}

/// The checks after the secret: state, account, privileges, address.
/// A token with an allow-list needs an address inside it.
pub fn check_state(
    found: &Found,
    now: i64,
    wanted: &[String],
    ip: Option<IpAddr>,
) -> Result<(), Reason> {
    let t = &found.token;
    match t.status(now) {
        Status::Revoked => return Err(Reason::Revoked),
        Status::Disabled => return Err(Reason::Disabled),
        Status::Expired => return Err(Reason::Expired),
        Status::Active => {}
    }
    let account = found.account.as_ref().ok_or(Reason::Unknown)?;
    if account.suspended {
        return Err(Reason::Suspended);
    }
    // The address before privileges: a caller outside the allow-list
    // learns nothing about what the token could do (401, not 403).
    if !t.allow_ips.is_empty() && !ip.is_some_and(|ip| values::allowed(&t.allow_ips, ip)) {
        return Err(Reason::Ip);
    }
    if !values::lacking(&effective_acls(t, account), wanted).is_empty() {
        return Err(Reason::Forbidden);
    }
    Ok(())
}

/// What a token may do now: its privileges, as far as its account still
/// holds them (`all` on either side defers to the other).
pub fn effective_acls(t: &Token, account: &Account) -> Vec<String> {
    let holds_all = |acls: &[String]| acls.iter().any(|a| a == values::ALL);
    if holds_all(&account.acls) {
        return t.acls.clone();
    }
    if holds_all(&t.acls) {
        return account.acls.clone();
    }
    t.acls
        .iter()
        .filter(|a| account.acls.contains(a))
        .cloned()
        .collect()
}
