//! Every result a command prints: its JSON/YAML shape (the field names and
//! order users script against) and its table text, side by side.

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use super::changes::{grace_end, issued_summary};
use super::fit::Step;
use super::table::{Columns, fitted_table, plain_table, token_details, token_table};
use super::{Style, Text, View, local, plural, utc, utc_field};
use crate::model::{Account, Event, Token};
use crate::values::{AllowList, Privileges};

/// One token: every field (`token show`, `token edit`; an element of the
/// lists).
pub struct TokenView<'a> {
    token: &'a Token,
    now: i64,
}

impl<'a> TokenView<'a> {
    pub fn new(token: &'a Token, now: i64) -> TokenView<'a> {
        TokenView { token, now }
    }
}

/// A token's JSON and YAML fields.
#[derive(Serialize)]
struct TokenFields<'a> {
    id: &'a str,
    name: &'a str,
    account: &'a str,
    acls: &'a Privileges,
    /// What it grants while active: `acls` as far as its account holds
    /// them (README, "Effective privileges").
    effective_acls: Privileges,
    created: String,
    expires: Option<String>,
    last_used: Option<String>,
    last_used_ip: Option<&'a str>,
    allow_ips: &'a AllowList,
    note: Option<&'a str>,
    status: &'static str,
    revoked: Option<String>,
    /// While a rotation's grace runs: until when the old secret works.
    previous_secret_valid_until: Option<String>,
}

impl Serialize for TokenView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.token;
        TokenFields {
            id: &t.id,
            name: &t.name,
            account: &t.account,
            acls: &t.acls,
            effective_acls: t.effective_acls(),
            created: utc(t.created_at),
            expires: t.expires_at.map(utc),
            last_used: t.last_used_at.map(utc),
            last_used_ip: t.last_used_ip.as_deref(),
            allow_ips: &t.allow_ips,
            note: t.note.as_deref(),
            status: t.status(self.now).as_str(),
            revoked: t.revoked_at.map(utc),
            previous_secret_valid_until: grace_end(t, self.now).map(utc),
        }
        .serialize(s)
    }
}

impl View for TokenView<'_> {
    fn text(&self, style: Style) -> Text {
        Text::line(token_details(style, self.token, self.now))
    }
}

/// Tokens as the list shows them (`token list`, the tokens `revoke-all`
/// would take); with an Account column for every account's.
pub struct TokenList<'a> {
    tokens: &'a [Token],
    now: i64,
    columns: Columns,
}

impl<'a> TokenList<'a> {
    pub fn new(tokens: &'a [Token], now: i64, with_account: bool) -> TokenList<'a> {
        let columns = Columns {
            account: with_account,
            ..Columns::default()
        };
        TokenList::with_columns(tokens, now, columns)
    }

    /// The list with these columns in its table (JSON and YAML have every
    /// field whatever the columns).
    pub fn with_columns(tokens: &'a [Token], now: i64, columns: Columns) -> TokenList<'a> {
        TokenList {
            tokens,
            now,
            columns,
        }
    }

    fn table(&self, style: Style) -> String {
        token_table(style, self.tokens, self.now, self.columns)
    }
}

impl Serialize for TokenList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.tokens.len()))?;
        for t in self.tokens {
            seq.serialize_element(&TokenView::new(t, self.now))?;
        }
        seq.end()
    }
}

impl View for TokenList<'_> {
    fn text(&self, style: Style) -> Text {
        if self.tokens.is_empty() {
            return Text::empty("no tokens");
        }
        Text::line(self.table(style))
    }
}

/// A newly created or rotated token: the token fields plus the plaintext.
#[derive(Serialize)]
pub struct IssuedView<'a> {
    #[serde(flatten)]
    token: TokenView<'a>,
    #[serde(rename = "token")]
    plaintext: &'a str,
    #[serde(skip)]
    rotated: bool,
}

impl<'a> IssuedView<'a> {
    /// `rotated`: a new secret for an existing token, rather than a new
    /// token.
    pub fn new(token: &'a Token, plaintext: &'a str, now: i64, rotated: bool) -> IssuedView<'a> {
        IssuedView {
            token: TokenView::new(token, now),
            plaintext,
            rotated,
        }
    }
}

