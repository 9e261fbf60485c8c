//! `tokenctl serve` under attack over loopback: forged forwarding headers
//! through a trusted proxy, a stale client after a rotation, a cold start
//! under load, clients that hang up mid-check, and what another process
//! can read of the server.

use std::net::SocketAddr;
use std::process::Stdio;

use crate::common::TestEnv;
use crate::serve::{Response, Server, raw_request};

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

// --- the client's address through a trusted proxy ---------------------------

#[test]
fn an_unreadable_forwarding_header_makes_the_address_unknown() {
    let env = TestEnv::new();
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

// --- what other processes can see -------------------------------------------------------

#[test]
fn serve_cannot_be_dumped_or_read_by_other_processes() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;

    let env = TestEnv::new();
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
