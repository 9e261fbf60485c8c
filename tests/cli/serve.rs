//! `tokenctl serve` over loopback: the real binary on an ephemeral port,
//! spoken to with plain HTTP/1.1 over a `TcpStream` (no client library:
//! it lets a test send any bytes, read every header as sent, and use HEAD).
//!
//! Every status and header tokenctl-serve(1) names, the three Authorization forms, the
//! privileges in the query, the trusted-proxy rules, the log lines, the
//! metrics, "nothing stale" after each kind of change to a cached token,
//! Last Used, and the shutdown on SIGTERM.
//!
//! Each test runs on SQLite and on PostgreSQL; what only PostgreSQL has
//! (a database down then back, a standby, two servers) is in `pg_serve.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv};
use crate::fixtures::now;
use crate::verify::{forge, id_part, secret_part};

const WAIT: Duration = Duration::from_secs(30);
const LISTENING: &str = "tokenctl serve: listening on ";

// --- the harness -----------------------------------------------------------

/// A running `tokenctl serve` on 127.0.0.1 and an ephemeral port, its
/// stderr collected line by line. Killed on drop.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<thread::JoinHandle<()>>,
}

/// The address in `tokenctl serve: listening on ADDR (store PATH)`.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    line.strip_prefix(LISTENING)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Server {
    /// `tokenctl serve --listen 127.0.0.1:0 EXTRA...`, once it listens.
    pub fn start(env: &TestEnv, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend(extra);
        Server::start_command(env.std_cmd(&args))
    }

    /// Runs `command` (a `tokenctl serve --listen 127.0.0.1:0`, maybe
    /// behind a wrapper), once it listens.
    pub fn start_command(mut command: std::process::Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tokenctl serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        // Reads stderr to its end, so the server never blocks on a full pipe.
        let reader = {
            let log = log.clone();
            thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = listening_addr(&line)
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(addr);
                    }
                    log.lock().unwrap().push(line);
                }
            })
        };
        let mut server = Server {
            child: Some(child),
            addr: "127.0.0.1:0".parse().unwrap(),
            log,
            reader: Some(reader),
        };
        match rx.recv_timeout(WAIT) {
            Ok(addr) => server.addr = addr,
            Err(_) => {
                server.kill();
                panic!(
                    "tokenctl serve did not listen; stderr:\n{}",
                    server.stderr()
                );
            }
        }
        assert!(server.addr.ip().is_loopback() && server.addr.port() != 0);
        server
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// Sends SIGTERM and waits for the exit; the stderr reader is joined,
    /// so `stderr()` is complete afterwards.
    pub fn terminate(&mut self) -> ExitStatus {
        self.stop_with(libc::SIGTERM, WAIT)
    }

    /// Sends `signal` and waits for the exit, at most `within`.
    pub fn stop_with(&mut self, signal: i32, within: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = i32::try_from(child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill");
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tokenctl serve did not stop within {within:?} of signal {signal}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stderr reader");
        }
        status
    }

    /// Everything on stderr so far.
    pub fn stderr(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The per-request log lines so far (those for `/verify`).
    pub fn request_lines(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(" /verify "))
            .cloned()
            .collect()
    }

    /// The per-request log lines, once there are `n` of them (the line is
    /// written before the answer, but read from the pipe by a thread).
    pub fn wait_request_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let lines = self.request_lines();
            if lines.len() >= n || Instant::now() > deadline {
                assert_eq!(lines.len(), n, "log lines:\n{}", self.stderr());
                return lines;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The newest per-request log line, once the `n`th has arrived.
    pub fn line(&self, n: usize) -> String {
        self.wait_request_lines(n).pop().expect("a line")
    }

    pub fn send(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, method, target, headers, b"")
    }

    pub fn get(&self, target: &str, authorization: Option<&str>) -> Response {
        match authorization {
            Some(a) => self.send("GET", target, &[("Authorization", a)]),
            None => self.send("GET", target, &[]),
        }
    }

    /// GET `target` with `Authorization: Bearer TOKEN`.
    pub fn bearer(&self, target: &str, token: &str) -> Response {
        self.get(target, Some(&format!("Bearer {token}")))
    }

    pub fn metrics(&self) -> String {
        let r = self.get("/metrics", None);
        assert_eq!(r.status, 200, "{r:?}");
        r.body
    }

    /// The value of one series in `/metrics` (0 when absent).
    pub fn metric(&self, series: &str) -> f64 {
        metric_in(&self.metrics(), series)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn metric_in(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a new connection (`Connection: close`), read to the end.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    raw_request(addr, &bytes)
}

/// Sends `bytes` as they are and reads the answer.
pub fn raw_request(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(bytes).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    parse_response(&answer)
}

pub fn parse_response(answer: &[u8]) -> Response {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}

fn basic(user: &str, token: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{token}")))
}

fn show(env: &TestEnv, name: &str) -> Value {
    env.json(&["token", "show", name])
}

fn show_as(env: &TestEnv, user: &str, name: &str) -> Value {
    env.json(&["-u", user, "token", "show", name])
}

/// A success, with the identity headers of `account`'s token `name`.
#[track_caller]
pub fn assert_ok(r: &Response, account: &str, name: &str, token: &str) {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-token-account"), Some(account), "{r:?}");
    assert_eq!(r.header("x-token-name"), Some(name), "{r:?}");
    assert_eq!(r.header("x-token-id"), Some(id_part(token)), "{r:?}");
    assert!(r.header("www-authenticate").is_none(), "{r:?}");
}

/// A 401 that says no more than the status.
#[track_caller]
pub fn assert_401(r: &Response) {
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{r:?}");
    assert_eq!(r.body, "unauthorized\n", "{r:?}");
    for h in ["x-token-account", "x-token-name", "x-token-id"] {
        assert!(r.header(h).is_none(), "a refusal names the token: {r:?}");
    }
}

#[track_caller]
fn assert_403(r: &Response) {
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.body, "forbidden\n", "{r:?}");
    assert!(r.header("www-authenticate").is_none(), "{r:?}");
    for h in ["x-token-account", "x-token-name", "x-token-id"] {
        assert!(r.header(h).is_none(), "a refusal names the token: {r:?}");
    }
}

