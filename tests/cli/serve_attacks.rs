//! `tokenctl serve` under attack over loopback: forged forwarding headers
//! through a trusted proxy, a stale client after a rotation, a cold start
//! under load, clients that hang up mid-check, and what another process
//! can read of the server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv};
use crate::serve::{Response, Server, parse_response, raw_request};
use crate::verify::{forge, id_part};

const WAIT: Duration = Duration::from_secs(30);

/// `GET /verify` with a bearer token and extra raw header lines (any
/// bytes), on a new connection.
fn verify_raw(addr: SocketAddr, token: &str, extra: &[u8]) -> Response {
    let mut raw = format!(
        "GET /verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(extra);
    raw.extend_from_slice(b"\r\n");
    raw_request(addr, &raw)
}

fn field(line: &str, n: usize) -> &str {
    line.split_whitespace().nth(n).unwrap_or_default()
}

/// The client address, status and label of a per-request log line.
fn ip_in(line: &str) -> &str {
    field(line, 1)
}

fn label(line: &str) -> &str {
    field(line, 5)
}

/// Waits (bounded) until `cond` holds.
#[track_caller]
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Sends a `/verify` request with `token` and hangs up after `after`,
/// without reading the answer.
fn hang_up(addr: SocketAddr, token: &str, after: Duration) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let raw = format!("GET /verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(raw.as_bytes()).expect("send");
    thread::sleep(after);
    drop(stream);
}

/// A wrong secret for `token`'s id, different for each `n`.
fn wrong(token: &str, n: usize) -> String {
    forge(id_part(token), &format!("{n:0>30}"))
}

// --- the client's address through a trusted proxy ---------------------------

#[rstest]
fn an_unreadable_forwarding_header_makes_the_address_unknown(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let fenced = env.create("fenced", &["--allow-ip", "203.0.113.0/24"]);
    let local = env.create("local", &["--allow-ip", "127.0.0.1"]);
    let open = env.create("open", &[]);
    let mut server = Server::start(&env, &["--trust-proxy", "127.0.0.1"]);
    let addr = server.addr;
    // (token, raw header lines) that must all be refused: a header from
    // the trusted proxy that cannot be read is no address, never a reason
    // to believe another header or to take the proxy for the client.
    let refused: Vec<(&str, &[u8])> = vec![
        (
            &fenced,
            b"X-Forwarded-For: \xff\r\nX-Real-IP: 203.0.113.7\r\n",
        ),
        (
            &fenced,
            b"X-Real-IP: 203.0.113.7\r\nX-Forwarded-For: 203.0.113.\xb7\r\n",
        ),
        (
            &fenced,
            b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: \xff\r\n",
        ),
        (&fenced, b"X-Forwarded-For: \r\nX-Real-IP: 203.0.113.7\r\n"),
        (
            &fenced,
            b"X-Real-IP: 198.51.100.1\r\nX-Real-IP: 203.0.113.7\r\n",
        ),
        (&local, b"X-Forwarded-For: \xff\r\n"),
        (&local, b"X-Forwarded-For: \xc3\xa9\r\n"),
    ];
    for (token, extra) in &refused {
        let r = verify_raw(addr, token, extra);
        assert_eq!(r.status, 401, "{}: {r:?}", String::from_utf8_lossy(extra));
    }
    let lines = server.wait_request_lines(refused.len());
    for (line, (_, extra)) in lines.iter().zip(&refused) {
        let what = String::from_utf8_lossy(extra);
        assert_eq!(ip_in(line), "-", "{what}: {line}");
        assert_eq!(label(line), "ip", "{what}: {line}");
    }
    // A token without an allow-list still works from an unknown address,
    // and its Last Used IP is not the forged one.
    let r = verify_raw(
        addr,
        &open,
        b"X-Forwarded-For: \xff\r\nX-Real-IP: 203.0.113.7\r\n",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(ip_in(&server.line(refused.len() + 1)), "-");
    // Several lines are one list, as nginx joins them: the rightmost
    // untrusted address is the client.
    let r = verify_raw(
        addr,
        &fenced,
        b"X-Forwarded-For: 198.51.100.1,\r\nX-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(ip_in(&server.line(refused.len() + 2)), "203.0.113.9");

    assert_eq!(server.terminate().code(), Some(0), "{}", server.stderr());
    let shown = env.json(&["token", "show", "open"]);
    assert!(shown["last_used"].is_string(), "{shown}");
    assert!(shown["last_used_ip"].is_null(), "a forged address: {shown}");
    let shown = env.json(&["token", "show", "fenced"]);
    assert_eq!(shown["last_used_ip"], "203.0.113.9", "{shown}");
}

// --- the cool-down ------------------------------------------------------------

#[rstest]
fn a_stale_client_retrying_the_old_secret_does_not_lock_out_the_new_one(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    const STALE_FIRST: usize = 15;
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let old = env.create("ci", &[]);
    let new = env
        .ok(&["token", "rotate", "ci", "--grace", "0"])
        .trim()
        .to_string();
    let server = Server::start(&env, &[]);
    let addr = server.addr;
    let stale_sent = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // The stale client retries its old secret as fast as it is answered.
    let stale = {
        let (stale_sent, stop, old) = (stale_sent.clone(), stop.clone(), old.clone());
        thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) && statuses.len() < 2000 {
                statuses.push(verify_raw(addr, &old, b"").status);
                stale_sent.fetch_add(1, Ordering::SeqCst);
            }
            statuses
        })
    };
    // More retries than the cool-down allows wrong secrets, before the
    // updated clients come.
    wait_until("the stale client retried", || {
        stale_sent.load(Ordering::SeqCst) >= STALE_FIRST
    });
    for _ in 0..20 {
        let r = verify_raw(addr, &new, b"");
        assert_eq!(r.status, 200, "the new secret: {r:?}");
    }
    stop.store(true, Ordering::SeqCst);
    let statuses = stale.join().expect("stale client");
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // The old secret paid argon2 once; its retries came from the cache.
    assert_eq!(server.metric("tokenctl_wrong_secrets_total"), 1.0);
    assert_eq!(server.metric("tokenctl_cooldown_refusals_total"), 0.0);
    // Each refusal names the token id, so an operator sees which token
    // a stale client is hammering.
    let id = format!("id={}", id_part(&old));
    let lines = server.request_lines();
    let refusals: Vec<&String> = lines.iter().filter(|l| label(l) == "unknown").collect();
    assert!(refusals.len() >= STALE_FIRST, "{lines:?}");
    assert!(refusals.iter().all(|l| l.contains(&id)), "{refusals:?}");
}

