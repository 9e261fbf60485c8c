//! The views' two renderings, and the helpers they share.

use super::*;
use crate::model::Token;
use crate::values::{AllowList, Privileges};

/// A live token of alice's, created at 1_795_471_805, expiring an hour later.
pub(super) fn token(name: &str, note: Option<&str>) -> Token {
    Token {
        id: format!("id-{name}"),
        account_id: 1,
        account: "alice".into(),
        name: name.into(),
        secret_hash: String::new(),
        prev_secret_hash: None,
        prev_valid_until: None,
        acls: Privileges::from_stored(vec!["read".into(), "write".into()]),
        allow_ips: AllowList::default(),
        note: note.map(String::from),
        created_at: 1_795_471_805,
        expires_at: Some(1_795_471_805 + 3600),
        last_used_at: None,
        last_used_ip: None,
        disabled_at: None,
        revoked_at: None,
        account_acls: Privileges::all(),
        account_suspended: false,
    }
}

const NOW: i64 = 1_795_471_805;

fn plain() -> Style {
    Style {
        format: OutputFormat::Table,
        color: false,
        terminal: false,
    }
}

fn json(view: &impl Serialize) -> String {
    serde_json::to_string(view).unwrap()
}

#[test]
fn an_issued_token_is_its_fields_then_the_plaintext() {
    let t = token("ci", None);
    let view = IssuedView::new(&t, "tct_secret", NOW, false);
    let text = json(&view);
    assert!(text.starts_with(r#"{"id":"id-ci","name":"ci","account":"alice""#));
    assert!(
        text.ends_with(
            r#""revoked":null,"previous_secret_valid_until":null,"token":"tct_secret"}"#
        )
    );
    // On a table, stdout gets the plaintext alone; stderr what changed.
    let shown = view.text(plain());
    assert_eq!(shown.out, ["tct_secret"]);
    let aside = shown.aside.unwrap();
    assert!(aside.starts_with("created token ci (id-ci) in account alice\n"));
    assert!(aside.contains("| Name         | ci"));
    assert!(shown.warning.is_some());
}

#[test]
fn a_rotation_says_until_when_the_old_secret_works() {
    let mut t = token("ci", None);
    t.prev_secret_hash = Some("old".into());
    t.prev_valid_until = Some(NOW + 60);
    let view = IssuedView::new(&t, "tct_secret", NOW, true);
    assert!(json(&view).contains(r#""previous_secret_valid_until":"2026-11-23T22:11:05Z""#));
    let aside = view.text(plain()).aside.unwrap();
    assert!(aside.starts_with(
        "rotated token ci (id-ci) in account alice\nthe old secret works until 2026-11-23 22:11 UTC\n"
    ));
    assert!(aside.contains("| Old Secret   | works until"), "{aside}");
    // Once the grace is over, or the token revoked, no grace runs.
    let over = TokenView::new(&t, NOW + 60);
    assert!(json(&over).ends_with(r#""previous_secret_valid_until":null}"#));
    t.revoked_at = Some(NOW);
    assert!(json(&TokenView::new(&t, NOW)).ends_with(r#""previous_secret_valid_until":null}"#));
    // A grace cut short by the expiry says so.
    let mut t = token("ci", None);
    t.prev_secret_hash = Some("old".into());
    t.prev_valid_until = t.expires_at;
    assert!(issued_summary(&t, NOW, true).ends_with("23:10 UTC, when the token expires"));
    t.prev_secret_hash = None;
    assert!(issued_summary(&t, NOW, true).ends_with("\nthe old secret no longer works"));
}

#[test]
fn a_state_change_is_counted_under_its_past_tense() {
    let tokens = [token("a", None), token("b", None)];
    let already = [token("c", None)];
    let view = ChangedView::new("disabled", &tokens, &already, NOW);
    assert!(json(&view).starts_with(r#"{"disabled":2,"tokens":[{"id":"id-a""#));
    assert!(!json(&view).contains("id-c"));
    let text = view.text(plain());
    assert_eq!(
        text.out,
        [
            "disabled token a (id-a) in account alice",
            "disabled token b (id-b) in account alice"
        ]
    );
    assert_eq!(
        text.aside.as_deref(),
        Some("token c (id-c) in account alice is already disabled")
    );
}

#[test]
fn a_dry_run_lists_what_it_would_revoke() {
    let tokens = [token("a", None)];
    let view = RevokedView::new(&[], Some(&tokens), NOW, false, None);
    assert!(json(&view).starts_with(r#"{"revoked":0,"would_revoke":1,"tokens":[{"#));
    let out = view.text(plain()).out;
    assert_eq!(out.len(), 2);
    assert_eq!(out[1], "would revoke 1 token (dry run)");
    let done = RevokedView::new(&tokens, None, NOW, false, Some("all accounts".into()));
    assert!(!json(&done).contains("would_revoke"));
    assert!(!json(&done).contains("all accounts"), "JSON is unchanged");
    assert_eq!(
        done.text(plain()),
        Text::line("revoked 1 token in all accounts")
    );
}

#[test]
fn empty_lists_print_nothing_on_stdout() {
    assert_eq!(
        TokenList::new(&[], NOW, false).text(plain()),
        Text::empty("no tokens")
    );
    assert_eq!(
        AccountList::new(&[]).text(plain()),
        Text::empty("no accounts")
    );
    assert_eq!(EventList::new(&[]).text(plain()), Text::empty("no events"));
}

#[test]
fn a_refused_token_prints_only_for_json_and_yaml() {
    let view = RejectedView::new("expired");
    assert_eq!(json(&view), r#"{"valid":false,"reason":"expired"}"#);
    assert_eq!(view.text(plain()), Text::default());
}

#[test]
fn times_are_utc_in_json_and_local_in_tables() {
    let account = crate::model::Account {
        id: 1,
        name: "alice".into(),
        acls: Privileges::all(),
        suspended: false,
        created_at: NOW,
    };
    let view = AccountView::new(&account, 3);
    assert_eq!(
        json(&view),
        r#"{"name":"alice","acls":["all"],"suspended":false,"status":"active","created":"2026-11-23T22:10:05Z","tokens":3}"#
    );
    let table = &view.text(plain()).out[0];
    assert!(table.contains(&local(NOW)), "{table}");
}

#[test]
fn terminal_controls_are_shown_as_escapes() {
    assert_eq!(printable("plain ünï"), "plain ünï");
    assert_eq!(printable("a\u{1b}[2Kb\n"), "a\\x1b[2Kb\\x0a");
    assert_eq!(printable("\u{85}\u{9b}\u{7f}"), "\\x85\\x9b\\x7f");
    assert_eq!(printable("x\u{202e}y\u{2029}"), "x\\u{202e}y\\u{2029}");
}

#[test]
fn utc_times_are_rfc3339_with_z() {
    assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc(1_795_471_805), "2026-11-23T22:10:05Z");
}
