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

/// Makes the cluster, runs its server in the background and prints
/// `ready` once it accepts connections (or why not), then waits for end of
/// file on stdin: the test process holds the other end, which closes when
/// that process ends, however it ends. Then it stops the server (immediate
/// shutdown is enough for data that is thrown away) and removes the
/// folder. Arguments: the folder, the server binaries' folder, the
/// superuser, then `setpriv` with what runs a program as the server's OS
/// user.
///
/// Stopping only a server that is ready means its signal handlers are set:
/// sh starts background commands with SIGQUIT ignored (`env` resets it for
/// the server, but the instant before that would lose a stop). A test
/// process gone before it reads `ready` must not kill this script with
/// SIGPIPE.
///
/// `initdb --no-sync` only skips flushing the new files once: the server
/// keeps its default durability settings. The C locale sorts bytewise, as
/// SQLite does.
const SUPERVISOR: &str = r#"
trap '' PIPE
dir=$1 bin=$2 superuser=$3
shift 3
log=$dir/server.log
if "$@" "$bin/initdb" -D "$dir/data" -U "$superuser" --auth=trust \
    --encoding=UTF8 --locale=C --no-sync --no-instructions \
    </dev/null >"$log" 2>&1
then
  "$@" --pdeathsig QUIT env --default-signal=INT,QUIT "$bin/postgres" \
    -D "$dir/data" -k "$dir" \
    -c listen_addresses= -c unix_socket_permissions=0700 \
    </dev/null >>"$log" 2>&1 &
  pid=$!
  status="the server did not start"
  # Up to about a minute, for a loaded machine.
  tries=0
  while [ "$tries" -lt 3000 ] && kill -0 "$pid" 2>/dev/null; do
    if "$bin/pg_isready" -q -h "$dir" -U "$superuser" -d postgres; then
      status=ready
      break
    fi
    tries=$((tries + 1))
    sleep 0.02
  done
  echo "$status"
else
  echo "initdb failed"
fi
exec >/dev/null
cat >/dev/null
kill -QUIT "$pid" 2>/dev/null && wait "$pid"
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
    let os_user = if as_root {
        give_to_server_user(&dir).map(|()| SERVER_OS_USER.to_string())
    } else {
        current_user()
    };
    let supervisor = os_user.and_then(|os_user| Ok((os_user, run_server(bin, &dir, as_root)?)));
    let (os_user, supervisor) = match supervisor {
        Ok(started) => started,
        Err(why) => {
            // The supervisor, if any, is gone with the folder already.
            let _ = std::fs::remove_dir_all(&dir);
            return Err(why);
        }
    };
    Ok(Cluster {
        data: dir.join("data"),
        log: dir.join("server.log"),
        dir,
        os_user,
        started_in: started.elapsed(),
        psql: bin.join("psql"),
        _supervisor: supervisor,
    })
}

/// Hands `dir` to the OS user the cluster runs as (when the suite runs as
/// root), so that its server programs can use it.
pub fn give_to_server_user(dir: &Path) -> Result<(), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, SERVER_OS_USER])
            .output()
            .map_err(|e| format!("id: {e}"))?;
        String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|_| {
            format!("the suite runs as root and there is no {SERVER_OS_USER} user to run PostgreSQL as")
        })
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

/// Makes and starts the cluster under the supervisor and waits until it
/// accepts connections. On failure the supervisor is dropped, which ends
/// it and the folder.
fn run_server(bin: &Path, dir: &Path, as_root: bool) -> Result<Child, String> {
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
    let mut cmd = Command::new("sh");
    cmd.args(["-c", SUPERVISOR, "sh"])
        .arg(dir)
        .arg(bin)
        .arg(SUPERUSER)
        .arg("setpriv");
    if as_root {
        // PostgreSQL refuses to run as root.
        cmd.args([
            "--reuid",
            SERVER_OS_USER,
            "--regid",
            SERVER_OS_USER,
            "--init-groups",
        ]);
    }
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // Its own process group: a Ctrl-C at the terminal stops the tests,
    // whose end then stops the server in order.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut supervisor = cmd.spawn().map_err(|e| format!("start sh: {e}"))?;
    let mut line = String::new();
    BufReader::new(supervisor.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .map_err(|e| format!("wait for the server: {e}"))?;
    if line.trim() == "ready" {
        return Ok(supervisor);
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    Err(format!("{}:\n{log}", line.trim()))
}
