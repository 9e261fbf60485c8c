//! The store file under attack and under other programs: another SQLite
//! client reading the store while `serve` runs, files planted by other
//! users, FIFOs, argon2 parameters beyond bounds, read-only folders and
//! mistyped paths.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::TestEnv;
use crate::serve::Server;

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
