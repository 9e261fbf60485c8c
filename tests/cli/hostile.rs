//! Hostile input: arbitrary strings thrown at every value parser (property
//! tests on the library), random junk given to the binary for names, WHEN,
//! DUR, networks, privileges and globs, and junk on `verify`'s stdin,
//! including input that never ends.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use tokenctl::{token, values};

use crate::common::TestEnv;
use crate::common::checks::{Outcome, PATIENCE, Rng, wait_at_most};

const LONGEST_DUR: i64 = 8000 * 365 * 86_400;

/// Strings of many shapes: anything at all, and near-misses of each kind
/// of value, so that the parsers' deeper branches are reached too.
fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        "[ -~]{0,60}",
        "[0-9]{0,24}[smhdwyMSHD0 .+-]{0,2}",
        "[+-]?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}([Tt ][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\\.[0-9]{0,12})?)?([Zz]|[+-][0-9]{1,2}:?[0-9]{0,2})?)?",
        "[0-9a-fA-F:.]{0,45}(/[0-9]{0,4})?",
        "[\\[\\]!*?a-z^\\\\-]{0,12}",
        "tct_[0-9A-Za-z]{40,52}",
        "[a-z0-9._:@,-]{0,70}",
    ]
}

/// A "now" anywhere chrono can represent, mostly near today.
fn any_now() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        1_500_000_000i64..2_500_000_000,
        -8_000_000_000_000i64..8_000_000_000_000,
    ]
    .prop_map(|t| DateTime::from_timestamp(t, 0).unwrap())
}

/// A refusal is one line: the value is quoted escaped, so junk cannot
/// break the line or slip terminal escapes into the message.
fn one_line(e: &tokenctl::error::Error) -> Result<(), TestCaseError> {
    for text in [Some(&e.message), e.hint.as_ref()].into_iter().flatten() {
        prop_assert!(
            !text.contains(['\n', '\r', '\x1b']),
            "not one clean line: {:?}",
            text
        );
    }
    prop_assert_eq!(e.kind, tokenctl::error::Kind::Usage);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn token_parse_never_panics_and_accepts_only_real_tokens(s in junk()) {
        if let Some(p) = token::parse(&s) {
            prop_assert_eq!(s.len(), 50);
            prop_assert!(s.starts_with("tct_"));
            prop_assert_eq!(token::assemble(p.id, p.secret), s.clone());
        }
        // Surrounding junk never makes a token of it.
        let with_nul = format!("{s}\u{0}");
        prop_assert!(token::parse(&with_nul).is_none());
    }

    #[test]
    fn token_parse_round_trips_and_catches_any_typo(
        id in "[0-9A-Za-z]{10}",
        secret in "[0-9A-Za-z]{30}",
        at in 4usize..50,
        with in "[0-9A-Za-z]",
    ) {
        let t = token::assemble(&id, &secret);
        let parsed = token::parse(&t).expect("a generated token parses");
        prop_assert_eq!((parsed.id, parsed.secret), (id.as_str(), secret.as_str()));
        let mut typo = t.clone().into_bytes();
        prop_assume!(typo[at] != with.as_bytes()[0]);
        typo[at] = with.as_bytes()[0];
        prop_assert!(token::parse(std::str::from_utf8(&typo).unwrap()).is_none());
    }

    #[test]
    fn durations_and_graces(s in junk()) {
        match values::duration(&s) {
            Ok(n) => {
                prop_assert!(n > 0 && n <= LONGEST_DUR, "{} -> {}", s, n);
                let unit = s.chars().last().unwrap();
                prop_assert!("smhdwy".contains(unit), "{}", s);
                prop_assert!(s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit()), "{}", s);
            }
            Err(e) => one_line(&e)?,
        }
        match values::grace(&s) {
            Ok(0) => prop_assert_eq!(s.as_str(), "0"),
            Ok(n) => prop_assert_eq!(Some(n), values::duration(&s).ok()),
            Err(e) => one_line(&e)?,
        }
    }

    #[test]
    fn expiries_are_in_the_future_or_refused(s in junk(), now in any_now()) {
        match values::expiry(&s, now) {
            Ok(None) => prop_assert_eq!(s.as_str(), "never"),
            Ok(Some(at)) => prop_assert!(at > now.timestamp(), "{} -> {} at {}", s, at, now),
            Err(e) => one_line(&e)?,
        }
        if let Err(e) = values::since(&s, now) {
            one_line(&e)?;
        }
    }

    #[test]
    fn names_follow_their_rules(s in junk()) {
        match values::token_name(&s) {
            Ok(()) => prop_assert!(
                (1..=50).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{:?}", s
            ),
            Err(e) => one_line(&e)?,
        }
        match values::account_name(&s) {
            Ok(()) => prop_assert!(
                (1..=64).contains(&s.len())
                    && !s.starts_with('-')
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_@".contains(&b)),
                "{:?}", s
            ),
            Err(e) => one_line(&e)?,
        }
    }

    #[test]
    fn privileges_follow_their_rules(list in prop::collection::vec(junk(), 0..4)) {
        match values::privileges(&list) {
            Ok(acls) => {
                for a in &acls {
                    prop_assert!((1..=64).contains(&a.len()), "{:?}", a);
                    prop_assert!(
                        a.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()
                            || b"._:-".contains(&b)),
                        "{:?}", a
                    );
                    prop_assert!(a.as_bytes()[0].is_ascii_alphanumeric(), "{:?}", a);
                }
                let normal = values::Privileges::from_stored(acls);
                prop_assert!(normal.as_slice().windows(2).all(|w| w[0] < w[1]), "{:?}", normal);
            }
            Err(e) => one_line(&e)?,
        }
    }

    #[test]
    fn networks_normalise_idempotently(list in prop::collection::vec(junk(), 0..4)) {
        for s in &list {
            match values::network(s) {
                Ok(n) => prop_assert_eq!(values::network(&n).ok(), Some(n.clone())),
                Err(e) => one_line(&e)?,
            }
            if let Err(e) = values::address(s) {
                one_line(&e)?;
            }
        }
        match values::AllowList::parse(&list) {
            Ok(nets) => {
                let nets = nets.entries();
                prop_assert!(nets.len() <= values::MAX_ALLOW_IPS);
                let mut unique = nets.to_vec();
                unique.sort();
                unique.dedup();
                prop_assert_eq!(unique.len(), nets.len());
            }
            Err(e) => one_line(&e)?,
        }
    }

    #[test]
    fn globs_never_panic(pattern in junk(), name in junk()) {
        match values::glob(&pattern) {
            Ok(p) => {
                let _ = p.matches(&name);
            }
            Err(e) => one_line(&e)?,
        }
    }
}

