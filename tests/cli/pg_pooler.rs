//! tokenctl behind a connection pooler: PgBouncer in session mode in front
//! of the throwaway cluster, as README "Many servers" describes. Each
//! command is one client session of the pooler, and the server connection
//! behind it is handed from one command to the next, reset (`DISCARD
//! ALL`) but not closed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::common::pg::{self, Server as PgServer};
use crate::common::{TestEnv, missing_tool, skipped};
use crate::interactive::Pty;
use crate::serve::{Server, assert_401, assert_ok};

/// The pooler's port: only its socket's name (`.s.PGSQL.6432`), in a
/// folder of its own; it listens on no TCP address.
const PORT: u16 = 6432;

/// The password PgBouncer asks for when its settings say so.
const PASSWORD: &str = "correct-horse";

/// Session mode, every client trusted.
const TRUSTING: &str = "pool_mode = session\nauth_type = trust\n";

/// Session mode, `PASSWORD` asked for (SCRAM).
const ASKING: &str = "pool_mode = session\nauth_type = scram-sha-256\n";

/// Transaction mode on one server connection, which every client's
/// transactions then take in turn: the mode README "Many servers" rules
/// out, made deterministic.
const TRANSACTION_MODE: &str =
    "pool_mode = transaction\nauth_type = trust\ndefault_pool_size = 1\n";

/// A PgBouncer in a temp folder of its own, passing
/// every database of the cluster through as the same user.
struct Bouncer {
    dir: TempDir,
    child: Child,
}

