//! More on secrets (beyond secrets.rs): the store, its folder, SQLite's
//! -wal and -shm, and backups are owner-only even under a permissive umask;
//! and verification takes argon2's parameters from the stored hash.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};
use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};

use rstest::rstest;

use crate::common::{BIN, Backend, Postgres, Sqlite, TestEnv, path_str, quote};
use crate::verify::{forge, id_part, secret_part};

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn beside(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

/// `tokenctl ARGS` under `umask 000`, through sh, with the env's variables.
fn under_umask_000(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.env_clear()
        .env("HOME", env.dir.path())
        .env("TOKENCTL_DB", &env.db)
        .env("USER", &env.user)
        .env("TZ", "UTC")
        .env("TERM", "xterm")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args);
    cmd
}

/// About the store's files and their modes: SQLite only.
#[test]
fn store_wal_shm_and_backups_are_owner_only_under_umask_000() {
    let env = TestEnv::new();
    // The umask really is permissive in that shell.
    let probe = Command::new("sh")
        .args(["-c", "umask 000; umask"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "0000");

    let out = under_umask_000(&env, &["token", "create", "a"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let folder = env.db.parent().unwrap();
    assert_eq!(mode(folder), 0o700, "the store's folder");
    assert_eq!(mode(&env.db), 0o600, "the store");
    // Closed cleanly: SQLite removed its side files.
    assert!(!beside(&env.db, "-wal").exists());
    assert!(!beside(&env.db, "-shm").exists());

    // While a tokenctl holds the store open (here: revoke, waiting for its
    // confirmation on a terminal), its -wal and -shm exist: owner-only.
    let mut session =
        Session::spawn(under_umask_000(&env, &["token", "revoke", "a"])).expect("pty");
    session.set_expect_timeout(Some(Duration::from_secs(15)));
    session.expect("[y/N]").expect("the confirmation");
    for suffix in ["-wal", "-shm"] {
        let side = beside(&env.db, suffix);
        assert!(side.exists(), "no {suffix} while the store is open");
        assert_eq!(mode(&side), 0o600, "{}", side.display());
    }
    session.send("n\r").unwrap();
    session.expect(Eof).unwrap();
    match session.get_process().wait().unwrap() {
        WaitStatus::Exited(_, code) => assert_eq!(code, 6, "declined"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.json(&["token", "show", "a"])["status"], "active");

    // A backup, too.
    let copy = env.dir.path().join("copy.db");
    let out = under_umask_000(&env, &["db", "backup", path_str(&copy)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&copy), 0o600, "the backup");
    for suffix in ["-wal", "-shm", "-journal"] {
        assert!(
            !beside(&copy, suffix).exists(),
            "{suffix} left beside the backup"
        );
    }
    // The store is still owner-only after all that.
    assert_eq!(mode(&env.db), 0o600);
}

/// An argon2id PHC string of `secret` with other parameters than the
/// defaults.
fn hash_with(secret: &str, m: u32, t: u32, p: u32) -> String {
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(m, t, p, None).unwrap(),
    );
    let phc = argon.hash_password(secret.as_bytes()).unwrap().to_string();
    assert!(phc.contains(&format!("m={m},t={t},p={p}")), "{phc}");
    phc
}

#[rstest]
fn verify_takes_argon2_parameters_from_the_stored_hash(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let id = id_part(&t).to_string();
    let wrong = forge(&id, &"w".repeat(30));
    // Cheaper and costlier than the defaults (m=19456, t=2, p=1): a store
    // whose hashes were made with other settings keeps working.
    for (m, time, p) in [(8, 1, 1), (64, 3, 2), (32768, 1, 1)] {
        let phc = hash_with(secret_part(&t), m, time, p);
        let n = env.sql_execute(&format!(
            "UPDATE tokens SET secret_hash = {} WHERE id = {}",
            quote(&phc),
            quote(&id)
        ));
        assert_eq!(n, 1);
        let out = env.verify(&t, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "m={m},t={time},p={p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The wrong secret is still refused with those parameters.
        let out = env.verify(&wrong, &[]);
        assert_eq!(out.status.code(), Some(5), "m={m},t={time},p={p}");
        env.ok(&["db", "check"]);
    }
    // And during a grace, the previous hash's own parameters apply too.
    let old_phc = hash_with(secret_part(&t), 16, 2, 1);
    let n = env.sql_execute(&format!(
        "UPDATE tokens SET secret_hash = {} WHERE id = {}",
        quote(&old_phc),
        quote(&id)
    ));
    assert_eq!(n, 1);
    let new = env
        .ok(&["token", "rotate", "x", "--grace", "1h"])
        .trim()
        .to_string();
    let prev: Option<String> = env.sql_value(&format!(
        "SELECT prev_secret_hash FROM tokens WHERE id = {}",
        quote(&id)
    ));
    assert_eq!(prev, Some(old_phc));
    assert_eq!(env.verify(&t, &[]).status.code(), Some(0), "old, in grace");
    assert_eq!(env.verify(&new, &[]).status.code(), Some(0), "new");
}