// ------------------------------------------------- junk through the binary

/// How many random values each flag gets end to end (each is a process).
const E2E_CASES: u32 = 12;

/// Runs `args(junk)` for random junk that `valid` refuses, and asserts
/// each is exit 2 with one `error:` line first, no panic, no terminal
/// escape echoed back, and no change to the store.
fn refused_end_to_end(
    env: &TestEnv,
    label: &str,
    valid: fn(&str) -> bool,
    args: impl Fn(&str) -> Vec<String>,
) {
    let before = env.snapshot();
    let mut runner = TestRunner::new(Config {
        cases: E2E_CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = junk().prop_filter("a valid value", move |s| !s.contains('\0') && !valid(s));
    let result = runner.run(&strategy, |junk| {
        let argv = args(&junk);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = env.run(&argv, None);
        prop_assert_eq!(out.code, Some(2), "{:?}: {:?}", argv, out);
        prop_assert!(out.first_line().starts_with("error: "), "{:?}", out);
        prop_assert!(!out.stderr.contains("panicked"), "{:?}", out);
        prop_assert!(!out.stderr.contains('\x1b'), "an escape echoed: {:?}", out);
        prop_assert!(out.stdout.is_empty(), "{:?}", out);
        prop_assert_eq!(&env.snapshot(), &before, "{:?} changed the store", argv);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{label}: {e}");
    }
}

fn v(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

#[test]
fn junk_values_are_usage_errors_end_to_end() {
    let env = TestEnv::new();
    env.create("ok", &[]);

    refused_end_to_end(
        &env,
        "token name",
        |s| values::token_name(s).is_ok(),
        |j| v(&["token", "create", "--", j]),
    );
    refused_end_to_end(
        &env,
        "new token name",
        |s| values::token_name(s).is_ok(),
        |j| v(&["token", "edit", "ok", &format!("--new-name={j}")]),
    );
    refused_end_to_end(
        &env,
        "account name",
        |s| values::account_name(s).is_ok(),
        |j| v(&["account", "add", "--acl", "read", "--", j]),
    );
    refused_end_to_end(
        &env,
        "acting account",
        |s| values::account_name(s).is_ok(),
        |j| v(&["token", "list", &format!("--user={j}")]),
    );
    refused_end_to_end(
        &env,
        "WHEN",
        |s| values::expiry(s, Utc::now()).is_ok(),
        |j| v(&["token", "create", "new", &format!("--expires={j}")]),
    );
    refused_end_to_end(
        &env,
        "audit --since",
        |s| values::since(s, Utc::now()).is_ok(),
        |j| v(&["audit", &format!("--since={j}")]),
    );
    refused_end_to_end(
        &env,
        "DUR",
        |s| values::duration(s).is_ok(),
        |j| v(&["token", "revoke-all", "--yes", &format!("--unused-for={j}")]),
    );
    refused_end_to_end(
        &env,
        "grace",
        |s| values::grace(s).is_ok_and(|g| g <= 30 * 86_400),
        |j| v(&["token", "rotate", "ok", &format!("--grace={j}")]),
    );
    refused_end_to_end(
        &env,
        "--allow-ip",
        |s| values::network(s).is_ok(),
        |j| v(&["token", "create", "new", &format!("--allow-ip={j}")]),
    );
    refused_end_to_end(
        &env,
        "--acl",
        |s| values::privileges(&[s.to_string()]).is_ok(),
        |j| v(&["token", "create", "new", &format!("--acl={j}")]),
    );
    refused_end_to_end(
        &env,
        "--match",
        |s| values::glob(s).is_ok(),
        |j| v(&["token", "revoke-all", "--yes", &format!("--match={j}")]),
    );

    // Not UTF-8 at all: still a usage error, and nothing changes.
    let before = env.snapshot();
    let bad = OsStr::from_bytes(b"\xff\xfe-\xc3\x28");
    for args in [
        vec![OsStr::new("token"), OsStr::new("create"), bad],
        vec![
            OsStr::new("token"),
            OsStr::new("create"),
            OsStr::new("new"),
            OsStr::new("--expires"),
            bad,
        ],
        vec![
            OsStr::new("token"),
            OsStr::new("create"),
            OsStr::new("new"),
            OsStr::new("--acl"),
            bad,
        ],
    ] {
        let mut cmd = env.cmd(&[]);
        cmd.args(&args);
        let out = Outcome::from_output(cmd.output().unwrap());
        out.expect(&format!("{args:?}"), &[2]);
    }
    assert_eq!(env.snapshot(), before);
}

// ------------------------------------------------------- junk on stdin

/// What `verify` is fed on stdin.
enum Feed {
    /// These bytes, then end of input.
    Bytes(Vec<u8>),
    /// This chunk over and over, never ending, until verify stops reading.
    Endless(Vec<u8>),
}

/// Runs `token verify ARGS` fed `feed` from a writer thread, and asserts
/// it exits on its own (it must not wait for an end of input that never
/// comes, nor read without bound).
fn verify_fed(env: &TestEnv, feed: Feed, extra: &[&str]) -> Outcome {
    let mut args = vec!["token", "verify"];
    args.extend(extra);
    let mut child = env
        .piped_cmd(&args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // A write fails (EPIPE) once verify has exited: that is the end.
        let mut written = 0usize;
        match feed {
            Feed::Bytes(bytes) => {
                let _ = stdin.write_all(&bytes);
                written = bytes.len();
            }
            Feed::Endless(chunk) => {
                while stdin.write_all(&chunk).is_ok() {
                    written += chunk.len();
                }
            }
        }
        written
    });
    let out = wait_at_most(child, PATIENCE)
        .expect("verify did not exit by itself: it waits for or reads unbounded input");
    let written = writer.join().unwrap();
    println!("fed {written} bytes before verify answered");
    Outcome::from_output(out)
}

fn assert_malformed(out: &Outcome, what: &str) {
    out.expect(what, &[5]);
    assert_eq!(
        out.first_line(),
        "error: token rejected: malformed",
        "{what}"
    );
    assert!(out.stdout.is_empty(), "{what}: {out:?}");
}

#[test]
fn junk_on_stdin_is_malformed_without_reading_it_all() {
    let env = TestEnv::new();
    let t = env.create("x", &[]);
    let before = env.snapshot();
    let mut rng = Rng::new("stdin junk");
    let binary = rng.bytes(64 * 1024);
    let no_newline: Vec<u8> = rng
        .bytes(4096)
        .into_iter()
        .map(|b| if b == b'\n' { 0 } else { b })
        .collect();
    let cases: Vec<(&str, Feed)> = vec![
        ("random binary", Feed::Bytes(binary)),
        ("binary, no newline", Feed::Bytes(no_newline.clone())),
        ("5 MB, no newline", Feed::Bytes(vec![b'A'; 5 * 1024 * 1024])),
        ("NUL bytes", Feed::Bytes(b"\0\0\0\0\n".to_vec())),
        ("NUL bytes, no newline", Feed::Bytes(vec![0; 100])),
        (
            "a token then NUL",
            Feed::Bytes(format!("{t}\0\n").into_bytes()),
        ),
        (
            "a token with a NUL inside",
            Feed::Bytes([&t.as_bytes()[..20], b"\0", &t.as_bytes()[21..], b"\n"].concat()),
        ),
        (
            "invalid UTF-8",
            Feed::Bytes(vec![0xc3, 0x28, 0xa0, 0xa1, 0xff, 0xfe, b'\n']),
        ),
        ("invalid UTF-8, no newline", Feed::Bytes(vec![0xff; 50])),
        (
            "a BOM before the token",
            Feed::Bytes(format!("\u{feff}{t}\n").into_bytes()),
        ),
        ("endless text", Feed::Endless(b"yyyyyyyyyyyyyyyy".to_vec())),
        ("endless NUL bytes", Feed::Endless(vec![0; 4096])),
        ("endless binary", Feed::Endless(no_newline)),
        (
            "a token, endlessly, no newline",
            Feed::Endless(t.clone().into_bytes()),
        ),
    ];
    for (what, feed) in cases {
        assert_malformed(&verify_fed(&env, feed, &[]), what);
    }
    // The same verdict in JSON.
    let out = verify_fed(&env, Feed::Endless(vec![0xff; 1024]), &["-o", "json"]);
    out.expect("endless, JSON", &[5]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"valid": false, "reason": "malformed"})
    );
    // Nothing was recorded, and the real token still verifies.
    assert_eq!(env.snapshot(), before);
    let out = verify_fed(&env, Feed::Bytes(format!("{t}\n").into_bytes()), &[]);
    out.expect("the real token", &[0]);
}
