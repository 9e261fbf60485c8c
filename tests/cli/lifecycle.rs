//! Rotation, disable/enable and the audit trail.

use serde_json::{Value, json};

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv, contains};
use crate::fixtures::now;

fn verdict(env: &TestEnv, token: &str) -> String {
    let out = env.verify(token, &["-o", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    match v["valid"].as_bool() {
        Some(true) => {
            assert_eq!(out.status.code(), Some(0));
            "valid".into()
        }
        _ => {
            assert_eq!(out.status.code(), Some(5));
            v["reason"].as_str().unwrap().to_string()
        }
    }
}

#[rstest]
fn rotate_without_grace_stops_the_old_secret_at_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let old = env.create(
        "deploy",
        &["--acl", "read", "--expires", "30d", "--note", "n"],
    );
    let before = env.json(&["token", "show", "deploy"]);
    let new = env.ok(&["token", "rotate", "deploy"]).trim().to_string();
    assert!(new.starts_with("tct_") && new.len() == 50 && new != old);
    // Same id, name, privileges, expiry and created time.
    assert_eq!(&new[4..14], &old[4..14]);
    let after = env.json(&["token", "show", "deploy"]);
    for field in ["id", "name", "acls", "expires", "created", "note"] {
        assert_eq!(before[field], after[field], "{field} changed");
    }
    assert_eq!(verdict(&env, &old), "unknown");
    assert_eq!(verdict(&env, &new), "valid");
}

#[rstest]
fn rotate_prints_like_create(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &[]);
    let v = env.json(&["token", "rotate", "deploy"]);
    let token = v["token"].as_str().unwrap();
    assert_eq!(v["name"], "deploy");
    assert_eq!(verdict(&env, token), "valid");
    let out = env.cmd(&["token", "rotate", "deploy"]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "bare token when piped: {stdout}");
}

#[rstest]
fn grace_keeps_the_old_secret_until_it_ends(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let first = env.create("deploy", &[]);
    let second = env
        .ok(&["token", "rotate", "deploy", "--grace", "1h"])
        .trim()
        .to_string();
    assert_eq!(verdict(&env, &first), "valid");
    assert_eq!(verdict(&env, &second), "valid");

    // End the grace by moving its end into the past (no clock override).
    env.sql_execute(&format!(
        "UPDATE tokens SET prev_valid_until = {}",
        now() - 1
    ));
    assert_eq!(verdict(&env, &first), "unknown");
    assert_eq!(verdict(&env, &second), "valid");
}

#[rstest]
fn rotating_again_ends_the_earlier_grace(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let first = env.create("deploy", &[]);
    let second = env
        .ok(&["token", "rotate", "deploy", "--grace", "1h"])
        .trim()
        .to_string();
    let third = env
        .ok(&["token", "rotate", "deploy", "--grace", "1h"])
        .trim()
        .to_string();
    assert_eq!(verdict(&env, &first), "unknown");
    assert_eq!(verdict(&env, &second), "valid");
    assert_eq!(verdict(&env, &third), "valid");
}

#[rstest]
fn grace_never_runs_past_expiry(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &["--expires", "2h"]);
    env.ok(&["token", "rotate", "deploy", "--grace", "30d"]);
    let rows = env.sql_rows("SELECT prev_valid_until, expires_at FROM tokens");
    assert!(rows[0][0].is_some());
    assert_eq!(rows[0][0], rows[0][1]);
}

#[rstest]
fn rotate_refusals(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &[]);
    let before = env.snapshot();
    env.fails(&["token", "rotate", "deploy", "--grace", "31d"], 2);
    env.fails(&["token", "rotate", "deploy", "--grace", "soon"], 2);
    env.fails(&["token", "rotate", "nope"], 3);
    assert_eq!(env.snapshot(), before);
    let id = env.json(&["token", "show", "deploy"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["token", "revoke", "deploy", "--yes"]);
    let before = env.snapshot();
    env.fails(&["token", "rotate", &id], 4);
    env.fails(&["token", "disable", &id], 4);
    env.fails(&["token", "enable", &id], 4);
    env.fails(&["token", "edit", &id, "--note", "x"], 4);
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn disable_and_enable(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    let out = env.json(&["token", "disable", "a", "b"]);
    assert_eq!(out["disabled"], json!(2));
    assert_eq!(verdict(&env, &a), "disabled");
    assert_eq!(verdict(&env, &b), "disabled");
    assert_eq!(env.json(&["token", "show", "a"])["status"], "disabled");

    // Disabling a disabled token is a no-op with no audit event.
    let before = env.snapshot();
    let out = env.json(&["token", "disable", "a"]);
    assert_eq!(out["disabled"], json!(0));
    assert_eq!(env.snapshot(), before);

    // One unknown name: nothing changes.
    env.fails(&["token", "enable", "a", "nope"], 3);
    assert_eq!(env.snapshot(), before);

    env.ok(&["token", "enable", "a"]);
    assert_eq!(verdict(&env, &a), "valid");
    assert_eq!(verdict(&env, &b), "disabled");
}

#[rstest]
fn audit_records_a_realistic_sequence_without_secrets(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("deploy", &["--acl", "read,write"]);
    let rotated = env.ok(&["token", "rotate", "deploy"]).trim().to_string();
    env.ok(&[
        "token",
        "edit",
        "deploy",
        "--new-name",
        "prod",
        "--remove-acl",
        "write",
        "--expires",
        "never",
    ]);
    env.ok(&["token", "disable", "prod"]);
    env.ok(&["token", "enable", "prod"]);
    env.create("ci-1", &[]);
    env.create("ci-2", &[]);
    env.ok(&["token", "revoke-all", "--match", "ci-*", "--yes"]);
    env.ok(&["token", "revoke", "prod", "--yes"]);

    let events = env.json(&["audit"]);
    let events = events.as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "account-add",
            "create",
            "rotate",
            "edit",
            "disable",
            "enable",
            "create",
            "create",
            "revoke",
            "revoke",
            "revoke"
        ]
    );
    let keys: Vec<&String> = events[1].as_object().unwrap().keys().collect();
    for key in ["at", "actor", "action", "account", "token", "id", "detail"] {
        assert!(keys.iter().any(|k| *k == key), "missing {key}");
    }
    let edit = &events[3];
    assert_eq!(edit["token"], "prod");
    let detail = edit["detail"].as_str().unwrap();
    assert!(detail.contains("deploy -> prod"), "{detail}");
    assert!(detail.contains("read,write -> read"), "{detail}");
    assert!(detail.contains("-> never"), "{detail}");
    assert!(events.iter().all(|e| e["account"] == "alice"));
    assert!(
        events
            .iter()
            .all(|e| e["at"].as_str().unwrap().ends_with('Z'))
    );

    // No secret, hash or plaintext anywhere in the trail.
    let text = serde_json::to_string(&events).unwrap();
    for secret in [
        &token,
        &rotated,
        &token[14..44].to_string(),
        &rotated[14..44].to_string(),
    ] {
        assert!(!contains(text.as_bytes(), secret));
    }
    assert!(!text.contains("argon2"));
}