#[rstest]
fn new_wrong_secrets_still_start_a_cool_down_named_in_the_log(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    for n in 0..10 {
        assert_eq!(verify_raw(server.addr, &wrong(&token, n), b"").status, 401);
    }
    let r = verify_raw(server.addr, &wrong(&token, 10), b"");
    assert_eq!(r.status, 401);
    let line = server.line(11);
    assert_eq!(label(&line), "cooldown", "{line}");
    assert!(line.contains(&format!("id={}", id_part(&token))), "{line}");
    // A secret already known to be wrong is answered from the cache, not
    // as a new one.
    let r = verify_raw(server.addr, &wrong(&token, 3), b"");
    assert_eq!(r.status, 401);
    assert_eq!(label(&server.line(12)), "unknown");
    assert_eq!(server.metric("tokenctl_wrong_secrets_total"), 10.0);
    let id = id_part(&token);
    assert!(
        server
            .stderr()
            .lines()
            .any(|l| l.contains(&format!("token id {id} cooling down"))),
        "{}",
        server.stderr()
    );
}

// --- a cold start ---------------------------------------------------------------

/// Reads one answer from a keep-alive connection (headers, then the body
/// by Content-Length).
fn read_one(stream: &mut TcpStream) -> Response {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("read the answer");
        head.push(byte[0]);
    }
    let mut r = parse_response(&head);
    let len: usize = r
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).expect("read the body");
    r.body = String::from_utf8_lossy(&body).into_owned();
    r
}

