//! A real nginx with `auth_request` in front of a static folder, asking
//! `tokenctl serve`: what README tells users to write, checked end to end.
//!
//! nginx comes from the Debian package `nginx` (which has
//! `--with-http_auth_request_module`). Without it the test is skipped with
//! a note, except under CI (env `CI` set), where it fails: CI installs it.

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

fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// The `location`s README shows, with the temp paths and ports filled in.
fn config(dir: &Path, port: u16, serve: SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    default_type text/plain;

    server {{
        listen 127.0.0.1:{port};
        root {d}/www;

        # Any valid token.
        location / {{
            auth_request /_tokenctl;
            auth_request_set $token_account $upstream_http_x_token_account;
            auth_request_set $token_name $upstream_http_x_token_name;
            add_header X-Account $token_account always;
            add_header X-Token $token_name always;
        }}
        # A token with the privilege `deploy`.
        location /deploy/ {{
            auth_request /_tokenctl_deploy;
            auth_request_set $token_account $upstream_http_x_token_account;
            add_header X-Account $token_account always;
        }}

        location = /_tokenctl {{
            internal;
            proxy_pass http://{serve}/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
        location = /_tokenctl_deploy {{
            internal;
            proxy_pass http://{serve}/verify?acl=deploy;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"#
    )
}

/// nginx in the foreground, in its own prefix; killed on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Nginx {
    fn start(binary: &Path, dir: &Path, serve: SocketAddr) -> Nginx {
        for sub in ["tmp", "www/deploy"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("www/index.html"), "hello\n").unwrap();
        std::fs::write(dir.join("www/deploy/index.html"), "deploy\n").unwrap();
        // A free port can be taken between our probe and nginx's bind:
        // try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, config(dir, port, serve)).unwrap();
            let _ = std::fs::remove_file(dir.join("error.log"));
            let mut child = Command::new(binary)
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn nginx");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let mut stderr = String::new();
                    if let Some(mut s) = child.stderr.take() {
                        let _ = s.read_to_string(&mut stderr);
                    }
                    last_error = format!(
                        "nginx exited ({status}): {stderr}\n{}",
                        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
                    );
                    break;
                }
                if TcpStream::connect(addr).is_ok() {
                    return Nginx {
                        child,
                        addr,
                        dir: dir.to_path_buf(),
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("nginx did not listen on {addr}");
                }
                thread::sleep(Duration::from_millis(20));
            }
            if !last_error.contains("Address already in use") {
                break;
            }
        }
        panic!("could not start nginx: {last_error}");
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

    /// SIGQUIT: nginx's graceful stop.
    fn stop(mut self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGQUIT) }, 0);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "nginx did not stop");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[rstest]
fn nginx_auth_request_in_front_of_a_static_folder(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(nginx) = nginx_binary() else {
        missing_tool("nginx");
        return;
    };
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let reader = env.create("reader", &["--acl", "read"]);
    let deployer = env.create("deployer", &["--acl", "deploy,read"]);
    let fenced = env.create("fenced", &["--allow-ip", "203.0.113.0/24"]);
    let wrong = forge(id_part(&reader), &"w".repeat(30));
    let server = Server::start(&env, &["--trust-proxy", "127.0.0.1"]);
    let proxy = Nginx::start(&nginx, &env.dir.path().join("nginx"), server.addr);

    // Files by name: `/` would be answered through an internal redirect to
    // the index, which runs auth_request a second time.
    let r = proxy.get("/index.html", Some(&reader));
    assert_eq!((r.status, r.body.as_str()), (200, "hello\n"), "{r:?}");
    assert_eq!(r.header("x-account"), Some("alice"), "{r:?}");
    assert_eq!(r.header("x-token"), Some("reader"), "{r:?}");
    // The client's query string is not passed to serve (where `page` would
    // be an unknown key: 400), nor can it ask for or drop a privilege.
    let r = proxy.get("/index.html?page=2&acl=admin", Some(&reader));
    assert_eq!((r.status, r.body.as_str()), (200, "hello\n"), "{r:?}");

    for token in [
        None,
        Some("junk"),
        Some(wrong.as_str()),
        Some(fenced.as_str()),
    ] {
        let r = proxy.get("/index.html", token);
        assert_eq!(r.status, 401, "{token:?}: {r:?}");
        // nginx passes the endpoint's challenge on.
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{r:?}");
        assert!(!r.body.contains("hello"));
    }

    let r = proxy.get("/deploy/index.html", Some(&reader));
    assert_eq!(r.status, 403, "{r:?}");
    assert!(!r.body.contains("deploy\n"));
    let r = proxy.get("/deploy/index.html", Some(&deployer));
    assert_eq!((r.status, r.body.as_str()), (200, "deploy\n"), "{r:?}");

    // Revocation through the proxy too, at once.
    env.ok(&["token", "revoke", "deployer", "--yes"]);
    assert_eq!(proxy.get("/deploy/index.html", Some(&deployer)).status, 401);

    // Every request above went through nginx to serve, from loopback
    // (nginx's X-Forwarded-For, believed with --trust-proxy).
    let lines = server.wait_request_lines(9);
    assert!(
        lines
            .iter()
            .all(|l| l.split_whitespace().nth(1) == Some("127.0.0.1")),
        "{lines:#?}"
    );
    let access = std::fs::read_to_string(proxy.dir.join("access.log")).unwrap();
    assert_eq!(access.lines().count(), 9, "{access}");
    assert!(!access.contains(&reader), "nginx logged a token: {access}");
    proxy.stop();
}
