//! `db copy`, `db backup`, `db restore` and `db check` with PostgreSQL
//! stores: whole stores moved between SQLite and PostgreSQL, tokens
//! verifying on the target without reissue.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::TestEnv;

/// Tokens worth copying: a used one, one rotated with a grace, a revoked
/// one, and a deleted account's. Returns the plaintexts of the used one
/// and of the rotated one's old and new secrets.
fn populate(env: &TestEnv) -> [String; 3] {
    let used = env.create("deploy", &["--acl", "all", "--note", "ci"]);
    assert!(env.verify(&used, &[]).status.success());
    let old = env.create("rotated", &[]);
    let new = env
        .ok(&["token", "rotate", "rotated", "--grace", "1h"])
        .trim()
        .to_string();
    env.create("gone", &[]);
    env.ok(&["token", "revoke", "gone", "--yes"]);
    env.ok(&["account", "add", "bob", "--acl", "read,write"]);
    env.ok(&["-u", "bob", "token", "create", "bobs"]);
    env.ok(&["account", "delete", "bob", "--yes"]);
    env.ok(&["privilege", "add", "deploy", "--description", "Deploy"]);
    [used, old, new]
}

/// What a store shows: every token (revoked ones too), account and event.
fn shown(env: &TestEnv) -> Vec<Value> {
    vec![
        env.json(&["token", "list", "--all"]),
        env.json(&["account", "list"]),
        env.json(&["audit", "--all-accounts"]),
        env.json(&["privilege", "list"]),
    ]
}

/// `shown`, and what `token show` says of the populated tokens (Last
/// Used, the rotation's grace).
fn shown_in_full(env: &TestEnv) -> Vec<Value> {
    let mut all = shown(env);
    all.push(env.json(&["token", "show", "deploy"]));
    assert_eq!(all[3].as_array().map(Vec::len), Some(1), "a catalogue");
    all.push(env.json(&["token", "show", "rotated"]));
    all
}

/// An environment on another store: `db` a SQLite path or a URL.
fn on(db: PathBuf) -> TestEnv {
    let mut env = TestEnv::new();
    env.db = db;
    env
}

fn copy_keeps_everything(from: &TestEnv, to: TestEnv) {
    let [used, old, new] = populate(from);
    let before = shown_in_full(from);
    assert!(!before[4]["last_used"].is_null(), "{}", before[4]);
    let out = from.ok(&["db", "copy", "--to", to.db.to_str().unwrap()]);
    assert!(out.starts_with("copied 2 accounts, 4 tokens, "), "{out}");
    assert_eq!(shown_in_full(&to), before);
    assert_eq!(shown_in_full(from), before, "the source is not changed");
    for token in [&used, &old, &new] {
        assert!(
            to.verify(token, &[]).status.success(),
            "{token} verifies on the target"
        );
    }
    // New rows follow the copied ones on the target.
    to.ok(&["account", "add", "carol", "--acl", "deploy"]);
    to.create("after", &[]);
    let audit = to.json(&["audit", "--all-accounts"]);
    let events = audit.as_array().unwrap();
    assert_eq!(events.last().unwrap()["token"], "after", "{audit}");
    assert_eq!(events.len(), 13, "{audit}");
    assert_eq!(to.json(&["privilege", "list"])[0]["name"], "deploy");
}

#[test]
fn copy_from_sqlite_to_postgresql_keeps_every_row() {
    let Some(pg) = TestEnv::postgres() else {
        return;
    };
    let db = pg.db.clone();
    let mut to = on(db);
    to.pg = pg.pg;
    copy_keeps_everything(&TestEnv::new(), to);
}

