//! A real Caddy with `forward_auth` asking `tokenctl serve`: the Caddyfile
//! README shows, taken from README itself, checked end to end.
//!
//! Caddy comes from the Debian package `caddy`. Without it the test is
//! skipped with a note, except under CI (env `CI` set), where it fails: CI
//! installs it.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv, missing_tool};
use crate::serve::{Response, Server, request};
use crate::verify::{forge, id_part};

fn caddy_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join("caddy"))
        .find(|p| p.is_file())
}

/// The Caddyfile in README's serve section, as written there.
fn readme_caddyfile() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("```caddy\n")
        .expect("a ```caddy block in README")
        + 9;
    let len = readme[start..].find("```").expect("the block's end");
    readme[start..start + len].to_string()
}

/// README's Caddyfile with its addresses replaced by the test's: the site
/// on `port`, serve at `serve`, the protected service at `backend` (a
/// second site of the same Caddy that echoes what it was asked).
fn config(port: u16, serve: SocketAddr, backend: u16) -> String {
    let documented = readme_caddyfile();
    for needle in ["example.com {", "127.0.0.1:8089", "127.0.0.1:8080"] {
        assert!(documented.contains(needle), "README's Caddyfile: {needle}");
    }
    let site = documented
        .replace("example.com {", &format!("http://127.0.0.1:{port} {{"))
        .replace("127.0.0.1:8089", &serve.to_string())
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{backend}"));
    format!(
        r#"{{
	admin off
	auto_https off
}}
{site}
http://127.0.0.1:{backend} {{
	respond "backend {{uri}} account={{header.X-Token-Account}} token={{header.X-Token-Name}}" 200
}}
"#
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// Caddy in the foreground, its state in `dir`; killed on drop.
struct Caddy {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Caddy {
    fn start(binary: &Path, dir: &Path, serve: SocketAddr) -> Caddy {
        std::fs::create_dir_all(dir).unwrap();
        // A free port can be taken between our probe and Caddy's bind:
        // try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let (port, backend) = (free_port(), free_port());
            let conf = dir.join("Caddyfile");
            std::fs::write(&conf, config(port, serve, backend)).unwrap();
            let log = std::fs::File::create(dir.join("caddy.log")).unwrap();
            let mut child = Command::new(binary)
                .arg("run")
                .arg("--config")
                .arg(&conf)
                .arg("--adapter")
                .arg("caddyfile")
                .env_clear()
                .env("HOME", dir)
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn caddy");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let backend: SocketAddr = format!("127.0.0.1:{backend}").parse().unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let mut log = String::new();
                    std::fs::File::open(dir.join("caddy.log"))
                        .and_then(|mut f| f.read_to_string(&mut log))
                        .unwrap();
                    last_error = format!("caddy exited ({status}): {log}");
                    break;
                }
                if TcpStream::connect(addr).is_ok() && TcpStream::connect(backend).is_ok() {
                    return Caddy {
                        child,
                        addr,
                        dir: dir.to_path_buf(),
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("caddy did not listen on {addr}");
                }
                thread::sleep(Duration::from_millis(20));
            }
            if !last_error.contains("address already in use") {
                break;
            }
        }
        panic!("could not start caddy: {last_error}");
    }

    fn get(&self, path: &str, token: Option<&str>) -> Response {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("Authorization", a))
            .into_iter()
            .collect();
        request(self.addr, "GET", path, &headers, b"")
    }

    /// SIGTERM: Caddy's graceful stop.
    fn stop(mut self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "caddy did not stop");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[rstest]
fn caddy_forward_auth_as_readme_shows_it(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(caddy) = caddy_binary() else {
        missing_tool("caddy");
        return;
    };
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let reader = env.create("reader", &["--acl", "read"]);
    let deployer = env.create("deployer", &["--acl", "deploy,read"]);
    let wrong = forge(id_part(&reader), &"w".repeat(30));
    let server = Server::start(&env, &["--trust-proxy", "127.0.0.1"]);
    let proxy = Caddy::start(&caddy, &env.dir.path().join("caddy"), server.addr);
    let log = || std::fs::read_to_string(proxy.dir.join("caddy.log")).unwrap_or_default();

    // The page's own query string reaches the service, not serve (where
    // `page` would be an unknown key, 400, and `acl` a privilege).
    for query in ["page=2", "acl=admin"] {
        let r = proxy.get(&format!("/page?{query}"), Some(&reader));
        assert_eq!(r.status, 200, "{query}: {r:?}\n{}", log());
        assert_eq!(
            r.body,
            format!("backend /page?{query} account=alice token=reader"),
            "{r:?}"
        );
    }

    for token in [None, Some("junk"), Some(wrong.as_str())] {
        let r = proxy.get("/page?page=2", token);
        assert_eq!(r.status, 401, "{token:?}: {r:?}");
        // Caddy passes the endpoint's challenge on.
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{r:?}");
        assert!(!r.body.contains("backend"), "{r:?}");
    }

    // `uri /verify?acl=deploy`: the privilege is enforced, whatever the
    // client's query says.
    for target in ["/deploy/x", "/deploy/x?acl=read"] {
        let r = proxy.get(target, Some(&reader));
        assert_eq!(r.status, 403, "{target}: {r:?}");
        assert!(!r.body.contains("backend"), "{r:?}");
    }
    let r = proxy.get("/deploy/x?page=2", Some(&deployer));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body, "backend /deploy/x?page=2 account=alice token=deployer",
        "{r:?}"
    );

    // Every request above went through Caddy to serve, from loopback, and
    // none was a 400.
    let lines = server.wait_request_lines(8);
    assert!(
        lines
            .iter()
            .all(|l| l.split_whitespace().nth(1) == Some("127.0.0.1")
                && l.split_whitespace().nth(4) != Some("400")),
        "{lines:#?}"
    );
    proxy.stop();
}