/// The label (result) of a per-request log line:
/// `TIME IP METHOD PATH STATUS LABEL [account=.. token=.. id=..] NNus`.
fn label(line: &str) -> &str {
    line.split_whitespace().nth(5).unwrap_or_default()
}

fn status_in(line: &str) -> &str {
    line.split_whitespace().nth(4).unwrap_or_default()
}

fn ip_in(line: &str) -> &str {
    line.split_whitespace().nth(1).unwrap_or_default()
}

// --- start and stop --------------------------------------------------------

#[rstest]
fn a_missing_store_is_exit_1_and_creates_nothing(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let err = env.fails(&["serve", "--listen", "127.0.0.1:0"], 1);
    assert!(err.contains("no store at"), "{err}");
    assert!(!env.has_store(), "serve created a store");
}

#[rstest]
fn a_bad_trust_proxy_is_exit_2_and_a_busy_port_exit_1(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("ci", &[]);
    env.fails(
        &["serve", "--listen", "127.0.0.1:0", "--trust-proxy", "nope"],
        2,
    );
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let err = env.fails(&["serve", "--listen", &addr], 1);
    assert!(err.contains("cannot listen"), "{err}");
}

#[rstest]
fn sigterm_finishes_flushes_last_used_and_exits_0(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let mut server = Server::start(&env, &[]);
    // An idle keep-alive connection must not hold the shutdown up.
    let mut idle = TcpStream::connect(server.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    // At once: Last Used is written once a second, and at shutdown.
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(server.stderr().ends_with("tokenctl serve: stopped"));

    let shown = show(&env, "ci");
    assert!(shown["last_used"].is_string(), "{shown}");
    assert_eq!(shown["last_used_ip"], "127.0.0.1", "{shown}");
    let used = chrono::DateTime::parse_from_rfc3339(shown["last_used"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!((now() - used).abs() < 60, "{shown}");
}

#[rstest]
fn sigterm_lets_in_flight_requests_finish(#[values(Sqlite, Postgres)] backend: Backend) {
    const N: usize = 8;
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let tokens: Vec<String> = (0..N).map(|i| env.create(&format!("t{i}"), &[])).collect();
    let mut server = Server::start(&env, &[]);
    // Uncached: each needs argon2, one per core at a time, so the last
    // ones are still waiting when SIGTERM arrives.
    let addr = server.addr;
    let clients: Vec<_> = tokens
        .iter()
        .map(|t| {
            let auth = format!("Bearer {t}");
            thread::spawn(move || request(addr, "GET", "/verify", &[("Authorization", &auth)], b""))
        })
        .collect();
    // A request counts as a cache miss once it is read, before argon2.
    let deadline = Instant::now() + WAIT;
    while server.metric("tokenctl_cache_misses_total") < N as f64 {
        assert!(Instant::now() < deadline, "{}", server.metrics());
        thread::sleep(Duration::from_millis(2));
    }
    let runs = server.metric("tokenctl_argon2_verifications_total");
    assert!(
        runs < N as f64,
        "all done before SIGTERM: nothing was in flight"
    );
    let status = server.terminate();
    for (client, token) in clients.into_iter().zip(&tokens) {
        let r = client.join().expect("client");
        assert_eq!(r.status, 200, "{token}: {r:?}");
    }
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert_eq!(server.request_lines().len(), N, "{}", server.stderr());
    for i in 0..N {
        let shown = show(&env, &format!("t{i}"));
        assert!(shown["last_used"].is_string(), "{shown}");
    }
}

#[rstest]
fn last_used_is_recorded_while_serving(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    assert!(show(&env, "ci")["last_used"].is_null());
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    let deadline = Instant::now() + WAIT;
    let shown = loop {
        let shown = show(&env, "ci");
        if shown["last_used"].is_string() || Instant::now() > deadline {
            break shown;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(shown["last_used"].is_string(), "not recorded: {shown}");
    assert_eq!(shown["last_used_ip"], "127.0.0.1", "{shown}");
    // A refusal records nothing.
    let other = env.create("other", &[]);
    let wrong = forge(id_part(&other), &"x".repeat(30));
    assert_401(&server.bearer("/verify", &wrong));
    thread::sleep(Duration::from_millis(1500));
    assert!(show(&env, "other")["last_used"].is_null());
}

// --- the Authorization header -----------------------------------------------

#[rstest]
fn bearer_answers_200_with_the_token_identity(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    let r = server.bearer("/verify", &token);
    assert_ok(&r, "alice", "ci", &token);
    assert_eq!(r.body, "ok\n");
    let line = server.line(1);
    assert_eq!(status_in(&line), "200", "{line}");
    assert_eq!(label(&line), "ok", "{line}");
    assert_eq!(ip_in(&line), "127.0.0.1", "{line}");
    assert!(
        line.contains(&format!("account=alice token=ci id={}", id_part(&token))),
        "{line}"
    );
}

#[rstest]
fn scheme_names_are_case_insensitive(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    let b64 = STANDARD.encode(format!("alice:{token}"));
    for auth in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("bEaReR {token}"),
        format!("Basic {b64}"),
        format!("basic {b64}"),
        format!("BASIC {b64}"),
        format!("tokenctl alice:{token}"),
        format!("TokenCtl alice:{token}"),
        format!("TOKENCTL alice:{token}"),
    ] {
        assert_ok(&server.get("/verify", Some(&auth)), "alice", "ci", &token);
    }
}

#[rstest]
fn basic_password_is_the_token_and_a_user_must_be_its_account(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    assert_ok(
        &server.get("/verify", Some(&basic("alice", &token))),
        "alice",
        "ci",
        &token,
    );
    assert_ok(
        &server.get("/verify", Some(&basic("", &token))),
        "alice",
        "ci",
        &token,
    );
    let mut expected = vec!["ok", "ok"];
    for (auth, why) in [
        (basic("bob", &token), "account"),
        (basic("nobody", &token), "account"),
        (basic("Alice", &token), "account"),
        (format!("Basic {}", STANDARD.encode(&token)), "malformed"),
        ("Basic !!!not-base64".to_string(), "malformed"),
        (basic("alice", ""), "malformed"),
        (basic(&token, "alice"), "malformed"),
    ] {
        assert_401(&server.get("/verify", Some(&auth)));
        expected.push(why);
    }
    let lines = server.wait_request_lines(expected.len());
    let got: Vec<&str> = lines.iter().map(|l| label(l)).collect();
    assert_eq!(got, expected);
}

#[rstest]
fn the_tokenctl_scheme_names_the_account(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let token = env.create("ci", &[]);
    let bobs = env.create("ci", &["-u", "bob"]);
    let server = Server::start(&env, &[]);
    assert_ok(
        &server.get("/verify", Some(&format!("tokenctl alice:{token}"))),
        "alice",
        "ci",
        &token,
    );
    assert_ok(
        &server.get("/verify", Some(&format!("tokenctl bob:{bobs}"))),
        "bob",
        "ci",
        &bobs,
    );
    // Another account than the token's, even one that exists.
    assert_401(&server.get("/verify", Some(&format!("tokenctl bob:{token}"))));
    assert_401(&server.get("/verify", Some(&format!("tokenctl alice:{bobs}"))));
    assert_401(&server.get("/verify", Some(&format!("tokenctl {token}"))));
    let lines = server.wait_request_lines(5);
    let got: Vec<&str> = lines.iter().map(|l| label(l)).collect();
    assert_eq!(got, ["ok", "ok", "account", "account", "malformed"]);
}

#[rstest]
fn privileges_come_from_the_query_in_either_form(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &["--acl", "deploy,read"]);
    let all = env.create("root", &[]);
    let server = Server::start(&env, &[]);
    for target in [
        "/verify",
        "/verify?acl=deploy",
        "/verify?acl=deploy&acl=read",
        "/verify?acl=deploy,read",
        "/verify?acl=read%2Cdeploy",
    ] {
        assert_ok(&server.bearer(target, &token), "alice", "ci", &token);
    }
    for target in [
        "/verify?acl=write",
        "/verify?acl=deploy&acl=write",
        "/verify?acl=read,write",
        "/verify?acl=all",
    ] {
        assert_403(&server.bearer(target, &token));
    }
    // `all` covers any privilege.
    assert_ok(
        &server.bearer("/verify?acl=deploy&acl=anything", &all),
        "alice",
        "root",
        &all,
    );
    // A query that names no privilege is the caller's mistake, not the
    // token's: never a 200.
    for target in [
        "/verify?acl=",
        "/verify?acl=Deploy",
        "/verify?acl=read,,deploy",
    ] {
        let r = server.bearer(target, &token);
        assert_eq!(r.status, 400, "{target}: {r:?}");
        assert!(r.header("x-token-id").is_none());
    }
    let lines = server.wait_request_lines(13);
    assert!(
        lines[5..9].iter().all(|l| label(l) == "forbidden"),
        "{lines:#?}"
    );
}

#[rstest]
fn every_refusal_is_401_with_www_authenticate_and_a_bare_body(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let good = env.create("good", &[]);
    let revoked = env.create("revoked", &[]);
    env.ok(&["token", "revoke", "revoked", "--yes"]);
    let disabled = env.create("disabled", &[]);
    env.ok(&["token", "disable", "disabled"]);
    let expired = env.create("expired", &[]);
    env.sql_execute(&format!(
        "UPDATE tokens SET expires_at = {} WHERE name = 'expired'",
        now() - 10
    ));
    let fenced = env.create("fenced", &["--allow-ip", "10.0.0.0/8"]);
    let suspended = env.create("ci", &["-u", "bob"]);
    env.ok(&["account", "suspend", "bob"]);
    let unknown = forge("ZZZZZZZZZZ", &"s".repeat(30));
    let wrong = forge(id_part(&good), &"w".repeat(30));
    let mut typo = good.clone().into_bytes();
    typo[20] = if typo[20] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();

    let server = Server::start(&env, &[]);
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing"),
        (Some("Digest abc".into()), "malformed"),
        (Some("Bearer".into()), "malformed"),
        (Some("Bearer not-a-token".into()), "malformed"),
        (Some(format!("Bearer {typo}")), "malformed"),
        (Some(format!("Bearer {}", &good[..49])), "malformed"),
        (Some(format!("Bearer {unknown}")), "unknown"),
        (Some(format!("Bearer {wrong}")), "unknown"),
        (Some(format!("Bearer {revoked}")), "revoked"),
        (Some(format!("Bearer {disabled}")), "disabled"),
        (Some(format!("Bearer {expired}")), "expired"),
        (Some(format!("Bearer {fenced}")), "ip"),
        (Some(format!("Bearer {suspended}")), "suspended"),
        (Some(basic("bob", &good)), "account"),
    ];
    let mut shapes = Vec::new();
    for (auth, _) in &cases {
        let r = server.get("/verify?acl=read", auth.as_deref());
        assert_401(&r);
        // Every refusal looks the same: no header or body tells them apart.
        let mut names: Vec<&str> = r
            .headers
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "date")
            .collect();
        names.sort();
        shapes.push(format!("{names:?} {:?}", r.body));
    }
    shapes.dedup();
    assert_eq!(shapes.len(), 1, "{shapes:#?}");

    // A header that is not UTF-8.
    let r = raw_request(
        server.addr,
        b"GET /verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
    );
    assert_401(&r);

    let lines = server.wait_request_lines(cases.len() + 1);
    for ((_, why), line) in cases.iter().zip(&lines) {
        assert_eq!(label(line), *why, "{line}");
        assert_eq!(status_in(line), "401", "{line}");
    }
    assert_eq!(label(&lines[cases.len()]), "malformed");
    // The same token, asked properly, is fine: nothing above was its fault.
    assert_ok(&server.bearer("/verify", &good), "alice", "good", &good);
}

#[rstest]
fn head_and_post_work_like_get(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &["--acl", "read"]);
    let server = Server::start(&env, &[]);
    let auth = format!("Bearer {token}");
    let head = server.send("HEAD", "/verify", &[("Authorization", &auth)]);
    assert_ok(&head, "alice", "ci", &token);
    assert_eq!(head.body, "", "HEAD has no body");
    let head = server.send("HEAD", "/verify?acl=deploy", &[("Authorization", &auth)]);
    assert_eq!(head.status, 403);
    let head = server.send("HEAD", "/verify", &[]);
    assert_eq!(head.status, 401);
    assert_eq!(head.header("www-authenticate"), Some("Bearer"));

    let post = request(
        server.addr,
        "POST",
        "/verify?acl=read",
        &[("Authorization", &auth), ("Content-Type", "text/plain")],
        b"a request body is ignored",
    );
    assert_ok(&post, "alice", "ci", &token);
    let post = request(server.addr, "POST", "/verify", &[], b"");
    assert_401(&post);

    let put = server.send("PUT", "/verify", &[("Authorization", &auth)]);
    assert_eq!(put.status, 405, "{put:?}");
    assert!(put.header("x-token-id").is_none());
    let other = server.get("/", Some(&auth));
    assert_eq!(other.status, 404, "{other:?}");

    let lines = server.wait_request_lines(5);
    let methods: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(methods, ["HEAD", "HEAD", "HEAD", "POST", "POST"]);
}

