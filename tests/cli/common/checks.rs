//! Shared by the reliability tests (concurrency, crash, faults, hostile):
//! running a command and keeping its outcome, a small seeded random
//! generator, and the store's invariants against its audit trail.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::TestEnv;

/// What a finished command left: exit code (None if killed), stdout and
/// stderr.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn from_output(out: Output) -> Outcome {
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn first_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or_default()
    }

    /// Asserts the exit code is one of `allowed`, no panic, never a lock
    /// error, and a refusal's first stderr line starts with `error: `.
    pub fn expect(&self, what: &str, allowed: &[i32]) -> &Outcome {
        assert!(
            self.code.is_some_and(|c| allowed.contains(&c)),
            "{what}: exit {:?}, expected one of {allowed:?}\nstdout: {}\nstderr: {}",
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{what}: {}", self.stderr);
        assert!(
            !self.stderr.contains("internal error"),
            "{what}: {}",
            self.stderr
        );
        assert!(
            !self.stderr.to_lowercase().contains("locked"),
            "{what}: a lock error: {}",
            self.stderr
        );
        if self.code != Some(0) {
            assert!(
                self.stderr.starts_with("error: "),
                "{what}: stderr does not start with 'error: ': {}",
                self.stderr
            );
        }
        self
    }
}

impl TestEnv {
    /// `tokenctl ARGS` (optionally with `stdin`), whatever its exit code.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Outcome {
        let mut cmd = self.cmd(args);
        if let Some(input) = stdin {
            cmd.write_stdin(input.to_string());
        }
        Outcome::from_output(cmd.output().expect("run tokenctl"))
    }

    /// `std_cmd` with stdin closed and stdout and stderr captured, for
    /// spawning and killing.
    pub fn piped_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.std_cmd(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Asserts the store is healthy and agrees with its audit trail:
    /// `db check` passes, `PRAGMA integrity_check` is ok, every token has
    /// exactly one create event (and every create event a token), every
    /// revoked token exactly one revoke event and no live token any.
    pub fn assert_consistent(&self, when: &str) {
        let check = self.run(&["db", "check"], None);
        assert_eq!(check.code, Some(0), "db check {when}: {check:?}");

        let conn = self.sql();
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "{when}");
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        let problems = |sql: &str| -> Vec<String> {
            let mut stmt = conn.prepare(sql).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let bad = problems(
            "SELECT 'token ' || t.id || ' has ' || count(e.id) || ' create events'
             FROM tokens t LEFT JOIN events e ON e.token_id = t.id AND e.action = 'create'
             GROUP BY t.id HAVING count(e.id) <> 1",
        );
        assert!(bad.is_empty(), "{when}: {bad:?}");
        let bad = problems(
            "SELECT 'create event ' || e.id || ' for a missing token ' || e.token_id
             FROM events e WHERE e.action = 'create'
               AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = e.token_id)",
        );
        assert!(bad.is_empty(), "{when}: {bad:?}");
        let bad = problems(
            "SELECT 'token ' || t.id || ' revoked=' || (t.revoked_at IS NOT NULL)
                    || ' with ' || count(e.id) || ' revoke events'
             FROM tokens t LEFT JOIN events e ON e.token_id = t.id AND e.action = 'revoke'
             GROUP BY t.id
             HAVING count(e.id) <> (CASE WHEN t.revoked_at IS NULL THEN 0 ELSE 1 END)",
        );
        assert!(bad.is_empty(), "{when}: {bad:?}");
        assert_eq!(
            count("SELECT count(*) FROM tokens"),
            count("SELECT count(*) FROM events WHERE action = 'create'"),
            "{when}"
        );
        assert_eq!(
            count("SELECT count(*) FROM tokens WHERE revoked_at IS NOT NULL"),
            count("SELECT count(*) FROM events WHERE action = 'revoke'"),
            "{when}"
        );
        let orphans = count("SELECT count(*) FROM pragma_foreign_key_check");
        assert_eq!(orphans, 0, "{when}");
    }

    /// Copies the live token `seed` into new rows named `names`, each with
    /// its create event, in one transaction: many tokens without paying
    /// argon2 for each. Returns their ids.
    pub fn clone_tokens(&self, seed: &str, names: &[String]) -> Vec<String> {
        let mut conn = self.sql();
        let tx = conn.transaction().unwrap();
        let mut ids = Vec::new();
        for name in names {
            let id: String = tx
                .query_row(
                    "SELECT printf('K%09d', coalesce(max(rowid), 0) + 1) FROM tokens",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            tx.execute(
                "INSERT INTO tokens (id, account_id, name, secret_hash, acls, allow_ips,
                                     created_at, expires_at)
                 SELECT ?1, account_id, ?2, secret_hash, acls, allow_ips, created_at, expires_at
                 FROM tokens WHERE name = ?3 AND revoked_at IS NULL",
                rusqlite::params![id, name, seed],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO events (at, actor, action, account_id, account, token_id,
                                     token_name, detail)
                 SELECT t.created_at, 'test', 'create', t.account_id, a.name, t.id, t.name,
                        'cloned by the test'
                 FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id = ?1",
                [&id],
            )
            .unwrap();
            ids.push(id);
        }
        tx.commit().unwrap();
        ids
    }

    /// One column of one token row by id.
    pub fn token_field<T: rusqlite::types::FromSql>(&self, id: &str, column: &str) -> T {
        self.sql()
            .query_row(
                &format!("SELECT {column} FROM tokens WHERE id = ?1"),
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }
}

/// How long a child that should answer promptly may take before a test
/// gives up on it (generous: debug builds on a busy two-core machine).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Waits for `child` for at most `limit`; kills it and returns None if it
/// is still running then.
pub fn wait_at_most(mut child: Child, limit: Duration) -> Option<Output> {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// xorshift64*: a small, seeded generator for test schedules (kill
/// delays, operation mixes). The seed is printed, and `TOKENCTL_TEST_SEED`
/// replays a run.
pub struct Rng(u64);

impl Rng {
    pub fn new(label: &str) -> Rng {
        let seed = std::env::var("TOKENCTL_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("{label}: TOKENCTL_TEST_SEED={seed}");
        Rng::seeded(seed)
    }

    pub fn seeded(seed: u64) -> Rng {
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
