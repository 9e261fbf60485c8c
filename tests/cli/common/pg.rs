//! PostgreSQL for the tests that run on it: one throwaway cluster per test
//! process, started on first use from the system's server binaries
//! (`/usr/lib/postgresql/VERSION/bin`), or the existing server that
//! `TOKENCTL_TEST_PG_URL` names; either way each test gets a new database
//! of its own and a `postgres://` URL for `--db`/`TOKENCTL_DB`.
//!
//! The cluster listens on a Unix socket in its temp folder only, trusts
//! every local connection, and runs as `postgres` when the suite runs as
//! root (PostgreSQL refuses to run as root). It goes away with the test
//! process however that ends: a small shell supervisor holds a pipe from
//! the test process, and end of file on it (the process is gone) makes it
//! stop the server and remove the folder.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::common::missing_tool;

/// A URL of an existing server to use instead of a throwaway cluster. It
/// must hold everything needed to connect (password included), as tests
/// run their commands with a cleared environment.
pub const URL_VAR: &str = "TOKENCTL_TEST_PG_URL";

/// The throwaway cluster's superuser; trusted over the socket, so the
/// URLs carry no password.
pub const SUPERUSER: &str = "postgres";

/// The OS user the cluster runs as when the suite runs as root.
const SERVER_OS_USER: &str = "postgres";

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the server in the background with its output in the log, prints
/// its pid, then waits for end of file on stdin: the test process holds
/// the other end, which closes when that process ends, however it ends.
/// Immediate shutdown (SIGQUIT) is enough for data that is thrown away.
const SUPERVISOR: &str = r#"
dir=$1 log=$2
shift 2
"$@" </dev/null >>"$log" 2>&1 &
pid=$!
echo "$pid"
exec >/dev/null
cat >/dev/null
kill -QUIT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir"
"#;

/// Where the tests' databases are made.
pub enum Server {
    Throwaway(Cluster),
    /// The server `TOKENCTL_TEST_PG_URL` names; the URL it gave is the
    /// one new databases are created through.
    Existing {
        admin_url: String,
        psql: PathBuf,
    },
}

/// A cluster this test process started.
pub struct Cluster {
    /// The temp folder: the socket, `data/` and `server.log`.
    pub dir: PathBuf,
    pub data: PathBuf,
    pub log: PathBuf,
    /// The OS user the server runs as.
    pub os_user: String,
    /// From creating the folder to accepting connections.
    pub started_in: Duration,
    psql: PathBuf,
    /// Never dropped (it lives in a static): its stdin is the pipe whose
    /// end stops the cluster.
    _supervisor: Child,
}

/// One test's database; dropped from an existing server when the test
/// ends (a throwaway cluster goes away whole).
pub struct Database {
    pub name: String,
    /// `postgres://USER@/NAME?host=SOCKET_DIR` on the throwaway cluster.
    pub url: String,
    pub created_in: Duration,
    server: &'static Server,
}

enum State {
    Ready(Server),
    Missing(&'static str),
    Failed(String),
}

/// A new database for the calling test, or `None` when PostgreSQL is not
/// installed and the test is skipped (on CI that fails the test instead,
/// see `missing_tool`).
pub fn database() -> Option<Database> {
    server().map(Server::create_database)
}

/// The server of this test process, started on first use; `None` as for
/// `database`. A server that is installed but fails to start fails every
/// test that asks for it, with the reason.
pub fn server() -> Option<&'static Server> {
    static STATE: OnceLock<State> = OnceLock::new();
    match STATE.get_or_init(start) {
        State::Ready(server) => Some(server),
        State::Missing(what) => {
            missing_tool(what);
            None
        }
        State::Failed(why) => panic!("PostgreSQL for the tests: {why}"),
    }
}