#[rstest]
fn audit_filters(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    env.create("a", &[]);
    env.create("b", &[]);
    env.create("c", &["-u", "bob"]);
    env.ok(&["token", "disable", "a"]);

    let mine = env.json(&["audit"]);
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .all(|e| e["account"] == "alice")
    );
    let all = env.json(&["audit", "--all-accounts"]);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|e| e["account"] == "bob")
    );

    let of_a = env.json(&["audit", "--token", "a"]);
    let actions: Vec<&str> = of_a
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "disable"]);

    let newest = env.json(&["audit", "--limit", "2"]);
    let actions: Vec<&str> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["create", "disable"],
        "the newest two, oldest first"
    );

    // Move every event a day back; --since 1h then sees only new ones.
    env.sql_execute("UPDATE events SET at = at - 86400");
    env.ok(&["token", "enable", "a"]);
    let recent = env.json(&["audit", "--since", "1h"]);
    assert_eq!(recent.as_array().unwrap().len(), 1);
    let since_date = env.json(&["audit", "--since", "2000-01-01"]);
    assert!(since_date.as_array().unwrap().len() > 1);
    let rfc = env.json(&["audit", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(rfc, json!([]));

    env.fails(&["audit", "--since", "yesterday"], 2);
    env.fails(&["audit", "--token", "nope"], 3);
    env.fails(&["audit", "--limit", "-1"], 2);
}

#[rstest]
fn audit_history_survives_an_account_rename(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    env.create("c", &["-u", "bob"]);
    env.ok(&["account", "edit", "bob", "--new-name", "robert"]);
    let events = env.json(&["-u", "robert", "audit"]);
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["account-add", "create", "account-edit"]);
}

#[rstest]
fn audit_actor_names_the_sudo_caller(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.cmd(&["token", "create", "x"])
        .env("SUDO_USER", "carol")
        .assert()
        .success();
    let events = env.json(&["audit"]);
    let actor = events[1]["actor"].as_str().unwrap();
    assert!(actor.contains("carol"), "{actor}");
}

#[rstest]
fn audit_on_a_missing_store_is_empty_and_creates_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    assert_eq!(env.json(&["audit"]), json!([]));
    assert!(!env.has_store());
}

#[rstest]
fn notes_are_one_line_without_control_characters(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.fails(&["token", "create", "x", "--note", "a\nb"], 2);
    env.fails(&["token", "create", "x", "--note", "\u{1b}[31mred"], 2);
    assert!(!env.has_store());
    env.create("x", &["--note", "runner 4"]);
    let before = env.snapshot();
    env.fails(&["token", "edit", "x", "--note", "\u{7}"], 2);
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn empty_environment_variables_read_as_unset(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("x", &[]);
    let out = env
        .cmd(&["token", "list", "-o", "json"])
        .env("TOKENCTL_USER", "")
        .env("TOKENCTL_OUTPUT", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["name"], "x");
    // TOKENCTL_DB="" falls back to the default store under HOME.
    let out = env
        .cmd(&["token", "list"])
        .env("TOKENCTL_DB", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[rstest]
fn audit_finds_any_accounts_token_by_id_with_all_accounts(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let bobs = env.json(&["-u", "bob", "token", "create", "b"]);
    let id = bobs["id"].as_str().unwrap();
    env.fails(&["audit", "--token", id], 3);
    let events = env.json(&["audit", "--token", id, "--all-accounts"]);
    assert_eq!(events[0]["action"], "create");
    assert_eq!(events[0]["account"], "bob");
}

/// About the store's file: SQLite only.
#[test]
fn backup_refuses_to_overwrite_the_store_itself() {
    let env = TestEnv::new();
    env.create("x", &[]);
    let before = env.snapshot();
    let err = env.fails(
        &["db", "backup", crate::common::path_str(&env.db), "--yes"],
        4,
    );
    assert!(err.contains("store itself"), "{err}");
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn dry_run_table_has_an_account_column_only_for_all_accounts(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("x", &[]);
    let mine = env.ok(&["token", "revoke-all", "--dry-run"]);
    assert!(!mine.contains("Account"), "{mine}");
    let all = env.ok(&["token", "revoke-all", "--dry-run", "--all-accounts"]);
    assert!(all.contains("Account"), "{all}");
}
