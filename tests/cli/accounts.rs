//! `tokenctl account ...` and the effect of accounts on their tokens.

use serde_json::{Value, json};

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv};

fn account(env: &TestEnv, name: &str) -> Value {
    env.json(&["account", "show", name])
}

fn reason(env: &TestEnv, token: &str, extra: &[&str]) -> String {
    let mut args = vec!["-o", "json"];
    args.extend(extra);
    let out = env.verify(token, &args);
    assert_eq!(out.status.code(), Some(5), "expected a refusal");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], json!(false));
    v["reason"].as_str().unwrap().to_string()
}

#[rstest]
fn add_list_show_with_the_spec_json_object(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let added = env.json(&[
        "account",
        "add",
        "bob",
        "--acl",
        "write,read",
        "--acl",
        "read",
    ]);
    assert_eq!(added["name"], "bob");
    assert_eq!(added["acls"], json!(["read", "write"]));
    assert_eq!(added["suspended"], json!(false));
    assert_eq!(added["tokens"], json!(0));
    assert!(
        added["created"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 20)
    );
    // The first write also bootstrapped the acting user, alice.
    let list = env.json(&["account", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(account(&env, "alice")["acls"], json!(["all"]));

    env.ok(&["-u", "bob", "token", "create", "ci"]);
    assert_eq!(account(&env, "bob")["tokens"], json!(1));
    let table = env.ok(&["account", "list"]);
    assert!(
        table.contains("bob") && table.contains("read,write"),
        "{table}"
    );
}

#[rstest]
fn adding_yourself_first_uses_the_privileges_asked_for(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "alice", "--acl", "read"]);
    assert_eq!(account(&env, "alice")["acls"], json!(["read"]));
    let list = env.json(&["account", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[rstest]
fn add_refusals(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let before = env.snapshot();
    env.fails(&["account", "add", "carol"], 2);
    env.fails(&["account", "add", "carol", "--acl", "read,"], 2);
    env.fails(&["account", "add", "-carol", "--acl", "read"], 2);
    env.fails(&["account", "add", "car ol", "--acl", "read"], 2);
    env.fails(&["account", "add", &"c".repeat(65), "--acl", "read"], 2);
    env.fails(&["account", "add", "bob", "--acl", "write"], 4);
    assert_eq!(env.snapshot(), before);
    env.ok(&["account", "add", &"c".repeat(64), "--acl", "read"]);
    env.ok(&[
        "account",
        "add",
        "ops.team_1-x@example.com",
        "--acl",
        "read",
    ]);
}

#[rstest]
fn a_refused_add_on_a_fresh_store_bootstraps_nothing(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.fails(&["account", "add", "bob", "--acl", "BAD"], 2);
    assert!(!env.has_store(), "a refused command created the store");
}

#[rstest]
fn any_user_of_the_store_administers_accounts(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    // dave has no account, but can write the store.
    env.ok(&["-u", "dave", "account", "add", "carol", "--acl", "read"]);
    // Acting *as* an unknown account is another matter.
    let err = env.fails(&["-u", "dave", "token", "create", "x"], 3);
    assert!(err.contains("tokenctl account add"), "{err}");
    let err = env.fails(&["-u", "dave", "token", "list"], 3);
    assert!(err.contains("tokenctl account add"), "{err}");
}

#[rstest]
fn unknown_accounts_are_not_found(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    // No store yet: a read finds nothing; a change is an error naming the
    // path (a mistyped --db must show).
    env.fails(&["account", "show", "nobody"], 3);
    for cmd in ["suspend", "unsuspend", "delete"] {
        env.fails(&["account", cmd, "nobody", "--yes"], 1);
    }
    env.fails(&["account", "edit", "nobody", "--add-acl", "x"], 1);
    assert!(!env.has_store());
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    for cmd in ["show", "suspend", "unsuspend", "delete"] {
        env.fails(&["account", cmd, "nobody", "--yes"], 3);
    }
    env.fails(&["account", "edit", "nobody", "--add-acl", "x"], 3);
}

#[rstest]
fn token_privileges_stay_within_the_account(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read,write"]);
    let t = env.json(&["-u", "bob", "token", "create", "a"]);
    assert_eq!(
        t["acls"],
        json!(["read", "write"]),
        "default = the account's"
    );
    let before = env.snapshot();
    let err = env.fails(
        &[
            "-u",
            "bob",
            "token",
            "create",
            "b",
            "--acl",
            "read,admin,dns",
        ],
        2,
    );
    assert!(err.contains("admin") && err.contains("dns"), "{err}");
    env.fails(&["-u", "bob", "token", "create", "b", "--acl", "all"], 2);
    env.fails(
        &["-u", "bob", "token", "edit", "a", "--add-acl", "admin"],
        2,
    );
    assert_eq!(env.snapshot(), before);
    env.ok(&["-u", "bob", "token", "create", "b", "--acl", "read"]);
}

#[rstest]
fn narrowing_and_widening_an_account_acts_on_its_tokens_at_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read,write"]);
    let token = env.create("ci", &["-u", "bob"]);
    assert!(env.verify(&token, &["--acl", "write"]).status.success());

    env.ok(&["account", "edit", "bob", "--remove-acl", "write"]);
    assert_eq!(reason(&env, &token, &["--acl", "write"]), "forbidden");
    assert!(env.verify(&token, &["--acl", "read"]).status.success());

    env.ok(&["account", "edit", "bob", "--add-acl", "write"]);
    assert!(env.verify(&token, &["--acl", "write"]).status.success());

    // --acl replaces, then --add-acl adds, then --remove-acl removes.
    let edited = env.json(&[
        "account",
        "edit",
        "bob",
        "--acl",
        "a,b",
        "--add-acl",
        "c",
        "--remove-acl",
        "a,zz",
    ]);
    assert_eq!(edited["acls"], json!(["b", "c"]));
    assert_eq!(reason(&env, &token, &["--acl", "read"]), "forbidden");
}

#[rstest]
fn account_edit_refusals(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    env.ok(&["account", "add", "carol", "--acl", "read"]);
    let before = env.snapshot();
    env.fails(&["account", "edit", "bob"], 2);
    env.fails(&["account", "edit", "bob", "--remove-acl", "read"], 2);
    env.fails(&["account", "edit", "bob", "--new-name", "bad name"], 2);
    env.fails(&["account", "edit", "bob", "--new-name", "carol"], 4);
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn suspending_stops_tokens_and_creation_until_unsuspended(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let token = env.create("ci", &["-u", "bob"]);

    let shown = env.json(&["account", "suspend", "bob"]);
    assert_eq!(shown["suspended"], json!(true));
    assert_eq!(reason(&env, &token, &[]), "suspended");
    let before = env.snapshot();
    let err = env.fails(&["-u", "bob", "token", "create", "other"], 1);
    assert!(err.contains("suspended"), "{err}");
    assert_eq!(env.snapshot(), before);

    // Suspending again changes nothing and records nothing.
    env.ok(&["account", "suspend", "bob"]);
    assert_eq!(env.snapshot(), before);

    env.ok(&["account", "unsuspend", "bob"]);
    assert_eq!(account(&env, "bob")["suspended"], json!(false));
    assert!(env.verify(&token, &[]).status.success());
    env.ok(&["-u", "bob", "token", "create", "other"]);
}

#[rstest]
fn renaming_keeps_tokens_working_and_verify_reports_the_new_name(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let token = env.create("ci", &["-u", "bob"]);
    env.ok(&["account", "edit", "bob", "--new-name", "robert"]);
    let out = env.verify(&token, &["-o", "json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["account"], "robert");
    assert_eq!(v["name"], "ci");
    let listed = env.json(&["-u", "robert", "token", "list"]);
    assert_eq!(listed[0]["name"], "ci");
    env.fails(&["account", "show", "bob"], 3);
}

#[rstest]
fn deleting_needs_confirmation_and_revokes_every_token_in_one_go(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let a = env.create("a", &["-u", "bob"]);
    let b = env.create("b", &["-u", "bob"]);
    let before = env.snapshot();
    env.fails(&["account", "delete", "bob"], 6);
    assert_eq!(env.snapshot(), before);

    let out = env.json(&["account", "delete", "bob", "--yes"]);
    assert_eq!(out["revoked"], json!(2));
    assert_eq!(reason(&env, &a, &[]), "revoked");
    assert_eq!(reason(&env, &b, &[]), "revoked");
    env.fails(&["account", "show", "bob"], 3);

    // The name can be taken again; the old tokens stay revoked.
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    assert_eq!(reason(&env, &a, &[]), "revoked");
    assert_eq!(account(&env, "bob")["tokens"], json!(0));
    let all = env.json(&["token", "list", "--all-accounts", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[rstest]
fn every_account_change_is_in_the_events_table(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    env.ok(&["account", "edit", "bob", "--add-acl", "write"]);
    env.ok(&["account", "suspend", "bob"]);
    env.ok(&["account", "unsuspend", "bob"]);
    env.ok(&["account", "delete", "bob", "--yes"]);
    let rows: Vec<(String, String, String)> = env
        .sql_rows("SELECT action, account, actor FROM events ORDER BY id")
        .into_iter()
        .map(|r| match &r[..] {
            [Some(a), Some(acc), Some(actor)] => (a.clone(), acc.clone(), actor.clone()),
            _ => panic!("a NULL in {r:?}"),
        })
        .collect();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|(a, acc, _)| (a.as_str(), acc.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("account-add", "alice"),
            ("account-add", "bob"),
            ("account-edit", "bob"),
            ("account-suspend", "bob"),
            ("account-unsuspend", "bob"),
            ("account-delete", "bob"),
        ]
    );
    // The actor is the OS user running the command, not an account.
    assert!(rows.iter().all(|(_, _, actor)| !actor.is_empty()));
    let detail: String = env
        .sql_value("SELECT detail FROM events WHERE action = 'account-delete'")
        .expect("the delete's detail");
    assert_eq!(detail, "revoked 0 tokens");
}

#[rstest]
fn verify_reports_what_the_token_may_do_now(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "all"]);
    let token = env.create("ci", &["-u", "bob"]);
    let verdict = |env: &TestEnv| -> Value {
        let out = env.verify(&token, &["-o", "json"]);
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(verdict(&env)["acls"], json!(["all"]));
    // The token still says `all`, but its account now holds only `read`.
    env.ok(&["account", "edit", "bob", "--acl", "read"]);
    assert_eq!(verdict(&env)["acls"], json!(["read"]));
}

#[rstest]
fn a_suspended_account_cannot_rotate_its_tokens(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    env.create("ci", &["-u", "bob"]);
    env.ok(&["account", "suspend", "bob"]);
    let before = env.snapshot();
    let err = env.fails(&["-u", "bob", "token", "rotate", "ci"], 1);
    assert!(err.contains("suspended"), "{err}");
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn account_add_with_a_bad_acting_user_creates_no_store(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = env
        .cmd(&["account", "add", "bob", "--acl", "read"])
        .env("USER", "bad name")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!env.has_store());
}
