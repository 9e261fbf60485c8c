//! A hermetic environment for running the real `tokenctl` binary: a
//! temporary folder and store, a cleared environment, UTC, a fixed user.

#![allow(dead_code)]

pub mod checks;
pub mod pg;
pub mod stores;

pub use stores::Backend::{self, Postgres, Sqlite};
pub use stores::quote;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use rusqlite::Connection;
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_tokenctl");

pub struct TestEnv {
    pub dir: TempDir,
    /// The store: a SQLite path, or a PostgreSQL URL (`TestEnv::postgres`).
    pub db: PathBuf,
    pub user: String,
    /// The PostgreSQL database the store lives in, if it does.
    pub pg: Option<pg::Database>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("store").join("tokens.db");
        TestEnv {
            dir,
            db,
            user: "alice".into(),
            pg: None,
        }
    }

    /// An environment whose store is a new PostgreSQL database; `None`
    /// when PostgreSQL is not installed and the test is skipped (on CI
    /// the test fails instead).
    pub fn postgres() -> Option<TestEnv> {
        let database = pg::database()?;
        let mut env = TestEnv::new();
        env.db = PathBuf::from(&database.url);
        env.pg = Some(database);
        Some(env)
    }

    /// `tokenctl ARGS` with a clear environment: HOME in the temp folder,
    /// the store from TOKENCTL_DB, USER=alice, TZ=UTC, no terminal.
    pub fn cmd(&self, args: &[&str]) -> Command {
        Command::from_std(self.std_cmd(args))
    }

    /// The same as `cmd`, as a std `Command`, for a process the test
    /// spawns and talks to while it runs (`tokenctl serve`).
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(BIN);
        cmd.env_clear()
            .env("HOME", self.dir.path())
            .env("TOKENCTL_DB", &self.db)
            .env("USER", &self.user)
            .env("TZ", "UTC")
            .env("COLUMNS", "200")
            .args(args);
        cmd
    }

    /// Runs and asserts exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run tokenctl");
        assert!(
            out.status.success(),
            "tokenctl {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs and asserts the exit code and that stderr's first line starts
    /// with `error: `; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd(args).output().expect("run tokenctl");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "tokenctl {args:?}: stdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.starts_with("error: "),
            "stderr does not start with 'error: ': {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    /// Runs with `-o json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&full)).expect("valid JSON")
    }

    /// Creates a token and returns its plaintext (the bare stdout line).
    pub fn create(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["token", "create", name];
        args.extend(extra);
        self.ok(&args).trim().to_string()
    }

    /// `token verify` with the token on stdin.
    pub fn verify(&self, token: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["token", "verify"];
        args.extend(extra);
        self.cmd(&args)
            .write_stdin(format!("{token}\n"))
            .output()
            .expect("run tokenctl")
    }

    /// A direct connection to the store, for checks and for moving stored
    /// times into the past (tokenctl itself has no clock override).
    /// SQLite only: a test that runs on both stores uses `sql_rows`,
    /// `sql_execute` and `sql_value`.
    pub fn sql(&self) -> Connection {
        assert!(
            self.pg.is_none(),
            "sql() is for a SQLite store; use sql_rows"
        );
        Connection::open(&self.db).expect("open store")
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    memchr::memmem::find(haystack, needle.as_bytes()).is_some()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A tool a test needs is not installed: on CI (`CI` set) that fails the
/// test, as `.ci/run` installs every tool the tests use; elsewhere the
/// test is skipped with a note that `cargo test` shows (see `skipped`).
pub fn missing_tool(name: &str) {
    let on_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !on_ci,
        "{name} is not installed, and CI must run this test (.ci/run installs it)"
    );
    skipped(&format!("{name} is not installed"));
}

/// Says that the running test is skipped, and why. The test harness keeps
/// a passing test's `println!`/`eprintln!` to itself, so a skip said that
/// way would read as a pass; this writes to the real stderr, which
/// `cargo test` always shows, naming the test.
pub fn skipped(why: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Whether `name` is on PATH; when it is not, see `missing_tool`.
pub fn tool(name: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        missing_tool(name);
    }
    found
}