#[rstest]
fn healthz_and_prometheus_metrics(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &["--acl", "read"]);
    let server = Server::start(&env, &[]);
    let r = server.get("/healthz", None);
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));

    let before = server.metrics();
    assert!(
        before.contains("# TYPE tokenctl_requests_total counter"),
        "{before}"
    );
    assert_eq!(metric_in(&before, "tokenctl_cache_hits_total"), 0.0);
    assert_eq!(
        metric_in(&before, "tokenctl_argon2_verifications_total"),
        0.0
    );

    for _ in 0..3 {
        assert_eq!(server.bearer("/verify", &token).status, 200);
    }
    assert_eq!(server.bearer("/verify?acl=deploy", &token).status, 403);
    assert_eq!(server.get("/verify", None).status, 401);
    let wrong = forge(id_part(&token), &"w".repeat(30));
    assert_eq!(server.bearer("/verify", &wrong).status, 401);
    assert_eq!(server.bearer("/verify", "junk").status, 401);

    let r = server.get("/metrics", None);
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{r:?}"
    );
    let text = r.body;
    for (series, want) in [
        ("tokenctl_requests_total{result=\"ok\"}", 3.0),
        ("tokenctl_requests_total{result=\"forbidden\"}", 1.0),
        ("tokenctl_requests_total{result=\"missing\"}", 1.0),
        ("tokenctl_requests_total{result=\"unknown\"}", 1.0),
        ("tokenctl_requests_total{result=\"malformed\"}", 1.0),
        // The first success and the wrong secret paid argon2; the other
        // three successes (the 403 included) came from the cache.
        ("tokenctl_cache_hits_total", 3.0),
        ("tokenctl_cache_misses_total", 2.0),
        ("tokenctl_argon2_verifications_total", 2.0),
    ] {
        assert_eq!(metric_in(&text, series), want, "{series} in\n{text}");
    }
    assert!(
        metric_in(&text, "tokenctl_argon2_seconds_total") > 0.0,
        "{text}"
    );
    for name in [
        "tokenctl_requests_total",
        "tokenctl_cache_hits_total",
        "tokenctl_argon2_seconds_total",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{text}");
    }
    // Nothing secret in the metrics either.
    assert!(!text.contains(secret_part(&token)));
}

