//! `token list`: columns, sorting, filters (the same as `revoke-all`'s),
//! statuses, and a missing store.

use serde_json::Value;

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv, quote};
use crate::fixtures::*;

const COLUMNS: [&str; 6] = ["Name", "Created", "Expires", "Last Used", "ACLs", "Status"];

fn list_names(env: &TestEnv, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["token", "list"];
    args.extend(extra);
    names(&env.json(&args))
}

fn table_names(env: &TestEnv, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["token", "list"];
    args.extend(extra);
    let rows = table_rows(&env.ok(&args));
    if rows.is_empty() {
        return Vec::new();
    }
    let name_col = rows[0].iter().position(|c| c == "Name").expect("Name");
    rows[1..].iter().map(|r| r[name_col].clone()).collect()
}

/// Asserts no store was made: no SQLite file, companion or folder; no
/// PostgreSQL schema.
fn assert_nothing_created(env: &TestEnv) {
    match env.backend() {
        Sqlite => assert_no_store(env),
        Postgres => assert!(!env.has_store(), "a store was created"),
    }
}

/// Local time as tables show it.
fn is_table_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b' ',
            13 => c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[rstest]
fn table_columns_in_order(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &["--acl", "read,write"]);
    let rows = table_rows(&env.ok(&["token", "list"]));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0], strings(&COLUMNS));
    let row = &rows[1];
    assert_eq!(row[0], "deploy");
    assert!(is_table_time(&row[1]), "Created {:?}", row[1]);
    assert!(is_table_time(&row[2]), "Expires {:?}", row[2]);
    assert_eq!(row[3], "never");
    assert_eq!(row[4], "read,write");
    assert_eq!(row[5], "active");
}

#[rstest]
fn all_accounts_adds_the_account_column_first(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("mine", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    env.create("his", &["-u", "bob"]);
    let rows = table_rows(&env.ok(&["token", "list", "--all-accounts"]));
    let mut header = vec!["Account"];
    header.extend(COLUMNS);
    assert_eq!(rows[0], strings(&header));
    let got: Vec<(String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("bob".to_string(), "his".to_string()),
            ("alice".to_string(), "mine".to_string())
        ]
    );
    // Without it: only the acting account's.
    assert_eq!(table_names(&env, &[]), strings(&["mine"]));
    assert_eq!(table_names(&env, &["-u", "bob"]), strings(&["his"]));
    let all = env.json(&["token", "list", "--all-accounts"]);
    let accounts: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["account"].as_str().expect("account"))
        .collect();
    assert_eq!(accounts, vec!["bob", "alice"]);
}

#[rstest]
fn never_is_shown_for_no_expiry_and_no_use(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("forever", &["--expires", "never"]);
    let rows = table_rows(&env.ok(&["token", "list"]));
    assert_eq!(rows[1][2], "never", "Expires: {rows:?}");
    assert_eq!(rows[1][3], "never", "Last Used: {rows:?}");
    assert_eq!(env.verify(&token, &[]).status.code(), Some(0));
    let rows = table_rows(&env.ok(&["token", "list"]));
    assert!(is_table_time(&rows[1][3]), "Last Used after use: {rows:?}");
    assert_eq!(rows[1][2], "never");
}

#[rstest]
fn table_times_are_local_time(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("t", &["--expires", "never"]);
    // 2026-11-23T22:10:05Z
    set_token(&env, "t", "created_at = 1795471805");
    let rows = table_rows(&env.ok(&["token", "list"]));
    assert_eq!(rows[1][1], "2026-11-23 22:10");
    let out = env
        .cmd(&["token", "list"])
        .env("TZ", "America/New_York")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let rows = table_rows(&stdout(&out));
    assert_eq!(rows[1][1], "2026-11-23 17:10");
    // JSON stays UTC.
    let t = env.json(&["token", "list"]);
    assert_eq!(t[0]["created"], "2026-11-23T22:10:05Z");
}

#[rstest]
fn sorted_by_name_in_byte_order(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for name in ["b", "B", "a", "A", "_u", "-d", "9", "aa", "Ab"] {
        // `--` so that a name starting with `-` is not read as a flag.
        env.ok(&["token", "create", "--", name]);
    }
    let expected = strings(&["-d", "9", "A", "Ab", "B", "_u", "a", "aa", "b"]);
    assert_eq!(table_names(&env, &[]), expected);
    assert_eq!(list_names(&env, &[]), expected);
}