/// `psql` with `sql` on `url`: no psqlrc, unaligned bare rows, stop on
/// the first error; the environment cleared so only the URL counts.
pub fn psql(psql: &Path, url: &str, sql: &str) -> Output {
    Command::new(psql)
        .env_clear()
        .env("PGCONNECT_TIMEOUT", "10")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
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

impl Server {
    pub fn psql_bin(&self) -> &Path {
        match self {
            Server::Throwaway(cluster) => cluster.psql_bin(),
            Server::Existing { psql, .. } => psql,
        }
    }

    /// A URL of the server's maintenance database, to create others.
    fn admin_url(&self) -> String {
        match self {
            Server::Throwaway(cluster) => cluster.url("postgres"),
            Server::Existing { admin_url, .. } => admin_url.clone(),
        }
    }

    fn create_database(&'static self) -> Database {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // The time keeps names apart across runs on an existing server,
        // where a killed run may have left its databases behind.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let name = format!(
            "tokenctl_test_{now}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let started = Instant::now();
        let out = psql(
            self.psql_bin(),
            &self.admin_url(),
            &format!("CREATE DATABASE \"{name}\""),
        );
        assert!(
            out.status.success(),
            "CREATE DATABASE {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = match self {
            Server::Throwaway(cluster) => cluster.url(&name),
            Server::Existing { admin_url, .. } => with_database(admin_url, &name),
        };
        Database {
            name,
            url,
            created_in: started.elapsed(),
            server: self,
        }
    }
}

impl Database {
    /// `psql` with `sql` on this database.
    pub fn psql(&self, sql: &str) -> Output {
        psql(self.server.psql_bin(), &self.url, sql)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Server::Existing {
            admin_url,
            psql: bin,
        } = self.server
        {
            let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
            let _ = psql(bin, admin_url, &sql);
        }
    }
}

impl Cluster {
    /// The URL of database `name`: the superuser over the socket, no
    /// password.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@/{name}?host={}", self.dir.display())
    }

    pub fn psql_bin(&self) -> &Path {
        &self.psql
    }

    /// The server's process id, from its lock file.
    pub fn pid(&self) -> u32 {
        let lock =
            std::fs::read_to_string(self.data.join("postmaster.pid")).expect("read postmaster.pid");
        lock.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("pid in postmaster.pid")
    }
}

/// `url` with its database replaced by `name`, the rest (user, password,
/// host, parameters) kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let authority = path.split_once('/').map_or(path, |(a, _)| a);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

fn start() -> State {
    if let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) {
        return existing(url);
    }
    let Some(bin) = server_bin_dir() else {
        return State::Missing("PostgreSQL (initdb and postgres under /usr/lib/postgresql/*/bin)");
    };
    match start_cluster(&bin) {
        Ok(cluster) => State::Ready(Server::Throwaway(cluster)),
        Err(why) => State::Failed(why),
    }
}