// --- the client's address ---------------------------------------------------

#[rstest]
fn a_trusted_proxy_forwarded_for_is_walked_right_to_left(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &["--allow-ip", "203.0.113.0/24"]);
    let server = Server::start(&env, &["--trust-proxy", "127.0.0.1"]);
    let auth = format!("Bearer {token}");
    let with = |headers: &[(&str, &str)]| {
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend_from_slice(headers);
        server.send("GET", "/verify", &all)
    };
    // (headers sent, status, the client address the log shows)
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        // The proxy itself is the client when it forwards nothing.
        (vec![], 401, "127.0.0.1"),
        (vec![("X-Forwarded-For", "203.0.113.7")], 200, "203.0.113.7"),
        // A client cannot spoof past the first untrusted hop.
        (
            vec![("X-Forwarded-For", "203.0.113.7, 198.51.100.1")],
            401,
            "198.51.100.1",
        ),
        (
            vec![("X-Forwarded-For", "198.51.100.1, 203.0.113.7")],
            200,
            "203.0.113.7",
        ),
        // Trusted hops on the right are skipped.
        (
            vec![("X-Forwarded-For", "203.0.113.7, 127.0.0.1")],
            200,
            "203.0.113.7",
        ),
        // Several headers read as one list, in order.
        (
            vec![
                ("X-Forwarded-For", "198.51.100.1"),
                ("X-Forwarded-For", "203.0.113.8"),
            ],
            200,
            "203.0.113.8",
        ),
        (vec![("X-Real-IP", "203.0.113.9")], 200, "203.0.113.9"),
        // X-Real-IP only when there is no X-Forwarded-For.
        (
            vec![
                ("X-Forwarded-For", "198.51.100.1"),
                ("X-Real-IP", "203.0.113.9"),
            ],
            401,
            "198.51.100.1",
        ),
        // An address that cannot be read is no address: refused.
        (vec![("X-Forwarded-For", "junk")], 401, "-"),
        (vec![("X-Real-IP", "junk")], 401, "-"),
    ];
    for (headers, status, _) in &cases {
        assert_eq!(with(headers).status, *status, "{headers:?}");
    }
    let lines = server.wait_request_lines(cases.len());
    for ((headers, _, ip), line) in cases.iter().zip(&lines) {
        assert_eq!(ip_in(line), *ip, "{headers:?}: {line}");
    }
    // Last Used records the client, not the proxy.
    let mut server = server;
    assert_eq!(server.terminate().code(), Some(0));
    let ip = show(&env, "ci")["last_used_ip"].clone();
    assert!(
        ip.as_str().is_some_and(|ip| ip.starts_with("203.0.113.")),
        "{ip}"
    );
}