impl Bouncer {
    /// Starts one with `settings` (its pool mode and authentication, see
    /// `TRUSTING` and the like) once its socket is there; `None` when the
    /// test is skipped (PostgreSQL or PgBouncer not installed, which fails
    /// on CI, or an existing server, which PgBouncer here does not front).
    fn start(settings: &str) -> Option<Bouncer> {
        let cluster = match pg::server()? {
            PgServer::Throwaway(cluster) => cluster,
            PgServer::Existing { .. } => {
                skipped(&format!(
                    "fronts the throwaway cluster only ({} is set)",
                    pg::URL_VAR
                ));
                return None;
            }
        };
        let Some(bin) = pgbouncer_bin() else {
            missing_tool("pgbouncer");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("tokenctl-bouncer-")
            .tempdir()
            .expect("temp dir");
        let ini = dir.path().join("pgbouncer.ini");
        let users = dir.path().join("users.txt");
        std::fs::write(&users, format!("\"{}\" \"{PASSWORD}\"\n", pg::SUPERUSER))
            .expect("write users");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 * = host={cluster}\n\
                 [pgbouncer]\n\
                 listen_addr =\n\
                 listen_port = {PORT}\n\
                 unix_socket_dir = {dir}\n\
                 auth_file = {users}\n\
                 {settings}",
                cluster = cluster.dir.display(),
                dir = dir.path().display(),
                users = users.display(),
            ),
        )
        .expect("write pgbouncer.ini");
        let as_root = unsafe { libc::geteuid() } == 0;
        if as_root {
            // PgBouncer, like PostgreSQL, refuses to run as root.
            pg::give_to_server_user(dir.path()).expect("folder for the pooler");
        }
        let log = dir.path().join("pgbouncer.log");
        let mut cmd = Command::new("setpriv");
        if as_root {
            cmd.args(["--reuid", &cluster.os_user, "--regid", &cluster.os_user]);
            cmd.arg("--init-groups");
        }
        // Gone with the test, however it ends.
        cmd.args(["--pdeathsig", "KILL"])
            .arg(&bin)
            .arg(&ini)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(File::create(&log).expect("pooler log"))
            .stderr(Stdio::from(
                File::options().append(true).open(&log).expect("pooler log"),
            ));
        let mut child = cmd.spawn().expect("start pgbouncer");
        let socket = dir.path().join(format!(".s.PGSQL.{PORT}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !socket.exists() {
            let gone = child.try_wait().expect("pgbouncer status").is_some();
            assert!(
                !gone && Instant::now() < deadline,
                "pgbouncer did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(20));
        }
        Some(Bouncer { dir, child })
    }

    /// The URL of `database` through the pooler.
    fn url(&self, database: &str) -> PathBuf {
        PathBuf::from(format!(
            "postgres://{}@/{database}?host={}&port={PORT}",
            pg::SUPERUSER,
            self.dir.path().display()
        ))
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pgbouncer_bin() -> Option<PathBuf> {
    let known = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file());
    if let Some(path) = known {
        return Some(path.to_path_buf());
    }
    let out = Command::new("sh")
        .args(["-c", "command -v pgbouncer"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
}

/// A PostgreSQL test environment whose commands go through a new pooler.
fn pooled(settings: &str) -> Option<(TestEnv, Bouncer)> {
    let mut env = TestEnv::postgres()?;
    let bouncer = Bouncer::start(settings)?;
    env.db = bouncer.url(&env.pg.as_ref().expect("a PostgreSQL store").name);
    Some((env, bouncer))
}

/// The server processes connected to the test's database, read on the
/// cluster directly (not through the pooler).
fn backends(env: &TestEnv) -> Vec<String> {
    let pg = env.pg.as_ref().expect("a PostgreSQL store");
    let out = pg.psql(&format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid() \
         AND backend_type = 'client backend' ORDER BY pid",
        pg.name
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn commands_through_a_pooler_share_one_server_connection() {
    let Some((env, _bouncer)) = pooled(TRUSTING) else {
        return;
    };
    let token = env.create("ci", &["--acl", "deploy"]);
    let first = backends(&env);
    assert_eq!(first.len(), 1, "{first:?}");

    env.create("nightly", &[]);
    assert!(env.verify(&token, &["--acl", "deploy"]).status.success());
    env.ok(&["token", "edit", "ci", "--note", "through the pooler"]);
    // A refused command, then the next ones on the same reused connection.
    env.fails(&["token", "create", "ci"], 4);
    env.fails(&["token", "revoke", "missing", "--yes"], 3);
    env.ok(&["token", "revoke", "ci", "--yes"]);
    assert_eq!(env.verify(&token, &[]).status.code(), Some(5));
    let listed = env.json(&["token", "list", "--all"]);
    let states: Vec<_> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("ci", "revoked"), ("nightly", "active")]);
    env.ok(&["token", "revoke-all", "--yes"]);
    let audit = env.json(&["audit"]);
    let actions: Vec<_> = audit
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "account-add",
            "create",
            "create",
            "edit",
            "revoke",
            "revoke"
        ],
        "{audit:#}"
    );

    // Every command ended its session cleanly, so the pooler kept the
    // one server connection: none was opened for each command.
    assert_eq!(backends(&env), first);
}

#[test]
fn serve_through_a_pooler_refuses_a_token_revoked_through_it() {
    let Some((env, _bouncer)) = pooled(TRUSTING) else {
        return;
    };
    let token = env.create("ci", &[]);
    let server = Server::start(&env, &[]);
    assert_ok(&server.bearer("/verify", &token), "alice", "ci", &token);
    env.ok(&["token", "revoke", "ci", "--yes"]);
    assert_401(&server.bearer("/verify", &token));
    assert_eq!(server.get("/healthz", None).status, 200);
}

#[test]
fn a_password_the_pooler_refuses_is_one_line_naming_where_it_came_from() {
    const RIGHT: &str = PASSWORD;
    const WRONG: &str = "battery-staple";
    let Some((env, _bouncer)) = pooled(ASKING) else {
        return;
    };
    let created = env
        .cmd(&["token", "create", "ci"])
        .env("PGPASSWORD", RIGHT)
        .output()
        .expect("run tokenctl");
    assert!(created.status.success(), "{created:?}");

    let out = env
        .cmd(&["token", "list"])
        .env("PGPASSWORD", WRONG)
        .output()
        .expect("run tokenctl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("error: cannot connect to the store postgres://postgres@/"),
        "{stderr}"
    );
    assert_eq!(lines[1], "hint: check the password in PGPASSWORD");
    assert!(
        !stderr.contains(WRONG) && !stderr.contains(RIGHT),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// Two stores in one database (`?schema=a`, `?schema=b`), each with a
/// token `ci`, and a pooler in transaction mode in front: the test's
/// environment points at store `a` through the pooler; returns it, the
/// pooler, the URL of store `b` through the pooler, and each store's
/// token.
fn two_stores_in_transaction_mode() -> Option<(TestEnv, Bouncer, PathBuf, String, String)> {
    let mut env = TestEnv::postgres()?;
    let bouncer = Bouncer::start(TRANSACTION_MODE)?;
    let pg = env.pg.as_ref().expect("a PostgreSQL store");
    let (direct, name) = (pg.url.clone(), pg.name.clone());
    let with_schema =
        |url: &Path, schema: &str| PathBuf::from(format!("{}&schema={schema}", url.display()));
    // Made directly, not through the pooler.
    env.db = with_schema(Path::new(&direct), "b");
    let token_b = env.create("ci", &[]);
    env.db = with_schema(Path::new(&direct), "a");
    let token_a = env.create("ci", &[]);
    let pooled = bouncer.url(&name);
    env.db = with_schema(&pooled, "a");
    Some((env, bouncer, with_schema(&pooled, "b"), token_a, token_b))
}

/// What `tokenctl token list` says of store `db`'s tokens: (id, status).
fn listed(env: &TestEnv, db: &Path) -> Vec<(String, String)> {
    let out = env
        .cmd(&["token", "list", "--all", "-o", "json"])
        .env("TOKENCTL_DB", db)
        .output()
        .expect("run tokenctl");
    assert!(out.status.success(), "{out:?}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    list.as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().into(),
                t["status"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// In transaction mode, a command's statements after the first may reach
/// a server connection another client set up for its own store. Here
/// store `b`'s command runs while `a`'s waits at its prompt, on the one
/// server connection: `a`'s next statements would read and change store
/// `b`. They are refused instead.
#[test]
fn a_pooler_in_transaction_mode_is_refused_rather_than_reaching_another_store() {
    let Some((env, _bouncer, store_b, token_a, token_b)) = two_stores_in_transaction_mode() else {
        return;
    };
    let direct_b = PathBuf::from(format!("{}&schema=b", env.pg.as_ref().unwrap().url));
    let direct_a = PathBuf::from(format!("{}&schema=a", env.pg.as_ref().unwrap().url));
    let before = (listed(&env, &direct_a), listed(&env, &direct_b));

    // verify on store a, given store b's token.
    let mut pty = Pty::spawn(&env, &["token", "verify"]);
    pty.expect("Token");
    listed(&env, &store_b);
    pty.send(&format!("{token_b}\r"));
    let (code, seen) = pty.finish();
    assert_eq!(code, 1, "{seen}");
    assert!(
        seen.contains("a statement reached a connection set up for schema \"b\""),
        "{seen}"
    );
    assert!(seen.contains("pool_mode = session"), "{seen}");

    // revoke on store a, after its confirmation.
    let mut pty = Pty::spawn(&env, &["token", "revoke", "ci"]);
    pty.expect("Revoke 1 token (ci)?");
    listed(&env, &store_b);
    pty.send("y\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 1, "{seen}");
    assert!(seen.contains("nothing was changed"), "{seen}");

    // Nothing changed in either store, and each token still works on its own.
    assert_eq!((listed(&env, &direct_a), listed(&env, &direct_b)), before);
    for (db, token) in [(&direct_a, &token_a), (&direct_b, &token_b)] {
        let out = env
            .cmd(&["token", "verify"])
            .env("TOKENCTL_DB", db)
            .write_stdin(format!("{token}\n"))
            .output()
            .expect("run tokenctl");
        assert!(out.status.success(), "{out:?}");
    }
}
