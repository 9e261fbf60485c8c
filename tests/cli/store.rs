//! The store file: where it is, its permissions, what is refused, and
//! that read-only commands never create it.

use std::path::Path;

use crate::common::{BIN, TestEnv, path_str};
use crate::fixtures::*;

fn assert_mode_0600_with_sidecars(db: &Path) {
    assert_eq!(mode(db), 0o600, "{}", db.display());
    for suffix in ["-wal", "-shm"] {
        let p = sidecar(db, suffix);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    assert_eq!(mode(db.parent().expect("folder")), 0o700);
}

/// The bytes of a file and whether -wal/-shm sit next to it.
fn file_state(p: &Path) -> (Vec<u8>, bool, bool) {
    (
        std::fs::read(p).expect("read"),
        sidecar(p, "-wal").exists(),
        sidecar(p, "-shm").exists(),
    )
}

/// Every command that touches the store, as the store tests use them.
fn store_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["token", "create", "x"],
        vec!["token", "list"],
        vec!["token", "list", "-o", "json"],
        vec!["token", "show", "x"],
        vec!["token", "edit", "x", "--note", "n"],
        vec!["token", "revoke", "x", "--yes"],
        vec!["token", "revoke-all", "--yes"],
    ]
}

#[test]
fn store_is_created_0600_in_a_0700_folder() {
    let env = TestEnv::new();
    env.create("x", &[]);
    assert_mode_0600_with_sidecars(&env.db);
    // Hold a reader open so the -wal and -shm stay while another write runs.
    let conn = env.sql();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))
        .expect("read");
    assert_eq!(n, 1);
    env.create("y", &[]);
    assert!(sidecar(&env.db, "-wal").exists() || sidecar(&env.db, "-shm").exists());
    assert_mode_0600_with_sidecars(&env.db);
    drop(conn);
}

#[test]
fn permissions_do_not_depend_on_the_callers_umask() {
    let env = TestEnv::new();
    let nested = env.dir.path().join("a").join("b").join("tokens.db");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(["--db", path_str(&nested), "token", "create", "x"])
        .env_clear()
        .env("HOME", env.dir.path())
        .env("USER", "alice")
        .env("TZ", "UTC")
        .output()
        .expect("run sh");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_mode_0600_with_sidecars(&nested);
    assert_eq!(mode(&env.dir.path().join("a")), 0o700);
}

