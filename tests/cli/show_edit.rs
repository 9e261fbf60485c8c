//! `token show` and `token edit`.

use serde_json::Value;

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv, quote};
use crate::fixtures::*;

fn show(env: &TestEnv, token: &str) -> Value {
    env.json(&["token", "show", token])
}

fn edit(env: &TestEnv, token: &str, flags: &[&str]) -> Value {
    let mut args = vec!["token", "edit", token];
    args.extend(flags);
    env.json(&args)
}

/// Asserts `token edit TOKEN FLAGS` is refused with `code` and the store
/// is unchanged; returns stderr.
fn edit_refused(env: &TestEnv, token: &str, flags: &[&str], code: i32) -> String {
    let before = env.snapshot();
    let mut args = vec!["token", "edit", token];
    args.extend(flags);
    let err = env.fails(&args, code);
    assert_eq!(
        env.snapshot(),
        before,
        "tokenctl {args:?} changed the store"
    );
    err
}

fn event_count(env: &TestEnv, action: &str) -> i64 {
    env.sql_value(&format!(
        "SELECT count(*) FROM events WHERE action = {}",
        quote(action)
    ))
    .expect("count")
}

// ---- show ----

#[rstest]
fn show_by_name_has_every_field(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create(
        "svc",
        &[
            "--acl",
            "write,read",
            "--expires",
            "2031-07-08T09:10:11Z",
            "--allow-ip",
            "192.0.2.0/24",
            "--allow-ip",
            "2001:db8::1",
            "--note",
            "the note",
        ],
    );
    let out = env.verify(&token, &["--ip", "192.0.2.5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t = show(&env, "svc");
    assert_token_fields(&t);
    assert_eq!(t["id"], id_of(&token).as_str());
    assert_eq!(t["name"], "svc");
    assert_eq!(t["account"], "alice");
    assert_eq!(t["acls"], serde_json::json!(["read", "write"]));
    assert!((secs(&t["created"]) - now()).abs() <= 5);
    assert_eq!(t["expires"], "2031-07-08T09:10:11Z");
    assert!((secs(&t["last_used"]) - now()).abs() <= 5);
    assert_eq!(t["last_used_ip"], "192.0.2.5");
    assert_eq!(
        t["allow_ips"],
        serde_json::json!(["192.0.2.0/24", "2001:db8::1"])
    );
    assert_eq!(t["note"], "the note");
    assert_eq!(t["status"], "active");
    assert_eq!(t["revoked"], Value::Null);
    // The same object by id, and in YAML.
    assert_eq!(show(&env, &id_of(&token)), t);
    let yaml: Value =
        serde_norway::from_str(&env.ok(&["token", "show", "svc", "-o", "yaml"])).expect("yaml");
    assert_eq!(yaml, t);
}

#[rstest]
fn show_table_lists_every_field(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create(
        "svc",
        &[
            "--allow-ip",
            "192.0.2.0/24",
            "--note",
            "remember me",
            "--acl",
            "read",
        ],
    );
    let rows = table_rows(&env.ok(&["token", "show", "svc"]));
    let get = |label: &str| -> String {
        rows.iter()
            .find(|r| r[0] == label)
            .unwrap_or_else(|| panic!("no {label} row in {rows:?}"))[1]
            .clone()
    };
    assert_eq!(get("Name"), "svc");
    assert_eq!(get("ID"), id_of(&token));
    assert_eq!(get("Account"), "alice");
    assert_eq!(get("Status"), "active");
    assert_eq!(get("ACLs"), "read");
    assert_eq!(get("Last Used"), "never");
    assert!(get("Allowed IPs").contains("192.0.2.0/24"));
    assert_eq!(get("Note"), "remember me");
    for label in ["Created", "Expires", "Last Used IP", "Revoked"] {
        get(label);
    }
}

#[rstest]
fn show_revoked_token_by_id_only(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("gone", &[]);
    env.ok(&["token", "revoke", "gone", "--yes"]);
    let t = show(&env, &id_of(&token));
    assert_eq!(t["name"], "gone");
    assert_eq!(t["status"], "revoked");
    assert!((secs(&t["revoked"]) - now()).abs() <= 5);
    let err = env.fails(&["token", "show", "gone"], 3);
    assert!(err.contains("gone"), "{err}");
}

#[rstest]
fn show_not_found_is_exit_3(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("x", &[]);
    let err = env.fails(&["token", "show", "nope"], 3);
    assert!(err.contains("nope"), "{err}");
    env.fails(&["token", "show", "AAAAAAAAAA"], 3);
}

#[rstest]
fn show_on_a_missing_store_is_exit_3_and_creates_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.fails(&["token", "show", "x"], 3);
    env.fails(&["token", "show", "x", "-o", "json"], 3);
    assert_no_store(&env);
}

#[rstest]
fn show_does_not_reach_another_accounts_token(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("alices", &[]);
    add_account(&env, "bob", r#"["all"]"#);
    env.fails(&["-u", "bob", "token", "show", &id_of(&token)], 3);
    env.fails(&["-u", "bob", "token", "show", "alices"], 3);
}

#[rstest]
fn show_tries_names_before_ids(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let first = env.create("first", &[]);
    let id = id_of(&first);
    // A token whose name is the other token's id: refused today, but a
    // store may hold one from before.
    env.create("second", &[]);
    set_token(&env, "second", &format!("name = '{id}'"));
    let t = show(&env, &id);
    assert_eq!(t["name"], id.as_str());
    assert_ne!(t["id"], id.as_str());
}

// ---- edit ----

#[rstest]
fn edit_prints_the_updated_token(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("old", &["--acl", "read"]);
    let t = edit(&env, "old", &["--new-name", "new", "--note", "n1"]);
    assert_token_fields(&t);
    assert_eq!(t["name"], "new");
    assert_eq!(t["note"], "n1");
    assert_eq!(t["id"], id_of(&token).as_str());
    assert_eq!(t["acls"], serde_json::json!(["read"]));
    assert_eq!(show(&env, "new"), t);
    env.fails(&["token", "show", "old"], 3);
    // The token still verifies under its new name.
    assert_eq!(env.verify(&token, &[]).status.code(), Some(0));
    // The table format says what changed, in which token.
    let out = env.ok(&["token", "edit", "new", "--note", "n2"]);
    let id = id_of(&token);
    assert_eq!(
        out,
        format!("edited token new ({id}) in account alice: note changed\n")
    );
}

#[rstest]
fn edit_by_id(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("x", &[]);
    let t = edit(&env, &id_of(&token), &["--note", "by id"]);
    assert_eq!(t["note"], "by id");
    assert_eq!(t["name"], "x");
}

#[rstest]
fn edit_new_name_conflicts_and_rules(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    env.create("b", &[]);
    let err = edit_refused(&env, "a", &["--new-name", "b"], 4);
    assert!(err.contains('b'), "{err}");
    edit_refused(&env, "a", &["--new-name", "bad name"], 2);
    edit_refused(&env, "a", &["--new-name", &"c".repeat(51)], 2);
    edit_refused(&env, "a", &["--new-name", ""], 2);
    // A revoked token's name is free.
    env.create("r", &[]);
    env.ok(&["token", "revoke", "r", "--yes"]);
    assert_eq!(edit(&env, "a", &["--new-name", "r"])["name"], "r");
    // Renaming to its own name changes nothing.
    let before = env.snapshot();
    assert_eq!(edit(&env, "r", &["--new-name", "r"])["name"], "r");
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn edit_acl_replaces_then_adds_then_removes(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &["--acl", "read,write"]);
    let t = edit(&env, "t", &["--acl", "dns,deploy"]);
    assert_eq!(t["acls"], serde_json::json!(["deploy", "dns"]));
    let t = edit(
        &env,
        "t",
        &[
            "--acl",
            "zone",
            "--acl",
            "dns",
            "--add-acl",
            "read,x",
            "--add-acl",
            "mail",
            "--remove-acl",
            "x,dns",
        ],
    );
    assert_eq!(t["acls"], serde_json::json!(["mail", "read", "zone"]));
    // Added and removed in one go: removal comes last.
    let t = edit(&env, "t", &["--add-acl", "y", "--remove-acl", "y"]);
    assert_eq!(t["acls"], serde_json::json!(["mail", "read", "zone"]));
    // Adding duplicates keeps the set sorted and unique.
    let t = edit(&env, "t", &["--add-acl", "read,a,zone"]);
    assert_eq!(t["acls"], serde_json::json!(["a", "mail", "read", "zone"]));
    // all with others is all.
    let t = edit(&env, "t", &["--add-acl", "all"]);
    assert_eq!(t["acls"], serde_json::json!(["all"]));
    let stored: String = env
        .sql_value("SELECT acls FROM tokens WHERE name = 't'")
        .expect("row");
    assert_eq!(stored, r#"["all"]"#);
}

#[rstest]
fn edit_removing_an_absent_privilege_changes_nothing(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &["--acl", "read,write"]);
    let before = env.snapshot();
    let t = edit(&env, "t", &["--remove-acl", "deploy"]);
    assert_eq!(t["acls"], serde_json::json!(["read", "write"]));
    assert_eq!(env.snapshot(), before, "a no-op edit wrote to the store");
}

#[rstest]
fn edit_removing_the_last_privilege_is_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &["--acl", "read,write"]);
    edit_refused(&env, "t", &["--remove-acl", "read,write"], 2);
    edit_refused(&env, "t", &["--acl", "dns", "--remove-acl", "dns"], 2);
    edit_refused(
        &env,
        "t",
        &["--remove-acl", "read", "--remove-acl", "write"],
        2,
    );
}

