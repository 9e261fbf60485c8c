//! `token revoke` and `token revoke-all`: what is taken, what is left, the
//! confirmation rules, the JSON shapes and the audit rows.

use serde_json::{Value, json};

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv, path_str, quote};
use crate::fixtures::{add_account, assert_no_store, id_by_name, now, set, set_token};

const DAY: i64 = 86_400;

/// The keys of a token object, sorted.
const TOKEN_KEYS: [&str; 14] = [
    "account",
    "acls",
    "allow_ips",
    "created",
    "effective_acls",
    "expires",
    "id",
    "last_used",
    "last_used_ip",
    "name",
    "note",
    "previous_secret_valid_until",
    "revoked",
    "status",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// Asserts an RFC 3339 UTC time within a minute of now.
fn assert_recent(v: &Value) {
    let text = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    assert!(text.ends_with('Z') && text.len() == 20, "{text}");
    let t = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .timestamp();
    assert!((t - now()).abs() <= 60, "{text} is not now");
}

fn create_as(env: &TestEnv, user: &str, name: &str) -> String {
    env.ok(&["-u", user, "token", "create", name])
        .trim()
        .to_string()
}

/// (action, account, token_id, token_name) of every event, oldest first.
fn events(env: &TestEnv) -> Vec<(String, String, Option<String>, Option<String>)> {
    env.sql_rows("SELECT action, account, token_id, token_name FROM events ORDER BY id")
        .into_iter()
        .map(|r| {
            let [action, account, id, name] = <[_; 4]>::try_from(r).unwrap();
            (action.unwrap(), account.unwrap(), id, name)
        })
        .collect()
}

fn revoke_events(env: &TestEnv) -> Vec<(String, String, String)> {
    events(env)
        .into_iter()
        .filter(|e| e.0 == "revoke")
        .map(|e| (e.1, e.2.unwrap(), e.3.unwrap()))
        .collect()
}

/// Asserts no store was made: no SQLite file, companion or folder; no
/// PostgreSQL schema.
fn assert_nothing_created(env: &TestEnv) {
    match env.backend() {
        Sqlite => assert_no_store(env),
        Postgres => assert!(!env.has_store(), "a store was created"),
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn listed(env: &TestEnv, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["token", "list"];
    args.extend(extra);
    names(&env.json(&args))
}

fn verify_code(env: &TestEnv, token: &str) -> Option<i32> {
    env.verify(token, &[]).status.code()
}

fn verify_reason(env: &TestEnv, token: &str) -> String {
    let out = env.verify(token, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["reason"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------- revoke

#[rstest]
fn revoke_by_name_keeps_the_row_marked_revoked(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    let id_a = id_by_name(&env, "a");

    assert_eq!(
        env.ok(&["token", "revoke", "a", "--yes"]),
        format!("revoked token a ({id_a}) in account alice\n")
    );

    assert_eq!(verify_reason(&env, &a), "revoked");
    assert_eq!(verify_code(&env, &b), Some(0));
    // Gone from the live list, still there with --all, marked revoked.
    assert_eq!(listed(&env, &[]), ["b"]);
    let all = env.json(&["token", "list", "--all"]);
    assert_eq!(names(&all), ["a", "b"]);
    let row = &all[0];
    assert_eq!(row["id"], id_a.as_str());
    assert_eq!(row["status"], "revoked");
    assert_recent(&row["revoked"]);
    assert_eq!(all[1]["status"], "active");
    assert_eq!(all[1]["revoked"], Value::Null);
    // By id the revoked token is still found; by name it is not.
    let shown = env.json(&["token", "show", &id_a]);
    assert_eq!(shown["status"], "revoked");
    assert_recent(&shown["revoked"]);
    env.fails(&["token", "show", "a"], 3);
    // Kept in the store, with revoked_at set.
    let rows = env.sql_rows(&format!(
        "SELECT revoked_at FROM tokens WHERE id = {}",
        quote(&id_a)
    ));
    assert_eq!(rows.len(), 1);
    let revoked_at: i64 = rows[0][0].as_deref().unwrap().parse().unwrap();
    assert!((revoked_at - now()).abs() <= 60);
    assert_eq!(
        revoke_events(&env),
        [("alice".to_string(), id_a, "a".to_string())]
    );
}

#[rstest]
fn revoke_by_id_json_shape(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &["--note", "n1"]);
    let id = id_by_name(&env, "a");

    let v = env.json(&["token", "revoke", &id, "--yes"]);
    assert_eq!(keys(&v), ["revoked", "tokens"]);
    assert_eq!(v["revoked"], 1);
    let tokens = v["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    let t = &tokens[0];
    assert_eq!(keys(t), TOKEN_KEYS);
    assert_eq!(t["id"], id.as_str());
    assert_eq!(t["name"], "a");
    assert_eq!(t["account"], "alice");
    assert_eq!(t["status"], "revoked");
    assert_eq!(t["note"], "n1");
    assert_recent(&t["revoked"]);
    assert_eq!(verify_reason(&env, &a), "revoked");
    assert_eq!(revoke_events(&env).len(), 1);
}

#[rstest]
fn revoke_several_at_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    let c = env.create("c", &[]);
    let id_b = id_by_name(&env, "b");

    let v = env.json(&["token", "revoke", "a", &id_b, "--yes"]);
    assert_eq!(v["revoked"], 2);
    let mut got = names(&v["tokens"]);
    got.sort();
    assert_eq!(got, ["a", "b"]);
    for t in v["tokens"].as_array().unwrap() {
        assert_eq!(t["status"], "revoked");
    }
    assert_eq!(verify_reason(&env, &a), "revoked");
    assert_eq!(verify_reason(&env, &b), "revoked");
    assert_eq!(verify_code(&env, &c), Some(0));
    let mut ev: Vec<String> = revoke_events(&env).into_iter().map(|e| e.2).collect();
    ev.sort();
    assert_eq!(ev, ["a", "b"]);

    // Table output names each.
    env.create("d", &[]);
    env.create("e", &[]);
    let (d, e) = (id_by_name(&env, "d"), id_by_name(&env, "e"));
    assert_eq!(
        env.ok(&["token", "revoke", "d", "e", "--yes"]),
        format!("revoked token d ({d}) in account alice\nrevoked token e ({e}) in account alice\n")
    );
}

#[rstest]
fn revoke_with_one_unknown_token_changes_nothing(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    let before = env.snapshot();

    for args in [
        ["token", "revoke", "a", "nosuch", "b", "--yes"],
        ["token", "revoke", "nosuch", "a", "b", "--yes"],
        ["token", "revoke", "a", "b", "nosuch", "--yes"],
    ] {
        let err = env.fails(&args, 3);
        assert!(err.contains("nosuch"), "{err}");
        assert_eq!(env.snapshot(), before, "{args:?} changed the store");
    }
    // JSON too, and without --yes the unknown name still wins (exit 3).
    env.fails(
        &["token", "revoke", "a", "nosuch", "-o", "json", "--yes"],
        3,
    );
    env.fails(&["token", "revoke", "a", "nosuch"], 3);
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &a), Some(0));
    assert_eq!(verify_code(&env, &b), Some(0));
}

#[rstest]
fn revoke_another_accounts_token_is_not_found(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    let bob = create_as(&env, "bob", "b1");
    let bob_id = env.json(&["-u", "bob", "token", "show", "b1"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = env.snapshot();

    env.fails(&["token", "revoke", &bob_id, "--yes"], 3);
    env.fails(&["token", "revoke", "b1", "--yes"], 3);
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &bob), Some(0));
    // Bob himself can.
    env.ok(&["-u", "bob", "token", "revoke", &bob_id, "--yes"]);
    assert_eq!(verify_reason(&env, &bob), "revoked");
}

#[rstest]
fn revoke_without_yes_off_a_terminal_is_refused(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let before = env.snapshot();

    env.fails(&["token", "revoke", "a"], 6);
    env.fails(&["token", "revoke", "a", "-o", "json"], 6);
    env.fails(&["token", "revoke", "a", "-o", "yaml"], 6);
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &a), Some(0));
    // -y is --yes.
    env.ok(&["token", "revoke", "a", "-y"]);
    assert_eq!(verify_reason(&env, &a), "revoked");
}

#[rstest]
fn revoking_a_revoked_token_is_a_noop(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    let b = env.create("b", &[]);
    let id = id_by_name(&env, "a");
    env.ok(&["token", "revoke", "a", "--yes"]);
    // Mark the first revocation's time, to see it is not rewritten.
    env.sql_execute(&format!(
        "UPDATE tokens SET revoked_at = 1000 WHERE id = {}",
        quote(&id)
    ));
    let before = env.snapshot();
    let events_before = events(&env).len();

    // Nothing on stdout; stderr says it was so already.
    let out = env
        .cmd(&["token", "revoke", &id, "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("token a ({id}) in account alice is already revoked\n")
    );
    let v = env.json(&["token", "revoke", &id, "--yes"]);
    assert_eq!(v, json!({"revoked": 0, "tokens": []}));
    assert_eq!(env.snapshot(), before);
    assert_eq!(events(&env).len(), events_before);
    let shown = env.json(&["token", "show", &id]);
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["revoked"], "1970-01-01T00:16:40Z");

    // A revoked token is no longer known by its name.
    env.fails(&["token", "revoke", "a", "--yes"], 3);
    // Together with a live one, only the live one counts and is audited.
    let v = env.json(&["token", "revoke", &id, "b", "--yes"]);
    assert_eq!(v["revoked"], 1);
    assert_eq!(names(&v["tokens"]), ["b"]);
    assert_eq!(events(&env).len(), events_before + 1);
    assert_eq!(verify_reason(&env, &b), "revoked");
}

#[rstest]
fn the_same_token_twice_in_one_command_is_revoked_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    let id = id_by_name(&env, "a");
    let v = env.json(&["token", "revoke", "a", &id, "a", "--yes"]);
    assert_eq!(v["revoked"], 1);
    assert_eq!(v["tokens"].as_array().unwrap().len(), 1);
    assert_eq!(revoke_events(&env).len(), 1);
}

