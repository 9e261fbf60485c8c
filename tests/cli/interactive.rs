//! The real binary on a pseudo-terminal: the one-time display of a new
//! token and its "saved" confirmation, and the confirmations of `revoke`
//! and `revoke-all`.

use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Regex, Session};

use crate::common::{BIN, TestEnv};

/// dialoguer's confirmation with a default of "no".
const YES_NO: &str = "[y/N]";
const SAVED: &str = "Yes, I saved my token";

/// `tokenctl` on a pty with TestEnv's environment (plus TERM, and PAGER
/// `cat`), 120x40.
pub struct Pty {
    session: OsSession,
    /// Everything read so far.
    pub seen: String,
}

impl Pty {
    pub fn spawn(env: &TestEnv, args: &[&str]) -> Pty {
        Pty::spawn_with(env, args, &[])
    }

    pub fn spawn_with(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Pty {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        Pty::spawn_command(env, cmd, vars)
    }

    /// Any command on a pty, with TestEnv's environment (plus TERM and
    /// PAGER), then `vars`.
    pub fn spawn_command(env: &TestEnv, mut cmd: Command, vars: &[(&str, &str)]) -> Pty {
        cmd.env_clear()
            .env("HOME", env.dir.path())
            .env("TOKENCTL_DB", &env.db)
            .env("USER", &env.user)
            .env("TZ", "UTC")
            .env("TERM", "xterm")
            // Lists are paged on a terminal; `cat` turns that off, so that
            // what a test reads does not depend on the machine's `less`
            // (tests/cli/pager.rs sets its own).
            .env("PAGER", "cat");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut session = Session::spawn(cmd).expect("spawn on a pty");
        session
            .get_process_mut()
            .set_window_size(120, 40)
            .expect("window size");
        session.set_expect_timeout(Some(Duration::from_secs(15)));
        Pty {
            session,
            seen: String::new(),
        }
    }

    /// Waits for `text`; returns what came before it and the match.
    pub fn expect(&mut self, text: &str) -> String {
        match self.session.expect(text) {
            Ok(found) => {
                let chunk = String::from_utf8_lossy(found.as_bytes()).into_owned();
                self.seen.push_str(&chunk);
                chunk
            }
            Err(e) => panic!("waiting for {text:?}: {e}\nseen so far:\n{}", self.seen),
        }
    }

    /// Waits for a regex; returns its first group.
    pub fn expect_regex(&mut self, re: &str) -> String {
        match self.session.expect(Regex(re)) {
            Ok(found) => {
                self.seen
                    .push_str(&String::from_utf8_lossy(found.as_bytes()));
                String::from_utf8_lossy(found.get(1).expect("group 1")).into_owned()
            }
            Err(e) => panic!("waiting for /{re}/: {e}\nseen so far:\n{}", self.seen),
        }
    }

    pub fn send(&mut self, keys: &str) {
        self.session.send(keys).expect("send");
    }

    /// Reads to the end and returns the exit code and the rest of the output.
    pub fn finish(mut self) -> (i32, String) {
        let rest = match self.session.expect(Eof) {
            Ok(found) => String::from_utf8_lossy(found.as_bytes()).into_owned(),
            Err(e) => panic!("waiting for the end: {e}\nseen so far:\n{}", self.seen),
        };
        self.seen.push_str(&rest);
        match self.session.get_process().wait().expect("wait") {
            WaitStatus::Exited(_, code) => (code, self.seen),
            other => panic!("tokenctl did not exit normally: {other:?}\n{}", self.seen),
        }
    }
}

fn token_count(env: &TestEnv) -> i64 {
    env.sql()
        .query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))
        .unwrap()
}

fn verify_code(env: &TestEnv, token: &str) -> Option<i32> {
    env.verify(token, &[]).status.code()
}

/// A token alone on its line (terminal lines end in \r\n).
const TOKEN_LINE: &str = r"(?:^|\n)(tct_[0-9A-Za-z]{46})\r?\n";

