//! What makes a token valid, decided in one place for `token verify` and
//! `serve`: [`check`] runs the whole sequence and returns one [`Verdict`].
//!
//! The order is tokenctl-token-verify(1)'s: format and checksum (no store
//! access), id known (no argon2), secret matches, then (for serve) the
//! account the credentials name, the token's and its account's state,
//! address and privileges. A wrong secret reads the same as an unknown id.
//!
//! The store read and the secret check are the caller's [`Steps`]: the CLI
//! reads its store and runs argon2 plainly ([`plain_secret`]); serve reads
//! through its connection pool and puts its caches, single flight,
//! cool-down and argon2 bound around the same check.

use std::fmt;
use std::net::IpAddr;

use crate::model::{Found, Status, Token};
use crate::values::Privileges;

/// Why a token was refused: the word `token verify` prints and serve logs
/// and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Malformed,
    /// An unknown id, a wrong secret, or an account that is gone.
    Unknown,
    /// The credentials name another account than the token's (serve).
    Account,
    /// New secrets for this id are refused for a while (serve).
    CoolingDown,
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
            Reason::Account => "account",
            Reason::CoolingDown => "cooldown",
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

/// A token presented for checking, and what it must be good for.
pub struct Request<'a> {
    /// The token as presented, checksum and all.
    pub token: &'a str,
    /// The account the credentials name (serve's Basic user), which must
    /// be the token's; `None` when they name none.
    pub account: Option<&'a str>,
    /// Privileges the token must grant.
    pub wanted: &'a Privileges,
    /// The client's address; `None` when unknown, which fails an
    /// allow-list.
    pub ip: Option<IpAddr>,
    pub now: i64,
}

/// The answer for a request.
#[derive(Debug)]
pub enum Verdict {
    /// The token as stored, and what it may do now: its privileges as far
    /// as its account still holds them.
    Valid {
        token: Box<Token>,
        privileges: Privileges,
    },
    /// With the token's id once the store knows it (ids are not secret),
    /// so a log can say which token is affected.
    Refused { reason: Reason, id: Option<String> },
}

/// What the secret step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    Matched,
    /// Refused as [`Reason::Unknown`], like an unknown id.
    Wrong,
    /// Not checked: this id failed too often lately.
    CoolingDown,
}

/// The steps a caller supplies. A step that cannot answer (the store is
/// unreachable, argon2 is saturated) returns the caller's own error, which
/// [`check`] hands back as is: not a verdict on the token.
// Callers name their concrete steps, so a step's future is `Send` exactly
// when its body is: serve's are, as its handlers need; the CLI's, which
// borrows a store connection, need not be.
#[allow(async_fn_in_trait)]
pub trait Steps {
    type Error;

    /// The token with this id and its account; `None` for an unknown id.
    async fn lookup(&self, id: &str) -> Result<Option<Found>, Self::Error>;

    /// Whether `secret`, the secret part of `request.token`, is `stored`'s
    /// (see [`plain_secret`]).
    async fn check_secret(
        &self,
        request: &Request<'_>,
        secret: &str,
        stored: &Token,
    ) -> Result<Secret, Self::Error>;
}

/// The secret step as it is without caches: argon2 against the stored
/// hashes, here and now.
pub fn plain_secret(stored: &Token, secret: &str, now: i64) -> Secret {
    match matching_hash(stored, secret, now) {
        Some(_) => Secret::Matched,
        None => Secret::Wrong,
    }
}

/// Runs the whole sequence for `request`, in the order above.
pub async fn check<S: Steps>(steps: &S, request: &Request<'_>) -> Result<Verdict, S::Error> {
    let Some(parsed) = crate::token::parse(request.token) else {
        return Ok(Verdict::Refused {
            reason: Reason::Malformed,
            id: None,
        });
    };
    // An unknown id costs no argon2: ids are not secret.
    let Some(found) = steps.lookup(parsed.id).await? else {
        return Ok(Verdict::Refused {
            reason: Reason::Unknown,
            id: None,
        });
    };
    let checked = match steps
        .check_secret(request, parsed.secret, &found.token)
        .await?
    {
        Secret::Matched => after_secret(&found, request),
        Secret::Wrong => Err(Reason::Unknown),
        Secret::CoolingDown => Err(Reason::CoolingDown),
    };
    Ok(match checked {
        Ok(privileges) => Verdict::Valid {
            token: Box::new(found.token),
            privileges,
        },
        Err(reason) => Verdict::Refused {
            reason,
            id: Some(found.token.id),
        },
    })
}

