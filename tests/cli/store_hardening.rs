//! The store file under attack and under other programs: another SQLite
//! client reading the store while `serve` runs, files planted by other
//! users, FIFOs, argon2 parameters beyond bounds, read-only folders and
//! mistyped paths.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};

use crate::common::TestEnv;
use crate::fixtures::{id_of, set_token};
use crate::serve::Server;
use crate::verify::secret_part;

const WAIT: Duration = Duration::from_secs(30);

/// `sqlite3`'s path, or `None` (with a note) when it is not installed;
/// CI installs it, so there a missing `sqlite3` fails the test.
fn sqlite3() -> Option<&'static str> {
    let found = Command::new("sqlite3")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("sqlite3");
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "sqlite3 is not installed (Debian package sqlite3; .ci/run installs it)"
    );
    println!("note: skipped: sqlite3 is not installed");
    None
}

/// Waits until `token show NAME` reports a Last Used.
fn wait_last_used(env: &TestEnv, name: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let shown = env.json(&["token", "show", name]);
        if shown["last_used"].is_string() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Last Used never written: {shown}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// The status of the newest token named `name`, revoked ones included
/// (`None` when there is none).
fn status(env: &TestEnv, name: &str) -> Option<String> {
    let all = env.json(&["token", "list", "--all"]);
    all.as_array()
        .expect("a list")
        .iter()
        .rfind(|t| t["name"] == name)
        .map(|t| t["status"].as_str().expect("a status").to_string())
}

/// SQLite's locks are per process: closing any descriptor on the store
/// drops all of them, and another SQLite program then takes the store for
/// unused, checkpoints and deletes its `-wal` under `serve`. A revoke made
/// then must still act at once and survive serve's shutdown.
#[test]
fn a_revoke_survives_another_sqlite_reader_while_serving() {
    let Some(sqlite3) = sqlite3() else {
        return;
    };
    let env = TestEnv::new();
    let a = env.create("a", &[]);
    let mut server = Server::start(&env, &[]);
    assert_eq!(server.bearer("/verify", &a).status, 200);
    wait_last_used(&env, "a");

    let out = Command::new(sqlite3)
        .arg(&env.db)
        .arg("select count(*) from tokens")
        .output()
        .expect("run sqlite3");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    env.ok(&["token", "list"]);

    env.ok(&["token", "revoke", "a", "--yes"]);
    assert_eq!(server.bearer("/verify", &a).status, 401, "A still valid");
    let c = env.create("c", &[]);
    assert_eq!(server.bearer("/verify", &c).status, 200, "C unknown");
    // serve's own writes (Last Used of C) go to the same store.
    wait_last_used(&env, "c");
    assert_eq!(server.bearer("/verify", &a).status, 401, "A valid again");

    let stopped = server.terminate();
    assert!(stopped.success(), "{stopped:?}: {}", server.stderr());
    assert_eq!(
        status(&env, "a").as_deref(),
        Some("revoked"),
        "revoke undone"
    );
    assert_eq!(status(&env, "c").as_deref(), Some("active"), "C was lost");
    env.ok(&["db", "check"]);
}

// ------------------------------------------------------ argon2 parameters

/// The PHC string of `secret` with the given argon2id parameters.
fn phc(secret: &str, m: u32, t: u32, p: u32) -> String {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(m, t, p, None).unwrap(),
    )
    .hash_password(secret.as_bytes())
    .unwrap()
    .to_string()
}

/// A stored hash asking for more argon2 work than README's bounds (10
/// passes, 4 lanes, 256 MiB) is reported by `db check` and never verifies,
/// even with the right secret: a planted `m=4194304` would otherwise cost
/// 4 GiB and seconds per unauthenticated request to `serve`.
#[test]
fn argon2_parameters_beyond_bounds_are_refused() {
    let env = TestEnv::new();
    let token = env.create("a", &[]);
    let secret = secret_part(&token);
    let within = [phc(secret, 8, 10, 1), phc(secret, 64, 1, 4)];
    let beyond = [
        phc(secret, 8, 11, 1),
        phc(secret, 64, 1, 5),
        // Not computed (4 GiB): the parameters alone must refuse it.
        phc(secret, 8, 1, 1).replace("m=8,", "m=4194304,"),
    ];
    for hash in &within {
        set_token(&env, "a", &format!("secret_hash = '{hash}'"));
        env.ok(&["db", "check"]);
        assert_eq!(env.verify(&token, &[]).status.code(), Some(0), "{hash}");
    }
    for hash in &beyond {
        set_token(&env, "a", &format!("secret_hash = '{hash}'"));
        let out = env.cmd(&["db", "check"]).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{hash}: {report}");
        assert!(
            report.contains("PROBLEM hashes") && report.contains(&id_of(&token)),
            "{report}"
        );
        let out = env.verify(&token, &[]);
        assert_eq!(out.status.code(), Some(5), "{hash}: {out:?}");
    }
    let server = Server::start(&env, &[]);
    assert_eq!(server.bearer("/verify", &token).status, 401);
    set_token(&env, "a", &format!("secret_hash = '{}'", within[0]));
    assert_eq!(server.bearer("/verify", &token).status, 200);
}
