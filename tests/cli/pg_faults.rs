//! Faults of a PostgreSQL store that a SQLite file does not have: a wrong
//! password, a role that may only read, a server that takes no writes (a
//! standby or `default_transaction_read_only`), and a server that does not
//! answer while a shell completes a name. Each is one `error:` line (and
//! maybe a `hint:`), exit 1, nothing changed, no password shown; reads
//! keep working where the server lets them; completion offers nothing
//! rather than waiting.
//!
//! The standby is a real one, streaming from the test cluster. The
//! server down then back, a schema of another program and a newer schema
//! are in `pg_serve.rs` and `pg_store.rs`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::pg::{self, Cluster, Server};
use crate::common::{BIN, TestEnv, path_str};

/// A role that must give its password over the socket.
const PW_ROLE: &str = "tokenctl_pw";
const PASSWORD: &str = "C0rrect-h0rse-7";
const WRONG: &str = "Wr0ng-batt3ry-9";
/// A role trusted over the socket, given only read rights by the tests.
const RO_ROLE: &str = "tokenctl_ro";

/// The throwaway cluster, whose access rules the tests may change; `None`
/// (skipped, with a note) on an existing server, whose roles and rules
/// are its owner's.
fn cluster() -> Option<&'static Cluster> {
    match pg::server()? {
        Server::Throwaway(cluster) => Some(cluster),
        Server::Existing { .. } => {
            crate::common::skipped(&format!(
                "needs the throwaway cluster (unset {})",
                pg::URL_VAR
            ));
            None
        }
    }
}