#[rstest]
fn edit_bad_acl_values_are_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &["--acl", "read"]);
    edit_refused(&env, "t", &["--acl", "read,"], 2);
    edit_refused(&env, "t", &["--add-acl", ""], 2);
    edit_refused(&env, "t", &["--remove-acl", ",read"], 2);
    edit_refused(&env, "t", &["--add-acl", "Write"], 2);
}

#[rstest]
fn edit_privileges_beyond_the_account_are_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("boot", &[]);
    add_account(&env, "bob", r#"["read","write"]"#);
    env.create("t", &["-u", "bob", "--acl", "read"]);
    let err = edit_refused(&env, "t", &["-u", "bob", "--add-acl", "deploy"], 2);
    assert!(err.contains("deploy"), "{err}");
    let err = edit_refused(&env, "t", &["-u", "bob", "--acl", "all"], 2);
    assert!(err.contains("all"), "{err}");
    let t = edit(&env, "t", &["-u", "bob", "--add-acl", "write"]);
    assert_eq!(t["acls"], serde_json::json!(["read", "write"]));
}

#[rstest]
fn edit_remove_all_after_add_keeps_the_added_privileges(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &[]);
    // tokenctl-token-edit(1): --acl replaces, then --add-acl adds, then --remove-acl removes.
    // {all} + {read} - {all} = {read}.
    let t = edit(&env, "t", &["--add-acl", "read", "--remove-acl", "all"]);
    assert_eq!(t["acls"], serde_json::json!(["read"]));
    let t = edit(&env, "t", &["--acl", "all,deploy", "--remove-acl", "all"]);
    assert_eq!(t["acls"], serde_json::json!(["deploy"]));
}

