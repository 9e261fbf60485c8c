//! Secrets stay secret: not in the store's files, the audit trail, stderr
//! or argv. Also: a closed pipe is quiet, and colour follows --color and
//! NO_COLOR.

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::Value;

use rstest::rstest;

use crate::common::{BIN, Backend, Postgres, Sqlite, TestEnv, contains, pg, quote};
use crate::fixtures::now;
use crate::interactive::Pty;
use crate::verify::{forge, id_part, secret_part};

const DAY: i64 = 86_400;

/// Runs a command, asserting its exit code, and returns (stdout, stderr).
fn run(env: &TestEnv, args: &[&str], stdin: Option<&str>, code: i32) -> (String, String) {
    let mut cmd = env.cmd(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_string());
    }
    let out = cmd.output().expect("run tokenctl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\n{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (stdout, stderr)
}

/// Every text column of the events table, joined.
fn events_text(env: &TestEnv) -> String {
    env.sql_rows(
        "SELECT coalesce(actor,'') || '|' || action || '|' || account || '|' ||
                coalesce(token_id,'') || '|' || coalesce(token_name,'') || '|' ||
                coalesce(detail,'') FROM events ORDER BY id",
    )
    .into_iter()
    .map(|r| r[0].clone().unwrap())
    .collect::<Vec<_>>()
    .join("\n")
}

/// Asserts no secret (whole token or its secret part) is in the store's
/// bytes or the audit trail. The bytes are SQLite's files (main, -wal,
/// -shm), or PostgreSQL's: this database's folder, the write-ahead log,
/// the commit log, the shared catalogs and the server log.
fn assert_not_stored(env: &TestEnv, secrets: &[String], when: &str) {
    let bytes = env.store_bytes();
    assert!(!bytes.is_empty());
    // Not a vacuous scan: what the store holds in clear (ids) is there.
    let ids: Vec<Option<String>> = env
        .sql_rows("SELECT id FROM tokens")
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    for id in ids.iter().flatten() {
        assert!(
            contains(&bytes, id),
            "token id {id} not in the store's bytes {when}"
        );
    }
    let events = events_text(env);
    for token in secrets {
        for needle in [token.as_str(), secret_part(token)] {
            assert!(!contains(&bytes, needle), "{needle} in the store {when}");
            assert!(!events.contains(needle), "{needle} in events {when}");
        }
    }
}

fn assert_not_in(text: &str, secrets: &[String], what: &str) {
    for token in secrets {
        assert!(!text.contains(token.as_str()), "token in {what}: {text}");
        assert!(
            !text.contains(secret_part(token)),
            "secret in {what}: {text}"
        );
    }
}