/// The checks after the secret: the named account, state, account,
/// address, privileges. A token with an allow-list needs an address
/// inside it. A valid token comes with its effective privileges.
fn after_secret(found: &Found, request: &Request<'_>) -> Result<Privileges, Reason> {
    let t = &found.token;
    if let Some(named) = request.account
        && found.account.as_ref().map(|a| a.name.as_str()) != Some(named)
    {
        return Err(Reason::Account);
    }
    // The reason is the status `token show` gives (its order is there).
    match t.status(request.now) {
        Status::Revoked => return Err(Reason::Revoked),
        Status::Disabled => return Err(Reason::Disabled),
        Status::Suspended => return Err(Reason::Suspended),
        Status::Expired => return Err(Reason::Expired),
        Status::Active => {}
    }
    if found.account.is_none() {
        return Err(Reason::Unknown);
    }
    // The address before privileges: a caller outside the allow-list
    // learns nothing about what the token could do (401, not 403).
    if !t.allow_ips.is_empty() && !request.ip.is_some_and(|ip| t.allow_ips.allows(ip)) {
        return Err(Reason::Ip);
    }
    // What `token show` shows as its privileges.
    let privileges = t.effective_acls();
    if !privileges.lacking(request.wanted).is_empty() {
        return Err(Reason::Forbidden);
    }
    Ok(privileges)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::convert::Infallible;

    use super::*;
    use crate::model::Account;
    use crate::values::AllowList;

    const ID: &str = "AAAAAAAAAA";

    /// Steps over one stored token, counting what they are asked.
    struct Fake {
        token: Option<Token>,
        account: Option<Account>,
        secret: Secret,
        lookups: Cell<u32>,
        secret_checks: Cell<u32>,
    }

    impl Steps for Fake {
        type Error = Infallible;

        async fn lookup(&self, _id: &str) -> Result<Option<Found>, Infallible> {
            self.lookups.set(self.lookups.get() + 1);
            // As a store reads them: the account's state comes with the
            // token, from the same row.
            Ok(self.token.clone().map(|mut token| {
                if let Some(a) = &self.account {
                    token.account_acls = a.acls.clone();
                    token.account_suspended = a.suspended;
                }
                Found {
                    token,
                    account: self.account.clone(),
                }
            }))
        }

        async fn check_secret(
            &self,
            _request: &Request<'_>,
            _secret: &str,
            _stored: &Token,
        ) -> Result<Secret, Infallible> {
            self.secret_checks.set(self.secret_checks.get() + 1);
            Ok(self.secret)
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn stored(acls: &[&str]) -> Fake {
        Fake {
            token: Some(Token {
                id: ID.into(),
                account_id: 1,
                account: "alice".into(),
                name: "ci".into(),
                secret_hash: String::new(),
                prev_secret_hash: None,
                prev_valid_until: None,
                acls: Privileges::from_stored(strings(acls)),
                allow_ips: AllowList::default(),
                note: None,
                created_at: 0,
                expires_at: None,
                last_used_at: None,
                last_used_ip: None,
                disabled_at: None,
                revoked_at: None,
                account_acls: Privileges::default(),
                account_suspended: false,
            }),
            account: Some(Account {
                id: 1,
                name: "alice".into(),
                acls: Privileges::from_stored(strings(&["deploy", "read"])),
                suspended: false,
                created_at: 0,
            }),
            secret: Secret::Matched,
            lookups: Cell::new(0),
            secret_checks: Cell::new(0),
        }
    }

    /// The verdict for a well-formed token of id `ID`: the effective
    /// privileges, or the reason and id of the refusal.
    fn run(
        steps: &Fake,
        account: Option<&str>,
        wanted: &[&str],
        ip: Option<&str>,
    ) -> Result<Vec<String>, (Reason, Option<String>)> {
        let text = crate::token::assemble(ID, &"s".repeat(crate::token::SECRET_LEN));
        run_text(steps, &text, account, wanted, ip)
    }

    fn run_text(
        steps: &Fake,
        text: &str,
        account: Option<&str>,
        wanted: &[&str],
        ip: Option<&str>,
    ) -> Result<Vec<String>, (Reason, Option<String>)> {
        let wanted = Privileges::wanted(&strings(wanted)).unwrap();
        let request = Request {
            token: text,
            account,
            wanted: &wanted,
            ip: ip.map(|ip| ip.parse().unwrap()),
            now: 1_000,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let Ok(verdict) = runtime.block_on(check(steps, &request));
        match verdict {
            Verdict::Valid { token, privileges } => {
                assert_eq!(token.id, ID);
                Ok(privileges.as_slice().to_vec())
            }
            Verdict::Refused { reason, id } => Err((reason, id)),
        }
    }

    fn refused(reason: Reason) -> Result<Vec<String>, (Reason, Option<String>)> {
        Err((reason, Some(ID.into())))
    }

    #[test]
    fn a_malformed_token_reaches_no_step() {
        let steps = stored(&["deploy"]);
        let text = crate::token::assemble(ID, &"s".repeat(crate::token::SECRET_LEN));
        let last = if text.ends_with('0') { "1" } else { "0" };
        let bad_checksum = format!("{}{last}", &text[..text.len() - 1]);
        for text in ["", "tct_short", bad_checksum.as_str()] {
            let verdict = run_text(&steps, text, None, &[], None);
            assert_eq!(verdict, Err((Reason::Malformed, None)));
        }
        assert_eq!(steps.lookups.get(), 0);
    }

    #[test]
    fn an_unknown_id_costs_no_secret_check() {
        let steps = Fake {
            token: None,
            ..stored(&[])
        };
        assert_eq!(run(&steps, None, &[], None), Err((Reason::Unknown, None)));
        assert_eq!(steps.secret_checks.get(), 0);
    }

    #[test]
    fn a_wrong_secret_reads_as_unknown_and_is_checked_first() {
        let mut steps = stored(&["deploy"]);
        steps.token.as_mut().unwrap().revoked_at = Some(1);
        steps.secret = Secret::Wrong;
        assert_eq!(
            run(&steps, Some("bob"), &[], None),
            refused(Reason::Unknown)
        );
        steps.secret = Secret::CoolingDown;
        assert_eq!(run(&steps, None, &[], None), refused(Reason::CoolingDown));
    }

    #[test]
    fn the_named_account_comes_before_the_state() {
        let mut steps = stored(&["deploy"]);
        steps.token.as_mut().unwrap().revoked_at = Some(1);
        assert_eq!(
            run(&steps, Some("bob"), &[], None),
            refused(Reason::Account)
        );
        assert_eq!(
            run(&steps, Some("alice"), &[], None),
            refused(Reason::Revoked)
        );
        assert_eq!(run(&steps, None, &[], None), refused(Reason::Revoked));
    }

    #[test]
    fn a_gone_account_is_unknown_and_a_suspended_one_refused() {
        let mut steps = stored(&["deploy"]);
        steps.account.as_mut().unwrap().suspended = true;
        assert_eq!(run(&steps, None, &[], None), refused(Reason::Suspended));
        steps.account = None;
        assert_eq!(run(&steps, None, &[], None), refused(Reason::Unknown));
        assert_eq!(
            run(&steps, Some("alice"), &[], None),
            refused(Reason::Account)
        );
    }

    #[test]
    fn the_address_comes_before_the_privileges() {
        let mut steps = stored(&["deploy"]);
        steps.token.as_mut().unwrap().allow_ips = AllowList::from_stored(strings(&["10.0.0.0/8"]));
        assert_eq!(run(&steps, None, &["admin"], None), refused(Reason::Ip));
        let outside = Some("192.0.2.1");
        assert_eq!(run(&steps, None, &["admin"], outside), refused(Reason::Ip));
        let inside = Some("10.1.2.3");
        assert_eq!(
            run(&steps, None, &["admin"], inside),
            refused(Reason::Forbidden)
        );
        assert_eq!(
            run(&steps, None, &["deploy"], inside),
            Ok(strings(&["deploy"]))
        );
    }

    #[test]
    fn a_valid_token_may_do_what_its_account_still_holds() {
        let steps = stored(&["deploy", "admin"]);
        assert_eq!(run(&steps, None, &[], None), Ok(strings(&["deploy"])));
        assert_eq!(
            run(&steps, None, &["admin"], None),
            refused(Reason::Forbidden)
        );
        let all = stored(&["all"]);
        assert_eq!(
            run(&all, None, &["read"], None),
            Ok(strings(&["deploy", "read"]))
        );
    }
}
