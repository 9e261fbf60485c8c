//! Shared by the reliability tests (concurrency, crash, faults, hostile):
//! running a command and keeping its outcome, a small seeded random
//! generator, and the store's invariants against its audit trail.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{Backend, TestEnv, quote};

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
    /// `db check` passes, the engine finds the store sound (SQLite's
    /// `integrity_check` and `foreign_key_check`; PostgreSQL enforces its
    /// foreign keys itself), every token has exactly one create event (and
    /// every create event a token), every revoked token exactly one revoke
    /// event and no live token any. On either store.
    pub fn assert_consistent(&self, when: &str) {
        let check = self.run(&["db", "check"], None);
        assert_eq!(check.code, Some(0), "db check {when}: {check:?}");

        if self.backend() == Backend::Sqlite {
            let integrity: Option<String> = self.sql_value("PRAGMA integrity_check");
            assert_eq!(integrity.as_deref(), Some("ok"), "{when}");
            let orphans: Option<i64> =
                self.sql_value("SELECT count(*) FROM pragma_foreign_key_check");
            assert_eq!(orphans, Some(0), "{when}");
        }
        let problems = |sql: &str| -> Vec<Option<String>> {
            self.sql_rows(sql)
                .into_iter()
                .map(|mut r| r.remove(0))
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
            "SELECT 'token ' || t.id || ' revoked at ' || coalesce(t.revoked_at, 0)
                    || ' with ' || count(e.id) || ' revoke events'
             FROM tokens t LEFT JOIN events e ON e.token_id = t.id AND e.action = 'revoke'
             GROUP BY t.id, t.revoked_at
             HAVING count(e.id) <> (CASE WHEN t.revoked_at IS NULL THEN 0 ELSE 1 END)",
        );
        assert!(bad.is_empty(), "{when}: {bad:?}");
        // One statement, so one snapshot on either engine.
        let counts = self.sql_rows(
            "SELECT (SELECT count(*) FROM tokens),
                    (SELECT count(*) FROM events WHERE action = 'create'),
                    (SELECT count(*) FROM tokens WHERE revoked_at IS NOT NULL),
                    (SELECT count(*) FROM events WHERE action = 'revoke')",
        );
        let c = &counts[0];
        assert_eq!(c[0], c[1], "{when}: tokens and create events");
        assert_eq!(c[2], c[3], "{when}: revoked tokens and revoke events");
    }

    /// Copies the live token `seed` into new rows named `names`, each with
    /// its create event, in one transaction: many tokens without paying
    /// argon2 for each. Returns their ids. On either store.
    pub fn clone_tokens(&self, seed: &str, names: &[String]) -> Vec<String> {
        // Tokens are never deleted, so numbering on from the count never
        // repeats an id; a random base62 id is never all digits after K.
        let count: i64 = self
            .sql_value("SELECT count(*) FROM tokens")
            .expect("a count");
        let ids: Vec<String> = (1..=names.len() as i64)
            .map(|k| format!("K{:09}", count + k))
            .collect();
        let values: Vec<String> = ids
            .iter()
            .zip(names)
            .map(|(id, name)| format!("({}, {})", quote(id), quote(name)))
            .collect();
        let values = values.join(",\n");
        let sql = format!(
            "BEGIN;
             INSERT INTO tokens (id, account_id, name, secret_hash, acls, allow_ips,
                                 created_at, expires_at)
             SELECT v.column1, t.account_id, v.column2, t.secret_hash, t.acls, t.allow_ips,
                    t.created_at, t.expires_at
             FROM (VALUES {values}) AS v, tokens t
             WHERE t.name = {seed} AND t.revoked_at IS NULL;
             INSERT INTO events (at, actor, action, account_id, account, token_id,
                                 token_name, detail)
             SELECT t.created_at, 'test', 'create', t.account_id, a.name, t.id, t.name,
                    'cloned by the test'
             FROM (VALUES {values}) AS v
             JOIN tokens t ON t.id = v.column1 JOIN accounts a ON a.id = t.account_id;
             COMMIT;",
            seed = quote(seed),
        );
        match self.backend() {
            Backend::Sqlite => self.sql().execute_batch(&sql).expect("clone tokens"),
            Backend::Postgres => {
                self.sql_rows(&sql);
            }
        }
        let cloned: Option<i64> = self.sql_value(&format!(
            "SELECT count(*) FROM tokens WHERE id IN ({})",
            ids.iter()
                .map(|id| quote(id))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        assert_eq!(cloned, Some(names.len() as i64), "clones of {seed}");
        ids
    }

    /// One column of one token row by id, as text (`None` for NULL).
    pub fn token_field(&self, id: &str, column: &str) -> Option<String> {
        let rows = self.sql_rows(&format!(
            "SELECT {column} FROM tokens WHERE id = {}",
            quote(id)
        ));
        assert_eq!(rows.len(), 1, "token {id}");
        rows[0][0].clone()
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