#[rstest]
fn same_names_sort_by_account_then_created(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let old = env.create("same", &[]);
    env.ok(&["token", "revoke", "same", "--yes"]);
    let live = env.create("same", &[]);
    add_account(&env, "bob", r#"["all"]"#);
    let bobs = env.create("same", &["-u", "bob"]);
    let n = now();
    for (id, created) in [
        (id_of(&live), n - 2000),
        (id_of(&old), n - 1000),
        (id_of(&bobs), n - 5000),
    ] {
        let changed = env.sql_execute(&format!(
            "UPDATE tokens SET created_at = {created} WHERE id = {}",
            quote(&id)
        ));
        assert_eq!(changed, 1);
    }
    let list = env.json(&["token", "list", "--all", "--all-accounts"]);
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![id_of(&live), id_of(&old), id_of(&bobs)]);
}

#[rstest]
fn search_is_a_case_insensitive_substring(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for name in ["deploy", "my-DEPLOY-2", "Deployer", "other", "dep"] {
        env.create(name, &[]);
    }
    assert_eq!(
        list_names(&env, &["--search", "DePlOy"]),
        strings(&["Deployer", "deploy", "my-DEPLOY-2"])
    );
    assert_eq!(
        table_names(&env, &["--search", "deploy"]),
        strings(&["Deployer", "deploy", "my-DEPLOY-2"])
    );
    assert_eq!(list_names(&env, &["--search", "zzz"]), Vec::<String>::new());
    // Not a glob, not a LIKE pattern.
    assert_eq!(list_names(&env, &["--search", "d%p"]), Vec::<String>::new());
    assert_eq!(list_names(&env, &["--search", "de*"]), Vec::<String>::new());
}

#[rstest]
fn all_includes_revoked_tokens(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("kept", &[]);
    env.create("gone", &[]);
    env.ok(&["token", "revoke", "gone", "--yes"]);
    assert_eq!(list_names(&env, &[]), strings(&["kept"]));
    let all = env.json(&["token", "list", "--all"]);
    assert_eq!(names(&all), strings(&["gone", "kept"]));
    assert_eq!(all[0]["status"], "revoked");
    assert!(is_utc_time(all[0]["revoked"].as_str().expect("revoked")));
    // With the ids: a revoked token is shown by its id.
    let rows = table_rows(&env.ok(&["token", "list", "--all"]));
    assert_eq!(rows[0][..2], strings(&["Name", "ID"]));
    assert_eq!(rows[1][0], "gone");
    assert_eq!(rows[1][1], all[0]["id"].as_str().expect("id"));
    assert_eq!(rows[1][6], "revoked");
    let shown = env.json(&["token", "show", &rows[1][1]]);
    assert_eq!(shown["status"], "revoked");
}

#[rstest]
fn statuses_active_disabled_expired_revoked(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for name in ["act", "dis", "exp", "rev", "dis-exp", "rev-dis"] {
        env.create(name, &[]);
    }
    let n = now();
    set_token(&env, "dis", &format!("disabled_at = {n}"));
    set_token(&env, "exp", &format!("expires_at = {}", n - 10));
    set_token(
        &env,
        "dis-exp",
        &format!("disabled_at = {n}, expires_at = {}", n - 10),
    );
    set_token(&env, "rev-dis", &format!("disabled_at = {n}"));
    env.ok(&["token", "revoke", "rev", "rev-dis", "--yes"]);
    let expected = [
        ("act", "active"),
        ("dis", "disabled"),
        ("dis-exp", "disabled"),
        ("exp", "expired"),
        ("rev", "revoked"),
        ("rev-dis", "revoked"),
    ];
    let list = env.json(&["token", "list", "--all"]);
    let got: Vec<(String, String)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_string(),
                t["status"].as_str().expect("status").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    let rows = table_rows(&env.ok(&["token", "list", "--all"]));
    let table: Vec<(String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[6].clone()))
        .collect();
    assert_eq!(table, want);
    // Without --all the live ones stay, expired ones included.
    assert_eq!(
        list_names(&env, &[]),
        strings(&["act", "dis", "dis-exp", "exp"])
    );
}

