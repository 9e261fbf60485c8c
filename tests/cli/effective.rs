//! What `token show` and `token list` show is what verify enforces: the
//! privileges a token grants as far as its account still holds them, and
//! the status `suspended` for the tokens of a suspended account.

use rstest::rstest;
use serde_json::Value;

use crate::common::{Backend, Postgres, Sqlite, TestEnv};
use crate::fixtures::*;

/// The value of `label`'s row in `token show`'s table.
fn show_row(env: &TestEnv, args: &[&str], label: &str) -> Option<String> {
    let mut full = vec!["token", "show"];
    full.extend(args);
    table_rows(&env.ok(&full))
        .into_iter()
        .find(|r| r[0] == label)
        .map(|r| r[1].clone())
}

/// The cell of `column` in `token list`'s row for `name`.
fn list_cell(env: &TestEnv, args: &[&str], name: &str, column: &str) -> String {
    let mut full = vec!["token", "list"];
    full.extend(args);
    let rows = table_rows(&env.ok(&full));
    let col = rows[0].iter().position(|c| c == column).expect(column);
    let name_col = rows[0].iter().position(|c| c == "Name").expect("Name");
    rows[1..]
        .iter()
        .find(|r| r[name_col] == name)
        .unwrap_or_else(|| panic!("no row for {name}: {rows:?}"))[col]
        .clone()
}

fn statuses(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_string(),
                t["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[rstest]
fn a_privilege_the_account_lost_is_shown_as_not_in_effect(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "deploy-bot", "--acl", "deploy,read"]);
    let bot = ["-u", "deploy-bot"];
    let t = env.create("nightly", &bot);
    assert_eq!(
        show_row(&env, &["nightly", "-u", "deploy-bot"], "ACLs").as_deref(),
        Some("deploy, read")
    );
    assert_eq!(
        show_row(&env, &["nightly", "-u", "deploy-bot"], "Not in effect"),
        None
    );
    env.ok(&["account", "edit", "deploy-bot", "--remove-acl", "read"]);

    // JSON and YAML: the stored privileges as they were, and what is in
    // effect beside them.
    let shown = env.json(&["token", "show", "nightly", "-u", "deploy-bot"]);
    assert_eq!(str_list(&shown["acls"]), strings(&["deploy", "read"]));
    assert_eq!(str_list(&shown["effective_acls"]), strings(&["deploy"]));
    let listed = env.json(&["token", "list", "-u", "deploy-bot"]);
    assert_eq!(listed[0]["effective_acls"], shown["effective_acls"]);
    let yaml = env.ok(&["token", "show", "nightly", "-u", "deploy-bot", "-o", "yaml"]);
    assert!(yaml.contains("effective_acls:\n  - \"deploy\"\n"), "{yaml}");

    // Tables: what is in effect, and `show` names the rest.
    let args = ["nightly", "-u", "deploy-bot"];
    assert_eq!(show_row(&env, &args, "ACLs").as_deref(), Some("deploy"));
    let lapsed = show_row(&env, &args, "Not in effect").expect("a Not in effect row");
    assert_eq!(lapsed, "read (account deploy-bot no longer holds it)");
    assert_eq!(list_cell(&env, &bot, "nightly", "ACLs"), "deploy");

    // ... which is what verify grants.
    let out = env.verify(&t, &["--acl", "read"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).starts_with("error: token rejected: forbidden"));
    let out = env.verify(&t, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let verified: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(verified["acls"], shown["effective_acls"]);

    // Nothing is in effect once the account holds none of them.
    env.ok(&["account", "edit", "deploy-bot", "--acl", "stats"]);
    assert_eq!(show_row(&env, &args, "ACLs").as_deref(), Some("none"));
    let lapsed = show_row(&env, &args, "Not in effect").expect("a Not in effect row");
    assert_eq!(
        lapsed,
        "deploy, read (account deploy-bot no longer holds them)"
    );
    assert_eq!(list_cell(&env, &bot, "nightly", "ACLs"), "none");
    let shown = env.json(&["token", "show", "nightly", "-u", "deploy-bot"]);
    assert_eq!(shown["effective_acls"], serde_json::json!([]));
}

#[rstest]
fn a_token_with_all_grants_what_its_account_holds(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "ops", "--acl", "all"]);
    env.create("root-ish", &["-u", "ops"]);
    env.ok(&["account", "edit", "ops", "--acl", "backup,stats"]);
    let args = ["root-ish", "-u", "ops"];
    let shown = env.json(&["token", "show", "root-ish", "-u", "ops"]);
    assert_eq!(str_list(&shown["acls"]), strings(&["all"]));
    assert_eq!(
        str_list(&shown["effective_acls"]),
        strings(&["backup", "stats"])
    );
    // `all` stands for whatever the account holds: nothing has lapsed.
    assert_eq!(
        show_row(&env, &args, "ACLs").as_deref(),
        Some("backup, stats")
    );
    assert_eq!(show_row(&env, &args, "Not in effect"), None);
}

#[rstest]
fn tokens_of_a_suspended_account_are_suspended(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let bob = ["-u", "bob"];
    let mut plain = Vec::new();
    for name in ["act", "dis", "exp", "rev"] {
        plain.push(env.create(name, &bob));
    }
    let n = now();
    set_token(&env, "dis", &format!("disabled_at = {n}"));
    set_token(&env, "exp", &format!("expires_at = {}", n - 10));
    env.ok(&["token", "revoke", "rev", "-u", "bob", "--yes"]);
    env.ok(&["account", "suspend", "bob"]);

    // Revoked, disabled, suspended, expired, active: the first that applies.
    let want = pairs(&[
        ("act", "suspended"),
        ("dis", "disabled"),
        ("exp", "suspended"),
        ("rev", "revoked"),
    ]);
    let list = env.json(&["token", "list", "--all", "-u", "bob"]);
    assert_eq!(statuses(&list), want);
    for (name, status) in &want {
        assert_eq!(
            list_cell(&env, &["--all", "-u", "bob"], name, "Status"),
            *status
        );
    }
    assert_eq!(
        show_row(&env, &["exp", "-u", "bob"], "Status").as_deref(),
        Some("suspended")
    );
    let yaml = env.ok(&["token", "show", "act", "-u", "bob", "-o", "yaml"]);
    assert!(yaml.contains("status: \"suspended\"\n"), "{yaml}");
    // Verify gives the status as its reason.
    for (plaintext, reason) in [(&plain[0], "suspended"), (&plain[2], "suspended")] {
        let out = env.verify(plaintext, &[]);
        assert_eq!(out.status.code(), Some(5));
        let err = stderr(&out);
        assert_eq!(
            err.lines().next(),
            Some(format!("error: token rejected: {reason}").as_str())
        );
    }

    // `--expired` goes by the expiry date: an expired token is taken
    // whatever else its status shows.
    let expired = env.json(&["token", "list", "--expired", "-u", "bob"]);
    assert_eq!(statuses(&expired), pairs(&[("exp", "suspended")]));
    let dry = env.json(&["token", "revoke-all", "--expired", "--dry-run", "-u", "bob"]);
    assert_eq!(names(&dry["tokens"]), strings(&["exp"]));

    env.ok(&["account", "unsuspend", "bob"]);
    let list = env.json(&["token", "list", "--all", "-u", "bob"]);
    assert_eq!(
        statuses(&list),
        pairs(&[
            ("act", "active"),
            ("dis", "disabled"),
            ("exp", "expired"),
            ("rev", "revoked"),
        ])
    );
}