#[rstest]
fn a_revoked_name_can_be_reused_and_revoked_again(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let first = env.create("a", &[]);
    env.ok(&["token", "revoke", "a", "--yes"]);
    let second = env.create("a", &[]);
    assert_eq!(verify_code(&env, &second), Some(0));
    env.ok(&["token", "revoke", "a", "--yes"]);
    assert_eq!(verify_reason(&env, &first), "revoked");
    assert_eq!(verify_reason(&env, &second), "revoked");
    let all = env.json(&["token", "list", "--all"]);
    assert_eq!(names(&all), ["a", "a"]);
    assert_ne!(all[0]["id"], all[1]["id"]);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "revoked")
    );
    assert_eq!(revoke_events(&env).len(), 2);
}

#[rstest]
fn revoke_by_name_takes_that_token_even_if_another_is_named_like_its_id(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let first = env.create("first", &[]);
    let id = id_by_name(&env, "first");
    // Token names and ids share an alphabet: a name may look like an id
    // (refused today, but a store may hold one from before).
    let lookalike = env.create("lookalike", &[]);
    set_token(&env, "lookalike", &format!("name = '{id}'"));
    let before_ids: Vec<String> = env
        .json(&["token", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(before_ids.len(), 2);

    let v = env.json(&["token", "revoke", "first", "--yes"]);
    assert_eq!(v["revoked"], 1);
    assert_eq!(v["tokens"][0]["name"], "first");
    assert_eq!(v["tokens"][0]["id"], id.as_str());
    assert_eq!(verify_reason(&env, &first), "revoked");
    assert_eq!(verify_code(&env, &lookalike), Some(0));
}

#[rstest]
fn revoke_on_a_missing_store_is_an_error_and_creates_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    // Exit 1 naming the path, not 3: a mistyped --db must show.
    let err = env.fails(&["token", "revoke", "a", "--yes"], 1);
    assert!(err.contains(path_str(&env.db)), "{err}");
    assert_nothing_created(&env);
}

#[rstest]
fn revoke_as_an_unknown_account_is_not_found(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    let before = env.snapshot();
    env.fails(&["-u", "carol", "token", "revoke", "a", "--yes"], 3);
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn revoke_needs_a_token_argument(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    let before = env.snapshot();
    env.fails(&["token", "revoke", "--yes"], 2);
    assert_eq!(env.snapshot(), before);
}

// ------------------------------------------------------------ revoke-all

#[rstest]
fn revoke_all_takes_every_live_token_of_the_account_only(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    env.create("c", &[]);
    let id_c = id_by_name(&env, "c");
    env.ok(&["token", "revoke", "c", "--yes"]);
    env.sql_execute(&format!(
        "UPDATE tokens SET revoked_at = 1000 WHERE id = {}",
        quote(&id_c)
    ));
    add_account(&env, "bob", r#"["read"]"#);
    let bob = create_as(&env, "bob", "b1");
    let events_before = events(&env).len();

    let v = env.json(&["token", "revoke-all", "--yes"]);
    assert_eq!(keys(&v), ["revoked", "tokens"]);
    assert_eq!(v["revoked"], 2);
    assert_eq!(names(&v["tokens"]), ["a", "b"]);
    for t in v["tokens"].as_array().unwrap() {
        assert_eq!(keys(t), TOKEN_KEYS);
        assert_eq!(t["account"], "alice");
        assert_eq!(t["status"], "revoked");
        assert_recent(&t["revoked"]);
    }
    assert_eq!(verify_reason(&env, &a), "revoked");
    assert_eq!(verify_reason(&env, &b), "revoked");
    assert_eq!(verify_code(&env, &bob), Some(0));
    // The earlier revocation is untouched and not counted again.
    let shown = env.json(&["token", "show", &id_c]);
    assert_eq!(shown["revoked"], "1970-01-01T00:16:40Z");
    // One audit row per revoked token, nothing else.
    let new: Vec<_> = events(&env).into_iter().skip(events_before).collect();
    assert_eq!(new.len(), 2, "{new:?}");
    let mut got: Vec<(String, String, String)> =
        new.into_iter().map(|e| (e.0, e.1, e.3.unwrap())).collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("revoke".into(), "alice".into(), "a".into()),
            ("revoke".into(), "alice".into(), "b".into())
        ]
    );
    // Nothing left: a second run selects nothing.
    assert_eq!(env.ok(&["token", "revoke-all", "--yes"]), "");
    assert_eq!(listed(&env, &["--all-accounts"]), ["b1"]);
}

#[rstest]
fn revoke_all_table_output_counts(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    assert_eq!(
        env.ok(&["token", "revoke-all", "--yes"]),
        format!("revoked 1 token in account {}\n", env.user)
    );
    env.create("a", &[]);
    env.create("b", &[]);
    env.create("c", &[]);
    assert_eq!(
        env.ok(&["token", "revoke-all", "--yes"]),
        format!("revoked 3 tokens in account {}\n", env.user)
    );
}

#[rstest]
fn revoke_all_expired(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let old = env.create("old", &[]);
    let edge = env.create("edge", &[]);
    let fresh = env.create("fresh", &[]);
    let forever = env.create("forever", &["--expires", "never"]);
    let disabled_old = env.create("disabled-old", &[]);
    set(&env, "old", "expires_at", now() - DAY);
    set(&env, "disabled-old", "expires_at", now() - DAY);
    set(&env, "disabled-old", "disabled_at", now() - 2 * DAY);
    // Expired means now >= expires: a token expiring this very second is
    // expired by the time tokenctl looks.
    set(&env, "edge", "expires_at", now());

    let expected = ["disabled-old", "edge", "old"];
    assert_eq!(listed(&env, &["--expired"]), expected);
    let dry = env.json(&["token", "revoke-all", "--expired", "--dry-run"]);
    assert_eq!(names(&dry["tokens"]), expected);

    let v = env.json(&["token", "revoke-all", "--expired", "--yes"]);
    assert_eq!(v["revoked"], 3);
    assert_eq!(names(&v["tokens"]), expected);
    assert_eq!(verify_reason(&env, &old), "revoked");
    assert_eq!(verify_reason(&env, &edge), "revoked");
    assert_eq!(verify_reason(&env, &disabled_old), "revoked");
    assert_eq!(verify_code(&env, &fresh), Some(0));
    assert_eq!(verify_code(&env, &forever), Some(0));
    assert_eq!(revoke_events(&env).len(), 3);
}

#[rstest]
fn revoke_all_unused_for(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for name in ["never-used-old", "used-recently", "used-long-ago", "fresh"] {
        env.create(name, &[]);
    }
    let n = now();
    set(&env, "never-used-old", "created_at", n - 100 * DAY);
    set(&env, "used-recently", "created_at", n - 100 * DAY);
    set(&env, "used-recently", "last_used_at", n - 10 * DAY);
    set(&env, "used-long-ago", "created_at", n - 200 * DAY);
    set(&env, "used-long-ago", "last_used_at", n - 91 * DAY);

    let expected = ["never-used-old", "used-long-ago"];
    // list with the same filter shows exactly what revoke-all takes.
    assert_eq!(listed(&env, &["--unused-for", "90d"]), expected);
    let dry = env.json(&["token", "revoke-all", "--unused-for", "90d", "--dry-run"]);
    assert_eq!(names(&dry["tokens"]), expected);
    // Other units mean the same span.
    assert_eq!(listed(&env, &["--unused-for", "12w"]), expected);
    assert_eq!(
        listed(&env, &["--unused-for", "2160h"]),
        expected,
        "90 days in hours"
    );
    // A longer span takes fewer.
    assert_eq!(listed(&env, &["--unused-for", "95d"]), ["never-used-old"]);

    let v = env.json(&["token", "revoke-all", "--unused-for", "90d", "--yes"]);
    assert_eq!(v["revoked"], 2);
    assert_eq!(names(&v["tokens"]), expected);
    assert_eq!(listed(&env, &[]), ["fresh", "used-recently"]);
    assert_eq!(revoke_events(&env).len(), 2);
}

#[rstest]
fn revoke_all_refuses_bad_durations(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    set(&env, "a", "created_at", now() - 400 * DAY);
    let before = env.snapshot();
    for dur in [
        "0", "90", "0d", "-1d", "1.5d", "90x", "d", "", "90 d", "90D",
    ] {
        env.fails(&["token", "revoke-all", "--unused-for", dur, "--yes"], 2);
        env.fails(&["token", "list", "--unused-for", dur], 2);
    }
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn revoke_all_match_is_a_case_sensitive_glob_on_the_whole_name(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for name in ["ci-a", "ci-b", "ci-ab", "CI-c", "xci-d", "ci"] {
        env.create(name, &[]);
    }
    let dry = |glob: &str| -> Vec<String> {
        let v = env.json(&["token", "revoke-all", "--match", glob, "--dry-run"]);
        let got = names(&v["tokens"]);
        assert_eq!(v["would_revoke"], got.len());
        // list --match shows the same selection.
        assert_eq!(listed(&env, &["--match", glob]), got, "list --match {glob}");
        got
    };
    assert_eq!(dry("ci-*"), ["ci-a", "ci-ab", "ci-b"]);
    assert_eq!(dry("ci-?"), ["ci-a", "ci-b"]);
    assert_eq!(dry("ci-[a]*"), ["ci-a", "ci-ab"]);
    assert_eq!(dry("ci-[!a]"), ["ci-b"]);
    assert_eq!(dry("ci"), ["ci"]);
    assert_eq!(dry("CI-*"), ["CI-c"]);
    assert_eq!(dry("*ci*"), ["ci", "ci-a", "ci-ab", "ci-b", "xci-d"]);
    assert_eq!(dry("c"), Vec::<String>::new());
    assert_eq!(dry("*"), ["CI-c", "ci", "ci-a", "ci-ab", "ci-b", "xci-d"]);

    let before = env.snapshot();
    env.fails(&["token", "revoke-all", "--match", "ci-[", "--yes"], 2);
    assert_eq!(env.snapshot(), before);

    let v = env.json(&["token", "revoke-all", "--match", "ci-*", "--yes"]);
    assert_eq!(v["revoked"], 3);
    assert_eq!(names(&v["tokens"]), ["ci-a", "ci-ab", "ci-b"]);
    assert_eq!(listed(&env, &[]), ["CI-c", "ci", "xci-d"]);
}

#[rstest]
fn revoke_all_filters_combine(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for name in ["ci-old", "ci-new", "web-old", "ci-stale", "ci-old-used"] {
        env.create(name, &[]);
    }
    let n = now();
    set(&env, "ci-old", "expires_at", n - DAY);
    set(&env, "web-old", "expires_at", n - DAY);
    set(&env, "ci-old-used", "expires_at", n - DAY);
    set(&env, "ci-old", "created_at", n - 200 * DAY);
    set(&env, "ci-stale", "created_at", n - 200 * DAY);
    set(&env, "ci-old-used", "created_at", n - 200 * DAY);
    set(&env, "ci-old-used", "last_used_at", n - DAY);

    assert_eq!(
        listed(&env, &["--expired", "--match", "ci-*"]),
        ["ci-old", "ci-old-used"]
    );
    assert_eq!(
        listed(&env, &["--unused-for", "90d", "--match", "ci-*"]),
        ["ci-old", "ci-stale"]
    );
    let v = env.json(&[
        "token",
        "revoke-all",
        "--expired",
        "--unused-for",
        "90d",
        "--match",
        "ci-*",
        "--yes",
    ]);
    assert_eq!(v["revoked"], 1);
    assert_eq!(names(&v["tokens"]), ["ci-old"]);
    assert_eq!(
        listed(&env, &[]),
        ["ci-new", "ci-old-used", "ci-stale", "web-old"]
    );
    assert_eq!(revoke_events(&env).len(), 1);
}

#[rstest]
fn revoke_all_all_accounts(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    add_account(&env, "carol", r#"["all"]"#);
    let b = create_as(&env, "bob", "b1");
    let c = create_as(&env, "carol", "ci-c");
    let b2 = create_as(&env, "bob", "ci-b");
    set(&env, "b1", "expires_at", now() - DAY);

    // Filters apply across accounts too.
    let v = env.json(&[
        "token",
        "revoke-all",
        "--all-accounts",
        "--match",
        "ci-*",
        "--dry-run",
    ]);
    assert_eq!(names(&v["tokens"]), ["ci-b", "ci-c"]);
    let v = env.json(&[
        "token",
        "revoke-all",
        "--all-accounts",
        "--expired",
        "--yes",
    ]);
    assert_eq!(v["revoked"], 1);
    assert_eq!(v["tokens"][0]["account"], "bob");
    assert_eq!(verify_reason(&env, &b), "revoked");
    assert_eq!(
        revoke_events(&env)[0].0,
        "bob",
        "the event names the token's account"
    );

    let v = env.json(&["token", "revoke-all", "--all-accounts", "--yes"]);
    assert_eq!(v["revoked"], 3);
    let mut got: Vec<(String, String)> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["account"].as_str().unwrap().to_string(),
                t["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("alice".to_string(), "a".to_string()),
            ("bob".to_string(), "ci-b".to_string()),
            ("carol".to_string(), "ci-c".to_string())
        ]
    );
    for t in [&a, &c, &b2] {
        assert_eq!(verify_reason(&env, t), "revoked");
    }
    let mut ev: Vec<(String, String)> = revoke_events(&env)
        .into_iter()
        .map(|e| (e.0, e.2))
        .collect();
    ev.sort();
    assert_eq!(
        ev,
        [
            ("alice".to_string(), "a".to_string()),
            ("bob".to_string(), "b1".to_string()),
            ("bob".to_string(), "ci-b".to_string()),
            ("carol".to_string(), "ci-c".to_string())
        ]
    );
}

#[rstest]
fn revoke_all_dry_run_changes_nothing(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    let bob = create_as(&env, "bob", "b1");
    let before = env.snapshot();

    // No --yes needed, and --yes does not make it act.
    let v = env.json(&["token", "revoke-all", "--dry-run"]);
    assert_eq!(keys(&v), ["revoked", "tokens", "would_revoke"]);
    assert_eq!(v["revoked"], 0);
    assert_eq!(v["would_revoke"], 2);
    assert_eq!(names(&v["tokens"]), ["a", "b"]);
    for t in v["tokens"].as_array().unwrap() {
        assert_eq!(keys(t), TOKEN_KEYS);
        assert_eq!(t["status"], "active");
        assert_eq!(t["revoked"], Value::Null);
    }
    let v = env.json(&[
        "token",
        "revoke-all",
        "--dry-run",
        "--all-accounts",
        "--yes",
    ]);
    assert_eq!(v["revoked"], 0);
    assert_eq!(v["would_revoke"], 3);
    assert_eq!(names(&v["tokens"]), ["a", "b", "b1"]);
    let table = env.ok(&["token", "revoke-all", "--dry-run"]);
    assert!(table.contains("a") && table.contains('b'), "{table}");
    // Nothing selected: still a dry run.
    let v = env.json(&["token", "revoke-all", "--dry-run", "--expired"]);
    assert_eq!(v, json!({"revoked": 0, "would_revoke": 0, "tokens": []}));

    assert_eq!(env.snapshot(), before);
    for t in [&a, &b, &bob] {
        assert_eq!(verify_code(&env, t), Some(0));
    }
}

#[rstest]
fn revoke_all_with_an_empty_selection_needs_no_yes(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    let before = env.snapshot();
    // Piped (cron): nothing to do, nothing printed.
    assert_eq!(env.ok(&["token", "revoke-all", "--expired"]), "");
    let v = env.json(&["token", "revoke-all", "--match", "zzz*"]);
    assert_eq!(v, json!({"revoked": 0, "tokens": []}));
    assert_eq!(env.snapshot(), before);

    // An account without tokens: nothing to take, nothing to ask.
    add_account(&env, "bob", r#"["read"]"#);
    let before = env.snapshot();
    let v = env.json(&["-u", "bob", "token", "revoke-all"]);
    assert_eq!(v, json!({"revoked": 0, "tokens": []}));
    assert_eq!(env.snapshot(), before);
}

#[rstest]
fn revoke_all_without_yes_off_a_terminal_is_refused(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    set(&env, "b", "expires_at", now() - DAY);
    let before = env.snapshot();
    env.fails(&["token", "revoke-all"], 6);
    env.fails(&["token", "revoke-all", "--expired"], 6);
    env.fails(&["token", "revoke-all", "--all-accounts", "-o", "json"], 6);
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &a), Some(0));
    assert_eq!(verify_reason(&env, &b), "expired");
}

#[rstest]
fn revoke_all_on_a_missing_store_is_an_error_and_creates_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    // A cron job with a mistyped --db must notice: exit 1 naming the
    // path, not "revoked 0 tokens".
    for args in [
        &["token", "revoke-all", "--yes"][..],
        &["token", "revoke-all", "--dry-run"],
        &["token", "revoke-all", "-o", "json"],
    ] {
        let err = env.fails(args, 1);
        assert!(err.contains(path_str(&env.db)), "{args:?}: {err}");
    }
    assert_nothing_created(&env);
}