/// `psql` as `url` says, never asking for a password.
fn psql_w(cluster: &Cluster, url: &str, sql: &str) -> Output {
    Command::new(cluster.psql_bin())
        .env_clear()
        .env("PGPASSFILE", "/dev/null")
        .args([
            "-X",
            "-w",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run psql")
}

fn admin(cluster: &Cluster, sql: &str) {
    let out = psql_w(cluster, &cluster.url("postgres"), sql);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes the two roles, once per cluster. `PW_ROLE` gets an access rule
/// of its own (scram-sha-256) before the cluster's `trust` for everyone,
/// which the superuser keeps.
fn roles(cluster: &'static Cluster) {
    static MADE: OnceLock<()> = OnceLock::new();
    MADE.get_or_init(|| {
        admin(
            cluster,
            &format!(
                "CREATE ROLE {PW_ROLE} LOGIN PASSWORD '{PASSWORD}'; CREATE ROLE {RO_ROLE} LOGIN"
            ),
        );
        let hba = cluster.data.join("pg_hba.conf");
        let rules = fs::read_to_string(&hba).expect("read pg_hba.conf");
        fs::write(&hba, format!("local all {PW_ROLE} scram-sha-256\n{rules}"))
            .expect("write pg_hba.conf");
        admin(cluster, "SELECT pg_reload_conf()");
        // The server reloads the rules when it gets to the signal.
        let without_password = role_url(&cluster.url("postgres"), PW_ROLE, None);
        let started = Instant::now();
        while psql_w(cluster, &without_password, "SELECT 1")
            .status
            .success()
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the new access rule never took effect"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

/// `url` (the superuser's, `postgres://postgres@/...`) as `role`, with
/// `password` in it if given.
fn role_url(url: &str, role: &str, password: Option<&str>) -> String {
    let user = match password {
        Some(password) => format!("{role}:{password}@"),
        None => format!("{role}@"),
    };
    let url_as = url.replacen(&format!("{}@", pg::SUPERUSER), &user, 1);
    assert_ne!(url_as, url, "a URL with the superuser in it");
    url_as
}

/// `env` with its database, and the cluster; `None` when skipped.
fn pg_env() -> Option<(TestEnv, &'static Cluster)> {
    let env = TestEnv::postgres()?;
    let cluster = cluster()?;
    roles(cluster);
    Some((env, cluster))
}

/// Exit 1, nothing on stdout, one `error:` line that starts with
/// `starts` and contains `mentions`, at most a `hint:` after it, and no
/// password anywhere.
fn assert_one_error(out: &Output, what: &str, starts: &str, mentions: &[&str]) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stdout}{stderr}");
    assert!(stdout.is_empty(), "{what}: stdout: {stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        !lines.is_empty()
            && lines.len() <= 2
            && lines.get(1).is_none_or(|l| l.starts_with("hint: ")),
        "{what}: not one error and a hint: {stderr}"
    );
    assert!(lines[0].starts_with(starts), "{what}: {stderr}");
    for m in mentions {
        assert!(lines[0].contains(m), "{what}: {m:?} not in {stderr}");
    }
    for secret in [PASSWORD, WRONG] {
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "{what}: {stderr}"
        );
    }
}

// ----------------------------------------------------------- passwords

#[test]
fn a_wrong_password_is_one_line_exit_1_and_never_shown() {
    let Some((env, _)) = pg_env() else {
        return;
    };
    let db = env.pg.as_ref().unwrap();
    let owned = db.psql(&format!(
        "ALTER DATABASE \"{}\" OWNER TO {PW_ROLE}",
        db.name
    ));
    assert!(owned.status.success());
    let url = path_str(&env.db).to_string();
    let bare = role_url(&url, PW_ROLE, None);
    let starts = format!(
        "error: cannot connect to the store {}",
        bare.split('?').next().unwrap()
    );
    let pgpass = env.dir.path().join("pgpass");
    let write_pgpass = |path: &std::path::Path, password: &str| {
        fs::write(path, format!("*:*:*:{PW_ROLE}:{password}\n")).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_pgpass(&pgpass, WRONG);
    write_pgpass(&env.dir.path().join(".pgpass"), WRONG);
    let wrong_in_url = role_url(&url, PW_ROLE, Some(WRONG));

    // Each way of giving the password, with a write and a read.
    // Each way of giving the password, with a write and a read, and the
    // hint that names where the wrong one came from.
    type Ways<'a> = Vec<(&'a str, Vec<(&'a str, String)>, String)>;
    let home_pgpass = env.dir.path().join(".pgpass");
    let ways: Ways = vec![
        (
            "in the URL",
            vec![("TOKENCTL_DB", wrong_in_url.clone())],
            "check the password in the URL".into(),
        ),
        (
            "in PGPASSWORD",
            vec![("TOKENCTL_DB", bare.clone()), ("PGPASSWORD", WRONG.into())],
            "check the password in PGPASSWORD".into(),
        ),
        (
            "in PGPASSFILE",
            vec![
                ("TOKENCTL_DB", bare.clone()),
                ("PGPASSFILE", path_str(&pgpass).into()),
            ],
            format!("check the password for this server in {}", pgpass.display()),
        ),
        (
            "in ~/.pgpass",
            vec![("TOKENCTL_DB", bare.clone())],
            format!(
                "check the password for this server in {}",
                home_pgpass.display()
            ),
        ),
    ];
    for (how, vars, hint) in &ways {
        for args in [&["token", "create", "ci"][..], &["token", "list"]] {
            let mut cmd = env.std_cmd(args);
            cmd.envs(vars.iter().map(|(k, v)| (k, v)));
            let out = cmd.stdin(Stdio::null()).output().unwrap();
            assert_one_error(
                &out,
                &format!("a wrong password {how}: {args:?}"),
                &starts,
                &["password authentication failed"],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&format!("\nhint: {hint}\n")),
                "{how}: {stderr}"
            );
        }
    }
    // On the command line: the warning about argv, then the same error.
    let out = env
        .std_cmd(&["--db", &wrong_in_url, "token", "list"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains(WRONG), "{stderr}");
    // None at all (no password file either).
    fs::remove_file(&home_pgpass).unwrap();
    let out = env
        .std_cmd(&["token", "list"])
        .env("TOKENCTL_DB", &bare)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_one_error(
        &out,
        "no password",
        &starts,
        &["the server asks for a password and none was given"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("hint: set PGPASSWORD, or add a line for this server to ~/.pgpass"),
        "{stderr}"
    );
    assert!(!env.has_store(), "a refused command created the store");

    // The right password, each way: the store is made once and read.
    let right_in_url = role_url(&url, PW_ROLE, Some(PASSWORD));
    let token = String::from_utf8(
        env.std_cmd(&["token", "create", "ci"])
            .env("TOKENCTL_DB", &right_in_url)
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(token.trim().starts_with("tct_"), "{token}");
    write_pgpass(&pgpass, PASSWORD);
    write_pgpass(&env.dir.path().join(".pgpass"), PASSWORD);
    for (how, vars) in [
        ("PGPASSWORD", vec![("PGPASSWORD", PASSWORD.to_string())]),
        ("PGPASSFILE", vec![("PGPASSFILE", path_str(&pgpass).into())]),
        ("~/.pgpass", vec![]),
    ] {
        let out = env
            .std_cmd(&["token", "list", "-o", "json"])
            .env("TOKENCTL_DB", &bare)
            .envs(vars)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("\"ci\""), "{how}: {stdout}");
        assert!(!stdout.contains(PASSWORD));
    }
}

// ------------------------------------------------- no writes accepted

/// Every write command, with what it acts on in `seeded`.
fn writes(backup: &str) -> Vec<Vec<String>> {
    let all: [&[&str]; 11] = [
        &["token", "create", "new"],
        &["token", "edit", "x", "--note", "n"],
        &["token", "rotate", "x"],
        &["token", "disable", "x", "--yes"],
        &["token", "revoke", "x", "--yes"],
        &["token", "revoke-all", "--yes"],
        &["account", "add", "carol", "--acl", "read"],
        &["account", "edit", "bob", "--acl", "read"],
        &["account", "suspend", "bob", "--yes"],
        &["account", "delete", "bob", "--yes"],
        &["db", "restore", backup, "--yes"],
    ];
    all.iter()
        .map(|args| args.iter().map(|a| a.to_string()).collect())
        .collect()
}

/// A store with a token `x` (returned), an account `bob`, and a backup
/// of it at `backup.db` in the test's folder.
fn seeded(env: &TestEnv) -> String {
    let token = env.create("x", &[]);
    env.ok(&["account", "add", "bob", "--acl", "read,write"]);
    let backup = env.dir.path().join("backup.db");
    env.ok(&["db", "backup", path_str(&backup)]);
    token
}

/// Runs every write against the store at `url` and asserts each is
/// refused as a store that cannot be written, with the PostgreSQL hint;
/// then every read, which works (verify answers and warns that it could
/// not record Last Used); and that nothing changed.
fn writes_refused_reads_work(env: &TestEnv, url: &str, token: &str, engine: &str) {
    let before = env.snapshot();
    let backup = env.dir.path().join("backup.db");
    let at = url.split('?').next().unwrap();
    for args in writes(path_str(&backup)) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env
            .std_cmd(&args)
            .env("TOKENCTL_DB", url)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let what = args.join(" ");
        let starts = if args[0] == "db" {
            format!("error: cannot restore {} into {at}", path_str(&backup))
        } else {
            format!("error: cannot write the store {at}")
        };
        assert_one_error(&out, &what, &starts, &[engine]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                "hint: run it on the primary server, as a role allowed to write the \
                 store's schema and tables"
            ),
            "{what}: {stderr}"
        );
        assert!(!stderr.contains("folder"), "{what}: {stderr}");
    }
    let copy = env.dir.path().join("copy.db");
    let reads: [&[&str]; 7] = [
        &["token", "list"],
        &["token", "show", "x"],
        &["account", "list"],
        &["account", "show", "bob"],
        &["audit"],
        &["db", "check"],
        &["db", "backup", path_str(&copy)],
    ];
    for args in reads {
        let out = env
            .std_cmd(args)
            .env("TOKENCTL_DB", url)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(copy.exists());
    let out = env
        .std_cmd(&["token", "verify"])
        .env("TOKENCTL_DB", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{token}\n").as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify: {stderr}");
    assert!(
        stderr.contains("warning: could not record Last Used"),
        "verify: {stderr}"
    );
    assert_eq!(env.snapshot(), before, "a refused write changed the store");
}

#[test]
fn a_role_that_may_only_read_reads_and_every_write_is_refused() {
    let Some((env, _)) = pg_env() else {
        return;
    };
    let token = seeded(&env);
    let db = env.pg.as_ref().unwrap();
    let granted = db.psql(&format!(
        "GRANT USAGE ON SCHEMA tokenctl TO {RO_ROLE};
         GRANT SELECT ON ALL TABLES IN SCHEMA tokenctl TO {RO_ROLE}"
    ));
    assert!(granted.status.success());
    let url = role_url(path_str(&env.db), RO_ROLE, None);
    writes_refused_reads_work(&env, &url, &token, "permission denied");

    // serve answers from the rows it can read; Last Used, which it cannot
    // write, is a warning, not a refusal.
    let mut cmd = env.std_cmd(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("TOKENCTL_DB", &url);
    let server = crate::serve::Server::start_command(cmd);
    assert_eq!(server.bearer("/verify", &token).status, 200);
    assert_eq!(server.get("/healthz", None).status, 200);
    let started = Instant::now();
    while !server
        .stderr()
        .contains("warning: could not record Last Used: cannot write the store")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!server.stderr().contains("folder"), "{}", server.stderr());
}

#[test]
fn a_server_that_takes_no_writes_reads_and_every_write_is_refused() {
    // A standby refuses writes as a read-only transaction does; its
    // default_transaction_read_only stands in for one here.
    let Some((env, _)) = pg_env() else {
        return;
    };
    let token = seeded(&env);
    let db = env.pg.as_ref().unwrap();
    let set = db.psql(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
        db.name
    ));
    assert!(set.status.success());
    writes_refused_reads_work(&env, path_str(&env.db), &token, "read-only transaction");
}

#[test]
fn a_first_use_on_a_server_that_takes_no_writes_creates_nothing() {
    let Some((env, _)) = pg_env() else {
        return;
    };
    let db = env.pg.as_ref().unwrap();
    let set = db.psql(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
        db.name
    ));
    assert!(set.status.success());
    let at = path_str(&env.db).split('?').next().unwrap().to_string();
    for args in [
        &["token", "create", "ci"][..],
        &["account", "add", "bob", "--acl", "read"],
    ] {
        let out = env.std_cmd(args).stdin(Stdio::null()).output().unwrap();
        assert_one_error(
            &out,
            &args.join(" "),
            &format!("error: cannot write the store {at}"),
            &["read-only transaction"],
        );
    }
    assert!(!env.has_store());
}

// ------------------------------------------------------------- standby

/// A hot standby of the throwaway cluster, streaming from it, in a folder
/// inside the cluster's (which goes away with it); stopped when dropped,
/// or when the test's thread ends however it ends (`--pdeathsig`).
struct Standby {
    server: std::process::Child,
    /// `postgres://postgres@/NAME?host=DIR` of the test's database.
    url: String,
}

impl Standby {
    /// Copies the cluster (`pg_basebackup -R`: the copy follows the
    /// primary) and starts the copy, as the cluster's OS user.
    fn start(cluster: &Cluster, database: &str) -> Standby {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let bin = cluster.psql_bin().parent().unwrap().to_path_buf();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = cluster.dir.join(format!("standby-{n}"));
        fs::create_dir(&dir).unwrap();
        let as_root = unsafe { libc::geteuid() } == 0;
        if as_root {
            let owner = fs::metadata(&cluster.data).unwrap();
            use std::os::unix::fs::MetadataExt;
            std::os::unix::fs::chown(&dir, Some(owner.uid()), Some(owner.gid())).unwrap();
        }
        let as_server = |program: &str| {
            let mut cmd = Command::new("setpriv");
            if as_root {
                cmd.args(["--reuid", &cluster.os_user, "--regid", &cluster.os_user])
                    .arg("--init-groups");
            }
            cmd.arg("--pdeathsig")
                .arg("QUIT")
                .arg(bin.join(program))
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .current_dir(&dir)
                .stdin(Stdio::null());
            cmd
        };
        let data = dir.join("data");
        let out = as_server("pg_basebackup")
            .arg("-D")
            .arg(&data)
            .args([
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
                "-U",
                pg::SUPERUSER,
                "-h",
            ])
            .arg(&cluster.dir)
            .output()
            .expect("run pg_basebackup");
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = fs::File::create(dir.join("server.log")).unwrap();
        let server = as_server("postgres")
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "unix_socket_permissions=0700",
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the standby");
        let standby = Standby {
            server,
            url: format!(
                "postgres://{}@/{database}?host={}",
                pg::SUPERUSER,
                dir.display()
            ),
        };
        let started = Instant::now();
        loop {
            let out = psql_w(cluster, &standby.url, "SELECT pg_is_in_recovery()");
            if out.status.success() {
                assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the standby did not start: {}",
                fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        standby
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        // Immediate shutdown: the copy is thrown away.
        unsafe { libc::kill(self.server.id() as i32, libc::SIGQUIT) };
        let _ = self.server.wait();
    }
}

#[test]
fn a_standby_reads_refuses_every_write_and_serve_refuses_it() {
    let Some((env, cluster)) = pg_env() else {
        return;
    };
    let token = seeded(&env);
    let db = env.pg.as_ref().unwrap();
    let standby = Standby::start(cluster, &db.name);
    writes_refused_reads_work(&env, &standby.url, &token, "read-only transaction");

    let report = check(&env, &standby.url);
    assert_eq!(report["healthy"], true, "{report}");
    assert!(
        warnings(&report).iter().any(|w| w.contains("a standby")),
        "{report}"
    );

    // serve reads the primary's rows only: a standby may lag it.
    let mut cmd = env.std_cmd(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("TOKENCTL_DB", &standby.url);
    let server = crate::serve::Server::start_command(cmd);
    let refused = server.bearer("/verify", &token);
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(server.get("/healthz", None).status, 503);
    assert!(server.stderr().contains("standby"), "{}", server.stderr());
}

// ------------------------------------------------------------ db check

/// `db check` as JSON on `url`: exit 0 (warnings leave the store
/// healthy), and its checks.
fn check(env: &TestEnv, url: &str) -> serde_json::Value {
    let out = env
        .std_cmd(&["db", "check", "-o", "json"])
        .env("TOKENCTL_DB", url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The warnings of a `db check` report.
fn warnings(report: &serde_json::Value) -> Vec<String> {
    let checks = report["checks"].as_array().expect("checks");
    checks
        .iter()
        .filter(|c| c["warning"] == true)
        .map(|c| c["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn check_warns_on_a_server_that_takes_no_writes_and_on_a_role_that_may_only_read() {
    let Some((env, _)) = pg_env() else {
        return;
    };
    seeded(&env);
    let url = path_str(&env.db).to_string();
    let report = check(&env, &url);
    assert_eq!(report["healthy"], true, "{report}");
    assert!(warnings(&report).is_empty(), "{report}");
    let text = env.ok(&["db", "check"]);
    assert!(!text.contains("WARNING"), "{text}");

    let db = env.pg.as_ref().unwrap();
    let granted = db.psql(&format!(
        "GRANT USAGE ON SCHEMA tokenctl TO {RO_ROLE};
         GRANT SELECT ON ALL TABLES IN SCHEMA tokenctl TO {RO_ROLE}"
    ));
    assert!(granted.status.success());
    let reader = role_url(&url, RO_ROLE, None);
    let report = check(&env, &reader);
    assert_eq!(report["healthy"], true, "{report}");
    let found = warnings(&report);
    assert!(
        found
            .iter()
            .any(|w| w.contains(RO_ROLE) && w.contains("cannot write")),
        "{report}"
    );

    let set = db.psql(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
        db.name
    ));
    assert!(set.status.success());
    let report = check(&env, &url);
    assert_eq!(report["healthy"], true, "{report}");
    let found = warnings(&report);
    assert!(
        found
            .iter()
            .any(|w| w.contains("default_transaction_read_only=on")),
        "{report}"
    );
    let text = env.ok(&["db", "check"]);
    assert!(
        text.contains("WARNING") && text.contains("default_transaction_read_only"),
        "{text}"
    );
}

// ---------------------------------------------------------- completion

/// The candidates tokenctl offers for the last of `words` (bash's
/// protocol, as `completions/tokenctl.bash` calls it), its exit status,
/// and how long it took.
fn complete(env: &TestEnv, db: &str, words: &[&str]) -> (Vec<String>, Option<i32>, Duration) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .env_clear()
        .env("HOME", env.dir.path())
        .env("TOKENCTL_DB", db)
        .env("TOKENCTL_USER", "alice")
        .env("TOKENCTL_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(words)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        // Names only: an empty word gets the flags too.
        .filter(|l| !l.is_empty() && !l.starts_with('-'))
        .map(str::to_string)
        .collect();
    names.sort();
    (names, out.status.code(), took)
}

#[test]
fn completion_reads_names_from_postgresql_and_creates_nothing() {
    let Some(env) = TestEnv::postgres() else {
        return;
    };
    let url = path_str(&env.db).to_string();
    // An empty database: nothing offered, and still no store.
    let (names, code, _) = complete(&env, &url, &["tokenctl", "token", "revoke", ""]);
    assert!(names.is_empty(), "{names:?}");
    assert_eq!(code, Some(0));
    let (names, _, _) = complete(&env, &url, &["tokenctl", "account", "show", ""]);
    assert!(names.is_empty(), "{names:?}");
    assert!(!env.has_store(), "completion created the store");

    env.ok(&["account", "add", "bob", "--acl", "read"]);
    env.create("deploy-prod", &[]);
    env.create("deploy-staging", &[]);
    env.create("old", &[]);
    env.ok(&["token", "revoke", "old", "--yes"]);
    env.create("bobs", &["-u", "bob"]);
    let (names, code, _) = complete(&env, &url, &["tokenctl", "token", "revoke", "dep"]);
    assert_eq!(names, ["deploy-prod", "deploy-staging"]);
    assert_eq!(code, Some(0));
    let (names, _, _) = complete(
        &env,
        &url,
        &["tokenctl", "-u", "bob", "token", "rotate", ""],
    );
    assert_eq!(names, ["bobs"]);
    let (names, _, _) = complete(&env, &url, &["tokenctl", "account", "show", ""]);
    assert_eq!(names, ["alice", "bob"]);
    // --db on the line wins over TOKENCTL_DB.
    let elsewhere = path_str(&env.dir.path().join("none.db")).to_string();
    let (names, _, _) = complete(
        &env,
        &elsewhere,
        &["tokenctl", "--db", &url, "token", "show", "d"],
    );
    assert_eq!(names, ["deploy-prod", "deploy-staging"]);
}

#[test]
fn completion_does_not_wait_for_a_server_that_is_down_or_does_not_answer() {
    let env = TestEnv::new();
    let words = ["tokenctl", "token", "revoke", ""];
    // On SQLite, a missing store: nothing, exit 0.
    let missing = path_str(&env.dir.path().join("missing.db")).to_string();
    let (names, sqlite_code, _) = complete(&env, &missing, &words);
    assert!(names.is_empty());
    assert_eq!(sqlite_code, Some(0));

    // No server on the socket folder.
    let down = env.dir.path().join("down");
    fs::create_dir(&down).unwrap();
    let url = format!("postgres://alice@/tokens?host={}", down.display());
    let (names, code, took) = complete(&env, &url, &words);
    assert!(names.is_empty(), "{names:?}");
    assert_eq!(code, sqlite_code);
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A server that accepts the connection and never answers.
    let stuck = env.dir.path().join("stuck");
    fs::create_dir(&stuck).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(stuck.join(".s.PGSQL.5432")).unwrap();
    let url = format!("postgres://alice@/tokens?host={}", stuck.display());
    let (names, code, took) = complete(&env, &url, &words);
    assert!(names.is_empty(), "{names:?}");
    assert_eq!(code, sqlite_code);
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_server_that_never_answers_is_given_up_on_after_connect_timeout() {
    let env = TestEnv::new();
    let stuck = env.dir.path().join("stuck");
    fs::create_dir(&stuck).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(stuck.join(".s.PGSQL.5432")).unwrap();
    let at = format!("postgres://alice@/tokens?host={}", stuck.display());
    let url = format!("{at}&connect_timeout=2");
    for args in [&["token", "list"][..], &["token", "create", "ci"]] {
        let started = Instant::now();
        let out = env
            .std_cmd(args)
            .env("TOKENCTL_DB", &url)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let took = started.elapsed();
        assert_one_error(
            &out,
            &args.join(" "),
            &format!("error: cannot connect to the store {at}"),
            &["no answer within connect_timeout (2 s)"],
        );
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(10),
            "took {took:?}"
        );
    }
}
