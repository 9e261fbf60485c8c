//! Values that reach the store, the audit trail and the screen: terminal
//! controls shown as escapes, plaintext tokens refused as data, names that
//! would hide a token's id, the acting account without USER, a stray
//! completion variable, IPv4-mapped allow-list entries, YAML that reads
//! back as the JSON, leap seconds and the privilege cap.

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::common::{TestEnv, contains};
use crate::fixtures::{id_by_name, run, stderr, stdout};
use crate::verify::secret_part;

/// Runs with extra environment variables; returns the whole output.
fn run_with(env: &TestEnv, vars: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut cmd = env.cmd(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.write_stdin(stdin.to_string())
        .output()
        .expect("run tokenctl")
}

/// Asserts a refusal: the exit code, one `error:` line, no panic.
fn refused(out: &Output, code: i32, what: &str) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: stdout {}\nstderr {err}",
        stdout(out)
    );
    assert!(err.starts_with("error: "), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    err
}

// --- terminal controls in tables ---------------------------------------------

#[test]
fn table_cells_show_terminal_controls_as_visible_escapes() {
    let env = TestEnv::new();
    // A hostile SUDO_USER (the audit actor) and a --match glob, both kept
    // in the audit trail as given.
    let sudo = "mallory\u{1b}[2K\u{1b}[1A\u{9b}2J\u{202e}";
    let out = run_with(
        &env,
        &[("SUDO_USER", sudo)],
        &["token", "create", "web-1"],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_with(
        &env,
        &[],
        &[
            "token",
            "revoke-all",
            "--match",
            "web-[1\u{1b}\u{9b}]",
            "--yes",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    env.create("web-2", &["--note", "plain note"]);
    // A note stored before notes were checked as they are now.
    env.sql()
        .execute(
            "UPDATE tokens SET note = ?1 WHERE name = 'web-2'",
            ["erase\u{1b}[2K\u{7f}\u{85}\u{2028}end"],
        )
        .unwrap();

    let audit = env.ok(&["audit"]);
    let shown = env.ok(&["token", "show", "web-2"]);
    let list = env.ok(&["token", "list", "--all"]);
    for (what, text) in [("audit", &audit), ("show", &shown), ("list", &list)] {
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' || matches!(c, '\u{202e}' | '\u{2028}')),
            "{what} printed a raw control character: {text:?}"
        );
    }
    assert!(
        audit.contains(r"mallory\x1b[2K\x1b[1A\x9b2J\u{202e}"),
        "{audit}"
    );
    assert!(audit.contains(r"--match web-[1\x1b\x9b]"), "{audit}");
    assert!(
        shown.contains(r"erase\x1b[2K\x7f\x85\u{2028}end"),
        "{shown}"
    );
    // JSON keeps the values themselves.
    let events = env.json(&["audit"]);
    assert!(
        events.as_array().unwrap().iter().any(|e| e["actor"]
            .as_str()
            .unwrap()
            .ends_with(&format!("(sudo: {sudo})"))),
        "{events}"
    );
}

#[test]
fn notes_refuse_bidi_overrides_line_separators_and_non_characters() {
    let env = TestEnv::new();
    env.create("web-1", &[]);
    let before = env.snapshot();
    for bad in [
        "\u{202a}",
        "\u{202b}",
        "\u{202c}",
        "\u{202d}",
        "\u{202e}",
        "\u{2066}",
        "\u{2067}",
        "\u{2068}",
        "\u{2069}",
        "\u{2028}",
        "\u{2029}",
        "\u{fdd0}",
        "\u{fdef}",
        "\u{fffe}",
        "\u{ffff}",
        "\u{1fffe}",
        "\u{10ffff}",
        "\u{85}",
        "\u{1b}",
    ] {
        let note = format!("invoice{bad}fdp.exe");
        let out = run(&env, &["token", "create", "web-2", "--note", &note]);
        refused(&out, 2, &format!("create --note {bad:?}"));
        let out = run(&env, &["token", "edit", "web-1", "--note", &note]);
        refused(&out, 2, &format!("edit --note {bad:?}"));
    }
    assert_eq!(env.snapshot(), before);
    // Other text, right-to-left scripts included, is kept.
    let note = "עברית \u{200f} ünï 😀 \u{fdcf}";
    env.create("web-2", &["--note", note]);
    assert_eq!(env.json(&["token", "show", "web-2"])["note"], note);
}

// --- plaintext tokens as data -------------------------------------------------

#[test]
fn values_holding_a_token_are_refused_and_never_echoed() {
    let env = TestEnv::new();
    let t = env.create("web-1", &[]);
    env.create("web-2", &[]);
    let secret = secret_part(&t);
    let before = env.snapshot();
    let note = format!("token is {t} for ci");
    let glued = format!("x{t}");
    let glob = format!("{t}*");
    let cases: Vec<Vec<&str>> = vec![
        vec!["token", "create", &t],
        vec!["token", "create", "ci", "--note", &note],
        vec!["token", "edit", "web-2", "--new-name", &t],
        vec!["token", "edit", "web-2", "--note", &note],
        vec!["token", "edit", "web-2", "--note", &glued],
        vec!["account", "add", &t, "--acl", "read"],
        vec!["account", "edit", "alice", "--new-name", &t],
        vec!["-u", &t, "token", "list"],
        vec!["token", "list", "--search", &t],
        vec!["token", "list", "--match", &glob],
        vec!["token", "revoke-all", "--match", &t, "--yes"],
        vec!["token", "revoke-all", "--match", &glob, "--dry-run"],
    ];
    for args in cases {
        let out = run(&env, &args);
        let err = refused(&out, 2, &format!("{args:?}"));
        assert!(!err.contains(secret), "{args:?} echoed the secret: {err}");
        assert!(!stdout(&out).contains(secret), "{args:?}");
    }
    assert_eq!(env.snapshot(), before);
    assert!(!contains(&env.store_bytes(), secret));
}

// --- a name equal to a token's id ----------------------------------------------

#[test]
fn a_name_equal_to_a_token_id_is_refused() {
    let env = TestEnv::new();
    env.create("web-1", &[]);
    env.create("web-2", &[]);
    let id = id_by_name(&env, "web-1");
    let before = env.snapshot();
    refused(&run(&env, &["token", "create", &id]), 4, "create <id>");
    refused(
        &run(&env, &["token", "edit", "web-2", "--new-name", &id]),
        4,
        "edit --new-name <id>",
    );
    // A revoked token's id too: `show <id>` still finds it.
    env.ok(&["token", "revoke", "web-1", "--yes"]);
    let before_revoked = env.snapshot();
    refused(
        &run(&env, &["token", "create", &id]),
        4,
        "create <revoked id>",
    );
    assert_eq!(env.snapshot(), before_revoked);
    assert_ne!(before, before_revoked);
    assert_eq!(env.json(&["token", "show", &id])["name"], "web-1");
}

// --- the acting account -------------------------------------------------------

#[test]
fn the_acting_account_falls_back_to_the_real_users_name() {
    let env = TestEnv::new();
    let who = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("run id -un");
    let who = String::from_utf8(who.stdout).unwrap().trim().to_string();
    // Neither USER nor LOGNAME: a container, cron or a systemd unit.
    let out = env
        .cmd(&["token", "create", "ci"])
        .env_remove("USER")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env
        .cmd(&["token", "show", "ci", "-o", "json"])
        .env_remove("USER")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["account"], who.as_str());
}

// --- a stray completion variable -------------------------------------------------

#[test]
fn no_completion_variable_stands_in_for_a_command() {
    let env = TestEnv::new();
    let t = env.create("web-1", &[]);
    let stray: &[(&str, &str)] = &[
        ("COMPLETE", "bash"),
        ("COMPLETE", "zsh"),
        ("COMPLETE", "/usr/bin/fish"),
        ("TOKENCTL_COMPLETE", "bash"),
        ("TOKENCTL_COMPLETE", "/bin/zsh"),
        ("TOKENCTL_COMPLETE", ""),
        ("TOKENCTL_COMPLETE", "0"),
        ("TOKENCTL_COMPLETE", "garbage"),
        ("TOKENCTL_COMPLETE", "\u{1b}"),
    ];
    for &(var, value) in stray {
        let vars = [(var, value), ("_CLAP_COMPLETE_INDEX", "1")];
        let what = format!("{var}={value:?}");
        for garbage in ["garbage", "", "tct_", &t[..49]] {
            let out = run_with(&env, &vars, &["token", "verify"], &format!("{garbage}\n"));
            refused(&out, 5, &format!("{what}: verify {garbage:?}"));
        }
        let out = run_with(&env, &vars, &["token", "verify"], &format!("{t}\n"));
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        assert!(stdout(&out).starts_with("valid: "), "{what}");
        // `T=$(tokenctl token create ci)` captures a token.
        let out = run_with(&env, &vars, &["token", "create", "ci"], "");
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        let issued = stdout(&out);
        assert!(
            issued.starts_with("tct_") && issued.trim().len() == 50,
            "{what}: {issued}"
        );
        let out = run_with(
            &env,
            &vars,
            &["token", "revoke-all", "--match", "ci", "--yes"],
            "",
        );
        assert_eq!(
            stdout(&out),
            format!("revoked 1 token in account {}\n", env.user),
            "{what}: {}",
            stderr(&out)
        );
    }
    // serve runs rather than printing a script and exiting 0.
    let mut child = env
        .std_cmd(&["serve", "--listen", "127.0.0.1:0"])
        .env("COMPLETE", "bash")
        .env("TOKENCTL_COMPLETE", "bash")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("tokenctl serve: listening on "),
        "{first:?}"
    );
    assert!(running);
}