#[rstest]
fn without_trust_proxy_forwarding_headers_are_ignored(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let fenced = env.create("fenced", &["--allow-ip", "203.0.113.0/24"]);
    let local = env.create("local", &["--allow-ip", "127.0.0.1"]);
    let server = Server::start(&env, &[]);
    for headers in [
        vec![("X-Forwarded-For", "203.0.113.7")],
        vec![("X-Real-IP", "203.0.113.7")],
        vec![("X-Forwarded-For", "junk"), ("X-Real-IP", "junk")],
    ] {
        let auth = format!("Bearer {fenced}");
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend(headers.iter().copied());
        assert_401(&server.send("GET", "/verify", &all));
        let auth = format!("Bearer {local}");
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend(headers.iter().copied());
        assert_ok(
            &server.send("GET", "/verify", &all),
            "alice",
            "local",
            &local,
        );
    }
    // A proxy trusted elsewhere does not make loopback trusted.
    drop(server);
    let server = Server::start(&env, &["--trust-proxy", "10.0.0.0/8"]);
    let auth = format!("Bearer {fenced}");
    assert_401(&server.send(
        "GET",
        "/verify",
        &[("Authorization", &auth), ("X-Forwarded-For", "203.0.113.7")],
    ));
    let lines = server.wait_request_lines(1);
    assert_eq!(ip_in(&lines[0]), "127.0.0.1");
    assert_eq!(label(&lines[0]), "ip");
}