#[test]
fn db_flag_overrides_tokenctl_db() {
    let env = TestEnv::new();
    let other = env.dir.path().join("other").join("t.db");
    env.ok(&["--db", path_str(&other), "token", "create", "x"]);
    assert!(other.exists());
    assert_no_store(&env);
    // Accepted after the subcommand too.
    let out = env.ok(&["token", "list", "--db", path_str(&other), "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(names(&v), strings(&["x"]));
    assert_no_store(&env);
}

#[test]
fn tokenctl_db_is_used_without_the_flag() {
    let env = TestEnv::new();
    env.create("x", &[]);
    assert!(env.db.exists());
    assert_eq!(names(&env.json(&["token", "list"])), strings(&["x"]));
}

#[test]
fn default_store_is_under_xdg_data_home() {
    let env = TestEnv::new();
    let xdg = env.dir.path().join("xdg");
    let out = env
        .cmd(&["token", "create", "x"])
        .env_remove("TOKENCTL_DB")
        .env("XDG_DATA_HOME", &xdg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let db = xdg.join("tokenctl").join("tokens.db");
    assert!(db.exists(), "no store at {}", db.display());
    assert_mode_0600_with_sidecars(&db);
    assert_no_store(&env);
    // And it is read back from there.
    let out = env
        .cmd(&["token", "list", "-o", "json"])
        .env_remove("TOKENCTL_DB")
        .env("XDG_DATA_HOME", &xdg)
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(names(&v), strings(&["x"]));
}

#[test]
fn default_store_without_xdg_data_home_is_under_home() {
    let env = TestEnv::new();
    let out = env
        .cmd(&["token", "create", "x"])
        .env_remove("TOKENCTL_DB")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let db = env
        .dir
        .path()
        .join(".local")
        .join("share")
        .join("tokenctl")
        .join("tokens.db");
    assert!(db.exists(), "no store at {}", db.display());
}

#[test]
fn read_only_commands_never_create_a_store() {
    let env = TestEnv::new();
    let out = run(&env, &["token", "list"]);
    assert_eq!(out.status.code(), Some(0));
    env.fails(&["token", "show", "x"], 3);
    let out = env.verify(&well_formed_token(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_no_store(&env);
}

#[test]
fn verify_on_a_missing_store_is_exit_1_no_store() {
    let env = TestEnv::new();
    let out = env.verify(&well_formed_token(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("no store"), "{err}");
    assert!(
        err.contains(path_str(&env.db)),
        "the error names the path: {err}"
    );
    // TOKENCTL_TOKEN too.
    let out = env
        .cmd(&["token", "verify"])
        .env("TOKENCTL_TOKEN", well_formed_token())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no store"));
    assert_no_store(&env);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.db.parent().expect("folder")).expect("mkdir");
    let content = b"this is not a database, it is someone's notes\n".repeat(200);
    std::fs::write(&env.db, &content).expect("write");
    let before = file_state(&env.db);
    for args in store_commands() {
        let err = env.fails(&args, 1);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(file_state(&env.db), before, "{args:?} touched the file");
    }
    let out = env.verify(&well_formed_token(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: "));
    assert_eq!(file_state(&env.db), before);
    assert!(!before.1 && !before.2);
}

#[test]
fn a_short_non_sqlite_file_is_refused_untouched() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.db.parent().expect("folder")).expect("mkdir");
    std::fs::write(&env.db, b"SQLite").expect("write");
    let before = file_state(&env.db);
    env.fails(&["token", "create", "x"], 1);
    env.fails(&["token", "list"], 1);
    assert_eq!(file_state(&env.db), before);
}

#[test]
fn another_programs_sqlite_database_is_refused_untouched() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.db.parent().expect("folder")).expect("mkdir");
    {
        let conn = rusqlite::Connection::open(&env.db).expect("create");
        conn.execute_batch(
            "CREATE TABLE accounts (x TEXT); INSERT INTO accounts VALUES ('keep me');",
        )
        .expect("schema");
    }
    let before = file_state(&env.db);
    assert!(!before.1 && !before.2);
    for args in store_commands() {
        let err = env.fails(&args, 1);
        assert!(
            err.contains(path_str(&env.db)),
            "the error names the file: {err}"
        );
        assert_eq!(file_state(&env.db), before, "{args:?} touched the file");
    }
    let out = env.verify(&well_formed_token(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(file_state(&env.db), before);
}

#[test]
fn another_programs_wal_database_is_refused_untouched() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.db.parent().expect("folder")).expect("mkdir");
    {
        let conn = rusqlite::Connection::open(&env.db).expect("create");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA user_version = 7;
             CREATE TABLE t (x); INSERT INTO t VALUES (1);",
        )
        .expect("schema");
    }
    let before = file_state(&env.db);
    for args in store_commands() {
        env.fails(&args, 1);
        assert_eq!(file_state(&env.db), before, "{args:?} touched the file");
    }
}

#[test]
fn a_store_from_a_newer_tokenctl_is_refused_untouched() {
    let env = TestEnv::new();
    env.create("x", &[]);
    env.sql()
        .execute_batch("PRAGMA user_version = 999;")
        .expect("bump");
    let before = env.store_bytes();
    for args in store_commands() {
        env.fails(&args, 1);
    }
    assert_eq!(env.store_bytes(), before);
}

#[test]
fn a_folder_as_store_is_exit_1() {
    let env = TestEnv::new();
    std::fs::create_dir_all(&env.db).expect("mkdir");
    for args in store_commands() {
        env.fails(&args, 1);
    }
    let out = env.verify(&well_formed_token(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(env.db.is_dir());
    assert_eq!(
        std::fs::read_dir(&env.db).expect("read dir").count(),
        0,
        "something was written into the folder"
    );
}

#[test]
fn read_only_commands_leave_an_empty_file_alone() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.db.parent().expect("folder")).expect("mkdir");
    std::fs::write(&env.db, b"").expect("touch");
    let out = run(&env, &["token", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    env.fails(&["token", "show", "x"], 3);
    assert_eq!(std::fs::read(&env.db).expect("read").len(), 0);
    assert!(!sidecar(&env.db, "-wal").exists());
    assert!(!sidecar(&env.db, "-shm").exists());
}

#[test]
fn unknown_flags_are_exit_2() {
    let env = TestEnv::new();
    for args in [
        vec!["token", "create", "x", "--bogus"],
        vec!["token", "list", "--bogus"],
        vec!["--bogus", "token", "list"],
        vec!["token", "show", "x", "--bogus"],
        vec!["token", "edit", "x", "--bogus", "y"],
        vec!["token", "create", "x", "-Z"],
        vec!["token", "frobnicate"],
        vec!["token", "list", "-o", "xml"],
    ] {
        env.fails(&args, 2);
    }
    assert_no_store(&env);
    env.create("x", &[]);
    let before = env.snapshot();
    env.fails(&["token", "edit", "x", "--note", "n", "--bogus"], 2);
    env.fails(&["token", "create", "y", "--bogus"], 2);
    assert_eq!(env.snapshot(), before);
}

#[test]
fn store_is_wal_with_a_schema_version_and_application_id() {
    let env = TestEnv::new();
    env.create("x", &[]);
    let conn = env.sql();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode.to_lowercase(), "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert!(version > 0, "user_version {version}");
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .expect("application_id");
    assert_ne!(app, 0, "no application_id");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(ok, "ok");
}

#[test]
fn a_second_write_reuses_the_store() {
    let env = TestEnv::new();
    env.create("x", &[]);
    let version: i64 = env
        .sql()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("v");
    env.create("y", &[]);
    let again: i64 = env
        .sql()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("v");
    assert_eq!(version, again);
    assert_eq!(names(&env.json(&["token", "list"])), strings(&["x", "y"]));
}