#[rstest]
fn revoke_all_as_an_unknown_account_is_not_found(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let before = env.snapshot();
    env.fails(&["-u", "carol", "token", "revoke-all", "--yes"], 3);
    env.fails(&["-u", "carol", "token", "revoke-all", "--dry-run"], 3);
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &a), Some(0));
}

/// Makes the store refuse a write: a trigger that aborts `event` on
/// `table` when `condition` holds.
fn sabotage(env: &TestEnv, name: &str, event: &str, table: &str, condition: &str) {
    let sql = match env.backend() {
        Sqlite => format!(
            "CREATE TRIGGER {name} BEFORE {event} ON {table} WHEN {condition}
             BEGIN SELECT RAISE(ABORT, 'sabotaged by the test'); END;"
        ),
        Postgres => format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'sabotaged by the test'; END $$;
             CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW
             WHEN ({condition}) EXECUTE FUNCTION {name}();"
        ),
    };
    env.sql_rows(&sql);
}

#[rstest]
fn revoke_of_several_is_all_or_nothing(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    let c = env.create("c", &[]);
    // The second token's revocation fails inside the transaction.
    sabotage(
        &env,
        "no_b",
        "UPDATE OF revoked_at",
        "tokens",
        "NEW.name = 'b'",
    );
    let before = env.snapshot();
    let err = env.fails(&["token", "revoke", "a", "b", "c", "--yes"], 1);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(env.snapshot(), before, "a partial revoke was committed");
    for t in [&a, &b, &c] {
        assert_eq!(verify_code(&env, t), Some(0));
    }
}