#[test]
fn copy_from_postgresql_to_sqlite_keeps_every_row() {
    let Some(from) = TestEnv::postgres() else {
        return;
    };
    let target = from.dir.path().join("new").join("tokens.db");
    copy_keeps_everything(&from, on(target.clone()));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn copy_json_says_what_was_copied() {
    let from = TestEnv::new();
    from.create("ci", &[]);
    let target = from.dir.path().join("copy.db");
    let out = from.json(&["db", "copy", "--to", target.to_str().unwrap()]);
    assert_eq!(out["accounts"], 1);
    assert_eq!(out["tokens"], 1);
    assert_eq!(out["privileges"], 0);
    assert_eq!(out["copied_to"], target.to_str().unwrap());
}

#[test]
fn copy_refuses_a_target_that_is_not_empty_and_leaves_it_untouched() {
    let Some(to) = TestEnv::postgres() else {
        return;
    };
    to.create("theirs", &[]);
    let from = TestEnv::new();
    from.create("ours", &[]);
    let before = shown(&to);
    let err = from.fails(&["db", "copy", "--to", to.db.to_str().unwrap()], 4);
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(shown(&to), before);

    let file = to.dir.path().join("exists.db");
    std::fs::write(&file, b"").unwrap();
    let err = from.fails(&["db", "copy", "--to", file.to_str().unwrap()], 4);
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"");

    // A schema of another program is not empty either.
    let other = TestEnv::postgres().unwrap();
    let db = other.pg.as_ref().unwrap();
    assert!(
        db.psql("CREATE SCHEMA tokenctl; CREATE TABLE tokenctl.things (x int)")
            .status
            .success()
    );
    from.fails(&["db", "copy", "--to", other.db.to_str().unwrap()], 4);
    let out = db.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'tokenctl'");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

#[test]
fn a_postgresql_backup_restores_into_postgresql_and_into_sqlite() {
    let Some(from) = TestEnv::postgres() else {
        return;
    };
    let [used, ..] = populate(&from);
    let before = shown_in_full(&from);
    let backup = from.dir.path().join("backup.db");
    from.ok(&["db", "backup", backup.to_str().unwrap()]);
    from.fails(&["db", "backup", backup.to_str().unwrap()], 4);

    // Into another PostgreSQL store, which had diverged.
    let to = TestEnv::postgres().unwrap();
    let theirs = to.create("theirs", &[]);
    to.ok(&["db", "restore", backup.to_str().unwrap(), "--yes"]);
    assert_eq!(shown_in_full(&to), before);
    assert!(to.verify(&used, &[]).status.success());
    assert_eq!(to.verify(&theirs, &[]).status.code(), Some(5));
    to.create("after", &[]);
    to.ok(&["db", "check"]);

    // Into the store it came from, after a change: the change is undone.
    from.ok(&["token", "revoke", "deploy", "--yes"]);
    from.fails(&["db", "restore", backup.to_str().unwrap()], 6);
    from.ok(&["db", "restore", backup.to_str().unwrap(), "--yes"]);
    assert_eq!(shown_in_full(&from), before);

    // Into SQLite.
    let sqlite = TestEnv::new();
    sqlite.create("theirs", &[]);
    sqlite.ok(&["db", "restore", backup.to_str().unwrap(), "--yes"]);
    assert_eq!(shown_in_full(&sqlite), before);
    assert!(sqlite.verify(&used, &[]).status.success());
}

#[test]
fn check_on_postgresql_finds_a_damaged_row() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    populate(&env);
    let out = env.ok(&["db", "check"]);
    assert!(out.contains("schema"), "{out}");
    let report = env.json(&["db", "check"]);
    assert_eq!(report["healthy"], true, "{report}");

    let db = env.pg.as_ref().unwrap();
    let damaged = db.psql("UPDATE tokenctl.tokens SET secret_hash = 'plain' WHERE name = 'deploy'");
    assert!(damaged.status.success());
    let err = env.fails(&["db", "check"], 1);
    assert!(err.contains("is not healthy"), "{err}");
    let out = env.cmd(&["db", "check"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PROBLEM hashes"), "{text}");
}

#[test]
fn check_on_postgresql_warns_about_settings_that_weaken_a_revoke() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    env.create("ci", &[]);
    let db = env.pg.as_ref().unwrap();
    let name = &db.name;
    let set = db.psql(&format!(
        "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
    ));
    assert!(set.status.success());
    let out = env.ok(&["db", "check"]);
    assert!(
        out.contains("WARNING") && out.contains("synchronous_commit"),
        "{out}"
    );
}