// --- the log ---------------------------------------------------------------

#[rstest]
fn one_log_line_per_request_and_never_the_token(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let token = env.create("ci", &["--acl", "read"]);
    let revoked = env.create("old", &[]);
    env.ok(&["token", "revoke", "old", "--yes"]);
    let wrong = forge(id_part(&token), &"w".repeat(30));
    let server = Server::start(&env, &[]);
    let mut sent = 0;
    let mut go = |auth: String, target: &str| {
        server.get(target, Some(&auth));
        sent += 1;
    };
    go(format!("Bearer {token}"), "/verify");
    go(format!("Bearer {token}"), "/verify?acl=deploy");
    go(format!("bearer {wrong}"), "/verify");
    go(format!("Bearer {revoked}"), "/verify");
    go(basic("bob", &token), "/verify");
    go(format!("tokenctl bob:{token}"), "/verify");
    go(format!("Bearer {}x", token), "/verify");
    go(
        format!("Bearer secret-looking-junk-{}", secret_part(&token)),
        "/verify",
    );
    go(format!("Digest {token}"), "/verify");
    server.get("/healthz", None);
    server.get("/metrics", None);
    let lines = server.wait_request_lines(sent);
    let mut server = server;
    assert_eq!(server.terminate().code(), Some(0));
    let all = server.stderr();
    for secret in [&token, &revoked, &wrong] {
        assert!(!all.contains(secret.as_str()), "a token in the log:\n{all}");
        assert!(
            !all.contains(secret_part(secret)),
            "a secret in the log:\n{all}"
        );
        assert!(!all.contains(&secret[4..]), "{all}");
    }
    let labels: Vec<&str> = lines.iter().map(|l| label(l)).collect();
    assert_eq!(
        labels,
        [
            "ok",
            "forbidden",
            "unknown",
            "revoked",
            "account",
            "account",
            "malformed",
            "malformed",
            "malformed"
        ]
    );
    for line in &lines {
        assert!(line.ends_with("us"), "{line}");
        assert!(line.contains(" GET /verify "), "{line}");
    }
    // Every stderr line is the listening line, a request line, or the stop.
    assert_eq!(all.lines().count(), sent + 2, "{all}");
}

// --- nothing stale -----------------------------------------------------------

/// Two successes, the second from the cache (no new argon2 run).
fn cached(server: &Server, token: &str, target: &str) {
    assert_eq!(server.bearer(target, token).status, 200);
    let hits = server.metric("tokenctl_cache_hits_total");
    let runs = server.metric("tokenctl_argon2_verifications_total");
    assert_eq!(server.bearer(target, token).status, 200);
    assert_eq!(server.metric("tokenctl_cache_hits_total"), hits + 1.0);
    assert_eq!(
        server.metric("tokenctl_argon2_verifications_total"),
        runs,
        "the second request paid argon2 again"
    );
}

#[rstest]
fn revoking_a_cached_token_takes_effect_at_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    cached(&server, &token, "/verify");
    env.ok(&["token", "revoke", "ci", "--yes"]);
    assert_401(&server.bearer("/verify", &token));
    assert_eq!(label(&server.line(3)), "revoked");
}

#[rstest]
fn disabling_a_cached_token_takes_effect_at_once_and_enabling_restores_it(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    cached(&server, &token, "/verify");
    env.ok(&["token", "disable", "ci"]);
    assert_401(&server.bearer("/verify", &token));
    assert_eq!(label(&server.line(3)), "disabled");
    env.ok(&["token", "enable", "ci"]);
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
}

