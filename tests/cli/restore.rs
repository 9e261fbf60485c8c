//! `tokenctl db restore`: a backup written into the live store, with its
//! refusals and its confirmation.

use std::path::PathBuf;

use crate::common::{TestEnv, path_str};
use crate::interactive::Pty;

// --- db restore ---------------------------------------------------------------

/// A store with token `a`, a backup of it, then token `b` and `a` revoked.
/// Returns a's and b's plaintexts and the backup's path.
fn diverged(env: &TestEnv) -> (String, String, PathBuf) {
    let a = env.create("a", &[]);
    let backup = env.dir.path().join("backup.db");
    env.ok(&["db", "backup", path_str(&backup)]);
    let b = env.create("b", &[]);
    env.ok(&["token", "revoke", "a", "--yes"]);
    (a, b, backup)
}

#[test]
fn restore_with_yes_brings_back_the_backup() {
    let env = TestEnv::new();
    let (a, b, backup) = diverged(&env);
    let before = env.snapshot();
    let backup_env = TestEnv {
        db: backup.clone(),
        ..TestEnv::new()
    };
    let expected = backup_env.snapshot();
    assert_ne!(before, expected);

    let out = env
        .cmd(&["db", "restore", path_str(&backup), "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout.trim(),
        format!("restored {} from {}", env.db.display(), backup.display())
    );
    // The audit trail is the backup's: stderr is the restore's record.
    assert!(stderr.starts_with("note: "), "{stderr}");
    assert!(stderr.contains(path_str(&backup)), "{stderr}");

    assert_eq!(env.snapshot(), expected);
    assert!(env.verify(&a, &[]).status.success());
    assert_eq!(env.verify(&b, &[]).status.code(), Some(5));
    env.ok(&["db", "check"]);
    // The backup itself is untouched.
    assert_eq!(backup_env.snapshot(), expected);

    // JSON says what was restored into what.
    let again = env.json(&["db", "restore", path_str(&backup), "--yes"]);
    assert_eq!(again["restored"], path_str(&backup));
    assert_eq!(again["store"], path_str(&env.db));
}

#[test]
fn restore_without_yes_and_no_terminal_is_exit_6_and_changes_nothing() {
    let env = TestEnv::new();
    let (a, _, backup) = diverged(&env);
    let before = env.snapshot();
    let err = env.fails(&["db", "restore", path_str(&backup)], 6);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.verify(&a, &[]).status.code(), Some(5));
}

#[test]
fn restore_on_a_terminal_asks() {
    let env = TestEnv::new();
    let (a, _, backup) = diverged(&env);
    let before = env.snapshot();

    let mut pty = Pty::spawn(&env, &["db", "restore", path_str(&backup)]);
    let asked = pty.expect("[y/N]");
    assert!(asked.contains("Replace every account, token"), "{asked}");
    pty.send("n");
    let (code, _) = pty.finish();
    assert_eq!(code, 6);
    assert_eq!(env.snapshot(), before);

    let mut pty = Pty::spawn(&env, &["db", "restore", path_str(&backup)]);
    pty.expect("[y/N]");
    pty.send("y");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("restored "), "{seen}");
    assert!(env.verify(&a, &[]).status.success());
}

#[test]
fn restore_refuses_what_is_not_a_tokenctl_backup_and_changes_nothing() {
    let env = TestEnv::new();
    let (a, _, _) = diverged(&env);
    let before = env.snapshot();
    let dir = env.dir.path();

    let junk = dir.join("junk.db");
    std::fs::write(&junk, b"this is not a database, not even close to one").unwrap();
    let empty = dir.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let other = dir.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE tokens (id TEXT); INSERT INTO tokens VALUES ('x');")
        .unwrap();
    let folder = dir.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(path_str(&fifo)).unwrap();
    // SAFETY: mkfifo(3) on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);

    for (file, says) in [
        (&junk, "is not a tokenctl store"),
        (&empty, "is not a tokenctl store"),
        (&other, "is not a tokenctl store"),
        (&folder, "is not a file"),
        (&fifo, "is not a file"),
    ] {
        let err = env.fails(&["db", "restore", path_str(file), "--yes"], 1);
        assert!(err.contains(path_str(file)) && err.contains(says), "{err}");
        assert_eq!(env.snapshot(), before, "{file:?}");
    }
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    assert_eq!(env.verify(&a, &[]).status.code(), Some(5));
}

#[test]
fn restore_refuses_a_backup_of_a_newer_tokenctl() {
    let env = TestEnv::new();
    let (_, _, backup) = diverged(&env);
    rusqlite::Connection::open(&backup)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let before = env.snapshot();
    let err = env.fails(&["db", "restore", path_str(&backup), "--yes"], 1);
    assert!(err.contains("newer tokenctl"), "{err}");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn restore_of_a_missing_file_names_it_and_changes_nothing() {
    let env = TestEnv::new();
    diverged(&env);
    let before = env.snapshot();
    let missing = env.dir.path().join("no-such-backup.db");
    let err = env.fails(&["db", "restore", path_str(&missing), "--yes"], 1);
    assert!(err.contains(path_str(&missing)), "{err}");
    assert!(!missing.exists());
    assert_eq!(env.snapshot(), before);
}

#[test]
fn restore_refuses_the_store_itself_and_needs_a_store() {
    let env = TestEnv::new();
    diverged(&env);
    let before = env.snapshot();
    env.fails(&["db", "restore", path_str(&env.db), "--yes"], 4);
    assert_eq!(env.snapshot(), before);

    let empty = TestEnv::new();
    let err = empty.fails(&["db", "restore", path_str(&env.db), "--yes"], 1);
    assert!(err.contains("no store"), "{err}");
    assert!(!empty.db.exists());
}
