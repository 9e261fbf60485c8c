//! `tokenctl serve` at the connection level: silent and idle connections,
//! the connection cap under a small open-files limit, stopping with idle
//! connections open, SIGHUP, and requests refused before any route (no
//! `Host`, a fragment, an unknown query key).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv};
use crate::serve::{Response, Server, parse_response, raw_request};

/// The start of every HTTP/2 connection (RFC 9113, section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the server closes the connection; panics if it is still
/// open after `within`. Returns what was read.
#[track_caller]
fn closed_within(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "still open after {within:?}");
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return seen,
            Err(e) => panic!("still open after {within:?} ({e})"),
        }
    }
}

/// One keep-alive request on `stream`; reads exactly its answer.
fn keep_alive_request(stream: &mut TcpStream, target: &str, token: &str) -> Response {
    try_keep_alive_request(stream, target, token).expect("an answer before the server closed")
}

/// One keep-alive request on `stream`; reads exactly its answer, or
/// `None` if the server closed the connection first.
pub fn try_keep_alive_request(
    stream: &mut TcpStream,
    target: &str,
    token: &str,
) -> Option<Response> {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(raw.as_bytes()).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&buf[..n]);
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if answer.len() >= end + 4 + length {
                return Some(parse_response(&answer));
            }
        }
    }
}

/// A GET on a new connection, its answer awaited at most `within`.
#[track_caller]
fn answered_within(
    addr: SocketAddr,
    target: &str,
    token: Option<&str>,
    within: Duration,
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n");
    stream.write_all(raw.as_bytes()).unwrap();
    let answer = closed_within(&mut stream, within);
    parse_response(&answer)
}

fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.addr).expect("connect")
}

// --- timeouts -------------------------------------------------------------

#[rstest]
fn a_connection_that_sends_nothing_is_closed(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("web", &[]);
    let server = Server::start(&env, &[]);
    let silent = thread::spawn({
        let addr = server.addr;
        move || {
            let mut s = TcpStream::connect(addr).unwrap();
            closed_within(&mut s, Duration::from_secs(15));
        }
    });
    // An HTTP/2 client that sends its preface and nothing more (not even
    // its SETTINGS frame): closed the same.
    let mut h2 = connect(&server);
    h2.write_all(H2_PREFACE).unwrap();
    closed_within(&mut h2, Duration::from_secs(15));
    silent.join().unwrap();
}

#[rstest]
fn an_idle_keep_alive_connection_stays_open_and_usable(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let server = Server::start(&env, &[]);
    let mut conn = connect(&server);
    assert_eq!(keep_alive_request(&mut conn, "/verify", &token).status, 200);
    // Well past the 10 s a silent connection gets (the keep-alive
    // timeout, 150 s, is longer than any proxy's own).
    conn.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut byte = [0u8; 1];
    match conn.read(&mut byte) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the server closed an idle keep-alive connection: {other:?}"),
    }
    let r = keep_alive_request(&mut conn, "/verify", &token);
    assert_eq!(r.status, 200, "{r:?}");
}

#[rstest]
fn healthz_and_valid_tokens_answer_while_idle_sockets_flood_a_small_fd_limit(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let server = small_fd_limit_server(&env);
    // Cached once, so the checks below need no argon2 slot.
    assert_eq!(server.bearer("/verify", &token).status, 200);

    let idle: Vec<TcpStream> = (0..300).map(|_| connect(&server)).collect();
    // Let serve accept them all (each is accepted as it reaches the queue).
    thread::sleep(Duration::from_millis(500));
    // Answered at once, not after the silent ones time out (10 s).
    for _ in 0..3 {
        let r = answered_within(server.addr, "/healthz", None, Duration::from_secs(5));
        assert_eq!(r.status, 200, "{r:?}");
        let r = answered_within(server.addr, "/verify", Some(&token), Duration::from_secs(5));
        assert_eq!(r.status, 200, "{r:?}");
    }
    drop(idle);
    assert!(!server.stderr().contains("warning"), "{}", server.stderr());
}

// --- stopping ---------------------------------------------------------------

/// Idle connections of every kind, then a signal: serve stops promptly
/// (well before its 10 s grace for requests in flight), exit 0, Last Used
/// written.
fn stops_promptly_with_idle_connections(env: &TestEnv, signal: i32) {
    let token = env.create("web", &[]);
    let mut server = Server::start(env, &[]);
    let mut keep_alive = connect(&server);
    assert_eq!(
        keep_alive_request(&mut keep_alive, "/verify", &token).status,
        200
    );
    let _silent = connect(&server);
    let mut h2 = connect(&server);
    h2.write_all(H2_PREFACE).unwrap();
    // serve answers the preface with its SETTINGS: the connection is up.
    let mut settings = [0u8; 9];
    h2.read_exact(&mut settings).unwrap();
    assert_eq!(settings[3], 0x4, "not a SETTINGS frame: {settings:?}");

    let status = server.stop_with(signal, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(
        server.stderr().ends_with("tokenctl serve: stopped"),
        "{}",
        server.stderr()
    );
    let shown = env.json(&["token", "show", "web"]);
    assert_eq!(shown["last_used_ip"], "127.0.0.1", "{shown}");
}

#[rstest]
fn sigterm_closes_idle_connections_at_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    stops_promptly_with_idle_connections(&env, libc::SIGTERM);
}

