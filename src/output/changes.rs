//! What a change prints. In the table format every change is one line per
//! thing changed, in one shape, as kubectl's `deployment.apps/x
//! configured`: the past tense, what it was done to, and after a colon what
//! changed, if more than the state:
//!
//! ```text
//! revoked token nightly (a1B2c3D4e5) in account deploy-bot
//! edited token nightly (a1B2c3D4e5) in account deploy-bot: acls deploy,read -> deploy
//! suspended account deploy-bot
//! ```
//!
//! stdout carries only what changed; what was left as it was (`token
//! nightly (...) in account deploy-bot is already revoked`) goes to stderr,
//! so a script or a cron job that had nothing to do prints nothing on
//! stdout. JSON and YAML give the changed objects.

use chrono::DateTime;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::views::{AccountView, TokenList, TokenView};
use super::{Style, Text, View};
use crate::model::{Account, Token};

/// `token NAME (ID) in account ACCOUNT`: a token as every change names it.
pub fn token_subject(t: &Token) -> String {
    format!("token {} ({}) in account {}", t.name, t.id, t.account)
}

/// `account NAME`.
fn account_subject(name: &str) -> String {
    format!("account {name}")
}

/// The line of a change: `{past} {subject}`, with `: {detail}` when the
/// detail says more.
fn change_line(past: &str, subject: &str, detail: &[String]) -> String {
    if detail.is_empty() {
        format!("{past} {subject}")
    } else {
        format!("{past} {subject}: {}", detail.join("; "))
    }
}

/// The table text of one thing's change: its line on stdout, or a note on
/// stderr that `subject` is left as it was (`already` in that state).
fn one_change(
    changed: bool,
    past: &str,
    subject: &str,
    detail: &[String],
    already: Option<&str>,
) -> Text {
    match (changed, already) {
        (true, _) => Text::line(change_line(past, subject, detail)),
        (false, Some(state)) => Text::empty(&format!("{subject} is already {state}")),
        (false, None) => Text::empty(&format!("{subject} unchanged")),
    }
}

/// When a rotated-out secret stops working, while it still works: not for
/// a revoked token, nor once the grace is over.
pub fn grace_end(t: &Token, now: i64) -> Option<i64> {
    if t.revoked_at.is_some() || t.prev_secret_hash.is_none() {
        return None;
    }
    t.prev_valid_until.filter(|until| *until > now)
}

/// `2026-12-03 14:00 UTC`: a time in a message, unambiguous whatever the
/// reader's zone (rounded down: the old secret is never said to work
/// longer than it does).
fn utc_minute(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// What `token create` and `token rotate` say on stderr beside the new
/// token: the change's line, and for a rotation until when the old secret
/// works.
pub fn issued_summary(t: &Token, now: i64, rotated: bool) -> String {
    let subject = token_subject(t);
    if !rotated {
        return change_line("created", &subject, &[]);
    }
    let old = match grace_end(t, now) {
        Some(until) if t.expires_at == Some(until) => format!(
            "the old secret works until {}, when the token expires",
            utc_minute(until)
        ),
        Some(until) => format!("the old secret works until {}", utc_minute(until)),
        None => "the old secret no longer works".to_string(),
    };
    format!("{}\n{old}", change_line("rotated", &subject, &[]))
}

/// The outcome of `token disable`, `enable` or `revoke`: how many changed
/// under the past tense of the change, and which (the tokens already in
/// that state are named on stderr only).
pub struct ChangedView<'a> {
    past: &'static str,
    tokens: TokenList<'a>,
    changed: &'a [Token],
    unchanged: &'a [Token],
}

impl<'a> ChangedView<'a> {
    pub fn new(
        past: &'static str,
        changed: &'a [Token],
        unchanged: &'a [Token],
        now: i64,
    ) -> ChangedView<'a> {
        ChangedView {
            past,
            tokens: TokenList::new(changed, now, false),
            changed,
            unchanged,
        }
    }
}

impl Serialize for ChangedView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(self.past, &self.changed.len())?;
        map.serialize_entry("tokens", &self.tokens)?;
        map.end()
    }
}

impl View for ChangedView<'_> {
    fn text(&self, _: Style) -> Text {
        let out = self
            .changed
            .iter()
            .map(|t| change_line(self.past, &token_subject(t), &[]))
            .collect();
        let aside: Vec<String> = self
            .unchanged
            .iter()
            .map(|t| format!("{} is already {}", token_subject(t), self.past))
            .collect();
        Text {
            out,
            aside: (!aside.is_empty()).then(|| aside.join("\n")),
            warning: None,
        }
    }
}

/// The outcome of `token edit`: the token, and what changed in it.
#[derive(Serialize)]
#[serde(transparent)]
pub struct EditedView<'a> {
    token: TokenView<'a>,
    #[serde(skip)]
    t: &'a Token,
    #[serde(skip)]
    changes: &'a [String],
}

impl<'a> EditedView<'a> {
    pub fn new(t: &'a Token, changes: &'a [String], now: i64) -> EditedView<'a> {
        EditedView {
            token: TokenView::new(t, now),
            t,
            changes,
        }
    }
}

impl View for EditedView<'_> {
    fn text(&self, _: Style) -> Text {
        let changed = !self.changes.is_empty();
        one_change(
            changed,
            "edited",
            &token_subject(self.t),
            self.changes,
            None,
        )
    }
}

/// The outcome of `account add`, `edit`, `suspend` and `unsuspend`: the
/// account, and what changed in it (nothing when it already was so).
#[derive(Serialize)]
#[serde(transparent)]
pub struct AccountChangeView<'a> {
    account: AccountView<'a>,
    #[serde(skip)]
    past: &'static str,
    #[serde(skip)]
    changes: Option<&'a [String]>,
}

impl<'a> AccountChangeView<'a> {
    /// `changes`: what changed, `None` when nothing did; for a state
    /// change (suspend) `Some(&[])`.
    pub fn new(
        past: &'static str,
        account: &'a Account,
        tokens: i64,
        changes: Option<&'a [String]>,
    ) -> AccountChangeView<'a> {
        AccountChangeView {
            account: AccountView::new(account, tokens),
            past,
            changes,
        }
    }
}

impl View for AccountChangeView<'_> {
    fn text(&self, _: Style) -> Text {
        let subject = account_subject(self.account.name());
        // `edit` changes what it is told to; the others set a state.
        let already = match self.past {
            "edited" => None,
            "unsuspended" => Some("active"),
            past => Some(past),
        };
        let detail = self.changes.unwrap_or_default();
        one_change(self.changes.is_some(), self.past, &subject, detail, already)
    }
}

/// `account delete`: the account, and the tokens it revoked with it.
#[derive(Serialize)]
pub struct DeletedView<'a> {
    deleted: &'a str,
    revoked: usize,
    account: AccountView<'a>,
    tokens: TokenList<'a>,
    #[serde(skip)]
    revoked_tokens: &'a [Token],
}

impl<'a> DeletedView<'a> {
    pub fn new(account: &'a Account, revoked: &'a [Token], now: i64) -> DeletedView<'a> {
        DeletedView {
            deleted: &account.name,
            revoked: revoked.len(),
            account: AccountView::deleted(account),
            tokens: TokenList::new(revoked, now, false),
            revoked_tokens: revoked,
        }
    }
}

impl View for DeletedView<'_> {
    fn text(&self, _: Style) -> Text {
        let mut out = vec![change_line("deleted", &account_subject(self.deleted), &[])];
        out.extend(
            self.revoked_tokens
                .iter()
                .map(|t| change_line("revoked", &token_subject(t), &[])),
        );
        Text::lines(out)
    }
}
