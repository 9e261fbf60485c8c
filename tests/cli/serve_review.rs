//! `tokenctl serve` against an adversary on loopback: which connection
//! makes room beyond the cap, the address a refusal is logged with, and
//! what /metrics counts as a cache miss.

use std::net::{SocketAddr, TcpStream};

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv};
use crate::serve::{Response, Server, metric_in, raw_request};
use crate::serve_http::{small_fd_limit_server, try_keep_alive_request};
use crate::verify::{forge, id_part};

/// One keep-alive `/verify` on `stream`; `None` if the server closed it.
fn keep_alive_verify(stream: &mut TcpStream, token: &str) -> Option<Response> {
    try_keep_alive_request(stream, "/verify", token)
}

/// A new connection that has had one answered request, then sits idle.
fn served_idle(addr: SocketAddr, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let r = keep_alive_verify(&mut stream, token).expect("an answer");
    assert_eq!(r.status, 200, "{r:?}");
    stream
}

// --- the connection cap -------------------------------------------------------

#[rstest]
fn beyond_the_cap_a_busy_proxy_connection_outlasts_idle_ones(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    const CAP: usize = 192;
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let server = small_fd_limit_server(&env);
    // The proxy's keep-alive connection, the first one open.
    let mut proxy = served_idle(server.addr, &token);
    // An attacker fills the cap with connections that each sent one
    // request (so none is "silent") and then idle.
    let mut idle: Vec<TcpStream> = (1..CAP).map(|_| served_idle(server.addr, &token)).collect();
    // The proxy keeps using its connection: it is the most recently used.
    let r = keep_alive_verify(&mut proxy, &token).expect("the proxy's connection is open");
    assert_eq!(r.status, 200, "{r:?}");
    // More attacker connections: each makes room by closing one.
    for _ in 0..5 {
        idle.push(served_idle(server.addr, &token));
    }
    let r = keep_alive_verify(&mut proxy, &token);
    assert_eq!(
        r.map(|r| r.status),
        Some(200),
        "the proxy's connection in use was closed to make room for idle ones"
    );
    drop(idle);
}

// --- the log ------------------------------------------------------------------

#[rstest]
fn a_request_refused_before_its_route_logs_the_forwarded_client(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let server = Server::start(&env, &["--trust-proxy", "127.0.0.1"]);
    for target in ["/verify", "/verify#?acl=deploy"] {
        let raw = format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
        );
        raw_request(server.addr, raw.as_bytes());
    }
    let lines = server.wait_request_lines(2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    // The same client in both lines, answered or refused: the one the
    // trusted proxy forwarded, not the proxy.
    for line in &lines {
        assert_eq!(
            line.split_whitespace().nth(1),
            Some("203.0.113.7"),
            "{line}"
        );
    }
}

// --- /metrics -----------------------------------------------------------------

#[rstest]
fn cool_down_refusals_are_not_counted_as_cache_misses(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    // The same id, a different (wrong) secret each time.
    let wrong = |n: usize| forge(id_part(&token), &format!("{n:0>30}"));
    for n in 0..15 {
        let raw = format!(
            "GET /verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n",
            wrong(n)
        );
        assert_eq!(raw_request(server.addr, raw.as_bytes()).status, 401);
    }
    let metrics = server.metrics();
    let metric = |name: &str| metric_in(&metrics, name);
    // Ten secrets went to argon2; the five after were refused without it.
    assert_eq!(
        metric("tokenctl_argon2_verifications_total"),
        10.0,
        "{metrics}"
    );
    assert_eq!(metric("tokenctl_cooldown_refusals_total"), 5.0, "{metrics}");
    assert_eq!(
        metric("tokenctl_cache_misses_total"),
        10.0,
        "a miss is a request that needed argon2:\n{metrics}"
    );
}
