//! What a change prints: one line per thing changed, in one shape for
//! every token and account command, only what changed on stdout; a piped
//! create or rotate prints the token alone on stdout; a rotation's grace
//! is shown until it ends; accounts carry a `status` in JSON and YAML.

use chrono::DateTime;
use rstest::rstest;
use serde_json::{Value, json};

use crate::common::*;
use crate::fixtures::*;

/// Runs and asserts exit 0; returns stdout and stderr.
fn run(env: &TestEnv, args: &[&str]) -> (String, String) {
    let out = env.cmd(args).output().expect("run tokenctl");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    (stdout, stderr)
}

#[rstest]
fn token_changes_name_the_token_in_one_shape(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("nightly", &["--acl", "read"]);
    env.create("web", &[]);
    let id = id_by_name(&env, "nightly");
    let web = id_by_name(&env, "web");
    let subject = format!("token nightly ({id}) in account alice");

    for (cmd, past) in [("disable", "disabled"), ("enable", "enabled")] {
        let (out, err) = run(&env, &["token", cmd, "nightly"]);
        assert_eq!(out, format!("{past} {subject}\n"));
        assert_eq!(err, "");
        // Nothing to do: nothing on stdout, and stderr says why.
        let before = env.snapshot();
        let (out, err) = run(&env, &["token", cmd, "nightly"]);
        assert_eq!(out, "", "{cmd} twice");
        assert_eq!(err, format!("{subject} is already {past}\n"));
        assert_eq!(env.snapshot(), before);
        // JSON keeps its shape.
        let v = env.json(&["token", cmd, "nightly"]);
        assert_eq!(v, json!({past: 0, "tokens": []}));
    }

    let (out, _) = run(
        &env,
        &[
            "token",
            "edit",
            "nightly",
            "--add-acl",
            "write",
            "--note",
            "n",
        ],
    );
    assert_eq!(
        out,
        format!("edited {subject}: acls read -> read,write; note changed\n")
    );
    let (out, err) = run(&env, &["token", "edit", "nightly", "--note", "n"]);
    assert_eq!(out, "");
    assert_eq!(err, format!("{subject} unchanged\n"));
    // A rename is named under the new name, the change saying the old.
    let (out, _) = run(&env, &["token", "edit", "nightly", "--new-name", "night"]);
    assert_eq!(
        out,
        format!("edited token night ({id}) in account alice: name nightly -> night\n")
    );

    // One line per token, several at once; a revoked one named by id is
    // left as it was, on stderr.
    let (out, err) = run(&env, &["token", "revoke", "night", "web", "--yes"]);
    assert_eq!(
        out,
        format!(
            "revoked token night ({id}) in account alice\n\
             revoked token web ({web}) in account alice\n"
        )
    );
    assert_eq!(err, "");
    let (out, err) = run(&env, &["token", "revoke", &id, "--yes"]);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("token night ({id}) in account alice is already revoked\n")
    );
}

#[rstest]
fn account_changes_name_the_account_in_one_shape(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("mine", &[]);
    let (out, _) = run(
        &env,
        &["account", "add", "deploy-bot", "--acl", "deploy,read"],
    );
    assert_eq!(out, "added account deploy-bot: acls deploy,read\n");
    let (out, _) = run(
        &env,
        &["account", "edit", "deploy-bot", "--remove-acl", "read"],
    );
    assert_eq!(
        out,
        "edited account deploy-bot: acls deploy,read -> deploy\n"
    );
    let (out, err) = run(&env, &["account", "edit", "deploy-bot", "--acl", "deploy"]);
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("", "account deploy-bot unchanged\n")
    );

    let (out, _) = run(&env, &["account", "suspend", "deploy-bot"]);
    assert_eq!(out, "suspended account deploy-bot\n");
    let (out, err) = run(&env, &["account", "suspend", "deploy-bot"]);
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("", "account deploy-bot is already suspended\n")
    );
    let (out, _) = run(&env, &["account", "unsuspend", "deploy-bot"]);
    assert_eq!(out, "unsuspended account deploy-bot\n");
    let (out, err) = run(&env, &["account", "unsuspend", "deploy-bot"]);
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("", "account deploy-bot is already active\n")
    );

    env.create("nightly", &["-u", "deploy-bot"]);
    let id = id_by_name_in(&env, "deploy-bot", "nightly");
    let (out, _) = run(&env, &["account", "delete", "deploy-bot", "--yes"]);
    assert_eq!(
        out,
        format!(
            "deleted account deploy-bot\n\
             revoked token nightly ({id}) in account deploy-bot\n"
        )
    );
}