impl View for IssuedView<'_> {
    /// `T=$(tokenctl token create ci)` gets the token and nothing else; what
    /// changed and the details go to stderr, plain.
    fn text(&self, style: Style) -> Text {
        let plain = Style {
            color: false,
            terminal: false,
            ..style
        };
        let (t, now) = (self.token.token, self.token.now);
        Text {
            out: vec![self.plaintext.to_string()],
            aside: Some(format!(
                "{}\n{}",
                issued_summary(t, now, self.rotated),
                token_details(plain, t, now)
            )),
            warning: Some("this token will not be shown again; store it somewhere safe now"),
        }
    }
}

/// The outcome of `token revoke-all`; with `--dry-run`, the tokens it
/// would revoke. `covers` names the accounts searched (`account alice`,
/// `all accounts`) for the table's line.
#[derive(Serialize)]
pub struct RevokedView<'a> {
    revoked: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    would_revoke: Option<usize>,
    tokens: TokenList<'a>,
    #[serde(skip)]
    covers: Option<String>,
}

impl<'a> RevokedView<'a> {
    pub fn new(
        revoked: &'a [Token],
        would: Option<&'a [Token]>,
        now: i64,
        with_account: bool,
        covers: Option<String>,
    ) -> RevokedView<'a> {
        RevokedView {
            revoked: revoked.len(),
            would_revoke: would.map(<[Token]>::len),
            tokens: TokenList::new(would.unwrap_or(revoked), now, with_account),
            covers,
        }
    }
}

impl View for RevokedView<'_> {
    fn text(&self, style: Style) -> Text {
        let covers = self
            .covers
            .as_ref()
            .map_or_else(String::new, |c| format!(" in {c}"));
        let Some(would) = self.would_revoke else {
            // Off a terminal (cron mails every line), nothing done is
            // nothing printed.
            if self.revoked == 0 && !style.terminal {
                return Text::default();
            }
            let revoked = plural(self.revoked, "token");
            return Text::line(format!("revoked {revoked}{covers}"));
        };
        let mut out = Vec::new();
        if would > 0 {
            out.push(self.tokens.table(style));
        }
        let would = plural(would, "token");
        out.push(format!("would revoke {would}{covers} (dry run)"));
        Text::lines(out)
    }
}

/// A token `token verify` accepts, with what it may do now.
#[derive(Serialize)]
pub struct VerifiedView<'a> {
    valid: bool,
    account: &'a str,
    name: &'a str,
    id: &'a str,
    acls: &'a Privileges,
    expires: Option<String>,
}

impl<'a> VerifiedView<'a> {
    pub fn new(t: &'a Token, acls: &'a Privileges) -> VerifiedView<'a> {
        VerifiedView {
            valid: true,
            account: &t.account,
            name: &t.name,
            id: &t.id,
            acls,
            expires: t.expires_at.map(utc),
        }
    }
}

impl View for VerifiedView<'_> {
    fn text(&self, _: Style) -> Text {
        Text::line(format!(
            "valid: account {}, token {} ({})",
            self.account, self.name, self.id
        ))
    }
}

/// A token `token verify` refuses, and why.
#[derive(Serialize)]
pub struct RejectedView {
    valid: bool,
    reason: &'static str,
}

impl RejectedView {
    pub fn new(reason: &'static str) -> RejectedView {
        RejectedView {
            valid: false,
            reason,
        }
    }
}

impl View for RejectedView {
    /// Nothing: the exit status and the error on stderr say it.
    fn text(&self, _: Style) -> Text {
        Text::default()
    }
}

/// An account with its number of live tokens. `status` says in one word
/// what `suspended` says, as a token's does: `active`, `suspended`, or
/// `deleted` in `account delete`'s result.
#[derive(Serialize)]
pub struct AccountView<'a> {
    name: &'a str,
    acls: &'a Privileges,
    suspended: bool,
    status: &'static str,
    #[serde(serialize_with = "utc_field")]
    created: i64,
    /// Live tokens.
    tokens: i64,
}