#[test]
fn create_shows_the_token_once_and_asks_until_saved() {
    let env = TestEnv::new();
    let mut pty = Pty::spawn(&env, &["token", "create", "x"]);

    let token = pty.expect_regex(TOKEN_LINE);
    let shown = pty.expect(SAVED);
    assert!(shown.contains("not be shown again"), "{shown}");
    assert!(shown.contains("warning"), "{shown}");
    // The details are shown, but the token is not in them.
    assert!(
        shown.contains("Name") && shown.contains("Expires"),
        "{shown}"
    );
    assert!(
        !shown.contains(&token),
        "the token is repeated in the details"
    );
    pty.expect(YES_NO);
    // Committed before it is shown: it is in the store while we are asked.
    assert_eq!(token_count(&env), 1);
    assert_eq!(verify_code(&env, &token), Some(0));

    // "No" shows it again, and asks again.
    pty.send("n\r");
    let again = pty.expect_regex(TOKEN_LINE);
    assert_eq!(again, token);
    pty.expect(SAVED);
    pty.expect(YES_NO);
    // A bare Enter is "no" too.
    pty.send("\r");
    assert_eq!(pty.expect_regex(TOKEN_LINE), token);
    pty.expect(YES_NO);

    pty.send("y\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert_eq!(token_count(&env), 1, "one token, however often shown");
    assert_eq!(verify_code(&env, &token), Some(0));
    assert_eq!(
        env.json(&["token", "show", "x"])["id"],
        token[4..14].to_string()
    );
}

#[test]
fn create_with_yes_does_not_ask() {
    let env = TestEnv::new();
    let mut pty = Pty::spawn(&env, &["token", "create", "x", "--yes"]);
    let token = pty.expect_regex(TOKEN_LINE);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(SAVED), "{seen}");
    assert!(!seen.contains(YES_NO), "{seen}");
    assert!(seen.contains("not be shown again"), "{seen}");
    assert_eq!(verify_code(&env, &token), Some(0));
}

#[test]
fn rotate_on_a_terminal_says_until_when_the_old_secret_works() {
    let env = TestEnv::new();
    let old = env.create("x", &[]);
    let mut pty = Pty::spawn(&env, &["token", "rotate", "x", "--grace", "1d", "--yes"]);
    let token = pty.expect_regex(TOKEN_LINE);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("rotated token x ("), "{seen}");
    assert!(seen.contains("the old secret works until "), "{seen}");
    assert!(seen.contains("Old Secret"), "{seen}");
    assert_eq!(verify_code(&env, &old), Some(0));
    assert_eq!(verify_code(&env, &token), Some(0));
}