#[rstest]
fn plaintext_and_secret_are_never_stored_or_logged(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    if let Some(db) = &env.pg {
        // The server logs every statement tokenctl sends to this database,
        // with its parameters: the scan of the log then shows the server is
        // never sent a secret at all (a failing statement is logged anyway).
        env.sql_execute(&format!(
            "ALTER DATABASE \"{}\" SET log_statement = 'all'",
            db.name
        ));
    }
    let mut secrets: Vec<String> = Vec::new();
    let mut stderrs = String::new();
    let mut step = |env: &TestEnv,
                    secrets: &[String],
                    args: &[&str],
                    stdin: Option<&str>,
                    code: i32|
     -> String {
        let (stdout, stderr) = run(env, args, stdin, code);
        assert_not_in(&stderr, secrets, &format!("stderr of {args:?}"));
        stderrs.push_str(&stderr);
        assert_not_stored(env, secrets, &format!("after {args:?}"));
        stdout
    };

    // Create, in table and JSON form.
    let (out, stderr) = run(&env, &["token", "create", "t1"], None, 0);
    let t1 = out.trim().to_string();
    secrets.push(t1.clone());
    assert_not_in(&stderr, &secrets, "stderr of create (details)");
    assert_not_stored(&env, &secrets, "after create");
    let (out, stderr) = run(
        &env,
        &[
            "token",
            "create",
            "t2",
            "--allow-ip",
            "203.0.113.0/24",
            "--note",
            "deploy bot",
            "--acl",
            "read,deploy",
            "-o",
            "json",
        ],
        None,
        0,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let t2 = v["token"].as_str().unwrap().to_string();
    secrets.push(t2.clone());
    assert_not_in(&stderr, &secrets, "stderr of create -o json");
    let (out, _) = run(
        &env,
        &["token", "create", "t3", "--acl", "read", "-o", "yaml"],
        None,
        0,
    );
    let t3 = out
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("token: in YAML")
        .trim_matches(|c| c == '\'' || c == '"')
        .to_string();
    assert_eq!(t3.len(), 50, "{out}");
    secrets.push(t3.clone());
    assert_not_stored(&env, &secrets, "after three creates");
    // A refused write (the name is taken): PostgreSQL logs a statement
    // that fails, and the log is scanned too.
    step(&env, &secrets.clone(), &["token", "create", "t2"], None, 4);

    // Verify: successes, refusals, and a wrong secret.
    let s = secrets.clone();
    step(
        &env,
        &s,
        &["token", "verify", "--ip", "198.51.100.4"],
        Some(&format!("{t1}\n")),
        0,
    );
    step(
        &env,
        &s,
        &["token", "verify", "--ip", "203.0.113.5", "--acl", "deploy"],
        Some(&format!("{t2}\n")),
        0,
    );
    step(
        &env,
        &s,
        &["token", "verify", "--acl", "write"],
        Some(&format!("{t3}\n")),
        5,
    );
    step(
        &env,
        &s,
        &["token", "verify", "-o", "json"],
        Some(&format!("{t2}\n")),
        5,
    );
    let wrong = forge(id_part(&t1), &"q".repeat(30));
    let mut with_wrong = s.clone();
    with_wrong.push(wrong.clone());
    step(
        &env,
        &with_wrong,
        &["token", "verify"],
        Some(&format!("{wrong}\n")),
        5,
    );
    let out = env
        .cmd(&["token", "verify"])
        .env("TOKENCTL_TOKEN", &t3)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_not_in(
        &String::from_utf8_lossy(&out.stderr),
        &s,
        "stderr of verify",
    );

    // Edit, list, show.
    step(
        &env,
        &s,
        &[
            "token",
            "edit",
            "t1",
            "--note",
            "renamed",
            "--new-name",
            "t1b",
        ],
        None,
        0,
    );
    step(
        &env,
        &s,
        &[
            "token",
            "edit",
            "t2",
            "--add-acl",
            "write",
            "--clear-allow-ip",
        ],
        None,
        0,
    );
    step(
        &env,
        &s,
        &["token", "edit", "t1b", "--acl", "Bad!"],
        None,
        2,
    );
    for args in [
        &["token", "list", "--all"][..],
        &["token", "list", "-o", "json"][..],
        &["token", "show", "t2", "-o", "json"][..],
        &["token", "show", "t1b"][..],
    ] {
        let stdout = step(&env, &s, args, None, 0);
        assert_not_in(&stdout, &s, &format!("stdout of {args:?}"));
    }

    // Revoke, revoke-all, and verify after.
    let out = step(
        &env,
        &s,
        &["token", "revoke", "t3", "--yes", "-o", "json"],
        None,
        0,
    );
    assert_not_in(&out, &s, "stdout of revoke");
    step(&env, &s, &["token", "revoke", "t1b"], None, 6);
    let out = step(
        &env,
        &s,
        &["token", "revoke-all", "--yes", "-o", "json"],
        None,
        0,
    );
    assert_not_in(&out, &s, "stdout of revoke-all");
    step(&env, &s, &["token", "verify"], Some(&format!("{t1}\n")), 5);

    // A checkpoint (on SQLite, moving the WAL into the main file; on
    // PostgreSQL, writing every page out) changes nothing.
    match env.backend() {
        Backend::Sqlite => env
            .sql()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap(),
        Backend::Postgres => {
            env.sql_rows("CHECKPOINT");
        }
    }
    assert_not_stored(&env, &secrets, "after a checkpoint");
    // The scan reads the data: the note stored in clear is in the bytes.
    assert!(contains(&env.store_bytes(), "deploy bot"));
    if env.backend() == Backend::Postgres {
        // And the server log on its own holds what tokenctl sent it.
        let Some(pg::Server::Throwaway(cluster)) = pg::server() else {
            unreachable!("store_bytes needs the throwaway cluster");
        };
        let log = std::fs::read(&cluster.log).expect("the server log");
        let log = String::from_utf8_lossy(&log);
        for needle in [id_part(&t1), "deploy bot"] {
            assert!(log.contains(needle), "{needle} not in the server log");
        }
    }
    assert!(!stderrs.is_empty());
    // The ids are not secret and do appear in the audit trail.
    assert!(events_text(&env).contains(id_part(&t1)));
}

#[rstest]
fn the_stored_hash_is_argon2id_with_the_default_parameters(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t1 = env.create("a", &[]);
    let t2 = env.create("b", &[]);
    let rows: Vec<(String, String, Option<String>)> = env
        .sql_rows("SELECT id, secret_hash, prev_secret_hash FROM tokens ORDER BY name")
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone()))
        .collect();
    assert_eq!(rows.len(), 2);
    for ((id, hash, prev), token) in rows.iter().zip([&t1, &t2]) {
        assert_eq!(id, id_part(token), "the id is stored in clear");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // PHC: $argon2id$v=19$params$salt$hash
        assert_eq!(hash.split('$').count(), 6, "{hash}");
        assert!(!hash.contains(secret_part(token)));
        assert_eq!(prev, &None);
    }
    // A random salt each time.
    let salt = |h: &str| h.split('$').nth(4).unwrap().to_string();
    assert_ne!(salt(&rows[0].1), salt(&rows[1].1));
}