impl<'a> AccountView<'a> {
    pub fn new(account: &'a Account, tokens: i64) -> AccountView<'a> {
        AccountView {
            name: &account.name,
            acls: &account.acls,
            suspended: account.suspended,
            status: if account.suspended {
                "suspended"
            } else {
                "active"
            },
            created: account.created_at,
            tokens,
        }
    }

    /// An account `account delete` has just deleted: no live tokens left.
    pub fn deleted(account: &'a Account) -> AccountView<'a> {
        AccountView {
            status: "deleted",
            ..AccountView::new(account, 0)
        }
    }

    pub fn name(&self) -> &'a str {
        self.name
    }
}

impl View for AccountView<'_> {
    fn text(&self, style: Style) -> Text {
        let rows = vec![
            vec!["Name".into(), self.name.to_string()],
            vec!["ACLs".into(), self.acls.join(", ")],
            vec!["Status".into(), self.status.into()],
            vec!["Created".into(), local(self.created)],
            vec!["Tokens".into(), self.tokens.to_string()],
        ];
        Text::line(plain_table(style, &[], rows))
    }
}

/// `account list`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct AccountList<'a>(Vec<AccountView<'a>>);

impl<'a> AccountList<'a> {
    pub fn new(accounts: &'a [(Account, i64)]) -> AccountList<'a> {
        AccountList(
            accounts
                .iter()
                .map(|(a, tokens)| AccountView::new(a, *tokens))
                .collect(),
        )
    }
}

impl View for AccountList<'_> {
    fn text(&self, style: Style) -> Text {
        if self.0.is_empty() {
            return Text::empty("no accounts");
        }
        let rows = self
            .0
            .iter()
            .map(|a| {
                vec![
                    a.name.to_string(),
                    a.acls.join(","),
                    a.status.to_string(),
                    local(a.created),
                    a.tokens.to_string(),
                ]
            })
            .collect();
        let header = ["Name", "ACLs", "Status", "Created", "Tokens"];
        Text::line(plain_table(style, &header, rows))
    }
}

/// An audit event.
#[derive(Serialize)]
struct EventView<'a> {
    #[serde(serialize_with = "utc_field")]
    at: i64,
    actor: &'a str,
    action: &'a str,
    account: &'a str,
    token: Option<&'a str>,
    id: Option<&'a str>,
    detail: Option<&'a str>,
}

/// `audit`: events, oldest first.
#[derive(Serialize)]
#[serde(transparent)]
pub struct EventList<'a>(Vec<EventView<'a>>);

impl<'a> EventList<'a> {
    pub fn new(events: &'a [Event]) -> EventList<'a> {
        EventList(
            events
                .iter()
                .map(|e| EventView {
                    at: e.at,
                    actor: &e.actor,
                    action: &e.action,
                    account: &e.account,
                    token: e.token_name.as_deref(),
                    id: e.token_id.as_deref(),
                    detail: e.detail.as_deref(),
                })
                .collect(),
        )
    }
}

impl View for EventList<'_> {
    fn text(&self, style: Style) -> Text {
        if self.0.is_empty() {
            return Text::empty("no events");
        }
        let rows = self
            .0
            .iter()
            .map(|e| {
                vec![
                    local(e.at),
                    e.actor.to_string(),
                    e.action.to_string(),
                    e.account.to_string(),
                    e.token.unwrap_or_default().to_string(),
                    e.id.unwrap_or_default().to_string(),
                    e.detail.unwrap_or_default().to_string(),
                ]
            })
            .collect();
        let header = [
            "Time", "Actor", "Action", "Account", "Token", "ID", "Detail",
        ];
        // On a terminal: details and the ID give way first, then names are
        // cut short; the time and the action stay whole.
        let steps = [
            Step::Shrink(6, 20),
            Step::Drop(5),
            Step::Shrink(1, 10),
            Step::Shrink(4, 16),
            Step::Shrink(3, 12),
            Step::Shrink(6, 10),
            Step::Drop(6),
            Step::Short(0),
            Step::Drop(3),
        ];
        Text::line(fitted_table(style, &header, rows, &steps))
    }
}