#[rstest]
fn a_cold_start_under_load_shares_one_argon2_run_per_token(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    const CLIENTS: usize = 32;
    const REQUESTS: usize = 5;
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let addr = server.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (barrier, token) = (barrier.clone(), token.clone());
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                stream.set_read_timeout(Some(WAIT)).unwrap();
                let raw = format!(
                    "GET /verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
                );
                barrier.wait();
                (0..REQUESTS)
                    .map(|_| {
                        stream.write_all(raw.as_bytes()).expect("send");
                        read_one(&mut stream).status
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client"))
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        server.metric("tokenctl_argon2_verifications_total"),
        1.0,
        "{}",
        server.metrics()
    );
}

// --- clients that hang up -----------------------------------------------------------

fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

#[rstest]
fn clients_hanging_up_in_the_queue_leak_no_argon2_slot(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    const ROUNDS: usize = 4;
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    // Enough ids that no cool-down hides the queue.
    let targets: Vec<String> = (0..8).map(|i| env.create(&format!("t{i}"), &[])).collect();
    let fresh = env.create("fresh", &[]);
    let server = Server::start(&env, &[]);
    let addr = server.addr;
    let mut n = 0;
    for _ in 0..ROUNDS {
        // Connections holding every slot with wrong secrets, and more than
        // the queue behind them, which hang up while they wait.
        let mut clients = Vec::new();
        for i in 0..cores() * 6 {
            let secret = wrong(&targets[n % targets.len()], n);
            n += 1;
            let holder = i < cores();
            clients.push(thread::spawn(move || {
                if holder {
                    verify_raw(addr, &secret, b"");
                } else {
                    hang_up(addr, &secret, Duration::from_millis(5));
                }
            }));
            if holder {
                thread::sleep(Duration::from_millis(2));
            }
        }
        for c in clients {
            c.join().expect("client");
        }
    }
    // Once the abandoned checks are done, a new valid token gets its turn.
    let deadline = Instant::now() + WAIT;
    loop {
        let r = verify_raw(addr, &fresh, b"");
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{r:?}");
        assert!(
            Instant::now() < deadline,
            "a valid token still gets 503: the hang-ups leaked the argon2 queue\n{}",
            server.metrics()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

#[rstest]
fn checks_abandoned_by_their_clients_are_still_counted(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let target = env.create("target", &[]);
    let other = env.create("other", &[]);
    let server = Server::start(&env, &[]);
    // Each client hangs up once its check has started, before argon2 has
    // answered; the check still runs to the end and counts, for the
    // metrics and the cool-down.
    for n in 0..10 {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        let raw = format!(
            "GET /verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
            wrong(&target, n)
        );
        stream.write_all(raw.as_bytes()).expect("send");
        wait_until("the check started", || {
            server.metric("tokenctl_cache_misses_total") >= (n + 1) as f64
        });
        drop(stream);
        wait_until("the abandoned check was counted", || {
            server.metric("tokenctl_wrong_secrets_total") >= (n + 1) as f64
        });
    }
    assert_eq!(server.metric("tokenctl_argon2_verifications_total"), 10.0);
    // Ten wrong secrets: the id cools down.
    let r = verify_raw(server.addr, &wrong(&target, 10), b"");
    assert_eq!(r.status, 401);
    wait_until("the refusal is logged as a cool-down", || {
        server
            .request_lines()
            .iter()
            .any(|l| label(l) == "cooldown")
    });
    let r = verify_raw(server.addr, &other, b"");
    assert_eq!(r.status, 200, "{r:?}");
}

/// The number of threads of process `pid`.
fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads line")
}

#[rstest]
fn a_burst_of_abandoned_checks_runs_no_more_argon2_than_there_are_cores(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    const CLIENTS: usize = 1;
    const EACH: usize = 150;
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let targets: Vec<String> = (0..8).map(|i| env.create(&format!("t{i}"), &[])).collect();
    let valid = env.create("valid", &[]);
    let server = Server::start(&env, &[]);
    let (pid, addr) = (server.pid(), server.addr);
    let most = Arc::new(AtomicUsize::new(threads(pid)));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (most, done) = (most.clone(), done.clone());
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(threads(pid), Ordering::SeqCst);
                thread::sleep(Duration::from_millis(2));
            }
        })
    };
    // Clients that each send a new wrong secret and hang up once its check
    // has started, one after another, as an HTTP/2 client resetting its
    // streams would.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let targets = targets.clone();
            thread::spawn(move || {
                for i in 0..EACH {
                    let n = c * EACH + i;
                    hang_up(
                        addr,
                        &wrong(&targets[n % targets.len()], n),
                        Duration::from_millis(5),
                    );
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    // And while what was started is worked off.
    thread::sleep(Duration::from_secs(2));
    done.store(true, Ordering::SeqCst);
    sampler.join().expect("sampler");
    // One runtime worker and at most one argon2 run per core, the main
    // thread and a few helpers (Last Used, the log).
    let most = most.load(Ordering::SeqCst);
    let bound = 2 * cores() + 8;
    assert!(
        most <= bound,
        "{most} threads (at most {bound}): abandoned argon2 runs piled up"
    );
    wait_until("a valid token passes", || {
        verify_raw(addr, &valid, b"").status == 200
    });
}

// --- what other processes can see -------------------------------------------------------

#[rstest]
fn serve_cannot_be_dumped_or_read_by_other_processes(#[values(Sqlite, Postgres)] backend: Backend) {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;

    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("ci", &[]);
    let mut cmd = env.std_cmd(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // The files of a process that may not be dumped belong to root. As
    // root, the server runs with another group, so the change shows.
    const NOGROUP: u32 = 65534;
    if root {
        cmd.gid(NOGROUP);
    }
    let mut child = cmd.spawn().expect("spawn tokenctl serve");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("read stderr");
    let pid = child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let environ = std::fs::metadata(format!("/proc/{pid}/environ")).expect("environ");
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("tokenctl serve: listening"), "{first}");
    if root {
        let gid = status.lines().find(|l| l.starts_with("Gid:")).unwrap();
        assert_eq!(
            gid.split_whitespace().nth(2),
            Some(NOGROUP.to_string().as_str()),
            "{gid}"
        );
        assert_eq!(environ.gid(), 0, "serve can be dumped: {status}");
    } else {
        assert_eq!(environ.uid(), 0, "serve can be dumped: {status}");
    }
}