#[rstest]
fn verify_refuses_a_token_on_the_command_line(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let before = env.snapshot();
    env.fails(&["token", "verify", &t], 2);
    env.fails(&["token", "verify", "--", &t], 2);
    env.fails(&["token", "verify", "-o", "json", &t], 2);
    assert_eq!(env.snapshot(), before, "nothing recorded");
    assert_eq!(env.json(&["token", "show", "x"])["last_used"], Value::Null);
}

#[rstest]
fn a_token_on_the_command_line_is_not_echoed(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let err = env.fails(&["token", "verify", &t], 2);
    assert!(!err.contains(&t), "{err}");
    assert!(!err.contains(secret_part(&t)), "{err}");
}

/// Copies the token named `seed` into `n` (below 100,000) more rows,
/// cheaply: ids B100000001..., names bulk-100001....
fn clone_rows(env: &TestEnv, seed: &str, n: i64) {
    let added = env.sql_execute(&format!(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
         INSERT INTO tokens (id, account_id, name, secret_hash, acls, allow_ips, note,
                             created_at, expires_at)
         SELECT 'B' || (100000000 + i), t.account_id, 'bulk-' || (100000 + i), t.secret_hash,
                t.acls, t.allow_ips, 'a note to make each row a little longer',
                t.created_at, t.expires_at
         FROM k, tokens t WHERE t.name = {}",
        quote(seed)
    ));
    assert_eq!(added, n as u64);
}

/// Runs `tokenctl ARGS`, reads one byte of stdout, closes it, and returns
/// the exit code and stderr.
fn read_one_byte_then_close(env: &TestEnv, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .env_clear()
        .env("HOME", env.dir.path())
        .env("TOKENCTL_DB", &env.db)
        .env("USER", &env.user)
        .env("TZ", "UTC")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).expect("first byte");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A store with ~3000 tokens: far more output than a pipe buffer (64 KiB)
/// holds, in every format.
fn big_store(backend: Backend) -> Option<TestEnv> {
    let env = TestEnv::on(backend)?;
    env.create("seed", &[]);
    clone_rows(&env, "seed", 3000);
    assert_eq!(env.json(&["token", "list"]).as_array().unwrap().len(), 3001);
    Some(env)
}

