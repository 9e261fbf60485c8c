//! `token create`: the printed token, expiry, privileges, allow-list,
//! names, output formats and the bootstrap of a fresh store.

use serde_json::Value;

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv, contains};
use crate::fixtures::*;

fn create_json(env: &TestEnv, name: &str, extra: &[&str]) -> Value {
    let mut args = vec!["token", "create", name];
    args.extend(extra);
    env.json(&args)
}

fn expires_minus_created(env: &TestEnv, name: &str, when: &str) -> i64 {
    let t = create_json(env, name, &["--expires", when]);
    secs(&t["expires"]) - secs(&t["created"])
}

/// Asserts `token create ARGS` is refused with `code` and changes nothing.
fn refused(env: &TestEnv, args: &[&str], code: i32) -> String {
    let before = env.snapshot();
    let mut full = vec!["token", "create"];
    full.extend(args);
    let err = env.fails(&full, code);
    assert_eq!(
        env.snapshot(),
        before,
        "tokenctl {full:?} changed the store"
    );
    err
}

// ---- the printed token ----

#[rstest]
fn prints_the_bare_token_alone_on_stdout(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = run(&env, &["token", "create", "ci"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = stdout(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {stdout:?}");
    let token = lines[0];
    assert_eq!(token.len(), 50);
    assert!(token.starts_with("tct_"));
    assert!(
        token[4..].bytes().all(|b| b.is_ascii_alphanumeric()),
        "{token}"
    );
    assert_eq!(stdout, format!("{token}\n"));
    // Details go to stderr, never the plaintext.
    let err = stderr(&out);
    assert!(err.contains("ci"), "{err}");
    assert!(!err.contains(token), "the token leaked to stderr: {err}");
    // The id in the token is the stored id.
    let id: String = env
        .sql_value("SELECT id FROM tokens WHERE name = 'ci'")
        .expect("stored");
    assert_eq!(id, id_of(token));
}

#[rstest]
fn checksum_is_crc32_of_the_first_44_bytes_in_base62(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for i in 0..5 {
        let token = env.create(&format!("t{i}"), &[]);
        assert_eq!(token.len(), 50, "{token}");
        assert_eq!(
            &token[44..],
            checksum(&token[..44]),
            "bad checksum in {token}"
        );
    }
    // The helper itself, against zlib's published check value.
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    assert_eq!(checksum(""), "000000");
    // Read back as a base62 number, MSB first, it is the CRC again.
    let sum = checksum("123456789");
    let value = sum.bytes().fold(0u64, |acc, b| {
        let d = BASE62_DIGITS.iter().position(|&c| c == b).expect("base62") as u64;
        acc * 62 + d
    });
    assert_eq!(value, 0xCBF4_3926);
}

const BASE62_DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[rstest]
fn tokens_are_unique_and_verify(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let b = env.create("b", &[]);
    assert_ne!(a, b);
    assert_ne!(id_of(&a), id_of(&b));
    assert_eq!(env.verify(&a, &[]).status.code(), Some(0));
    assert_eq!(env.verify(&b, &[]).status.code(), Some(0));
}

#[rstest]
fn the_store_never_holds_the_plaintext_or_the_secret(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("secretive", &["--note", "n"]);
    let secret = &token[14..44];
    // Close the WAL into the main file so every byte is looked at (on
    // PostgreSQL store_bytes checkpoints itself).
    if backend == Sqlite {
        env.sql()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
    }
    let bytes = env.store_bytes();
    assert!(!contains(&bytes, &token));
    assert!(!contains(&bytes, secret), "the secret is in the store");
    let hash: String = env
        .sql_value("SELECT secret_hash FROM tokens")
        .expect("hash");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

// ---- --expires ----

#[rstest]
fn default_expiry_is_365_days(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(&env, "default", &[]);
    assert_eq!(secs(&t["expires"]) - secs(&t["created"]), 365 * DAY);
    let created = secs(&t["created"]);
    assert!((created - now()).abs() <= 5, "created {created} is not now");
}

#[rstest]
fn expires_never_is_null(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(&env, "forever", &["--expires", "never"]);
    assert_eq!(t["expires"], Value::Null);
    let rows = env.sql_rows("SELECT expires_at FROM tokens");
    assert_eq!(rows, vec![vec![None]]);
}

#[rstest]
fn expires_durations(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for (when, seconds) in [
        ("45s", 45),
        ("30m", 30 * 60),
        ("12h", 12 * 3600),
        ("90d", 90 * DAY),
        ("2w", 14 * DAY),
        ("1y", 365 * DAY),
    ] {
        assert_eq!(
            expires_minus_created(&env, &format!("d{when}"), when),
            seconds,
            "--expires {when}"
        );
    }
}

#[rstest]
fn expires_date_is_the_last_second_of_that_day_in_utc(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(&env, "d", &["--expires", "2030-06-15"]);
    assert_eq!(t["expires"], "2030-06-15T23:59:59Z");
}

#[rstest]
fn expires_date_is_local_time_of_tz(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    for (tz, date, expected) in [
        // EDT, UTC-4
        ("America/New_York", "2030-06-15", "2030-06-16T03:59:59Z"),
        // EST, UTC-5
        ("America/New_York", "2030-01-15", "2030-01-16T04:59:59Z"),
        // UTC+5:30
        ("Asia/Kolkata", "2030-06-15", "2030-06-15T18:29:59Z"),
    ] {
        let name = format!("t{}", date.replace('-', ""));
        let out = env
            .cmd(&[
                "token",
                "create",
                &format!("{name}{}", tz.len()),
                "--expires",
                date,
                "-o",
                "json",
            ])
            .env("TZ", tz)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let t: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(t["expires"], expected, "TZ={tz} --expires {date}");
    }
}

#[rstest]
fn expires_today_is_accepted_and_ends_today(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let t = create_json(&env, "today", &["--expires", &today]);
    assert_eq!(t["expires"], format!("{today}T23:59:59Z"));
}

#[rstest]
fn expires_rfc3339_is_converted_to_utc(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(&env, "a", &["--expires", "2030-01-02T03:04:05+02:00"]);
    assert_eq!(t["expires"], "2030-01-02T01:04:05Z");
    let t = create_json(&env, "b", &["--expires", "2031-07-08T09:10:11Z"]);
    assert_eq!(t["expires"], "2031-07-08T09:10:11Z");
}

#[rstest]
fn expires_in_the_past_is_exit_2_and_changes_nothing(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("existing", &[]);
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let a_minute_ago = chrono::DateTime::from_timestamp(now() - 60, 0)
        .expect("time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for when in [
        "2020-01-01",
        "2020-01-01T00:00:00Z",
        yesterday.as_str(),
        a_minute_ago.as_str(),
    ] {
        let err = refused(&env, &["x", "--expires", when], 2);
        assert!(err.contains(when), "the error names {when}: {err}");
    }
}

#[rstest]
fn impossible_and_garbage_expiries_are_exit_2_and_change_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("existing", &[]);
    for when in [
        "2027-02-30",
        "2027-13-01",
        "2027-00-10",
        "2027-1-5",
        "tomorrow",
        "",
        "0d",
        "-1d",
        "1.5d",
        "1D",
        "1d2h",
        "90",
        "d",
        "2031-07-08T25:00:00Z",
        "never ",
    ] {
        refused(&env, &["x", "--expires", when], 2);
    }
}

#[rstest]
fn refused_expiry_on_a_fresh_store_creates_no_store(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.fails(&["token", "create", "x", "--expires", "2027-02-30"], 2);
    assert_no_store(&env);
}

#[rstest]
fn expiry_past_year_9999_is_refused_or_rfc3339(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = run(
        &env,
        &["token", "create", "far", "--expires", "7999y", "-o", "json"],
    );
    match out.status.code() {
        Some(2) => assert!(stderr(&out).starts_with("error: ")),
        Some(0) => {
            let t: Value = serde_json::from_slice(&out.stdout).expect("json");
            let expires = t["expires"].as_str().expect("expires");
            assert!(
                is_utc_time(expires),
                "expires is not RFC 3339 UTC to the second: {expires}"
            );
        }
        other => panic!("exit {other:?}: {}", stderr(&out)),
    }
}

// ---- --acl ----

#[rstest]
fn acl_flags_add_up_deduplicate_and_sort(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(
        &env,
        "x",
        &[
            "--acl",
            "write",
            "--acl",
            "read,deploy",
            "--acl",
            "read,write",
        ],
    );
    assert_eq!(str_list(&t["acls"]), strings(&["deploy", "read", "write"]));
    let stored: String = env.sql_value("SELECT acls FROM tokens").expect("row");
    // jsonb prints a space after each comma.
    let expected = match backend {
        Sqlite => r#"["deploy","read","write"]"#,
        Postgres => r#"["deploy", "read", "write"]"#,
    };
    assert_eq!(stored, expected);
}

#[rstest]
fn acl_all_with_others_is_all(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(&env, "x", &["--acl", "read,all", "--acl", "write"]);
    assert_eq!(str_list(&t["acls"]), strings(&["all"]));
}

#[rstest]
fn acl_empty_element_or_bad_privilege_is_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("existing", &[]);
    for acl in ["read,", ",read", "read,,write", "", "Read", "-x", "a b"] {
        refused(&env, &["x", "--acl", acl], 2);
    }
    let long = "a".repeat(65);
    refused(&env, &["x", "--acl", &long], 2);
    let ok = "a".repeat(64);
    let t = create_json(&env, "x", &["--acl", &ok]);
    assert_eq!(str_list(&t["acls"]), vec![ok]);
}

#[rstest]
fn default_acls_are_the_accounts(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(&env, "boot", &[]);
    assert_eq!(str_list(&t["acls"]), strings(&["all"]));
    add_account(&env, "bob", r#"["read","write"]"#);
    let t = create_json(&env, "x", &["-u", "bob"]);
    assert_eq!(t["account"], "bob");
    assert_eq!(str_list(&t["acls"]), strings(&["read", "write"]));
}

#[rstest]
fn privileges_beyond_the_account_are_exit_2_naming_them(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("boot", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    let err = refused(&env, &["-u", "bob", "x", "--acl", "read,write"], 2);
    assert!(err.contains("write"), "{err}");
    let err = refused(&env, &["-u", "bob", "x", "--acl", "all"], 2);
    assert!(err.contains("all"), "{err}");
    let err = refused(&env, &["-u", "bob", "x", "--acl", "deploy,dns"], 2);
    assert!(err.contains("deploy") && err.contains("dns"), "{err}");
    // Within the account is fine.
    let t = create_json(&env, "x", &["-u", "bob", "--acl", "read"]);
    assert_eq!(str_list(&t["acls"]), strings(&["read"]));
}

// ---- --allow-ip ----

#[rstest]
fn allow_ips_v4_v6_and_cidr(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(
        &env,
        "x",
        &[
            "--allow-ip",
            "203.0.113.7",
            "--allow-ip",
            "2001:db8::/32",
            "--allow-ip",
            "198.51.100.0/24",
            "--allow-ip",
            "2001:db8:1::5",
        ],
    );
    assert_eq!(
        str_list(&t["allow_ips"]),
        strings(&[
            "203.0.113.7",
            "2001:db8::/32",
            "198.51.100.0/24",
            "2001:db8:1::5"
        ])
    );
    let t = create_json(&env, "none", &[]);
    assert_eq!(t["allow_ips"], serde_json::json!([]));
}

#[rstest]
fn allow_ip_with_host_bits_is_refused_with_both_readings(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    // 10.1.2.3/16 is most likely a typo: refusing it beats opening a /16.
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let err = env.fails(&["token", "create", "x", "--allow-ip", "10.1.2.3/16"], 2);
    assert!(
        err.contains("10.1.0.0/16") && err.contains("10.1.2.3"),
        "{err}"
    );
    assert!(!env.has_store());
    let t = create_json(&env, "x", &["--allow-ip", "10.1.0.0/16"]);
    assert_eq!(str_list(&t["allow_ips"]), strings(&["10.1.0.0/16"]));
}

#[rstest]
fn bad_allow_ips_are_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("existing", &[]);
    for net in [
        "10.0.0.0/33",
        "300.1.1.1",
        "example.com",
        "10.0.0.0/",
        "2001:db8::/129",
        "",
        "10.0.0.1 ",
    ] {
        refused(&env, &["x", "--allow-ip", net], 2);
    }
}

#[rstest]
fn at_most_100_allow_ips(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("existing", &[]);
    let ips: Vec<String> = (0..101)
        .map(|i| format!("10.0.{}.{}", i / 50, i % 50))
        .collect();
    let args = |n: usize| -> Vec<&str> {
        let mut a = vec!["x"];
        for ip in &ips[..n] {
            a.extend(["--allow-ip", ip.as_str()]);
        }
        a
    };
    refused(&env, &args(101), 2);
    let mut full = vec!["token", "create"];
    full.extend(args(100));
    let t: Value = env.json(&full);
    assert_eq!(t["allow_ips"].as_array().expect("list").len(), 100);
}

// ---- --note ----

#[rstest]
fn note_is_kept(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(&env, "x", &["--note", "deploys from CI, ask ops@"]);
    assert_eq!(t["note"], "deploys from CI, ask ops@");
    let t = create_json(&env, "y", &[]);
    assert_eq!(t["note"], Value::Null);
}

// ---- names ----

#[rstest]
fn name_of_50_characters_is_accepted_51_is_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let ok = format!("{}-_9Z", "a".repeat(46));
    assert_eq!(ok.len(), 50);
    let t = create_json(&env, &ok, &[]);
    assert_eq!(t["name"], ok.as_str());
    let long = "b".repeat(51);
    let err = refused(&env, &[&long], 2);
    assert!(err.contains(&long), "{err}");
}

#[rstest]
fn names_with_bad_characters_are_exit_2(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("existing", &[]);
    for name in [
        "",
        "has space",
        "dot.name",
        "slash/name",
        "ünï",
        "semi;colon",
        "at@x",
        "tab\tx",
    ] {
        refused(&env, &[name], 2);
    }
}

#[rstest]
fn refused_first_command_creates_no_store(#[values(Sqlite, Postgres)] backend: Backend) {
    for args in [
        vec!["token", "create", "bad name"],
        vec!["token", "create", "x", "--acl", "read,"],
        vec!["token", "create", "x", "--allow-ip", "10.0.0.0/33"],
        vec!["token", "create", "x", "--expires", "garbage"],
    ] {
        let Some(env) = TestEnv::on(backend) else {
            return;
        };
        env.fails(&args, 2);
        assert_no_store(&env);
    }
}

#[rstest]
fn refused_first_command_for_a_bad_account_creates_no_store(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.fails(&["-u", "bad name", "token", "create", "x"], 2);
    assert_no_store(&env);
    let out = env
        .cmd(&["token", "create", "x"])
        .env("USER", "bad name")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_no_store(&env);
}

#[rstest]
fn duplicate_live_name_is_exit_4(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &[]);
    let err = refused(&env, &["deploy"], 4);
    assert!(err.contains("deploy"), "{err}");
    // Names are case-sensitive.
    env.create("Deploy", &[]);
}

#[rstest]
fn another_account_may_use_the_same_name(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    let t = create_json(&env, "deploy", &["-u", "bob"]);
    assert_eq!(t["account"], "bob");
}

#[rstest]
fn a_revoked_tokens_name_can_be_reused(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let old = env.create("deploy", &[]);
    env.ok(&["token", "revoke", "deploy", "--yes"]);
    let new = env.create("deploy", &[]);
    assert_ne!(id_of(&old), id_of(&new));
    let count: i64 = env
        .sql_value("SELECT count(*) FROM tokens WHERE name = 'deploy'")
        .expect("count");
    assert_eq!(count, 2);
    assert_eq!(env.verify(&new, &[]).status.code(), Some(0));
    assert_eq!(env.verify(&old, &[]).status.code(), Some(5));
    // ... but only once while it is live.
    refused(&env, &["deploy"], 4);
}

// ---- accounts ----

#[rstest]
fn suspended_account_is_exit_1(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("boot", &[]);
    add_account(&env, "bob", r#"["read"]"#);
    suspend_account(&env, "bob");
    let err = refused(&env, &["-u", "bob", "x"], 1);
    assert!(err.contains("suspended"), "{err}");
}

#[rstest]
fn bootstrap_creates_the_acting_account_with_all_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = run(&env, &["token", "create", "first"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("created account 'alice'") && err.contains("all"),
        "{err}"
    );
    let accounts =
        env.sql_rows("SELECT name, acls, CASE WHEN suspended THEN 1 ELSE 0 END FROM accounts");
    let row = |v: [&str; 3]| v.map(|s| Some(s.to_string())).to_vec();
    assert_eq!(accounts, vec![row(["alice", r#"["all"]"#, "0"])]);
    // The second write says nothing about accounts.
    let out = run(&env, &["token", "create", "second"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !stderr(&out).contains("created account"),
        "{}",
        stderr(&out)
    );
}

#[rstest]
fn user_flag_and_env_select_the_account(#[values(Sqlite, Postgres)] backend: Backend) {
    // -u on a fresh store bootstraps that account.
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let t = create_json(&env, "x", &["-u", "bob"]);
    assert_eq!(t["account"], "bob");
    // TOKENCTL_USER is used when -u is absent ...
    let out = env
        .cmd(&["token", "create", "y", "-o", "json"])
        .env("TOKENCTL_USER", "bob")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(t["account"], "bob");
    // ... and -u wins over it.
    add_account(&env, "carol", r#"["all"]"#);
    let out = env
        .cmd(&["--user", "carol", "token", "create", "z", "-o", "json"])
        .env("TOKENCTL_USER", "bob")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(t["account"], "carol");
    // USER=alice was never used.
    env.fails(&["token", "create", "w"], 3);
}

#[rstest]
fn logname_is_the_fallback_for_user(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = env
        .cmd(&["token", "create", "x", "-o", "json"])
        .env_remove("USER")
        .env("LOGNAME", "logan")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(t["account"], "logan");
}

#[rstest]
fn unknown_account_after_bootstrap_is_exit_3_with_a_hint(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("boot", &[]);
    let err = refused(&env, &["-u", "mallory", "x"], 3);
    assert!(err.contains("mallory"), "{err}");
    assert!(err.contains("tokenctl account add"), "{err}");
}

#[rstest]
fn bootstrap_happens_only_once_per_store(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("boot", &[]);
    // Deleting every account does not re-open the bootstrap.
    env.ok(&["account", "delete", "alice", "--yes"]);
    for user in ["alice", "newcomer"] {
        let err = refused(&env, &["-u", user, "x"], 3);
        assert!(err.contains("tokenctl account add"), "{err}");
    }
    assert_eq!(
        env.json(&["account", "list"]),
        serde_json::json!([]),
        "a second bootstrap happened"
    );
}

// ---- output formats ----

fn assert_issued_object(t: &Value, name: &str) {
    let obj = t.as_object().expect("one object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    let mut expected: Vec<&str> = TOKEN_FIELDS.to_vec();
    expected.push("token");
    expected.sort();
    assert_eq!(keys, expected);
    let token = t["token"].as_str().expect("token");
    assert_eq!(token.len(), 50);
    assert!(token.starts_with("tct_"));
    assert!(token[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(&token[44..], checksum(&token[..44]));
    assert_eq!(t["id"], id_of(token).as_str());
    assert_eq!(t["name"], name);
    assert_eq!(t["account"], "alice");
    assert_eq!(t["acls"], serde_json::json!(["all"]));
    assert!(is_utc_time(t["created"].as_str().expect("created")));
    assert!(is_utc_time(t["expires"].as_str().expect("expires")));
    assert_eq!(t["last_used"], Value::Null);
    assert_eq!(t["last_used_ip"], Value::Null);
    assert_eq!(t["allow_ips"], serde_json::json!(["192.0.2.1"]));
    assert_eq!(t["note"], "hello");
    assert_eq!(t["status"], "active");
    assert_eq!(t["revoked"], Value::Null);
}

#[rstest]
fn json_output_is_one_object_with_the_token_and_every_field(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = env.ok(&[
        "token",
        "create",
        "j",
        "--note",
        "hello",
        "--allow-ip",
        "192.0.2.1",
        "-o",
        "json",
    ]);
    let t: Value = serde_json::from_str(&out).expect("stdout is one JSON value");
    assert_issued_object(&t, "j");
    // Pretty-printed.
    assert!(out.lines().count() > 5, "{out}");
    // And it is the stored token.
    let token = t["token"].as_str().expect("token").to_string();
    let out = env.verify(&token, &["--ip", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[rstest]
fn yaml_output_carries_the_same_fields(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = env.ok(&[
        "token",
        "create",
        "y",
        "--note",
        "hello",
        "--allow-ip",
        "192.0.2.1",
        "-o",
        "yaml",
    ]);
    let t: Value = serde_norway::from_str(&out).expect("stdout is YAML");
    assert_issued_object(&t, "y");
    let token = t["token"].as_str().expect("token").to_string();
    let out = env.verify(&token, &["--ip", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[rstest]
fn output_format_from_env(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let out = env
        .cmd(&[
            "token",
            "create",
            "e",
            "--note",
            "hello",
            "--allow-ip",
            "192.0.2.1",
        ])
        .env("TOKENCTL_OUTPUT", "json")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let t: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_issued_object(&t, "e");
}