#[rstest]
fn missing_store_is_an_empty_list_and_creates_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = run(&env, &["token", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("no tokens"), "{}", stderr(&out));
    assert_nothing_created(&env);
    let out = run(&env, &["token", "list", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v, serde_json::json!([]));
    for extra in [
        vec!["--all", "--all-accounts"],
        vec!["--expired", "--unused-for", "1d", "--match", "x*"],
        vec!["--search", "x"],
    ] {
        let mut args = vec!["token", "list"];
        args.extend(extra);
        let out = run(&env, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "");
    }
    assert_nothing_created(&env);
}

#[rstest]
fn empty_list_on_a_store_prints_nothing_on_stdout(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("x", &[]);
    let out = run(&env, &["token", "list", "--search", "nothing-like-it"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("no tokens"));
    assert_eq!(
        env.json(&["token", "list", "--search", "nothing-like-it"]),
        serde_json::json!([])
    );
}

#[rstest]
fn unknown_account_after_bootstrap_is_exit_3(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("x", &[]);
    let err = env.fails(&["-u", "nobody", "token", "list"], 3);
    assert!(err.contains("nobody"), "{err}");
}

#[rstest]
fn json_list_objects_have_every_field_in_table_order(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("b", &["--note", "nb", "--allow-ip", "192.0.2.0/24"]);
    env.create("a", &["--expires", "never", "--acl", "read"]);
    let list = env.json(&["token", "list"]);
    assert_eq!(names(&list), strings(&["a", "b"]));
    assert_eq!(names(&list), table_names(&env, &[]));
    for t in list.as_array().expect("array") {
        assert_token_fields(t);
        assert!(is_utc_time(t["created"].as_str().expect("created")));
        assert_eq!(t["account"], "alice");
    }
    assert_eq!(list[0]["expires"], Value::Null);
    assert_eq!(list[0]["acls"], serde_json::json!(["read"]));
    assert_eq!(list[1]["note"], "nb");
    assert_eq!(list[1]["allow_ips"], serde_json::json!(["192.0.2.0/24"]));
    // YAML carries the same.
    let yaml: Value =
        serde_norway::from_str(&env.ok(&["token", "list", "-o", "yaml"])).expect("yaml");
    assert_eq!(yaml, list);
}

// ---- the filters shared with revoke-all ----

/// A store on `backend` with tokens in every situation the filters
/// distinguish; `None` when that store is not available.
fn filter_fixture(backend: Backend) -> Option<TestEnv> {
    let env = TestEnv::on(backend)?;
    for name in [
        "ci-old",
        "ci-used",
        "ci-oldused",
        "web-new",
        "ci-exp",
        "Ci-upper",
        "ci-dis",
        "ci-rev",
        "ci-a1",
        "web",
    ] {
        env.create(name, &[]);
    }
    add_account(&env, "bob", r#"["all"]"#);
    env.create("ci-bob", &["-u", "bob"]);
    env.create("web-bob", &["-u", "bob"]);
    let n = now();
    set_token(&env, "ci-old", &format!("created_at = {}", n - 200 * DAY));
    set_token(
        &env,
        "ci-used",
        &format!(
            "created_at = {}, last_used_at = {}",
            n - 200 * DAY,
            n - 10 * DAY
        ),
    );
    set_token(
        &env,
        "ci-oldused",
        &format!(
            "created_at = {}, last_used_at = {}",
            n - 300 * DAY,
            n - 100 * DAY
        ),
    );
    set_token(
        &env,
        "ci-exp",
        &format!("created_at = {}, expires_at = {}", n - 400 * DAY, n - 60),
    );
    set_token(
        &env,
        "ci-dis",
        &format!("created_at = {}, disabled_at = {}", n - 200 * DAY, n),
    );
    set_token(&env, "ci-rev", &format!("created_at = {}", n - 200 * DAY));
    set_token(
        &env,
        "ci-bob",
        &format!("created_at = {}, expires_at = {}", n - 200 * DAY, n - 1),
    );
    env.ok(&["token", "revoke", "ci-rev", "--yes"]);
    Some(env)
}

/// `list FILTERS` shows exactly `expected`, in order, and exactly what
/// `revoke-all --dry-run FILTERS` reports, which changes nothing.
fn check_filter(env: &TestEnv, filters: &[&str], expected: &[&str]) {
    let listed = list_names(env, filters);
    assert_eq!(listed, strings(expected), "list {filters:?}");
    assert_eq!(table_names(env, filters), listed, "table list {filters:?}");
    let before = env.snapshot();
    let mut args = vec!["token", "revoke-all", "--dry-run"];
    args.extend(filters);
    let dry = env.json(&args);
    assert_eq!(env.snapshot(), before, "dry run changed the store");
    assert_eq!(
        names(&dry["tokens"]),
        listed,
        "revoke-all --dry-run {filters:?}"
    );
    assert_eq!(dry["revoked"], 0);
    assert_eq!(dry["would_revoke"], listed.len());
}

#[rstest]
fn expired_filter(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = filter_fixture(backend) else {
        return;
    };
    check_filter(&env, &["--expired"], &["ci-exp"]);
    check_filter(
        &env,
        &["--expired", "--all-accounts"],
        &["ci-bob", "ci-exp"],
    );
    check_filter(&env, &["--expired", "--match", "web*"], &[]);
}

#[rstest]
fn unused_for_filter(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = filter_fixture(backend) else {
        return;
    };
    check_filter(
        &env,
        &["--unused-for", "90d"],
        &["ci-dis", "ci-exp", "ci-old", "ci-oldused"],
    );
    check_filter(
        &env,
        &["--unused-for", "150d"],
        &["ci-dis", "ci-exp", "ci-old"],
    );
    check_filter(
        &env,
        &["--unused-for", "5d"],
        &["ci-dis", "ci-exp", "ci-old", "ci-oldused", "ci-used"],
    );
    check_filter(
        &env,
        &["--unused-for", "90d", "--all-accounts"],
        &["ci-bob", "ci-dis", "ci-exp", "ci-old", "ci-oldused"],
    );
    check_filter(&env, &["--unused-for", "1y", "--expired"], &["ci-exp"]);
    check_filter(&env, &["--unused-for", "2y"], &[]);
}

#[rstest]
fn match_filter_is_a_case_sensitive_glob_on_the_whole_name(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = filter_fixture(backend) else {
        return;
    };
    check_filter(
        &env,
        &["--match", "ci-*"],
        &[
            "ci-a1",
            "ci-dis",
            "ci-exp",
            "ci-old",
            "ci-oldused",
            "ci-used",
        ],
    );
    check_filter(
        &env,
        &["--match", "[Cc]i-*"],
        &[
            "Ci-upper",
            "ci-a1",
            "ci-dis",
            "ci-exp",
            "ci-old",
            "ci-oldused",
            "ci-used",
        ],
    );
    check_filter(&env, &["--match", "CI-*"], &[]);
    check_filter(
        &env,
        &["--match", "ci-???"],
        &["ci-dis", "ci-exp", "ci-old"],
    );
    check_filter(
        &env,
        &["--match", "ci-[a-e]*"],
        &["ci-a1", "ci-dis", "ci-exp"],
    );
    check_filter(
        &env,
        &["--match", "ci-[!a-e]*"],
        &["ci-old", "ci-oldused", "ci-used"],
    );
    check_filter(&env, &["--match", "ci-??"], &["ci-a1"]);
    // The whole name: "web" alone, not "web-new".
    check_filter(&env, &["--match", "web"], &["web"]);
    check_filter(&env, &["--match", "*new"], &["web-new"]);
    check_filter(
        &env,
        &["--match", "*-*", "--all-accounts"],
        &[
            "Ci-upper",
            "ci-a1",
            "ci-bob",
            "ci-dis",
            "ci-exp",
            "ci-old",
            "ci-oldused",
            "ci-used",
            "web-bob",
            "web-new",
        ],
    );
    check_filter(
        &env,
        &["--match", "ci-o*", "--unused-for", "90d"],
        &["ci-old", "ci-oldused"],
    );
}

#[rstest]
fn no_filter_dry_run_equals_the_live_list(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = filter_fixture(backend) else {
        return;
    };
    check_filter(
        &env,
        &[],
        &[
            "Ci-upper",
            "ci-a1",
            "ci-dis",
            "ci-exp",
            "ci-old",
            "ci-oldused",
            "ci-used",
            "web",
            "web-new",
        ],
    );
    check_filter(
        &env,
        &["--all-accounts"],
        &[
            "Ci-upper",
            "ci-a1",
            "ci-bob",
            "ci-dis",
            "ci-exp",
            "ci-old",
            "ci-oldused",
            "ci-used",
            "web",
            "web-bob",
            "web-new",
        ],
    );
}

#[rstest]
fn bad_filter_values_are_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("x", &[]);
    for args in [
        vec!["--unused-for", "0"],
        vec!["--unused-for", "5x"],
        vec!["--unused-for", "-1d"],
        vec!["--match", "["],
    ] {
        let mut full = vec!["token", "list"];
        full.extend(args);
        env.fails(&full, 2);
    }
}

#[rstest]
fn the_first_list_on_a_new_machine_says_where_the_store_will_be_and_how_to_start(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = env.cmd(&["token", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "stdout stays clean: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let db = env.db.display().to_string();
    assert!(err.contains(&format!("no store at {db} yet")), "{err}");
    assert!(err.contains("tokenctl token create NAME"), "{err}");
    assert!(err.contains("no tokens"), "{err}");
    // JSON is unchanged: an empty list on stdout.
    assert_eq!(env.json(&["token", "list"]), serde_json::json!([]));
    assert!(!env.has_store(), "a read created the store");
    // What it says to do works.
    env.create("first", &[]);
    assert_eq!(env.json(&["token", "list"])[0]["name"], "first");
}