fn assert_quiet_when_closed(env: &TestEnv, args: &[&str]) {
    let (code, stderr) = read_one_byte_then_close(env, args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
}

#[rstest]
fn a_closed_pipe_is_quiet(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = big_store(backend) else {
        return;
    };
    for args in [
        &["token", "list"][..],
        &["token", "list", "-o", "yaml"][..],
        &["token", "list", "--all-accounts"][..],
        &["token", "revoke-all", "--dry-run"][..],
    ] {
        assert_quiet_when_closed(&env, args);
    }
}

#[rstest]
fn a_closed_pipe_is_quiet_for_json(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = big_store(backend) else {
        return;
    };
    assert_quiet_when_closed(&env, &["token", "list", "-o", "json"]);
    assert_quiet_when_closed(&env, &["token", "revoke-all", "--dry-run", "-o", "json"]);
}

/// ANSI red as crossterm and plain SGR write it.
fn has_red(line: &str) -> bool {
    [
        "\x1b[31m",
        "\x1b[91m",
        "\x1b[38;5;9m",
        "\x1b[38;5;1m",
        "\x1b[1;31m",
    ]
    .iter()
    .any(|red| line.contains(red))
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle}: {text}"))
}

/// An active token "fresh" and an expired one "stale".
fn fresh_and_stale(backend: Backend) -> Option<TestEnv> {
    let env = TestEnv::on(backend)?;
    env.create("fresh", &[]);
    env.create("stale", &[]);
    let n = env.sql_execute(&format!(
        "UPDATE tokens SET expires_at = {} WHERE name = 'stale'",
        now() - DAY
    ));
    assert_eq!(n, 1);
    Some(env)
}

#[rstest]
fn color_always_paints_an_expired_token_red(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = fresh_and_stale(backend) else {
        return;
    };
    let out = env.ok(&["token", "list", "--color", "always"]);
    let stale = line_with(&out, "stale");
    assert!(has_red(stale), "{stale:?}");
    let fresh = line_with(&out, "fresh");
    assert!(!fresh.contains('\x1b'), "{fresh:?}");
    // JSON is never painted.
    let out = env.ok(&["token", "list", "--color", "always", "-o", "json"]);
    assert!(!out.contains('\x1b'), "{out:?}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[1]["status"], "expired");
}

#[rstest]
fn color_never_and_no_color_have_no_escapes(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = fresh_and_stale(backend) else {
        return;
    };
    let out = env.ok(&["token", "list", "--color", "never"]);
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(line_with(&out, "stale").contains("expired"));
    let out = env
        .cmd(&["token", "list"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.stdout.contains(&0x1b), "{out:?}");
    // Not a terminal: auto means no colour.
    let out = env.ok(&["token", "list"]);
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[rstest]
fn color_auto_on_a_terminal_honours_no_color(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = fresh_and_stale(backend) else {
        return;
    };
    let (code, seen) = Pty::spawn(&env, &["token", "list"]).finish();
    assert_eq!(code, 0, "{seen}");
    assert!(has_red(line_with(&seen, "stale")), "{seen:?}");

    let (code, seen) = Pty::spawn_with(&env, &["token", "list"], &[("NO_COLOR", "1")]).finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains('\x1b'), "{seen:?}");
    assert!(line_with(&seen, "stale").contains("expired"));

    let (code, seen) = Pty::spawn(&env, &["token", "list", "--color", "never"]).finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains('\x1b'), "{seen:?}");
}

#[rstest]
fn color_always_wins_over_no_color(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = fresh_and_stale(backend) else {
        return;
    };
    let out = env
        .cmd(&["token", "list", "--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(has_red(line_with(&out, "stale")), "{out:?}");

    let (code, seen) = Pty::spawn_with(
        &env,
        &["token", "list", "--color", "always"],
        &[("NO_COLOR", "1")],
    )
    .finish();
    assert_eq!(code, 0, "{seen}");
    assert!(has_red(line_with(&seen, "stale")), "{seen:?}");
}
