//! Lists read on a terminal (`token list`, `account list`, `audit`) go
//! through the pager (TOKENCTL_PAGER, then PAGER, else `less` with
//! LESS=FRX) and end with a count line; pipes, files, JSON and YAML never
//! do.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use rstest::rstest;

use crate::common::{BIN, Backend, Postgres, Sqlite, TestEnv};
use crate::interactive::Pty;

const PATH: &str = "/usr/bin:/bin";

/// An executable shell script in the test's folder.
fn script(env: &TestEnv, name: &str, body: &str) -> PathBuf {
    let path = env.dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A pager that writes to `record` its arguments, LESS, LESSSECURE, the
/// variables that may hold a secret (`-` when unset), and what it was
/// given, and shows nothing.
fn recorder(env: &TestEnv, name: &str, record: &Path) -> String {
    let body = format!(
        "{{ printf 'args=%s\\n' \"$*\"; printf 'LESS=%s\\n' \"$LESS\"; \
         printf 'LESSSECURE=%s secrets=%s%s%s\\n' \"$LESSSECURE\" \
         \"${{TOKENCTL_TOKEN--}}\" \"${{PGPASSWORD--}}\" \"${{TOKENCTL_DB--}}\"; cat; }} > '{}'",
        record.display()
    );
    script(env, name, &body).display().to_string()
}

/// Two tokens of alice's.
fn two_tokens(backend: Backend) -> Option<TestEnv> {
    let env = TestEnv::on(backend)?;
    env.create("ci-deploy", &[]);
    env.create("nightly", &[]);
    Some(env)
}

fn on_pty(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> String {
    let pty = Pty::spawn_with(env, args, vars);
    let (code, out) = pty.finish();
    assert_eq!(code, 0, "{out}");
    out.replace('\r', "")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[rstest]
fn lists_on_a_terminal_go_through_the_pager_and_end_with_a_count(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = two_tokens(backend) else {
        return;
    };
    let record = env.dir.path().join("paged");
    let pager = recorder(&env, "pager", &record);
    for (args, header, count) in [
        (&["token", "list"][..], "Last Used", "2 tokens"),
        (&["account", "list"][..], "Tokens", "1 account"),
        (&["audit"][..], "Action", "3 events"),
    ] {
        let _ = std::fs::remove_file(&record);
        let vars = [
            ("PAGER", &*pager),
            ("PATH", PATH),
            ("TOKENCTL_TOKEN", "tct_not_for_the_pager"),
            ("PGPASSWORD", "not-for-the-pager"),
        ];
        let shown = on_pty(&env, args, &vars);
        assert!(
            !shown.contains(header),
            "{args:?} printed directly: {shown}"
        );
        let paged = read(&record);
        let lines: Vec<&str> = paged.lines().collect();
        // No shell escapes from less, and no secret in its environment
        // (TOKENCTL_DB included: tokenctl itself was given one).
        assert_eq!(
            lines[..3],
            ["args=", "LESS=FRX", "LESSSECURE=1 secrets=---"],
            "{paged}"
        );
        assert!(paged.contains(header), "{paged}");
        assert_eq!(lines.last(), Some(&count), "{args:?}: {paged}");
    }
    // One token: singular.
    env.ok(&["token", "revoke", "nightly", "--yes"]);
    let shown = on_pty(&env, &["token", "list"], &[("PAGER", "")]);
    assert_eq!(shown.trim_end().lines().last(), Some("1 token"), "{shown}");
}

#[rstest]
fn tokenctl_pager_comes_first_and_a_users_less_is_kept(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = two_tokens(backend) else {
        return;
    };
    let ours = env.dir.path().join("ours");
    let theirs = env.dir.path().join("theirs");
    let vars = [
        ("TOKENCTL_PAGER", &*recorder(&env, "ours.sh", &ours)),
        ("PAGER", &*recorder(&env, "theirs.sh", &theirs)),
        ("LESS", "-S"),
        ("PATH", PATH),
    ];
    on_pty(&env, &["token", "list"], &vars);
    assert!(read(&ours).contains("LESS=-S\n"), "{}", read(&ours));
    assert!(!theirs.exists());
}

#[rstest]
fn the_default_pager_is_less_with_frx(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = two_tokens(backend) else {
        return;
    };
    let bin = env.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let record = env.dir.path().join("paged");
    recorder(&env, "bin/less", &record);
    // No PAGER at all (the pty sets one): `env -u` takes it away.
    let mut cmd = Command::new("/usr/bin/env");
    cmd.args(["-u", "PAGER", BIN, "token", "list"]);
    let path = format!("{}:{PATH}", bin.display());
    let pty = Pty::spawn_command(&env, cmd, &[("PATH", &path)]);
    let (code, out) = pty.finish();
    assert_eq!(code, 0, "{out}");
    let paged = read(&record);
    assert!(paged.starts_with("args=\nLESS=FRX\n"), "{paged}");
    assert!(paged.ends_with("\n2 tokens\n"), "{paged}");
}

#[rstest]
fn without_less_and_without_a_pager_the_list_is_printed_quietly(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = two_tokens(backend) else {
        return;
    };
    // A PATH with no less on it, and no PAGER.
    let empty = env.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let mut cmd = Command::new("/usr/bin/env");
    cmd.args(["-u", "PAGER", BIN, "token", "list"]);
    let pty = Pty::spawn_command(&env, cmd, &[("PATH", empty.to_str().unwrap())]);
    let (code, out) = pty.finish();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nightly"), "{out}");
    assert!(!out.contains("not found"), "{out}");
}

#[rstest]
fn empty_or_cat_turns_the_pager_off(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = two_tokens(backend) else {
        return;
    };
    let record = env.dir.path().join("paged");
    let pager = recorder(&env, "pager", &record);
    for vars in [
        &[("PAGER", "")][..],
        &[("PAGER", "cat")][..],
        &[("TOKENCTL_PAGER", ""), ("PAGER", &pager)][..],
        &[("TOKENCTL_PAGER", "cat"), ("PAGER", &pager)][..],
    ] {
        let shown = on_pty(&env, &["token", "list"], vars);
        assert!(shown.contains("ci-deploy"), "{vars:?}: {shown}");
        assert_eq!(shown.trim_end().lines().last(), Some("2 tokens"), "{shown}");
        assert!(!record.exists(), "{vars:?} paged");
    }
}

#[rstest]
fn a_pager_that_cannot_start_leaves_the_list_printed(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = two_tokens(backend) else {
        return;
    };
    for pager in ["/nonexistent/pager", "no-such-pager -R"] {
        let shown = on_pty(
            &env,
            &["token", "list"],
            &[("PAGER", pager), ("PATH", PATH)],
        );
        assert!(shown.contains("nightly"), "{pager}: {shown}");
        assert_eq!(shown.trim_end().lines().last(), Some("2 tokens"), "{shown}");
        assert!(!shown.contains("error:"), "{shown}");
    }
}

#[rstest]
fn piped_json_and_yaml_are_never_paged(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = two_tokens(backend) else {
        return;
    };
    let record = env.dir.path().join("paged");
    let pager = recorder(&env, "pager", &record);
    for args in [&["token", "list"][..], &["account", "list"], &["audit"]] {
        let out = env
            .cmd(args)
            .env("PAGER", &pager)
            .env("PATH", PATH)
            .output()
            .unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8(out.stdout).unwrap();
        // The table alone, as scripts read it: no count line.
        assert!(stdout.trim_end().ends_with('+'), "{args:?}: {stdout}");
        assert!(!stdout.contains("2 tokens"), "{stdout}");
        assert!(!record.exists(), "{args:?} paged when piped");
    }
    for format in ["json", "yaml"] {
        let shown = on_pty(
            &env,
            &["token", "list", "-o", format],
            &[("PAGER", &pager), ("PATH", PATH)],
        );
        assert!(shown.contains("nightly"), "{shown}");
        assert!(!shown.contains("2 tokens"), "{shown}");
        assert!(!record.exists(), "{format} paged");
    }
}

#[rstest]
fn a_pager_quit_early_ends_quietly(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("seed", &[]);
    // Far more than a pipe holds, so tokenctl is still writing when the
    // pager goes.
    let names: Vec<String> = (0..3000).map(|i| format!("token-{i:05}")).collect();
    env.clone_tokens("seed", &names);
    for pager in ["head -n 3", "exec 0<&-; sleep 1"] {
        let shown = on_pty(
            &env,
            &["token", "list"],
            &[("PAGER", pager), ("PATH", PATH)],
        );
        assert!(!shown.contains("error"), "{pager}: {shown}");
        assert!(!shown.contains("token-02999"), "{pager}: {shown}");
    }
}

#[rstest]
fn ctrl_c_in_the_pager_leaves_tokenctl_waiting_for_it(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = two_tokens(backend) else {
        return;
    };
    // Like `less`, the pager handles Ctrl-C itself and carries on.
    let pager = script(
        &env,
        "pager",
        "trap '' INT; cat >/dev/null; echo pager-started; sleep 1; echo pager-done",
    );
    let mut pty = Pty::spawn_with(
        &env,
        &["token", "list"],
        &[("PAGER", &pager.display().to_string()), ("PATH", PATH)],
    );
    pty.expect("pager-started");
    pty.send("\x03");
    // tokenctl was not killed under the pager: it waited, and exits 0.
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("pager-done"), "{seen}");
}