/// The id of `account`'s live token `name`.
fn id_by_name_in(env: &TestEnv, account: &str, name: &str) -> String {
    env.json(&["-u", account, "token", "show", name])["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every field an account object has, in order.
const ACCOUNT_FIELDS: [&str; 6] = ["name", "acls", "suspended", "status", "created", "tokens"];

fn assert_account(v: &Value, status: &str) {
    let keys: Vec<&str> = v
        .as_object()
        .expect("an account object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = ACCOUNT_FIELDS.to_vec();
    let mut keys = keys;
    keys.sort();
    want.sort();
    assert_eq!(keys, want, "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(v["suspended"], status == "suspended", "{v}");
}

#[rstest]
fn every_account_object_has_a_status(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let added = env.json(&["account", "add", "bot", "--acl", "read"]);
    assert_account(&added, "active");
    assert_account(&env.json(&["account", "show", "bot"]), "active");
    assert_account(
        &env.json(&["account", "edit", "bot", "--add-acl", "write"]),
        "active",
    );
    assert_account(&env.json(&["account", "suspend", "bot"]), "suspended");
    // Already suspended: the same object.
    assert_account(&env.json(&["account", "suspend", "bot"]), "suspended");
    let list = env.json(&["account", "list"]);
    let bot = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "bot")
        .unwrap();
    assert_account(bot, "suspended");
    assert_account(&env.json(&["account", "unsuspend", "bot"]), "active");

    // YAML says the same.
    let yaml = env.ok(&["account", "show", "bot", "-o", "yaml"]);
    assert!(yaml.contains("status: \"active\"\n"), "{yaml}");

    // delete keeps its fields and adds the account and its tokens.
    env.create("b1", &["-u", "bot"]);
    let v = env.json(&["account", "delete", "bot", "--yes"]);
    assert_eq!(v["deleted"], "bot");
    assert_eq!(v["revoked"], 1);
    assert_account(&v["account"], "deleted");
    assert_eq!(v["account"]["tokens"], 0);
    let tokens = v["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_token_fields(&tokens[0]);
    assert_eq!(tokens[0]["name"], "b1");
    assert_eq!(tokens[0]["status"], "revoked");
}

#[rstest]
fn a_piped_create_or_rotate_prints_the_token_alone(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let (out, err) = run(&env, &["token", "create", "ci"]);
    let token = out.trim_end_matches('\n');
    assert_eq!(out, format!("{token}\n"));
    assert_eq!(token.len(), 50, "{out}");
    let id = id_by_name(&env, "ci");
    let subject = format!("token ci ({id}) in account alice");
    assert!(err.contains(&format!("created {subject}\n")), "{err}");
    assert!(err.contains("| Name "), "the details go to stderr: {err}");

    let (out, err) = run(&env, &["token", "rotate", "ci"]);
    let new = out.trim_end_matches('\n');
    assert_eq!(out, format!("{new}\n"));
    assert!(new.starts_with(&format!("tct_{id}")) && new != token);
    assert!(
        err.starts_with(&format!(
            "rotated {subject}\nthe old secret no longer works\n"
        )),
        "{err}"
    );
    assert_eq!(env.verify(token, &[]).status.code(), Some(5));
    assert_eq!(env.verify(new, &[]).status.code(), Some(0));
}

/// `2026-12-03 14:00 UTC` for a stored time.
fn minute(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

#[rstest]
fn a_grace_says_until_when_the_old_secret_works(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let old = env.create("ci", &[]);
    let id = id_by_name(&env, "ci");
    let shown = env.json(&["token", "show", "ci"]);
    assert_eq!(shown["previous_secret_valid_until"], Value::Null);
    assert!(!env.ok(&["token", "show", "ci"]).contains("Old Secret"));

    let (out, err) = run(&env, &["token", "rotate", "ci", "--grace", "1d"]);
    let new = out.trim().to_string();
    let until: i64 = env
        .sql_value(&format!(
            "SELECT prev_valid_until FROM tokens WHERE id = {}",
            quote(&id)
        ))
        .unwrap();
    assert!((until - now() - 86_400).abs() < 60, "{until}");
    assert!(
        err.contains(&format!(
            "rotated token ci ({id}) in account alice\nthe old secret works until {}\n",
            minute(until)
        )),
        "{err}"
    );
    // Both work while the grace runs, and show and JSON say until when.
    assert_eq!(env.verify(&old, &[]).status.code(), Some(0));
    assert_eq!(env.verify(&new, &[]).status.code(), Some(0));
    let utc = DateTime::from_timestamp(until, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let shown = env.json(&["token", "show", "ci"]);
    assert_eq!(shown["previous_secret_valid_until"], utc.as_str());
    let yaml = env.ok(&["token", "show", "ci", "-o", "yaml"]);
    assert!(
        yaml.contains(&format!("previous_secret_valid_until: \"{utc}\"\n")),
        "{yaml}"
    );
    let local = DateTime::from_timestamp(until, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let table = env.ok(&["token", "show", "ci"]);
    let row = table
        .lines()
        .find(|l| l.contains("Old Secret"))
        .expect("an Old Secret row");
    assert!(row.contains(&format!("works until {local}")), "{table}");

    // Once the grace is over, it is gone from show and JSON.
    env.sql_execute(&format!(
        "UPDATE tokens SET prev_valid_until = {} WHERE id = {}",
        now() - 10,
        quote(&id)
    ));
    assert_eq!(env.verify(&old, &[]).status.code(), Some(5));
    let shown = env.json(&["token", "show", "ci"]);
    assert_eq!(shown["previous_secret_valid_until"], Value::Null);
    assert!(!env.ok(&["token", "show", "ci"]).contains("Old Secret"));

    // A grace cut short by the token's expiry says so.
    env.create("short", &["--expires", "2h"]);
    let (_, err) = run(&env, &["token", "rotate", "short", "--grace", "1d"]);
    let expires = env.json(&["token", "show", "short"])["expires"].clone();
    let shown = env.json(&["token", "show", "short"]);
    assert_eq!(shown["previous_secret_valid_until"], expires);
    assert!(err.contains(", when the token expires\n"), "{err}");

    // JSON of rotate itself carries it; a revoked token has none.
    let v = env.json(&["token", "rotate", "short", "--grace", "1h"]);
    assert!(v["previous_secret_valid_until"].is_string(), "{v}");
    let v = env.json(&["token", "revoke", "short", "--yes"]);
    assert_eq!(v["tokens"][0]["previous_secret_valid_until"], Value::Null);
}