#[rstest]
fn revoke_all_is_all_or_nothing(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    let c = env.create("c", &[]);
    sabotage(
        &env,
        "no_b",
        "UPDATE OF revoked_at",
        "tokens",
        "NEW.name = 'b'",
    );
    let before = env.snapshot();
    env.fails(&["token", "revoke-all", "--yes"], 1);
    assert_eq!(env.snapshot(), before, "a partial revoke-all was committed");
    for t in [&a, &b, &c] {
        assert_eq!(verify_code(&env, t), Some(0));
    }
}

#[rstest]
fn a_revocation_and_its_audit_event_commit_together(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    // The audit row cannot be written: the revocation must not happen.
    sabotage(
        &env,
        "no_audit",
        "INSERT",
        "events",
        "NEW.action = 'revoke'",
    );
    let before = env.snapshot();
    env.fails(&["token", "revoke", "a", "--yes"], 1);
    env.fails(&["token", "revoke-all", "--yes"], 1);
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &a), Some(0));
    assert_eq!(verify_code(&env, &b), Some(0));
}

#[rstest]
fn revoke_dry_run_shows_what_it_would_take_and_changes_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    env.create("b", &[]);
    env.create("gone", &[]);
    let gone = env.json(&["token", "show", "gone"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["token", "revoke", "gone", "--yes"]);
    let before = env.snapshot();

    // No --yes needed off a terminal; the shape is revoke-all's dry run.
    let v = env.json(&["token", "revoke", "a", &gone, "--dry-run"]);
    assert_eq!(keys(&v), ["revoked", "tokens", "would_revoke"]);
    assert_eq!(v["revoked"], 0);
    assert_eq!(v["would_revoke"], 1, "the revoked one is not taken again");
    assert_eq!(names(&v["tokens"]), ["a"]);
    assert_eq!(keys(&v["tokens"][0]), TOKEN_KEYS);
    assert_eq!(v["tokens"][0]["status"], "active");
    let v = env.json(&["token", "revoke", "a", "b", "--dry-run", "--yes"]);
    assert_eq!(v["would_revoke"], 2);
    let table = env.ok(&["token", "revoke", "a", "--dry-run"]);
    assert!(table.contains("would revoke 1 token (dry run)"), "{table}");
    assert!(!table.contains("1 tokens"), "{table}");
    let table = env.ok(&["token", "revoke", "a", "b", "--dry-run"]);
    assert!(table.contains("would revoke 2 tokens (dry run)"), "{table}");
    // An unknown name is still not found.
    env.fails(&["token", "revoke", "a", "nope", "--dry-run"], 3);
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &a), Some(0));
}

