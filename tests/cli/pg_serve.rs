//! `tokenctl serve` on a PostgreSQL store, beyond serve.rs's tests (which
//! run on both stores): nothing stale across servers, Last Used never
//! backwards, and 503 while the database does not answer, then 200 again
//! without a restart.

use std::thread;
use std::time::{Duration, Instant};

use crate::common::TestEnv;
use crate::common::pg::{self, with_database};
use crate::serve::{Server, assert_401, assert_ok};

const WAIT: Duration = Duration::from_secs(30);

/// One value from `sql` on the test's database.
fn value(env: &TestEnv, sql: &str) -> String {
    let out = env.pg.as_ref().expect("a PostgreSQL store").psql(sql);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn last_used_at(env: &TestEnv, name: &str) -> String {
    value(
        env,
        &format!(
            "SELECT coalesce(last_used_at::text, 'never') FROM tokenctl.tokens WHERE name = '{name}'"
        ),
    )
}

/// Polls `f` until it holds, at most `within`.
fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The answers themselves are serve.rs's tests, which run on both stores.
#[test]
fn the_startup_line_names_the_postgresql_store() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    assert!(
        eventually(WAIT, || server.stderr().contains("(store postgres://")),
        "{}",
        server.stderr()
    );
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
}

#[test]
fn two_servers_on_one_database_both_refuse_a_revoked_token() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let token = env.create("ci", &[]);
    let (one, two) = (Server::start(&env, &[]), Server::start(&env, &[]));
    for server in [&one, &two] {
        // Twice: the second answer comes from the secret cache.
        assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
        assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    }
    env.ok(&["token", "disable", "ci", "--yes"]);
    assert_401(&one.bearer("/verify", &token));
    assert_401(&two.bearer("/verify", &token));
    env.ok(&["token", "enable", "ci"]);
    assert_ok(&two.bearer("/verify", &token), "alice", "ci", &token);
    env.ok(&["token", "revoke", "ci", "--yes"]);
    assert_401(&two.bearer("/verify", &token));
    assert_401(&one.bearer("/verify", &token));
}

#[test]
fn last_used_is_written_and_never_moves_backwards() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    assert_eq!(last_used_at(&env, "ci"), "never");
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    assert!(
        eventually(WAIT, || last_used_at(&env, "ci") != "never"),
        "Last Used not written: {}",
        server.stderr()
    );
    let ip = value(
        &env,
        "SELECT last_used_ip FROM tokenctl.tokens WHERE name = 'ci'",
    );
    assert_eq!(ip, "127.0.0.1");

    // Another server recorded a later use: this server's older one, written
    // at its next flush, must not replace it.
    let later = "4102444800"; // 2100-01-01
    value(
        &env,
        &format!("UPDATE tokenctl.tokens SET last_used_at = {later}, last_used_ip = '192.0.2.7'"),
    );
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    // Flushed once a second: three seconds see at least one flush.
    thread::sleep(Duration::from_secs(3));
    assert_eq!(last_used_at(&env, "ci"), later);
    let ip = value(
        &env,
        "SELECT last_used_ip FROM tokenctl.tokens WHERE name = 'ci'",
    );
    assert_eq!(ip, "192.0.2.7");
    assert!(
        !server.stderr().contains("could not record Last Used"),
        "{}",
        server.stderr()
    );
}

/// Runs `sql` on the server's maintenance database (not the test's, which
/// it may close to connections).
fn admin(env: &TestEnv, sql: &str) {
    let db = env.pg.as_ref().expect("a PostgreSQL store");
    let server = pg::server().expect("the server of the test's database");
    let out = pg::psql(server.psql_bin(), &with_database(&db.url, "postgres"), sql);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unreachable_database_is_503_then_200_again_without_a_restart() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let name = env.pg.as_ref().unwrap().name.clone();
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    assert_eq!(server.get("/healthz", None).status, 200);

    // The database stops answering: no new connection, the open ones cut.
    admin(
        &env,
        &format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false;
             SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = '{name}'"
        ),
    );
    let started = Instant::now();
    let refused = server.bearer("/verify", &token);
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(server.get("/healthz", None).status, 503);
    let line = server.line(2);
    assert!(line.contains(" 503 store"), "{line}");
    assert_eq!(server.bearer("/verify", &token).status, 503);

    admin(
        &env,
        &format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"),
    );
    let back = Instant::now();
    assert!(
        eventually(Duration::from_secs(5), || server
            .bearer("/verify", &token)
            .status
            == 200),
        "still refused {:?} after the database came back: {}",
        back.elapsed(),
        server.stderr()
    );
    assert_eq!(server.get("/healthz", None).status, 200);
    // Still nothing stale after the reconnect.
    env.ok(&["token", "revoke", "ci", "--yes"]);
    assert_401(&server.bearer("/verify", &token));
}

#[test]
fn connections_the_server_closed_are_replaced_without_a_refusal() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let name = env.pg.as_ref().unwrap().name.clone();
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    // Every reader connection opened and used.
    for _ in 0..8 {
        assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    }
    // A server restart or an idle timeout closes them; the database
    // itself still answers, so no request sees it.
    admin(
        &env,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = '{name}'"
        ),
    );
    for _ in 0..8 {
        assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    }
    assert_eq!(server.get("/healthz", None).status, 200);
}