#[rstest]
fn edit_expires(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &[]);
    assert_eq!(
        edit(&env, "t", &["--expires", "never"])["expires"],
        Value::Null
    );
    let t = edit(&env, "t", &["--expires", "30d"]);
    assert!((secs(&t["expires"]) - (now() + 30 * DAY)).abs() <= 5, "{t}");
    let t = edit(&env, "t", &["--expires", "2030-06-15"]);
    assert_eq!(t["expires"], "2030-06-15T23:59:59Z");
    let t = edit(&env, "t", &["--expires", "2030-01-02T03:04:05+02:00"]);
    assert_eq!(t["expires"], "2030-01-02T01:04:05Z");
    for when in ["2020-01-01", "2027-02-30", "soon", "0d", ""] {
        edit_refused(&env, "t", &["--expires", when], 2);
    }
}

#[rstest]
fn edit_expires_revives_an_expired_token(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("t", &[]);
    set_token(&env, "t", &format!("expires_at = {}", now() - 10));
    assert_eq!(show(&env, "t")["status"], "expired");
    let t = edit(&env, "t", &["--expires", "1d"]);
    assert_eq!(t["status"], "active");
    assert_eq!(env.verify(&token, &[]).status.code(), Some(0));
}

#[rstest]
fn edit_allow_ip_replaces_and_clear_removes(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &["--allow-ip", "10.0.0.1"]);
    let t = edit(
        &env,
        "t",
        &["--allow-ip", "192.0.2.0/24", "--allow-ip", "2001:db8::/32"],
    );
    assert_eq!(
        t["allow_ips"],
        serde_json::json!(["192.0.2.0/24", "2001:db8::/32"])
    );
    let t = edit(&env, "t", &["--clear-allow-ip"]);
    assert_eq!(t["allow_ips"], serde_json::json!([]));
    edit_refused(
        &env,
        "t",
        &["--allow-ip", "10.0.0.1", "--clear-allow-ip"],
        2,
    );
    edit_refused(&env, "t", &["--allow-ip", "10.0.0.0/33"], 2);
    let many: Vec<String> = (0..101)
        .map(|i| format!("10.1.{}.{}", i / 50, i % 50))
        .collect();
    let mut flags = Vec::new();
    for ip in &many {
        flags.extend(["--allow-ip", ip.as_str()]);
    }
    edit_refused(&env, "t", &flags, 2);
    let t = edit(&env, "t", &flags[..200]);
    assert_eq!(t["allow_ips"].as_array().expect("list").len(), 100);
}

