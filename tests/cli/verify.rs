//! `token verify`: where the token is read from, every reason it is
//! refused (exit 5, on stderr and in JSON), and what success records.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use rstest::rstest;

use crate::common::{BIN, Backend, Postgres, Sqlite, TestEnv, path_str, quote};
use crate::fixtures::{add_account, assert_no_store, id_by_name, now, set};

const DAY: i64 = 86_400;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// CRC-32/IEEE (as zlib), written out here rather than borrowed from the
/// code under test.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A well-formed token (right checksum) for any id and secret, per README ("Tokens").
pub fn forge(id: &str, secret: &str) -> String {
    assert_eq!(id.len(), 10);
    assert_eq!(secret.len(), 30);
    let body = format!("tct_{id}{secret}");
    let mut n = crc32(body.as_bytes());
    let mut sum = [b'0'; 6];
    for slot in sum.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    body + std::str::from_utf8(&sum).unwrap()
}

/// The id part of a token.
pub fn id_part(token: &str) -> &str {
    &token[4..14]
}

/// The secret part of a token.
pub fn secret_part(token: &str) -> &str {
    &token[14..44]
}

/// Changes one character of `token` at `at` to another base62 character.
fn typo(token: &str, at: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

fn verify_raw(env: &TestEnv, stdin: &[u8], extra: &[&str]) -> Output {
    let mut args = vec!["token", "verify"];
    args.extend(extra);
    env.cmd(&args)
        .write_stdin(stdin.to_vec())
        .output()
        .expect("run tokenctl")
}

/// Asserts a success, and returns the JSON answer.
fn valid(env: &TestEnv, token: &str, extra: &[&str]) -> Value {
    let mut args = extra.to_vec();
    args.extend(["-o", "json"]);
    let out = env.verify(token, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "verify {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["valid"], true, "{v}");
    v
}

/// Asserts a refusal with `reason` in both formats: exit 5, the reason on
/// stderr, `{"valid": false, "reason": ...}` on stdout with -o json; and
/// that the refusal changed nothing in the store.
fn rejected_input(env: &TestEnv, stdin: &[u8], extra: &[&str], reason: &str) {
    let before = env.snapshot();
    let out = verify_raw(env, stdin, extra);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{extra:?}: {stderr}");
    assert_eq!(
        stderr.lines().next().unwrap_or_default(),
        format!("error: token rejected: {reason}"),
        "{extra:?}"
    );
    assert!(out.stdout.is_empty(), "table mode prints nothing on stdout");

    let mut args = extra.to_vec();
    args.extend(["-o", "json"]);
    let out = verify_raw(env, stdin, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{extra:?}: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(reason),
        "{stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v, json!({"valid": false, "reason": reason}), "{extra:?}");
    assert_eq!(env.snapshot(), before, "a refused verify changed the store");
}

fn rejected(env: &TestEnv, token: &str, extra: &[&str], reason: &str) {
    rejected_input(env, format!("{token}\n").as_bytes(), extra, reason);
}

fn set_account(env: &TestEnv, name: &str, assignment: &str) {
    let n = env.sql_execute(&format!(
        "UPDATE accounts SET {assignment} WHERE name = {}",
        quote(name)
    ));
    assert_eq!(n, 1);
}

/// Runs `verify` with stdin a pipe that stays open, and returns its output
/// if it finishes within `limit` (else kills it and returns None).
fn verify_with_open_stdin(
    env: &TestEnv,
    written: &[u8],
    token_env: Option<&str>,
    limit: Duration,
) -> Option<Output> {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", env.dir.path())
        .env("TOKENCTL_DB", &env.db)
        .env("USER", &env.user)
        .env("TZ", "UTC")
        .args(["token", "verify"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = token_env {
        cmd.env("TOKENCTL_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(written).unwrap();
    stdin.flush().unwrap();
    let start = Instant::now();
    let finished = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if start.elapsed() > limit {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    drop(stdin);
    Some(child.wait_with_output().unwrap())
}

// ------------------------------------------------------ where it is read

#[rstest]
fn reads_the_first_line_of_stdin_ignoring_surrounding_whitespace(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let id = id_by_name(&env, "x");
    let expected = format!("valid: account alice, token x ({id})\n");
    for input in [
        format!("{t}\n"),
        t.clone(),
        format!("  \t{t} \t\n"),
        format!("{t}\r\n"),
        format!("{t}\nsecond line is not read\n"),
        format!("{t}\n{}\n", "j".repeat(3000)),
    ] {
        let out = verify_raw(&env, input.as_bytes(), &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{input:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    }
    // Only the first line counts.
    rejected_input(&env, format!("\n{t}\n").as_bytes(), &[], "malformed");
    rejected_input(&env, format!("junk\n{t}\n").as_bytes(), &[], "malformed");
}

#[rstest]
fn reads_tokenctl_token_and_then_not_stdin(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    // Junk on stdin does not matter.
    for token in [t.clone(), format!("  {t}\n")] {
        let out = env
            .cmd(&["token", "verify"])
            .env("TOKENCTL_TOKEN", &token)
            .write_stdin("junk\n")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A good token on stdin does not rescue a bad one in the variable.
    let out = env
        .cmd(&["token", "verify", "-o", "json"])
        .env("TOKENCTL_TOKEN", "junk")
        .write_stdin(format!("{t}\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "malformed");
    // stdin is not read at all: a pipe that never closes does not block.
    let out = verify_with_open_stdin(&env, b"", Some(&t), Duration::from_secs(10))
        .expect("verify waited on stdin although TOKENCTL_TOKEN was set");
    assert_eq!(out.status.code(), Some(0));
}

#[rstest]
fn an_empty_tokenctl_token_falls_back_to_stdin(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let out = env
        .cmd(&["token", "verify"])
        .env("TOKENCTL_TOKEN", "")
        .write_stdin(format!("{t}\n"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env
        .cmd(&["token", "verify"])
        .env("TOKENCTL_TOKEN", "")
        .write_stdin("junk\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
}

#[rstest]
fn the_first_line_is_enough_without_end_of_input(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let out = verify_with_open_stdin(
        &env,
        format!("{t}\n").as_bytes(),
        None,
        Duration::from_secs(5),
    )
    .expect("verify did not answer after the first line while stdin stayed open");
    assert_eq!(out.status.code(), Some(0));
}

// ------------------------------------------------------------- malformed

#[rstest]
fn malformed_inputs(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let mut inputs: Vec<Vec<u8>> = vec![
        b"junk\n".to_vec(),
        b"".to_vec(),
        b"\n".to_vec(),
        b"   \n".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01, b'\n'],
        vec![b'a'; 2048],
        [vec![b'a'; 2048], b"\n".to_vec()].concat(),
        t.as_bytes()[..49].to_vec(),
        format!("{t}x\n").into_bytes(),
        format!("{t} {t}\n").into_bytes(),
        t.replacen("tct_", "TCT_", 1).into_bytes(),
        t.replacen("tct_", "tcx_", 1).into_bytes(),
        format!("{}\u{e9}\n", &t[..49]).into_bytes(),
        // The token's bytes with invalid UTF-8 in place of one character.
        [&t.as_bytes()[..20], &[0xff], &t.as_bytes()[21..], b"\n"].concat(),
    ];
    // One character changed anywhere: the checksum catches it.
    for at in [4, 10, 13, 14, 30, 43, 44, 49] {
        inputs.push(format!("{}\n", typo(&t, at)).into_bytes());
    }
    for input in &inputs {
        rejected_input(&env, input, &[], "malformed");
    }
    // Malformed is decided first, whatever else is asked.
    rejected(
        &env,
        &typo(&t, 20),
        &["--acl", "read", "--ip", "203.0.113.9"],
        "malformed",
    );
    // And the token itself is untouched (never used).
    assert_eq!(env.json(&["token", "show", "x"])["last_used"], Value::Null);
}

#[rstest]
fn a_missing_store_is_reported_whatever_the_input(#[values(Sqlite, Postgres)] backend: Backend) {
    // tokenctl-token-verify(1): on a missing store verify fails with exit 1, "no store at PATH";
    // junk and typos included, and nothing is created.
    let (Some(other), Some(env)) = (TestEnv::on(backend), TestEnv::on(backend)) else {
        return;
    };
    let t = other.create("x", &[]);
    for input in [
        b"junk\n".to_vec(),
        format!("{}\n", typo(&t, 25)).into_bytes(),
        Vec::new(),
    ] {
        let out = env
            .cmd(&["token", "verify"])
            .write_stdin(input)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: no store at "));
    }
    assert_no_store(&env);
}

#[rstest]
fn a_missing_store_is_a_runtime_failure_and_is_not_created(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let (Some(other), Some(env)) = (TestEnv::on(backend), TestEnv::on(backend)) else {
        return;
    };
    let t = other.create("x", &[]);
    for extra in [&[][..], &["-o", "json"][..]] {
        let out = env.verify(&t, extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.starts_with("error: no store at "), "{stderr}");
        assert!(stderr.contains(path_str(&env.db)), "{stderr}");
    }
    assert_no_store(&env);
}

/// About the store's file: SQLite only.
#[test]
fn verify_leaves_an_empty_store_file_alone() {
    let other = TestEnv::new();
    let t = other.create("x", &[]);
    let env = TestEnv::new();
    std::fs::create_dir_all(env.db.parent().unwrap()).unwrap();
    std::fs::write(&env.db, b"").unwrap();
    let out = env.verify(&t, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::metadata(&env.db).unwrap().len(), 0);
}

// --------------------------------------------------------------- reasons

#[rstest]
fn an_unknown_id_is_unknown(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let fake = forge("ZZZZZZZZZZ", secret_part(&t));
    assert_ne!(id_part(&fake), id_part(&t));
    rejected(&env, &fake, &[], "unknown");
    rejected(&env, &forge("0000000000", &"0".repeat(30)), &[], "unknown");
}

#[rstest]
fn a_wrong_secret_for_a_known_id_is_unknown(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let wrong = forge(id_part(&t), &"a".repeat(30));
    rejected(&env, &wrong, &[], "unknown");
    // Off by one character in the secret, with a fixed-up checksum.
    let mut secret = secret_part(&t).to_string();
    let last = secret.pop().unwrap();
    secret.push(if last == 'z' { 'y' } else { 'z' });
    rejected(&env, &forge(id_part(&t), &secret), &[], "unknown");
    // A wrong secret tells nothing about the token's state.
    env.ok(&["token", "revoke", "x", "--yes"]);
    rejected(&env, &wrong, &[], "unknown");
    rejected(&env, &t, &[], "revoked");
}

#[rstest]
fn revoked_disabled_expired(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let r = env.create("r", &[]);
    let d = env.create("d", &[]);
    let e = env.create("e", &[]);
    let edge = env.create("edge", &[]);
    env.ok(&["token", "revoke", "r", "--yes"]);
    set(&env, "d", "disabled_at", now() - 60);
    set(&env, "e", "expires_at", now() - 10);
    // Expires this very second: now >= expires is expired.
    set(&env, "edge", "expires_at", now());
    rejected(&env, &r, &[], "revoked");
    rejected(&env, &d, &[], "disabled");
    rejected(&env, &e, &[], "expired");
    rejected(&env, &edge, &[], "expired");
    assert_eq!(env.json(&["token", "show", "d"])["status"], "disabled");
    assert_eq!(env.json(&["token", "show", "e"])["status"], "expired");
    // Back to normal when the stored state is.
    env.sql_execute("UPDATE tokens SET disabled_at = NULL WHERE name = 'd'");
    set(&env, "e", "expires_at", now() + DAY);
    valid(&env, &d, &[]);
    valid(&env, &e, &[]);
}

#[rstest]
fn the_first_failing_check_is_the_reason(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &["--acl", "read", "--allow-ip", "203.0.113.0/24"]);
    let ip_ok = ["--ip", "203.0.113.9"];
    valid(&env, &t, &ip_ok);
    // ip before forbidden: a caller outside the allow-list learns nothing
    // about the token's privileges
    rejected(&env, &t, &["--acl", "write", "--ip", "198.51.100.1"], "ip");
    rejected(
        &env,
        &t,
        &["--acl", "write", "--ip", "203.0.113.9"],
        "forbidden",
    );
    // suspended before forbidden
    set_account(&env, "alice", "suspended = true");
    rejected(
        &env,
        &t,
        &["--acl", "write", "--ip", "198.51.100.1"],
        "suspended",
    );
    // suspended before expired, as the token's status says
    set(&env, "x", "expires_at", now() - 10);
    rejected(&env, &t, &["--acl", "write"], "suspended");
    assert_eq!(env.json(&["token", "show", "x"])["status"], "suspended");
    set_account(&env, "alice", "suspended = false");
    rejected(&env, &t, &["--acl", "write"], "expired");
    // disabled before suspended and expired
    set_account(&env, "alice", "suspended = true");
    set(&env, "x", "disabled_at", now() - 10);
    rejected(&env, &t, &[], "disabled");
    // revoked before disabled
    env.sql_execute(&format!("UPDATE tokens SET revoked_at = {}", now() - 5));
    rejected(&env, &t, &ip_ok, "revoked");
}

#[rstest]
fn a_suspended_account_is_suspended(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    let b = env
        .ok(&["-u", "bob", "token", "create", "b1"])
        .trim()
        .to_string();
    set_account(&env, "alice", "suspended = true");
    rejected(&env, &t, &[], "suspended");
    valid(&env, &b, &[]);
    set_account(&env, "alice", "suspended = false");
    valid(&env, &t, &[]);
}

#[rstest]
fn a_token_without_the_privilege_is_forbidden(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &["--acl", "read,deploy"]);
    let all = env.create("y", &[]);
    valid(&env, &t, &[]);
    valid(&env, &t, &["--acl", "read"]);
    valid(&env, &t, &["--acl", "deploy,read"]);
    valid(&env, &t, &["--acl", "read", "--acl", "deploy"]);
    rejected(&env, &t, &["--acl", "write"], "forbidden");
    rejected(&env, &t, &["--acl", "read,write"], "forbidden");
    rejected(&env, &t, &["--acl", "read", "--acl", "write"], "forbidden");
    rejected(&env, &t, &["--acl", "all"], "forbidden");
    // `all` grants anything.
    valid(&env, &all, &["--acl", "write,deploy:prod"]);
    valid(&env, &all, &["--acl", "all"]);
    // An invalid privilege is a usage error, not a verdict.
    let out = env.verify(&t, &["--acl", "Bad!"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.verify(&t, &["--acl", "read,"]);
    assert_eq!(out.status.code(), Some(2));
}

#[rstest]
fn narrowing_the_account_narrows_its_tokens_at_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let broad = env.create("broad", &[]); // ["all"], the account's own
    let deploy = env.create("deploy", &["--acl", "deploy,read"]);
    valid(&env, &broad, &["--acl", "write"]);
    valid(&env, &deploy, &["--acl", "deploy"]);

    set_account(&env, "alice", r#"acls = '["read"]'"#);
    rejected(&env, &broad, &["--acl", "write"], "forbidden");
    rejected(&env, &deploy, &["--acl", "deploy"], "forbidden");
    rejected(&env, &broad, &["--acl", "all"], "forbidden");
    valid(&env, &broad, &["--acl", "read"]);
    valid(&env, &deploy, &["--acl", "read"]);
    valid(&env, &broad, &[]);

    set_account(&env, "alice", r#"acls = '["all"]'"#);
    valid(&env, &broad, &["--acl", "write"]);
    valid(&env, &deploy, &["--acl", "deploy"]);
}

#[rstest]
fn the_ip_allow_list(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let v4 = env.create("v4", &["--allow-ip", "203.0.113.0/24"]);
    let v6 = env.create("v6", &["--allow-ip", "2001:db8::/32"]);
    let one = env.create(
        "one",
        &["--allow-ip", "198.51.100.7", "--allow-ip", "2001:db8::/32"],
    );
    let any = env.create("any", &[]);

    valid(&env, &v4, &["--ip", "203.0.113.9"]);
    valid(&env, &v4, &["--ip", "203.0.113.0"]);
    valid(&env, &v4, &["--ip", "203.0.113.255"]);
    rejected(&env, &v4, &["--ip", "198.51.100.1"], "ip");
    rejected(&env, &v4, &["--ip", "203.0.114.1"], "ip");
    rejected(&env, &v4, &[], "ip");
    rejected(&env, &v4, &["--ip", "2001:db8::1"], "ip");

    valid(&env, &v6, &["--ip", "2001:db8::1"]);
    valid(&env, &v6, &["--ip", "2001:db8:ffff:1::5"]);
    rejected(&env, &v6, &["--ip", "2001:db9::1"], "ip");
    rejected(&env, &v6, &["--ip", "203.0.113.9"], "ip");
    rejected(&env, &v6, &[], "ip");

    valid(&env, &one, &["--ip", "198.51.100.7"]);
    valid(&env, &one, &["--ip", "2001:db8::7"]);
    rejected(&env, &one, &["--ip", "198.51.100.8"], "ip");

    // No allow-list: any address, or none.
    valid(&env, &any, &["--ip", "198.51.100.1"]);
    valid(&env, &any, &[]);

    // A bad address is a usage error.
    for bad in ["nope", "203.0.113.0/24", "203.0.113.256", ""] {
        let out = env.verify(&v4, &["--ip", bad]);
        assert_eq!(out.status.code(), Some(2), "--ip {bad:?}");
    }
}

#[rstest]
fn a_deleted_account_does_not_verify(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    env.sql_execute("UPDATE accounts SET deleted_at = 1 WHERE name = 'alice'");
    let out = env.verify(&t, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
}

// --------------------------------------------------------------- success

#[rstest]
fn success_json_and_table(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &["--acl", "read,deploy"]);
    let forever = env.create("forever", &["--expires", "never"]);
    let shown = env.json(&["token", "show", "x"]);
    let id = shown["id"].as_str().unwrap().to_string();

    let v = valid(&env, &t, &[]);
    assert_eq!(
        v,
        json!({
            "valid": true,
            "account": "alice",
            "name": "x",
            "id": id,
            "acls": ["deploy", "read"],
            "expires": shown["expires"].clone(),
        })
    );
    assert!(v["expires"].as_str().unwrap().ends_with('Z'));
    assert_eq!(valid(&env, &forever, &[])["expires"], Value::Null);

    let out = env.verify(&t, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("valid: account alice, token x ({id})\n")
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("error"),
        "{out:?}"
    );
}

#[rstest]
fn verify_ignores_the_acting_account(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    let b = env
        .ok(&["-u", "bob", "token", "create", "b1"])
        .trim()
        .to_string();
    // An unknown account, an invalid name, or another account: the token
    // names its own account.
    for user in ["nobody", "bob", "-bad name!"] {
        let out = env
            .cmd(&["token", "verify", "-o", "json"])
            .env("TOKENCTL_USER", user)
            .write_stdin(format!("{t}\n"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "TOKENCTL_USER={user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["account"], "alice");
    }
    let v = valid(&env, &b, &["-u", "alice"]);
    assert_eq!(v["account"], "bob");
    assert_eq!(v["acls"], json!(["read"]));
}

#[rstest]
fn success_records_last_used(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let shown = env.json(&["token", "show", "x"]);
    assert_eq!(shown["last_used"], Value::Null);
    assert_eq!(shown["last_used_ip"], Value::Null);

    valid(&env, &t, &["--ip", "203.0.113.9"]);
    let shown = env.json(&["token", "show", "x"]);
    let at = chrono::DateTime::parse_from_rfc3339(shown["last_used"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!((at - now()).abs() <= 60, "{shown}");
    assert_eq!(shown["last_used_ip"], "203.0.113.9");
    assert_eq!(shown["status"], "active");

    // Moved into the past, a new use brings it back to now.
    set(&env, "x", "last_used_at", now() - 100 * DAY);
    valid(&env, &t, &["--ip", "2001:db8::5"]);
    let shown = env.json(&["token", "show", "x"]);
    let at = chrono::DateTime::parse_from_rfc3339(shown["last_used"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!((at - now()).abs() <= 60, "{shown}");
    assert_eq!(shown["last_used_ip"], "2001:db8::5");
    // And the token no longer counts as unused.
    assert!(
        env.json(&["token", "list", "--unused-for", "90d"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[rstest]
fn refusals_do_not_record_last_used(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &["--acl", "read", "--allow-ip", "203.0.113.0/24"]);
    // `rejected` checks the whole store is unchanged.
    rejected(
        &env,
        &t,
        &["--acl", "write", "--ip", "203.0.113.9"],
        "forbidden",
    );
    rejected(&env, &t, &["--ip", "198.51.100.1"], "ip");
    rejected(
        &env,
        &forge(id_part(&t), &"b".repeat(30)),
        &["--ip", "203.0.113.9"],
        "unknown",
    );
    let shown = env.json(&["token", "show", "x"]);
    assert_eq!(shown["last_used"], Value::Null);
    assert_eq!(shown["last_used_ip"], Value::Null);
}

#[rstest]
fn a_failed_last_used_write_still_answers_and_warns(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    match backend {
        Sqlite => env.sql_execute(
            "CREATE TRIGGER no_use BEFORE UPDATE OF last_used_at ON tokens
             BEGIN SELECT RAISE(ABORT, 'sabotaged by the test'); END;",
        ),
        Postgres => env.sql_execute(
            "CREATE FUNCTION no_use() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RAISE EXCEPTION 'sabotaged by the test'; END $$;
             CREATE TRIGGER no_use BEFORE UPDATE OF last_used_at ON tokens
             FOR EACH ROW EXECUTE FUNCTION no_use();",
        ),
    };
    let out = env.verify(&t, &["--ip", "203.0.113.9"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("valid: account alice, token x ("),
        "{out:?}"
    );
    assert!(stderr.contains("warning"), "{stderr}");
    assert!(!stderr.contains(&t), "{stderr}");
    let v = valid(&env, &t, &[]);
    assert_eq!(v["name"], "x");
    assert_eq!(env.json(&["token", "show", "x"])["last_used"], Value::Null);
}

#[rstest]
fn yaml_carries_the_same_verdict(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = env.create("x", &[]);
    let yaml = |env: &TestEnv, code: i32| -> Value {
        let out = env.verify(&t, &["-o", "yaml"]);
        assert_eq!(out.status.code(), Some(code));
        serde_norway::from_str(&String::from_utf8_lossy(&out.stdout)).expect("YAML")
    };
    let v = yaml(&env, 0);
    assert_eq!(v["valid"], Value::Bool(true));
    assert_eq!(v["name"], "x");
    // Times are the same strings as in JSON, quoted so that no reader
    // takes them for timestamps.
    let json = env.verify(&t, &["-o", "json"]);
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["expires"], json["expires"]);
    env.ok(&["token", "revoke", "x", "--yes"]);
    let v = yaml(&env, 5);
    assert_eq!(v["valid"], Value::Bool(false));
    assert_eq!(v["reason"], "revoked");
}
