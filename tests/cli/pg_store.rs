//! The store on PostgreSQL: the commands behave as on SQLite.

use crate::common::TestEnv;

/// The same sequence on both kinds of store, with the same outputs.
fn lifecycle(env: &TestEnv) -> Vec<String> {
    let mut seen = Vec::new();
    let token = env.create("deploy", &["--acl", "all", "--note", "ci"]);
    assert!(env.verify(&token, &[]).status.success());
    env.ok(&["account", "add", "bob", "--acl", "read,write"]);
    env.ok(&["token", "disable", "deploy", "--yes"]);
    assert_eq!(env.verify(&token, &[]).status.code(), Some(5));
    env.ok(&["token", "enable", "deploy"]);
    env.create("other", &[]);
    env.fails(&["token", "create", "other"], 4);
    env.ok(&["token", "revoke", "other", "--yes"]);
    let list = env.json(&["token", "list", "--all"]);
    seen.push(format!("{}", list.as_array().unwrap().len()));
    for t in list.as_array().unwrap() {
        seen.push(format!("{} {} {}", t["name"], t["status"], t["acls"]));
    }
    let accounts = env.json(&["account", "list"]);
    seen.push(accounts.to_string().replace(char::is_numeric, "#"));
    let audit = env.json(&["audit"]);
    for e in audit.as_array().unwrap() {
        seen.push(format!("{} {} {}", e["action"], e["account"], e["token"]));
    }
    env.ok(&["token", "revoke-all", "--yes"]);
    assert_eq!(env.verify(&token, &[]).status.code(), Some(5));
    env.ok(&["account", "delete", "bob", "--yes"]);
    seen.push(
        env.json(&["account", "list"])
            .to_string()
            .replace(char::is_numeric, "#"),
    );
    seen
}

#[test]
fn the_lifecycle_reads_the_same_on_postgresql_as_on_sqlite() {
    let Some(pg) = TestEnv::postgres() else {
        return;
    };
    let on_sqlite = lifecycle(&TestEnv::new());
    let on_postgres = lifecycle(&pg);
    assert_eq!(on_postgres, on_sqlite);
    assert!(on_postgres.len() > 8, "{on_postgres:?}");
}

#[test]
fn reads_create_nothing_on_postgresql() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    env.ok(&["token", "list"]);
    env.ok(&["account", "list"]);
    let db = env.pg.as_ref().unwrap();
    let out = db.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'tokenctl'");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains('0'), "{text}");
    env.create("ci", &[]);
    let out = db.psql("SELECT count(*) FROM tokenctl.tokens");
    assert!(String::from_utf8_lossy(&out.stdout).contains('1'));
}

#[test]
fn a_schema_of_another_program_is_refused_untouched() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let db = env.pg.as_ref().unwrap();
    let made = db.psql("CREATE SCHEMA tokenctl; CREATE TABLE tokenctl.things (x int)");
    assert!(made.status.success());
    let err = env.fails(&["token", "create", "ci"], 1);
    assert!(err.contains("is not a tokenctl store"), "{err}");
    let err = env.fails(&["token", "list"], 1);
    assert!(err.contains("is not a tokenctl store"), "{err}");
    let out = db.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'tokenctl'");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    env.create("ci", &[]);
    let db = env.pg.as_ref().unwrap();
    db.psql("UPDATE tokenctl.meta SET value = '99' WHERE key = 'schema_version'");
    let err = env.fails(&["token", "create", "other"], 1);
    assert!(err.contains("newer tokenctl (schema 99)"), "{err}");
    env.fails(&["token", "list"], 1);
    let out = db.psql("SELECT count(*) FROM tokenctl.tokens");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

#[test]
fn a_password_in_db_on_the_command_line_is_warned_about_and_never_shown() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let url = env.db.to_str().unwrap().to_string();
    let with_password = url.replacen("postgres@", "postgres:Sw0rdfish-9@", 1);
    assert_ne!(with_password, url);
    let out = env
        .cmd(&["--db", &with_password, "account", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: a password in --db"), "{stderr}");
    assert!(!stderr.contains("Sw0rdfish"), "{stderr}");
    // From the environment: no warning, and errors do not show it either.
    let out = env
        .cmd(&["token", "show", "nothing"])
        .env("TOKENCTL_DB", &with_password)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(!all.contains("warning: a password"), "{all}");
    assert!(!all.contains("Sw0rdfish"), "{all}");
}

#[test]
fn an_unreachable_server_is_one_line_and_exit_1() {
    let env = TestEnv::new();
    let dir = env.dir.path().display().to_string();
    let url = format!("postgres://nobody:Sw0rdfish-9@/nowhere?host={dir}");
    let out = env.cmd(&["--db", &url, "token", "list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(
        error.starts_with("error: cannot connect to the store postgres://nobody@/nowhere"),
        "{stderr}"
    );
    assert!(error.contains("No such file"), "{stderr}");
    assert!(!stderr.contains("Sw0rdfish"), "{stderr}");
}

#[test]
fn concurrent_first_uses_and_creates_of_one_name_serialise() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    // Eight processes on a database with no store yet, all creating the
    // same name: one store, one token, seven conflicts.
    let children: Vec<_> = (0..8)
        .map(|_| {
            env.std_cmd(&["token", "create", "same"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut codes: Vec<i32> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.code().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, [0, 4, 4, 4, 4, 4, 4, 4]);
    let list = env.json(&["token", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let audit = env.json(&["audit"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["account-add", "create"]);
}

/// A valid verify records Last Used on PostgreSQL too, on the connection
/// it read the token with.
#[test]
fn verify_records_last_used_on_postgresql() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let token = env.create("x", &[]);
    let out = env.verify(&token, &["--ip", "203.0.113.9"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = env.json(&["token", "show", "x"]);
    assert_eq!(shown["last_used_ip"], "203.0.113.9");
    assert!(shown["last_used"].is_string(), "{shown}");
}