#[rstest]
fn edit_note_sets_and_empty_clears(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &["--note", "first"]);
    assert_eq!(edit(&env, "t", &["--note", "second"])["note"], "second");
    assert_eq!(edit(&env, "t", &["--note", ""])["note"], Value::Null);
    assert_eq!(show(&env, "t")["note"], Value::Null);
}

#[rstest]
fn edit_without_changes_is_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &[]);
    edit_refused(&env, "t", &[], 2);
    edit_refused(&env, "t", &["-o", "json"], 2);
}

#[rstest]
fn edit_of_a_revoked_token_is_exit_4(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("t", &["--acl", "read"]);
    env.ok(&["token", "revoke", "t", "--yes"]);
    let id = id_of(&token);
    for flags in [
        vec!["--note", "x"],
        vec!["--new-name", "u"],
        vec!["--add-acl", "write"],
        vec!["--expires", "never"],
        vec!["--clear-allow-ip"],
    ] {
        edit_refused(&env, &id, &flags, 4);
    }
    // By name it is gone: not found.
    edit_refused(&env, "t", &["--note", "x"], 3);
}

#[rstest]
fn edit_not_found_is_exit_3(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("t", &[]);
    let err = edit_refused(&env, "nope", &["--note", "x"], 3);
    assert!(err.contains("nope"), "{err}");
    add_account(&env, "bob", r#"["all"]"#);
    edit_refused(&env, &id_of(&token), &["-u", "bob", "--note", "x"], 3);
    edit_refused(&env, "t", &["-u", "bob", "--note", "x"], 3);
}

#[rstest]
fn edit_on_a_missing_store_is_exit_1_and_creates_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    // Exit 1 naming the path, not 3: a mistyped --db must show.
    let err = env.fails(&["token", "edit", "t", "--note", "x"], 1);
    assert!(err.contains(env.db.to_str().unwrap()), "{err}");
    assert_no_store(&env);
}

#[rstest]
fn edit_records_one_event_per_real_change(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &["--note", "same"]);
    assert_eq!(event_count(&env, "edit"), 0);
    edit(&env, "t", &["--note", "other", "--add-acl", "read"]);
    assert_eq!(event_count(&env, "edit"), 1);
    // Same values again: nothing changes, nothing is recorded.
    let before = env.snapshot();
    edit(&env, "t", &["--note", "other"]);
    assert_eq!(env.snapshot(), before);
}
