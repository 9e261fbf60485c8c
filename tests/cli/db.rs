//! `tokenctl db backup` and `tokenctl db check`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use rstest::rstest;
use serde_json::Value;

use crate::common::{BIN, Backend, Postgres, Sqlite, TestEnv, path_str};

#[test]
fn backup_is_a_working_copy_with_mode_0600() {
    let env = TestEnv::new();
    let token = env.create("deploy", &[]);
    let copy = env.dir.path().join("copy.db");
    env.ok(&["db", "backup", path_str(&copy)]);
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let restored = TestEnv {
        db: copy.clone(),
        ..TestEnv::new()
    };
    assert!(restored.verify(&token, &[]).status.success());
    assert_eq!(restored.json(&["token", "list"])[0]["name"], "deploy");
    // No partial file left beside it.
    let names: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
}

#[test]
fn backup_refuses_an_existing_file_unless_yes() {
    let env = TestEnv::new();
    env.create("deploy", &[]);
    let copy = env.dir.path().join("copy.db");
    std::fs::write(&copy, b"keep me").unwrap();
    env.fails(&["db", "backup", path_str(&copy)], 4);
    assert_eq!(std::fs::read(&copy).unwrap(), b"keep me");
    env.ok(&["db", "backup", path_str(&copy), "--yes"]);
    assert!(
        std::fs::read(&copy)
            .unwrap()
            .starts_with(b"SQLite format 3\0")
    );
}

#[test]
fn backup_and_check_need_a_store_and_create_none() {
    let env = TestEnv::new();
    let copy = env.dir.path().join("copy.db");
    let err = env.fails(&["db", "backup", path_str(&copy)], 1);
    assert!(err.contains("no store"), "{err}");
    env.fails(&["db", "check"], 1);
    assert!(!env.db.exists());
    assert!(!copy.exists());
}

#[test]
fn backup_is_consistent_while_another_process_writes() {
    let env = TestEnv::new();
    env.create("seed", &[]);
    // A writer creating tokens in the background while backups run.
    let mut writer = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "for i in $(seq 1 15); do {BIN} token create w$i >/dev/null 2>&1; done"
        ))
        .env_clear()
        .env("TOKENCTL_DB", &env.db)
        .env("USER", "alice")
        .env("HOME", env.dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    for i in 0..5 {
        let copy = env.dir.path().join(format!("copy{i}.db"));
        env.ok(&["db", "backup", path_str(&copy)]);
        let restored = TestEnv {
            db: copy,
            ..TestEnv::new()
        };
        restored.ok(&["db", "check"]);
        // Every token in a copy has its create event: one moment, whole.
        let conn = restored.sql();
        let tokens: i64 = conn
            .query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))
            .unwrap();
        let creates: i64 = conn
            .query_row(
                "SELECT count(*) FROM events WHERE action = 'create'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tokens, creates);
    }
    assert!(writer.wait().unwrap().success());
}

#[test]
fn check_reports_health_and_problems() {
    let env = TestEnv::new();
    env.create("deploy", &[]);
    let report = env.json(&["db", "check"]);
    assert_eq!(report["healthy"], Value::Bool(true));
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"integrity"), "{names:?}");
    assert!(env.ok(&["db", "check"]).contains("integrity"));

    env.sql()
        .execute("UPDATE tokens SET secret_hash = 'plain', acls = 'nope'", [])
        .unwrap();
    let out = env.cmd(&["db", "check", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["healthy"], Value::Bool(false));
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == Value::Bool(false))
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["hashes", "privileges"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
}

/// Every file under `dir`, to show a refused command wrote nothing.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found.sort();
    found
}

#[rstest]
fn backup_into_a_missing_folder_says_to_create_it(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &[]);
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let missing = out.join("nightly").join("tokens.db");
    let before = files_under(env.dir.path());
    let err = env.fails(&["db", "backup", path_str(&missing)], 1);
    let folder = out.join("nightly");
    assert_eq!(
        err.lines().next().unwrap(),
        format!(
            "error: cannot write the backup {}: the folder {} does not exist",
            missing.display(),
            folder.display()
        )
    );
    assert!(
        err.contains(&format!("mkdir -p {}", folder.display())),
        "{err}"
    );
    assert!(!err.contains("partial"), "{err}");
    // --yes changes nothing about it, and nothing is written.
    env.fails(&["db", "backup", path_str(&missing), "--yes"], 1);
    assert_eq!(files_under(env.dir.path()), before);
}

#[rstest]
fn backup_to_a_folder_says_to_name_a_file(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &[]);
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let before = files_under(env.dir.path());
    for extra in [&[][..], &["--yes"][..]] {
        let mut args = vec!["db", "backup", path_str(&out)];
        args.extend(extra);
        let err = env.fails(&args, 2);
        assert_eq!(
            err.lines().next().unwrap(),
            format!(
                "error: {} is a folder; db backup writes a file",
                out.display()
            )
        );
        assert!(
            err.contains(&format!(
                "tokenctl db backup {}",
                out.join("tokens.db").display()
            )),
            "{err}"
        );
        assert!(!err.contains("--yes"), "{err}");
    }
    assert_eq!(files_under(env.dir.path()), before);
    // The suggested command works.
    env.ok(&["db", "backup", path_str(&out.join("tokens.db"))]);
}