#[rstest]
fn counts_in_messages_are_singular_for_one(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    let out = env.ok(&["token", "revoke", "a", "--dry-run"]);
    assert!(out.ends_with("would revoke 1 token (dry run)\n"), "{out}");
    add_account(&env, "bob", r#"["read"]"#);
    create_as(&env, "bob", "b1");
    let out = env.ok(&["account", "delete", "bob", "--yes"]);
    assert!(
        out.starts_with("deleted account bob\nrevoked token b1 ("),
        "{out}"
    );
    assert!(!out.contains("(s)"), "{out}");
}

#[rstest]
fn revoke_all_in_cron_is_silent_when_there_is_nothing_to_do(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("a", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    create_as(&env, "bob", "b1");
    set_token(&env, "b1", &format!("expires_at = {}", now() - DAY));

    // Nothing expired in the acting account: no line at all (cron mails
    // every line, stderr's too), and exit 0.
    let out = env
        .cmd(&["token", "revoke-all", "--expired", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // JSON is unchanged: the empty outcome is still printed.
    let v = env.json(&["token", "revoke-all", "--expired", "--yes"]);
    assert_eq!(v, json!({"revoked": 0, "tokens": []}));
    // A dry run still says what it would do, and where it looked.
    assert_eq!(
        env.ok(&["token", "revoke-all", "--expired", "--dry-run"]),
        format!("would revoke 0 tokens in account {} (dry run)\n", env.user)
    );

    // With --all-accounts it covers bob's too, and says so.
    assert_eq!(
        env.ok(&[
            "token",
            "revoke-all",
            "--expired",
            "--all-accounts",
            "--yes"
        ]),
        "revoked 1 token in all accounts\n"
    );
    assert_eq!(
        env.ok(&[
            "token",
            "revoke-all",
            "--expired",
            "--all-accounts",
            "--yes"
        ]),
        ""
    );
}
