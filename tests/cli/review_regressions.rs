//! Ways around the input and restore hardening: user text quoted in error
//! lines on stderr, a token pasted into SUDO_USER, and backups that pass
//! SQLite's own check but are not whole tokenctl stores.

use std::process::Output;

use crate::common::{TestEnv, path_str};
use crate::fixtures::{run, stderr, stdout};

/// Runs with extra environment variables; returns the whole output.
fn run_with(env: &TestEnv, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = env.cmd(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run tokenctl")
}

/// Asserts stderr holds no terminal control but line breaks, and no panic.
fn no_controls(out: &Output, what: &str) -> String {
    let err = stderr(out);
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n'),
        "{what}: stderr holds raw controls: {err:?}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
    err
}

#[test]
fn error_lines_show_terminal_controls_in_user_text_as_escapes() {
    let env = TestEnv::new();
    env.create("web", &[]);
    let evil = "x\u{1b}[2K\u{1b}]0;t\u{7}\r\u{9b}y";
    let backup = env.dir.path().join(format!("b{evil}.db"));
    let backup = path_str(&backup);
    for (args, code) in [
        (vec!["token", "show", evil], 3),
        (vec!["token", "revoke", evil, "--yes"], 3),
        (vec!["account", "show", evil], 3),
        (vec!["db", "restore", backup, "--yes"], 1),
        // clap's own messages quote arguments too.
        (vec!["token", "list", evil], 2),
        (vec![evil], 2),
    ] {
        let out = run(&env, &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        let err = no_controls(&out, &format!("{args:?}"));
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(
            err.contains("\\x1b[2K") || err.contains("\\x0d"),
            "{args:?}: the control is shown as an escape: {err}"
        );
    }
}

#[test]
fn a_token_in_sudo_user_never_reaches_the_audit_trail() {
    let env = TestEnv::new();
    let token = env.create("web", &[]);
    let out = run_with(
        &env,
        &[("SUDO_USER", &format!("x{token}"))],
        &["token", "create", "ci"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let audit = env.ok(&["audit", "-o", "json"]);
    assert!(
        !audit.contains(&token),
        "the plaintext is in the audit trail"
    );
    let secret = &token[14..44];
    let dump: Vec<String> = env
        .sql()
        .prepare("SELECT actor FROM events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        dump.iter().all(|a| !a.contains(secret)),
        "stored actors: {dump:?}"
    );
    assert!(
        dump.iter().any(|a| a.contains("(sudo: xtct_<redacted>)")),
        "the sudo user is still named: {dump:?}"
    );
}

#[test]
fn a_backup_missing_tokenctl_tables_is_refused_and_nothing_changes() {
    let env = TestEnv::new();
    let token = env.create("web", &[]);
    let backup = env.dir.path().join("backup.db");
    env.ok(&["db", "backup", path_str(&backup)]);
    // Still SQLite-healthy, and still says it is a tokenctl store.
    let conn = rusqlite::Connection::open(&backup).unwrap();
    conn.execute_batch("PRAGMA foreign_keys=OFF; DROP TABLE tokens;")
        .unwrap();
    drop(conn);
    let before = env.snapshot();
    let out = run(&env, &["db", "restore", path_str(&backup), "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: ") && err.contains("damaged"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
    assert_eq!(env.snapshot(), before, "the store was changed");
    assert!(env.verify(&token, &[]).status.success());
    env.ok(&["db", "check"]);
}

#[test]
fn a_backup_with_a_bad_hash_is_refused() {
    let env = TestEnv::new();
    env.create("web", &[]);
    let backup = env.dir.path().join("backup.db");
    env.ok(&["db", "backup", path_str(&backup)]);
    let conn = rusqlite::Connection::open(&backup).unwrap();
    conn.execute("UPDATE tokens SET secret_hash = 'plain'", [])
        .unwrap();
    drop(conn);
    let before = env.snapshot();
    let out = run(&env, &["db", "restore", path_str(&backup), "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("hashes"), "{}", stderr(&out));
    assert_eq!(env.snapshot(), before, "the store was changed");
}