#[test]
fn the_completion_variable_is_tokenctls_own() {
    let env = TestEnv::new();
    env.create("web-1", &[]);
    let complete = |vars: &[(&str, &str)]| {
        let mut all = vec![("_CLAP_COMPLETE_INDEX", "3")];
        all.extend_from_slice(vars);
        run_with(&env, &all, &["--", "tokenctl", "token", "show", "we"], "")
    };
    let out = complete(&[("TOKENCTL_COMPLETE", "bash")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "web-1");
    // The generic name is another program's business.
    let out = complete(&[("COMPLETE", "bash")]);
    assert!(!out.status.success());
    assert!(!stdout(&out).contains("web-1"));
    // The registration script names the variable it sets.
    let script = env.ok(&["completions", "bash"]);
    assert!(script.contains("TOKENCTL_COMPLETE=\"bash\""), "{script}");
    assert!(!script.contains(" COMPLETE="), "{script}");
}

// --- IPv4-mapped allow-list entries ---------------------------------------------

#[test]
fn ipv4_mapped_allow_list_entries_are_stored_as_ipv4() {
    let env = TestEnv::new();
    let t = env.create(
        "web-1",
        &[
            "--allow-ip",
            "::ffff:10.0.0.1",
            "--allow-ip",
            "::ffff:192.168.0.0/112",
        ],
    );
    let shown = env.json(&["token", "show", "web-1"]);
    assert_eq!(
        shown["allow_ips"],
        serde_json::json!(["10.0.0.1", "192.168.0.0/16"])
    );
    for ip in [
        "10.0.0.1",
        "::ffff:10.0.0.1",
        "192.168.7.9",
        "::ffff:192.168.7.9",
    ] {
        let out = env.verify(&t, &["--ip", ip]);
        assert!(out.status.success(), "--ip {ip}: {}", stderr(&out));
    }
    refused(&env.verify(&t, &["--ip", "10.0.0.2"]), 5, "outside");
    // Last Used IP is the IPv4 client.
    env.verify(&t, &["--ip", "::ffff:10.0.0.1"]);
    assert_eq!(
        env.json(&["token", "show", "web-1"])["last_used_ip"],
        "10.0.0.1"
    );

    // The whole mapped range is every IPv4 client; a shorter IPv6 prefix
    // stays IPv6.
    env.ok(&[
        "token",
        "edit",
        "web-1",
        "--allow-ip",
        "::ffff:0:0/96",
        "--allow-ip",
        "::/1",
    ]);
    assert_eq!(
        env.json(&["token", "show", "web-1"])["allow_ips"],
        serde_json::json!(["0.0.0.0/0", "::/1"])
    );
    let out = env.verify(&t, &["--ip", "203.0.113.9"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// --- YAML reads back as the JSON --------------------------------------------------

/// Parses `-o yaml` with a YAML parser and `-o json`, and asserts the two
/// are the same values.
fn same_in_yaml(env: &TestEnv, vars: &[(&str, &str)], args: &[&str], stdin: &str) -> Value {
    let output = |format: &str| {
        let mut full = args.to_vec();
        full.extend(["-o", format]);
        let out = run_with(env, vars, &full, stdin);
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 5),
            "{full:?}: {}",
            stderr(&out)
        );
        stdout(&out)
    };
    let json: Value = serde_json::from_str(&output("json")).expect("JSON");
    let text = output("yaml");
    let yaml: Value = serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{args:?}: not YAML ({e}):\n{text}"));
    assert_eq!(yaml, json, "{args:?}:\n{text}");
    json
}

#[test]
fn yaml_output_reads_back_as_the_json_values() {
    let env = TestEnv::new();
    // An actor with NEL, C1 controls, DEL, a BOM, separators and a
    // non-character: all possible in SUDO_USER.
    let sudo = "eve\u{85}\u{80}\u{9b}\u{7f}\u{feff}\u{2028}\u{2029}\u{fffe}\u{1b}[1m\t\"\\: #";
    let vars = [("SUDO_USER", sudo)];
    let out = run_with(
        &env,
        &vars,
        &[
            "token",
            "create",
            "web-1",
            "--note",
            "no: \"quoted\" \\ # - [x] {y} \u{a0}\u{200f}😀 2026-11-23",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let t = stdout(&out).trim().to_string();
    let out = run_with(&env, &vars, &["token", "create", "web-2"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_with(&env, &vars, &["account", "add", "bob", "--acl", "read"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    // Notes stored before notes were checked as they are now.
    env.sql()
        .execute(
            "UPDATE tokens SET note = ?1 WHERE name = 'web-2'",
            ["a\u{fffe}b\u{ffff}\u{85}c\u{2028}\u{1b}\u{0}d\u{fdd0}\u{feff}"],
        )
        .unwrap();

    let list = same_in_yaml(&env, &vars, &["token", "list", "--all"], "");
    assert_eq!(list.as_array().unwrap().len(), 2);
    same_in_yaml(&env, &vars, &["token", "show", "web-2"], "");
    same_in_yaml(&env, &vars, &["token", "show", "web-1"], "");
    same_in_yaml(&env, &vars, &["account", "list"], "");
    same_in_yaml(&env, &vars, &["account", "show", "alice"], "");
    same_in_yaml(&env, &vars, &["token", "verify"], &format!("{t}\n"));
    same_in_yaml(&env, &vars, &["token", "verify"], "garbage\n");
    same_in_yaml(&env, &vars, &["token", "revoke-all", "--dry-run"], "");
    let audit = same_in_yaml(&env, &vars, &["audit", "--all-accounts"], "");
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"].as_str().unwrap().contains(sudo)),
        "{audit}"
    );
    // revoke-all changes the store: its YAML is compared with what JSON
    // shows of the same tokens afterwards.
    let out = run_with(
        &env,
        &vars,
        &["token", "revoke-all", "--yes", "-o", "yaml"],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let revoked: Value = serde_norway::from_str(&stdout(&out)).expect("YAML");
    assert_eq!(revoked["revoked"], 2);
    for token in revoked["tokens"].as_array().unwrap() {
        let id = token["id"].as_str().unwrap();
        assert_eq!(*token, env.json(&["token", "show", id]));
    }
    same_in_yaml(&env, &vars, &["audit", "--all-accounts"], "");
}

// --- leap seconds and the privilege cap ------------------------------------------

#[test]
fn a_leap_second_expiry_is_refused() {
    let env = TestEnv::new();
    env.create("web-1", &[]);
    let before = env.snapshot();
    for when in [
        "2030-01-01T00:00:60Z",
        "2030-06-30T23:59:60Z",
        "2030-01-01T02:00:60+02:00",
    ] {
        refused(
            &run(&env, &["token", "create", "web-2", "--expires", when]),
            2,
            when,
        );
        refused(
            &run(&env, &["token", "edit", "web-1", "--expires", when]),
            2,
            when,
        );
    }
    assert_eq!(env.snapshot(), before);
    env.create("web-2", &["--expires", "2030-01-01T00:00:59Z"]);
    assert_eq!(
        env.json(&["token", "show", "web-2"])["expires"],
        "2030-01-01T00:00:59Z"
    );
}

#[test]
fn privileges_are_capped_at_100_per_token_and_account() {
    let env = TestEnv::new();
    env.create("web-1", &["--acl", "p0"]);
    let many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    let all_101 = many.join(",");
    let first_100 = many[..100].join(",");
    let before = env.snapshot();
    refused(
        &run(&env, &["token", "create", "web-2", "--acl", &all_101]),
        2,
        "create",
    );
    refused(
        &run(&env, &["token", "edit", "web-1", "--acl", &all_101]),
        2,
        "edit --acl",
    );
    refused(
        &run(&env, &["account", "add", "bob", "--acl", &all_101]),
        2,
        "account add",
    );
    refused(
        &run(&env, &["account", "edit", "alice", "--acl", &all_101]),
        2,
        "account edit",
    );
    let five_thousand: Vec<String> = (0..5000).map(|i| format!("q{i}")).collect();
    refused(
        &run(
            &env,
            &[
                "token",
                "create",
                "web-2",
                "--acl",
                &five_thousand.join(","),
            ],
        ),
        2,
        "5000",
    );
    assert_eq!(env.snapshot(), before);
    // 100 is allowed, and an edit that would pass it is refused.
    env.ok(&["token", "edit", "web-1", "--acl", &first_100]);
    refused(
        &run(&env, &["token", "edit", "web-1", "--add-acl", "p100"]),
        2,
        "edit --add-acl",
    );
    env.ok(&["account", "add", "bob", "--acl", &first_100]);
    refused(
        &run(&env, &["account", "edit", "bob", "--add-acl", "p100"]),
        2,
        "account edit --add-acl",
    );
    // Duplicates count once.
    env.ok(&[
        "token",
        "edit",
        "web-1",
        "--acl",
        &first_100,
        "--add-acl",
        "p0,p1",
    ]);
}
