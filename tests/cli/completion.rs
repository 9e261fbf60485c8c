//! The committed completion scripts, sourced in real shells, offer names
//! from the store named on the line being completed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::tool;
use crate::common::{BIN, TestEnv, path_str};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(name)
}

/// PATH with the built `tokenctl` first: the scripts call `tokenctl`.
fn path_with_bin() -> String {
    let dir = Path::new(BIN).parent().unwrap();
    format!("{}:/usr/bin:/bin", dir.display())
}

/// A store with two accounts and a few tokens, not at the default path.
fn seeded() -> TestEnv {
    let env = TestEnv::new();
    env.ok(&["account", "add", "bob", "--acl", "deploy,dns:edit"]);
    env.create("deploy-prod", &[]);
    env.create("deploy-staging", &[]);
    env.create("old", &[]);
    env.ok(&["token", "revoke", "old", "--yes"]);
    env.create("bobs-token", &["-u", "bob"]);
    env
}

fn shell(env: &TestEnv, program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", path_with_bin())
        .env("HOME", env.dir.path())
        // fish resets USER to the login name; the account is pinned here.
        .env("TOKENCTL_USER", "alice")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(out: &Output) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

/// Completes the last word of `words` in bash, through the registered
/// function, as the shell does on TAB.
fn bash_complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let program = format!(
        "source '{}'
         COMP_WORDS=({})
         COMP_CWORD={cword}
         COMP_LINE=\"${{COMP_WORDS[*]}}\"
         COMP_POINT=${{#COMP_LINE}}
         COMP_TYPE=9
         _clap_complete_tokenctl tokenctl \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script("tokenctl.bash").display(),
        quoted.join(" ")
    );
    lines(&shell(env, "bash", &["-c", &program]))
}

#[test]
fn bash_offers_the_live_tokens_of_the_store_on_the_line() {
    let env = seeded();
    let db = path_str(&env.db);
    let got = bash_complete(&env, &["tokenctl", "--db", db, "token", "revoke", ""]);
    let names: Vec<&String> = got.iter().filter(|w| !w.starts_with('-')).collect();
    assert_eq!(names, ["deploy-prod", "deploy-staging"], "{got:?}");

    let got = bash_complete(&env, &["tokenctl", "--db", db, "token", "show", "deploy-s"]);
    assert_eq!(got, ["deploy-staging"]);

    // -u on the line picks the account whose tokens are offered.
    let got = bash_complete(
        &env,
        &["tokenctl", "--db", db, "-u", "bob", "token", "rotate", "b"],
    );
    assert_eq!(got, ["bobs-token"]);

    let got = bash_complete(&env, &["tokenctl", "--db", db, "account", "suspend", ""]);
    let names: Vec<&String> = got.iter().filter(|w| !w.starts_with('-')).collect();
    assert_eq!(names, ["alice", "bob"]);

    let got = bash_complete(&env, &["tokenctl", "--db", db, "-u", ""]);
    assert_eq!(got, ["alice", "bob"]);

    let got = bash_complete(
        &env,
        &["tokenctl", "--db", db, "token", "create", "x", "--acl", "d"],
    );
    assert_eq!(got, ["deploy", "dns:edit"]);

    let got = bash_complete(&env, &["tokenctl", "--output", ""]);
    assert_eq!(got, ["json", "table", "yaml"]);
}

#[test]
fn completion_never_creates_a_store() {
    let env = TestEnv::new();
    let missing = env.dir.path().join("nothing-here.db");
    let got = bash_complete(
        &env,
        &[
            "tokenctl",
            "--db",
            path_str(&missing),
            "token",
            "revoke",
            "x",
        ],
    );
    assert!(got.is_empty(), "{got:?}");
    assert!(!missing.exists());
    // Nor at the default path under HOME.
    bash_complete(&env, &["tokenctl", "token", "revoke", "x"]);
    assert!(!env.dir.path().join(".local/share/tokenctl").exists());
}

#[test]
fn zsh_offers_the_live_tokens() {
    if !tool("zsh") {
        return;
    }
    let env = seeded();
    // The completion system's builtins are stubbed: the registered
    // function runs for real and hands its candidates to _describe.
    let program = format!(
        "compdef() {{ : }}
         _describe() {{ local name=${{@[-1]}}; print -rl -- ${{(P)name}} }}
         source '{}'
         words=(tokenctl --db '{}' token revoke '')
         CURRENT=6
         _clap_dynamic_completer_tokenctl",
        script("_tokenctl").display(),
        path_str(&env.db)
    );
    let got = lines(&shell(&env, "zsh", &["-f", "-c", &program]));
    let names: Vec<&String> = got.iter().filter(|w| !w.starts_with('-')).collect();
    assert_eq!(names, ["deploy-prod", "deploy-staging"], "{got:?}");
}

#[test]
fn fish_offers_the_live_tokens() {
    if !tool("fish") {
        return;
    }
    let env = seeded();
    let program = format!(
        "source '{}'; complete -C 'tokenctl --db {} token revoke '",
        script("tokenctl.fish").display(),
        path_str(&env.db)
    );
    let got = lines(&shell(&env, "fish", &["--no-config", "-c", &program]));
    let names: Vec<&String> = got.iter().filter(|w| !w.starts_with('-')).collect();
    assert_eq!(names, ["deploy-prod", "deploy-staging"], "{got:?}");
}

#[test]
fn the_completions_command_prints_the_committed_scripts() {
    let env = TestEnv::new();
    for (shell, file) in [
        ("bash", "tokenctl.bash"),
        ("zsh", "_tokenctl"),
        ("fish", "tokenctl.fish"),
    ] {
        let printed = env.ok(&["completions", shell]);
        let committed = std::fs::read_to_string(script(file)).unwrap();
        assert_eq!(printed, committed, "{shell}");
    }
    for shell in ["elvish", "powershell"] {
        assert!(env.ok(&["completions", shell]).contains("tokenctl"));
    }
    env.fails(&["completions", "tcsh"], 2);
    assert!(!env.db.exists());
}

/// Completes the end of `line` in bash as a user's TAB does: the words
/// split as bash splits them (COMP_WORDBREAKS makes `:` and `=` words of
/// their own; the word being completed is what follows the last one), and
/// returns the line with bash's one answer put in place of that word.
fn bash_tab(env: &TestEnv, line: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for word in line.split(' ') {
        let mut piece = String::new();
        for c in word.chars() {
            let brk = matches!(c, ':' | '=');
            if !piece.is_empty() && brk != piece.ends_with([':', '=']) {
                words.push(std::mem::take(&mut piece));
            }
            piece.push(c);
        }
        words.push(piece);
    }
    let last = words.last().unwrap().clone();
    let cur = if last.ends_with([':', '=']) {
        String::new()
    } else {
        last
    };
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'
         COMP_WORDS=({})
         COMP_CWORD={}
         COMP_LINE='{line}'
         COMP_POINT=${{#COMP_LINE}}
         COMP_TYPE=9
         _clap_complete_tokenctl tokenctl '{cur}' \"${{COMP_WORDS[COMP_CWORD-1]}}\"
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script("tokenctl.bash").display(),
        quoted.join(" "),
        words.len() - 1,
    );
    let got = lines(&shell(env, "bash", &["-c", &program]));
    assert_eq!(
        got.len(),
        1,
        "one answer for {line:?}: {got:?} (words {words:?})"
    );
    format!("{}{}", &line[..line.len() - cur.len()], got[0])
}

#[test]
fn bash_completes_values_with_colons_and_after_equals() {
    let env = seeded();
    let db = path_str(&env.db);
    for (typed, completed) in [
        (
            "tokenctl token create x --acl dns:",
            "tokenctl token create x --acl dns:edit",
        ),
        (
            "tokenctl token create x --acl dns:e",
            "tokenctl token create x --acl dns:edit",
        ),
        (
            "tokenctl token create x --acl=dns:",
            "tokenctl token create x --acl=dns:edit",
        ),
        (
            "tokenctl token create x --acl=de",
            "tokenctl token create x --acl=deploy",
        ),
        ("tokenctl --output=js", "tokenctl --output=json"),
        (
            "tokenctl token show deploy-st",
            "tokenctl token show deploy-staging",
        ),
    ] {
        // The store on the line, as a user with a store elsewhere types it.
        let on_store = |l: &str| l.replacen("tokenctl ", &format!("tokenctl --db {db} "), 1);
        assert_eq!(
            bash_tab(&env, &on_store(typed)),
            on_store(completed),
            "after {typed:?}"
        );
    }
}

#[test]
fn acl_completion_offers_the_catalogue_once_it_holds_privileges() {
    let env = seeded();
    let db = path_str(&env.db);
    let acl = |prefix: &str| {
        bash_complete(
            &env,
            &[
                "tokenctl", "--db", db, "token", "create", "x", "--acl", prefix,
            ],
        )
    };
    // Empty: the privileges in use, and `all`.
    assert_eq!(acl(""), ["all", "deploy", "dns:edit"]);
    env.ok(&["privilege", "add", "--from-use"]);
    env.ok(&[
        "privilege",
        "add",
        "dns:read",
        "--description",
        "Read zones",
    ]);
    assert_eq!(acl("dns:"), ["dns:edit", "dns:read"]);
    assert_eq!(acl(""), ["all", "deploy", "dns:edit", "dns:read"]);
    let got = bash_complete(
        &env,
        &["tokenctl", "--db", db, "privilege", "remove", "dns:r"],
    );
    assert_eq!(got, ["dns:read"]);
}