#[rstest]
fn rotating_a_cached_token_without_grace_takes_effect_at_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let old = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    cached(&server, &old, "/verify");
    let new = env.ok(&["token", "rotate", "ci"]).trim().to_string();
    assert_ne!(new, old);
    assert_eq!(id_part(&new), id_part(&old));
    assert_401(&server.bearer("/verify", &old));
    assert_eq!(label(&server.line(3)), "unknown");
    assert_ok(&server.bearer("/verify", &new), "alice", "ci", &new);
    assert_401(&server.bearer("/verify", &old));
}

#[rstest]
fn a_cached_previous_secret_stops_when_the_grace_ends(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let old = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    cached(&server, &old, "/verify");
    let new = env
        .ok(&["token", "rotate", "ci", "--grace", "1h"])
        .trim()
        .to_string();
    // During the grace both work, the old one still from the cache.
    let hits = server.metric("tokenctl_cache_hits_total");
    assert_ok(&server.bearer("/verify", &old), "alice", "ci", &old);
    assert_eq!(server.metric("tokenctl_cache_hits_total"), hits + 1.0);
    assert_ok(&server.bearer("/verify", &new), "alice", "ci", &new);
    // The grace ends (moved into the past: there is no clock override).
    let n = env.sql_execute(&format!(
        "UPDATE tokens SET prev_valid_until = {} WHERE name = 'ci'",
        now() - 1
    ));
    assert_eq!(n, 1);
    assert_401(&server.bearer("/verify", &old));
    assert_ok(&server.bearer("/verify", &new), "alice", "ci", &new);
}

#[rstest]
fn suspending_the_account_of_a_cached_token_takes_effect_at_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let token = env.create("ci", &["-u", "bob"]);
    let server = Server::start(&env, &[]);
    cached(&server, &token, "/verify?acl=read");
    env.ok(&["account", "suspend", "bob"]);
    assert_401(&server.bearer("/verify?acl=read", &token));
    assert_eq!(label(&server.line(3)), "suspended");
    env.ok(&["account", "unsuspend", "bob"]);
    assert_ok(&server.bearer("/verify", &token), "bob", "ci", &token);
    // Deleting the account revokes its tokens, also at once.
    env.ok(&["account", "delete", "bob", "--yes"]);
    assert_401(&server.bearer("/verify", &token));
}

#[rstest]
fn narrowing_the_account_privileges_takes_effect_at_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bob", "--acl", "deploy,read"]);
    let token = env.create("ci", &["-u", "bob", "--acl", "deploy,read"]);
    let server = Server::start(&env, &[]);
    cached(&server, &token, "/verify?acl=deploy,read");
    env.ok(&["account", "edit", "bob", "--remove-acl", "deploy"]);
    assert_403(&server.bearer("/verify?acl=deploy", &token));
    assert_eq!(label(&server.line(3)), "forbidden");
    assert_ok(
        &server.bearer("/verify?acl=read", &token),
        "bob",
        "ci",
        &token,
    );
    env.ok(&["account", "edit", "bob", "--add-acl", "deploy"]);
    assert_ok(
        &server.bearer("/verify?acl=deploy", &token),
        "bob",
        "ci",
        &token,
    );
    // And the token's own privileges, likewise.
    env.ok(&["-u", "bob", "token", "edit", "ci", "--remove-acl", "deploy"]);
    assert_eq!(
        show_as(&env, "bob", "ci")["acls"],
        serde_json::json!(["read"])
    );
    assert_403(&server.bearer("/verify?acl=deploy", &token));
    assert_ok(
        &server.bearer("/verify?acl=read", &token),
        "bob",
        "ci",
        &token,
    );
}

#[rstest]
fn expiry_of_a_cached_token_takes_effect_at_once(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    cached(&server, &token, "/verify");
    let n = env.sql_execute(&format!(
        "UPDATE tokens SET expires_at = {} WHERE name = 'ci'",
        now() - 1
    ));
    assert_eq!(n, 1);
    assert_401(&server.bearer("/verify", &token));
    assert_eq!(label(&server.line(3)), "expired");
}

#[rstest]
fn an_allow_list_added_to_a_cached_token_takes_effect_at_once(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    cached(&server, &token, "/verify");
    env.ok(&["token", "edit", "ci", "--allow-ip", "10.0.0.0/8"]);
    assert_401(&server.bearer("/verify", &token));
    assert_eq!(label(&server.line(3)), "ip");
    env.ok(&["token", "edit", "ci", "--allow-ip", "127.0.0.0/8"]);
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
}

// --- argon2 is bounded ----------------------------------------------------------