#[test]
fn json_on_a_terminal_never_prompts() {
    let env = TestEnv::new();
    let pty = Pty::spawn(&env, &["token", "create", "x", "-o", "json"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(SAVED) && !seen.contains(YES_NO), "{seen}");
    let start = seen.find('{').expect("a JSON object");
    let v: serde_json::Value =
        serde_json::from_str(seen[start..].trim()).unwrap_or_else(|e| panic!("{e}: {seen}"));
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(verify_code(&env, &token), Some(0));

    // revoke with -o json on a terminal does not ask: it needs --yes.
    let before = env.snapshot();
    let pty = Pty::spawn(&env, &["token", "revoke", "x", "-o", "json"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 6, "{seen}");
    assert!(!seen.contains(YES_NO), "{seen}");
    let pty = Pty::spawn(&env, &["token", "revoke-all", "-o", "yaml"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 6, "{seen}");
    assert!(!seen.contains(YES_NO), "{seen}");
    assert_eq!(env.snapshot(), before);

    let pty = Pty::spawn(&env, &["token", "revoke", "x", "-o", "json", "--yes"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert_eq!(verify_code(&env, &token), Some(5));
}

#[test]
fn revoke_on_a_terminal_asks() {
    let env = TestEnv::new();
    let x = env.create("x", &[]);
    let before = env.snapshot();

    // "n": aborted, nothing changed.
    let mut pty = Pty::spawn(&env, &["token", "revoke", "x"]);
    let question = pty.expect(YES_NO);
    assert!(
        question.contains('x'),
        "the question names the token: {question}"
    );
    pty.send("n\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 6, "{seen}");
    assert!(seen.contains("error:"), "{seen}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &x), Some(0));
    let before = env.snapshot(); // verify recorded Last Used

    // A bare Enter is "no".
    let mut pty = Pty::spawn(&env, &["token", "revoke", "x"]);
    pty.expect(YES_NO);
    pty.send("\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 6, "{seen}");
    assert_eq!(env.snapshot(), before);

    // "y": revoked.
    let mut pty = Pty::spawn(&env, &["token", "revoke", "x"]);
    pty.expect(YES_NO);
    pty.send("y\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("revoked token x ("), "{seen}");
    assert_eq!(verify_code(&env, &x), Some(5));
    assert_eq!(
        env.json(&["token", "list", "--all"])[0]["status"],
        "revoked"
    );
}

#[test]
fn revoke_on_a_terminal_with_yes_does_not_ask() {
    let env = TestEnv::new();
    let x = env.create("x", &[]);
    let pty = Pty::spawn(&env, &["token", "revoke", "x", "--yes"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(YES_NO), "{seen}");
    assert_eq!(verify_code(&env, &x), Some(5));
}

#[test]
fn revoke_all_on_a_terminal_asks() {
    let env = TestEnv::new();
    let a = env.create("ci-a", &[]);
    let b = env.create("ci-b", &[]);
    let keep = env.create("web", &[]);
    let before = env.snapshot();

    let mut pty = Pty::spawn(&env, &["token", "revoke-all", "--match", "ci-*"]);
    let shown = pty.expect(YES_NO);
    // What would be taken is shown before the question.
    assert!(shown.contains("ci-a") && shown.contains("ci-b"), "{shown}");
    assert!(!shown.contains("web"), "{shown}");
    pty.send("n\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 6, "{seen}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &a), Some(0));

    let mut pty = Pty::spawn(&env, &["token", "revoke-all", "--match", "ci-*"]);
    pty.expect(YES_NO);
    pty.send("y\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("revoked 2 tokens"), "{seen}");
    assert_eq!(verify_code(&env, &a), Some(5));
    assert_eq!(verify_code(&env, &b), Some(5));
    assert_eq!(verify_code(&env, &keep), Some(0));
}

#[test]
fn revoke_and_revoke_all_on_a_terminal_do_not_ask_for_nothing_or_a_dry_run() {
    let env = TestEnv::new();
    let a = env.create("a", &[]);
    let before = env.snapshot();
    let pty = Pty::spawn(&env, &["token", "revoke", "a", "--dry-run"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(YES_NO), "{seen}");
    assert!(seen.contains("would revoke 1 token (dry run)"), "{seen}");
    let pty = Pty::spawn(&env, &["token", "revoke-all", "--dry-run"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(YES_NO), "{seen}");
    let pty = Pty::spawn(&env, &["token", "revoke-all", "--expired"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(YES_NO), "{seen}");
    // On a terminal the count line stays, naming the account covered.
    assert!(
        seen.contains(&format!("revoked 0 tokens in account {}", env.user)),
        "{seen}"
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(verify_code(&env, &a), Some(0));
}

#[test]
fn a_confirmation_is_read_on_enter_and_leaves_nothing_for_the_shell() {
    let env = TestEnv::new();
    let x = env.create("x", &[]);
    let before = env.snapshot();

    // A shell runs revoke, then reads what is left on the terminal, as
    // bash would read its next command.
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(format!(
        "{BIN} token revoke x; echo \"exit=$?\"; \
         IFS= read -r -t 1 rest; echo \"left=<$rest>\""
    ));
    let mut pty = Pty::spawn_command(&env, cmd, &[]);
    pty.expect(YES_NO);
    // `y` alone does nothing: the answer waits for Enter.
    pty.send("y");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(env.snapshot(), before, "acted on `y` without Enter");
    pty.send("es\r");
    pty.expect("exit=0");
    let left = pty.expect_regex(r"left=<([^>]*)>");
    assert_eq!(left, "", "left over as the next command");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("revoked token x ("), "{seen}");
    assert_eq!(verify_code(&env, &x), Some(5));
    let revokes = env
        .json(&["audit"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "revoke")
        .count();
    assert_eq!(revokes, 1, "revoked exactly once");
}

#[test]
fn revoke_all_of_one_token_asks_in_the_singular() {
    let env = TestEnv::new();
    let a = env.create("a", &[]);
    let mut pty = Pty::spawn(&env, &["token", "revoke-all"]);
    let question = pty.expect(YES_NO);
    assert!(question.contains("Revoke this token?"), "{question}");
    assert!(!question.contains("1 token"), "{question}");
    pty.send("y\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("revoked 1 token"), "{seen}");
    assert_eq!(verify_code(&env, &a), Some(5));
}

/// The prompt of a typed confirmation.
const TYPE_TO_CONFIRM: &str = "to confirm";

#[test]
fn revoke_all_of_many_asks_to_type_the_count() {
    let env = TestEnv::new();
    let tokens: Vec<String> = (1..=5).map(|i| env.create(&format!("t{i}"), &[])).collect();
    let before = env.snapshot();

    // Without a terminal the rule is unchanged: --yes, or exit 6.
    env.fails(&["token", "revoke-all"], 6);
    assert_eq!(env.snapshot(), before);

    // A wrong count, or a mere `y`, aborts and changes nothing.
    for wrong in ["4", "y", "yes", ""] {
        let mut pty = Pty::spawn(&env, &["token", "revoke-all"]);
        let asked = pty.expect(TYPE_TO_CONFIRM);
        assert!(asked.contains("Revoke these 5 tokens?"), "{asked}");
        assert!(asked.contains("(5)"), "{asked}");
        assert!(!asked.contains(YES_NO), "{asked}");
        pty.send(&format!("{wrong}\r"));
        let (code, seen) = pty.finish();
        assert_eq!(code, 6, "answer {wrong:?}: {seen}");
        assert!(seen.contains("error:"), "{seen}");
        assert_eq!(env.snapshot(), before, "answer {wrong:?}");
    }

    // The right count revokes them all.
    let mut pty = Pty::spawn(&env, &["token", "revoke-all"]);
    pty.expect(TYPE_TO_CONFIRM);
    pty.send("5\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("revoked 5 tokens"), "{seen}");
    for t in &tokens {
        assert_eq!(verify_code(&env, t), Some(5));
    }
}

#[test]
fn revoke_all_of_many_with_yes_does_not_ask() {
    let env = TestEnv::new();
    for i in 1..=5 {
        env.create(&format!("t{i}"), &[]);
    }
    let pty = Pty::spawn(&env, &["token", "revoke-all", "--yes"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(TYPE_TO_CONFIRM), "{seen}");
    assert!(seen.contains("revoked 5 tokens"), "{seen}");
}

#[test]
fn account_delete_asks_to_type_the_name() {
    let env = TestEnv::new();
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let b = env.create("b1", &["-u", "bob"]);
    let before = env.snapshot();

    env.fails(&["account", "delete", "bob"], 6);
    assert_eq!(env.snapshot(), before);

    for wrong in ["bo", "y", "Bob", ""] {
        let mut pty = Pty::spawn(&env, &["account", "delete", "bob"]);
        let asked = pty.expect(TYPE_TO_CONFIRM);
        assert!(
            asked.contains("Delete account 'bob' and revoke its 1 live token?"),
            "{asked}"
        );
        assert!(asked.contains("(bob)"), "{asked}");
        pty.send(&format!("{wrong}\r"));
        let (code, seen) = pty.finish();
        assert_eq!(code, 6, "answer {wrong:?}: {seen}");
        assert_eq!(env.snapshot(), before, "answer {wrong:?}");
    }
    assert_eq!(verify_code(&env, &b), Some(0));

    let mut pty = Pty::spawn(&env, &["account", "delete", "bob"]);
    pty.expect(TYPE_TO_CONFIRM);
    pty.send("bob\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(
        seen.contains("deleted account bob\r\nrevoked token b1 ("),
        "{seen}"
    );
    assert_eq!(verify_code(&env, &b), Some(5));

    // --yes still skips it.
    env.ok(&["account", "add", "carol", "--acl", "read"]);
    let pty = Pty::spawn(&env, &["account", "delete", "carol", "--yes"]);
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(TYPE_TO_CONFIRM), "{seen}");
}