fn existing(admin_url: String) -> State {
    let Some(psql_bin) = client_bin() else {
        return State::Missing("psql");
    };
    let out = psql(&psql_bin, &admin_url, "SELECT 1");
    if !out.status.success() {
        // The URL may hold a password: it is not repeated here.
        return State::Failed(format!(
            "cannot connect to the server {URL_VAR} names: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    State::Ready(Server::Existing {
        admin_url,
        psql: psql_bin,
    })
}

/// The `bin` folder of the newest PostgreSQL with server binaries.
fn server_bin_dir() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            let complete = ["initdb", "postgres", "psql", "pg_isready"]
                .iter()
                .all(|b| bin.join(b).is_file());
            complete.then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

/// `psql` for an existing server: the newest installed, else PATH's.
fn client_bin() -> Option<PathBuf> {
    if let Some(bin) = server_bin_dir() {
        return Some(bin.join("psql"));
    }
    let out = Command::new("sh")
        .args(["-c", "command -v psql"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
}

fn start_cluster(bin: &Path) -> Result<Cluster, String> {
    let started = Instant::now();
    let as_root = unsafe { libc::geteuid() } == 0;
    let dir = tempfile::Builder::new()
        .prefix("tokenctl-pg-")
        .tempdir()
        .map_err(|e| format!("temp folder: {e}"))?
        .keep();
    let cluster = (|| {
        // The URL names the socket folder as it is; keep it plain.
        let plain = dir.to_str().is_some_and(|d| {
            d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        });
        if !plain {
            return Err(format!(
                "temp folder {} has unusual characters",
                dir.display()
            ));
        }
        let os_user = if as_root {
            give_to_server_user(&dir)?;
            SERVER_OS_USER.to_string()
        } else {
            current_user()?
        };
        let data = dir.join("data");
        let log = dir.join("server.log");
        initdb(bin, &dir, &data, as_root)?;
        let supervisor = run_server(bin, &dir, &data, &log, as_root)?;
        Ok(Cluster {
            dir: dir.clone(),
            data,
            log,
            os_user,
            started_in: Duration::ZERO,
            psql: bin.join("psql"),
            _supervisor: supervisor,
        })
    })();
    match cluster {
        Ok(mut cluster) => {
            cluster.started_in = started.elapsed();
            Ok(cluster)
        }
        Err(why) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(why)
        }
    }
}

/// Runs `program` as the server's OS user: `postgres` when the suite runs
/// as root, the current user otherwise. `extra` goes to `setpriv`.
fn as_server_user(program: &Path, as_root: bool, extra: &[&str]) -> Command {
    let mut setpriv: Vec<&str> = Vec::new();
    if as_root {
        setpriv.extend([
            "--reuid",
            SERVER_OS_USER,
            "--regid",
            SERVER_OS_USER,
            "--init-groups",
        ]);
    }
    setpriv.extend(extra);
    let mut cmd = if setpriv.is_empty() {
        Command::new(program)
    } else {
        let mut cmd = Command::new("setpriv");
        cmd.args(setpriv).arg(program);
        cmd
    };
    cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    cmd
}

fn give_to_server_user(dir: &Path) -> Result<(), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, SERVER_OS_USER])
            .output()
            .map_err(|e| format!("id: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("the suite runs as root and there is no {SERVER_OS_USER} user to run PostgreSQL as"))
    };
    std::os::unix::fs::chown(dir, Some(id("-u")?), Some(id("-g")?))
        .map_err(|e| format!("chown {}: {e}", dir.display()))
}

fn current_user() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("id -un: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn initdb(bin: &Path, dir: &Path, data: &Path, as_root: bool) -> Result<(), String> {
    // --no-sync only skips flushing the new files at the end: the server
    // itself keeps its default durability settings. The C locale sorts
    // bytewise, as SQLite does.
    let out = as_server_user(&bin.join("initdb"), as_root, &[])
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ])
        .args(["--no-sync", "--no-instructions"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Starts the server under the supervisor and waits until it accepts
/// connections.
fn run_server(
    bin: &Path,
    dir: &Path,
    data: &Path,
    log: &Path,
    as_root: bool,
) -> Result<Child, String> {
    // Should the supervisor itself be killed, the server goes too.
    let server = as_server_user(&bin.join("postgres"), as_root, &["--pdeathsig", "QUIT"]);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", SUPERVISOR, "sh"])
        .arg(dir)
        .arg(log)
        .arg(server.get_program())
        .args(server.get_args())
        .arg("-D")
        .arg(data)
        .arg("-k")
        .arg(dir)
        .args([
            "-c",
            "listen_addresses=",
            "-c",
            "unix_socket_permissions=0700",
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // Its own process group: a Ctrl-C at the terminal stops the tests,
    // whose end then stops the server in order.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut supervisor = cmd.spawn().map_err(|e| format!("start postgres: {e}"))?;
    let mut line = String::new();
    BufReader::new(supervisor.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .map_err(|e| format!("read the server's pid: {e}"))?;
    let pid: u32 = line
        .trim()
        .parse()
        .map_err(|_| format!("no pid from the supervisor: {line:?}"))?;

    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .env_clear()
            .arg("-q")
            .arg("-h")
            .arg(dir)
            .args(["-U", SUPERUSER, "-d", "postgres"])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(supervisor);
        }
        if !alive(pid) || Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("the server did not start:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` runs (a zombie has ended).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}