#[rstest]
fn an_id_that_keeps_failing_cools_down_but_its_cached_token_still_works(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    cached(&server, &token, "/verify");
    let runs = server.metric("tokenctl_argon2_verifications_total");
    // Ten wrong secrets within the window start the cool-down ...
    for i in 0..10 {
        let wrong = forge(id_part(&token), &format!("{i:0>30}"));
        assert_401(&server.bearer("/verify", &wrong));
    }
    assert_eq!(
        server.metric("tokenctl_argon2_verifications_total"),
        runs + 10.0
    );
    // ... after which wrong secrets cost no argon2 ...
    for i in 10..30 {
        let wrong = forge(id_part(&token), &format!("{i:0>30}"));
        assert_401(&server.bearer("/verify", &wrong));
    }
    assert_eq!(
        server.metric("tokenctl_argon2_verifications_total"),
        runs + 10.0
    );
    assert_eq!(server.metric("tokenctl_cooldown_refusals_total"), 20.0);
    // ... and the cached valid token is not starved.
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    let lines = server.wait_request_lines(33);
    assert_eq!(label(&lines[31]), "cooldown");
}

#[rstest]
fn a_flood_beyond_the_argon2_queue_gets_503_and_cached_tokens_still_pass(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    const FLOOD: usize = 120;
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let target = env.create("target", &[]);
    let server = Server::start(&env, &[]);
    cached(&server, &token, "/verify");
    // Every connection open first, then every request at once: far more
    // than one argon2 run per core plus the queue behind it.
    let barrier = Arc::new(Barrier::new(FLOOD));
    let addr = server.addr;
    let workers: Vec<_> = (0..FLOOD)
        .map(|i| {
            let barrier = barrier.clone();
            let wrong = forge(id_part(&target), &format!("{i:0>30}"));
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                stream.set_read_timeout(Some(WAIT)).unwrap();
                let raw = format!(
                    "GET /verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {wrong}\r\n\r\n"
                );
                barrier.wait();
                stream.write_all(raw.as_bytes()).expect("send");
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).expect("read");
                parse_response(&answer).status
            })
        })
        .collect();
    let statuses: Vec<u16> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&503),
        "no 503 under a flood: {statuses:?}"
    );
    assert!(
        server.metric("tokenctl_argon2_verifications_total") < (FLOOD as f64),
        "every flooded request paid argon2"
    );
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    let r = server.get("/healthz", None);
    assert_eq!(r.status, 200);
}

#[rstest]
fn a_store_restored_with_db_restore_is_read_at_once(#[values(Sqlite, Postgres)] backend: Backend) {
    // Moving a backup over a SQLite store under a running serve is not a
    // restore (serve's open -wal was replayed over it); `db restore`
    // writes the backup into the live store instead, on either kind.
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let a = env.create("a", &[]);
    let backup = env.dir.path().join("backup.db");
    env.ok(&["db", "backup", crate::common::path_str(&backup)]);
    let b = env.create("b", &[]);
    env.ok(&["token", "revoke", "a", "--yes"]);
    let mut server = Server::start(&env, &[]);
    // Enough requests for every connection serve holds to have been used.
    for _ in 0..8 {
        assert_eq!(server.bearer("/verify", &a).status, 401);
        assert_eq!(server.bearer("/verify", &b).status, 200);
    }
    env.ok(&["db", "restore", crate::common::path_str(&backup), "--yes"]);
    for _ in 0..8 {
        assert_ok(&server.bearer("/verify", &a), "alice", "a", &a);
        assert_401(&server.bearer("/verify", &b));
    }
    // The restore outlives serve, and its Last Used writes.
    assert!(server.terminate().success(), "{}", server.stderr());
    assert_eq!(show(&env, "a")["status"], "active");
    assert!(!show(&env, "a")["last_used"].is_null());
    env.fails(&["token", "show", "b"], 3);
    assert!(env.verify(&a, &[]).status.success());
    assert_eq!(env.verify(&b, &[]).status.code(), Some(5));
    env.ok(&["db", "check"]);
}

#[rstest]
fn a_stalled_client_does_not_keep_the_server_from_stopping(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let mut server = Server::start(&env, &[]);
    assert_eq!(server.bearer("/verify", &token).status, 200);
    // Half a request, never finished.
    let mut stalled = std::net::TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(&mut stalled, b"GET /verify HTTP/1.1\r\nHost: x\r\n").unwrap();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    // Last Used was still written on the way out.
    assert!(!show(&env, "web")["last_used"].is_null());
    drop(stalled);
}

#[rstest]
fn a_client_too_slow_with_its_headers_is_cut_off(#[values(Sqlite, Postgres)] backend: Backend) {
    use std::io::{Read, Write};
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let server = Server::start(&env, &[]);
    // Half a request, never finished: the server closes the connection
    // once the header timeout (10 s) passes, rather than keep it forever.
    let mut slow = std::net::TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"GET /verify HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    let closed = slow.read_to_end(&mut rest);
    assert!(
        closed.is_ok(),
        "the server did not close the connection: {closed:?}"
    );
    // Everyone else was served meanwhile.
    assert_eq!(server.bearer("/verify", &token).status, 200);
}