#[rstest]
fn sighup_stops_like_sigterm(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    stops_promptly_with_idle_connections(&env, libc::SIGHUP);
}

// --- requests refused before any route ---------------------------------------

fn raw(addr: SocketAddr, request: &str) -> Response {
    raw_request(addr, request.as_bytes())
}

#[rstest]
fn http_1_1_without_exactly_one_host_is_400(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let server = Server::start(&env, &[]);
    let auth = format!("Authorization: Bearer {token}\r\n");
    for (what, request) in [
        (
            "no Host",
            format!("GET /verify HTTP/1.1\r\nConnection: close\r\n{auth}\r\n"),
        ),
        (
            "two Hosts",
            format!(
                "GET /verify HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n{auth}\r\n"
            ),
        ),
        (
            "healthz without Host",
            "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".to_string(),
        ),
    ] {
        let r = raw(server.addr, &request);
        assert_eq!(r.status, 400, "{what}: {r:?}");
        assert!(r.header("x-token-id").is_none(), "{what}: {r:?}");
    }
    // With its Host, the same request passes; HTTP/1.0 needs none.
    let r = raw(
        server.addr,
        &format!("GET /verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = raw(server.addr, &format!("GET /verify HTTP/1.0\r\n{auth}\r\n"));
    assert_eq!(r.status, 200, "{r:?}");
    // Logged, one line each, like any other request to /verify.
    let statuses: Vec<String> = server
        .wait_request_lines(4)
        .iter()
        .map(|l| {
            l.split_whitespace()
                .skip(4)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        statuses,
        ["400 bad-request", "400 bad-request", "200 ok", "200 ok"]
    );
}

#[rstest]
fn an_unknown_query_key_is_400_not_a_pass(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &["--acl", "read"]);
    let server = Server::start(&env, &[]);
    for target in [
        "/verify?ACL=admin",
        "/verify?acls=admin",
        "/verify?acl=read&other=x",
        "/verify?page=2",
        "/verify?acl",
    ] {
        let r = server.bearer(target, &token);
        assert_eq!(r.status, 400, "{target}: {r:?}");
        assert!(r.header("x-token-id").is_none(), "{target}: {r:?}");
    }
    for target in ["/verify", "/verify?", "/verify?acl=read"] {
        let r = server.bearer(target, &token);
        assert_eq!(r.status, 200, "{target}: {r:?}");
    }
    let r = server.bearer("/verify?acl=admin", &token);
    assert_eq!(r.status, 403, "{r:?}");
}

#[rstest]
fn a_fragment_in_the_request_target_is_400(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &["--acl", "read"]);
    let server = Server::start(&env, &[]);
    let auth = format!("Authorization: Bearer {token}\r\n");
    for target in ["/verify#?acl=deploy", "/verify?acl=read#x", "/healthz#"] {
        let r = raw(
            server.addr,
            &format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n"),
        );
        assert_eq!(r.status, 400, "{target}: {r:?}");
        assert!(r.header("x-token-id").is_none(), "{target}: {r:?}");
    }
    // Pipelined behind a good request on one connection: each request is
    // judged by its own target.
    let mut conn = connect(&server);
    let two = format!(
        "GET /verify?acl=read HTTP/1.1\r\nHost: x\r\n{auth}\r\n\
         GET /verify#?acl=deploy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n"
    );
    conn.write_all(two.as_bytes()).unwrap();
    let answers = String::from_utf8(closed_within(&mut conn, Duration::from_secs(30))).unwrap();
    let statuses: Vec<&str> = answers
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .collect();
    assert_eq!(
        statuses,
        ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"],
        "{answers}"
    );
    // A header value may hold a `#`.
    let r = raw(
        server.addr,
        &format!(
            "GET /verify HTTP/1.1\r\nHost: x\r\nReferer: /a#b\r\nConnection: close\r\n{auth}\r\n"
        ),
    );
    assert_eq!(r.status, 200, "{r:?}");
}

#[rstest]
fn after_a_request_with_a_body_the_connection_closes(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let server = Server::start(&env, &[]);
    let auth = format!("Authorization: Bearer {token}\r\n");
    // The body holds what would look like a request line with a fragment;
    // what follows a body is not served on the same connection.
    let body = "GET /verify#x HTTP/1.1\r\n\r\n";
    let mut conn = connect(&server);
    let raw = format!(
        "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{auth}\r\n{body}\
         GET /verify HTTP/1.1\r\nHost: x\r\n{auth}\r\n",
        body.len()
    );
    conn.write_all(raw.as_bytes()).unwrap();
    let answers = String::from_utf8(closed_within(&mut conn, Duration::from_secs(30))).unwrap();
    let statuses: Vec<&str> = answers
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .collect();
    assert_eq!(statuses, ["HTTP/1.1 200 OK"], "{answers}");
    assert!(
        answers.to_ascii_lowercase().contains("connection: close"),
        "{answers}"
    );
}

/// serve under `ulimit -n 256` (a cap of 192 connections), as a shell
/// wrapper sets it.
pub fn small_fd_limit_server(env: &TestEnv) -> Server {
    let std = env.std_cmd(&["serve", "--listen", "127.0.0.1:0"]);
    let mut wrapped = std::process::Command::new("sh");
    wrapped
        .env_clear()
        .envs(std.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$@\"")
        .arg("sh")
        .arg(std.get_program())
        .args(std.get_args());
    Server::start_command(wrapped)
}
