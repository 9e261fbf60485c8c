//! `tokenctl db restore`, and what makes it safe under a running `serve`:
//! serve keeps a few store connections for its whole life (never reopening
//! the store, never holding one per thread), so a restore written into the
//! live store is what it reads next, and no flood makes it hold more.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{TestEnv, path_str, tool};
use crate::interactive::Pty;
use crate::serve::{Server, parse_response};

const WAIT: Duration = Duration::from_secs(30);

/// How many descriptors process `pid` has open on the store's files (the
/// database, its -wal and its -shm).
fn store_fds(pid: u32, db: &Path) -> usize {
    let db = db.canonicalize().expect("the store exists");
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with(&*db.to_string_lossy()))
        .count()
}

fn last_used(env: &TestEnv, name: &str) -> serde_json::Value {
    env.json(&["token", "show", name])["last_used"].clone()
}

/// Waits until serve has written `name`'s Last Used.
fn wait_last_used(env: &TestEnv, name: &str) {
    let deadline = Instant::now() + WAIT;
    while last_used(env, name).is_null() {
        assert!(Instant::now() < deadline, "Last Used was never written");
        thread::sleep(Duration::from_millis(100));
    }
}

// --- serve's store connections ----------------------------------------------

/// Another program reads the store and closes it: Debian's `sqlite3`, as
/// an operator would.
fn outside_read(env: &TestEnv) {
    let out = std::process::Command::new("sqlite3")
        .arg(&env.db)
        .arg("SELECT count(*) FROM tokens")
        .output()
        .expect("run sqlite3");
    assert!(out.status.success(), "sqlite3: {out:?}");
}

#[test]
fn serve_keeps_its_store_locks_across_last_used_writes() {
    if !tool("sqlite3") {
        return;
    }
    // serve used to open the store afresh for every Last Used write, and
    // looking at the file before opening it (open, read, close) dropped
    // every POSIX lock serve held on it. Then any other SQLite program
    // closing its connection believed it was the last user, checkpointed
    // and deleted the -wal and -shm under serve, and serve no longer saw
    // later writes: a revoked token kept working.
    let env = TestEnv::new();
    let a = env.create("a", &[]);
    let mut server = Server::start(&env, &[]);
    assert_eq!(server.bearer("/verify", &a).status, 200);
    wait_last_used(&env, "a");
    // A few more writes of Last Used, one a second.
    for _ in 0..3 {
        assert_eq!(server.bearer("/verify", &a).status, 200);
        thread::sleep(Duration::from_millis(1100));
    }
    // Another program reads the store and closes it.
    outside_read(&env);

    env.ok(&["token", "revoke", "a", "--yes"]);
    assert_eq!(
        server.bearer("/verify", &a).status,
        401,
        "revoked, yet valid"
    );
    let b = env.create("b", &[]);
    assert_eq!(
        server.bearer("/verify", &b).status,
        200,
        "a new token unknown"
    );

    assert!(server.terminate().success(), "{}", server.stderr());
    assert_eq!(
        env.verify(&a, &[]).status.code(),
        Some(5),
        "the revoke was lost"
    );
    assert!(
        env.verify(&b, &[]).status.success(),
        "the new token was lost"
    );
    env.ok(&["db", "check"]);
}

#[test]
fn a_healthz_flood_holds_few_store_descriptors_and_verify_still_answers() {
    // Every /healthz ran its own store probe on a blocking thread, and
    // every such thread opened a connection of its own: 400 at once held
    // hundreds of descriptors on the store.
    const FLOOD: usize = 400;
    const ROUNDS: usize = 3;
    let env = TestEnv::new();
    let token = env.create("web", &[]);
    let server = Server::start(&env, &[]);
    assert_eq!(server.bearer("/verify", &token).status, 200);
    let pid = server.pid();
    let most = Arc::new(AtomicUsize::new(store_fds(pid, &env.db)));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (most, done, db) = (most.clone(), done.clone(), env.db.clone());
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(store_fds(pid, &db), Ordering::SeqCst);
                thread::sleep(Duration::from_millis(2));
            }
        })
    };
    for _ in 0..ROUNDS {
        let mut flood: Vec<TcpStream> = (0..FLOOD)
            .map(|_| {
                let stream = TcpStream::connect(server.addr).expect("connect");
                stream.set_read_timeout(Some(WAIT)).unwrap();
                stream
            })
            .collect();
        for stream in &mut flood {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("send");
        }
        // A valid token is answered while the flood is.
        assert_eq!(server.bearer("/verify", &token).status, 200);
        for mut stream in flood {
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).expect("read the answer");
            assert_eq!(parse_response(&answer).status, 200);
        }
    }
    // Blocking threads outlive their jobs for a while: look a bit longer.
    thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let most = most.load(Ordering::SeqCst);
    assert!(most > 0, "no descriptor on the store was ever seen");
    assert!(
        most <= 16,
        "serve held {most} descriptors on the store under a /healthz flood"
    );
    assert_eq!(server.bearer("/verify", &token).status, 200);
}

// --- db restore ---------------------------------------------------------------

/// A store with token `a`, a backup of it, then token `b` and `a` revoked.
/// Returns a's and b's plaintexts and the backup's path.
fn diverged(env: &TestEnv) -> (String, String, PathBuf) {
    let a = env.create("a", &[]);
    let backup = env.dir.path().join("backup.db");
    env.ok(&["db", "backup", path_str(&backup)]);
    let b = env.create("b", &[]);
    env.ok(&["token", "revoke", "a", "--yes"]);
    (a, b, backup)
}

#[test]
fn restore_with_yes_brings_back_the_backup() {
    let env = TestEnv::new();
    let (a, b, backup) = diverged(&env);
    let before = env.snapshot();
    let backup_env = TestEnv {
        db: backup.clone(),
        ..TestEnv::new()
    };
    let expected = backup_env.snapshot();
    assert_ne!(before, expected);

    let out = env
        .cmd(&["db", "restore", path_str(&backup), "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout.trim(),
        format!("restored {} from {}", env.db.display(), backup.display())
    );
    // The audit trail is the backup's: stderr is the restore's record.
    assert!(stderr.starts_with("note: "), "{stderr}");
    assert!(stderr.contains(path_str(&backup)), "{stderr}");

    assert_eq!(env.snapshot(), expected);
    assert!(env.verify(&a, &[]).status.success());
    assert_eq!(env.verify(&b, &[]).status.code(), Some(5));
    env.ok(&["db", "check"]);
    // The backup itself is untouched.
    assert_eq!(backup_env.snapshot(), expected);

    // JSON says what was restored into what.
    let again = env.json(&["db", "restore", path_str(&backup), "--yes"]);
    assert_eq!(again["restored"], path_str(&backup));
    assert_eq!(again["store"], path_str(&env.db));
}

#[test]
fn restore_without_yes_and_no_terminal_is_exit_6_and_changes_nothing() {
    let env = TestEnv::new();
    let (a, _, backup) = diverged(&env);
    let before = env.snapshot();
    let err = env.fails(&["db", "restore", path_str(&backup)], 6);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.verify(&a, &[]).status.code(), Some(5));
}

#[test]
fn restore_on_a_terminal_asks() {
    let env = TestEnv::new();
    let (a, _, backup) = diverged(&env);
    let before = env.snapshot();

    let mut pty = Pty::spawn(&env, &["db", "restore", path_str(&backup)]);
    let asked = pty.expect("[y/N]");
    assert!(asked.contains("Replace every account, token"), "{asked}");
    pty.send("n\r");
    let (code, _) = pty.finish();
    assert_eq!(code, 6);
    assert_eq!(env.snapshot(), before);

    let mut pty = Pty::spawn(&env, &["db", "restore", path_str(&backup)]);
    pty.expect("[y/N]");
    pty.send("y\r");
    let (code, seen) = pty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("restored "), "{seen}");
    assert!(env.verify(&a, &[]).status.success());
}

#[test]
fn restore_refuses_what_is_not_a_tokenctl_backup_and_changes_nothing() {
    let env = TestEnv::new();
    let (a, _, _) = diverged(&env);
    let before = env.snapshot();
    let dir = env.dir.path();

    let junk = dir.join("junk.db");
    std::fs::write(&junk, b"this is not a database, not even close to one").unwrap();
    let empty = dir.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let other = dir.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE tokens (id TEXT); INSERT INTO tokens VALUES ('x');")
        .unwrap();
    let folder = dir.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(path_str(&fifo)).unwrap();
    // SAFETY: mkfifo(3) on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);

    for (file, says) in [
        (&junk, "is not a tokenctl store"),
        (&empty, "is not a tokenctl store"),
        (&other, "is not a tokenctl store"),
        (&folder, "is not a file"),
        (&fifo, "is not a file"),
    ] {
        let err = env.fails(&["db", "restore", path_str(file), "--yes"], 1);
        assert!(err.contains(path_str(file)) && err.contains(says), "{err}");
        assert_eq!(env.snapshot(), before, "{file:?}");
    }
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    assert_eq!(env.verify(&a, &[]).status.code(), Some(5));
}

#[test]
fn restore_refuses_a_backup_of_a_newer_tokenctl() {
    let env = TestEnv::new();
    let (_, _, backup) = diverged(&env);
    rusqlite::Connection::open(&backup)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let before = env.snapshot();
    let err = env.fails(&["db", "restore", path_str(&backup), "--yes"], 1);
    assert!(err.contains("newer tokenctl"), "{err}");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn restore_refuses_a_backup_with_another_page_size() {
    // A store in WAL mode keeps its page size: SQLite refuses the copy
    // part-way ("readonly database"), which must change nothing and say why.
    let env = TestEnv::new();
    let (a, _, backup) = diverged(&env);
    rusqlite::Connection::open(&backup)
        .unwrap()
        .execute_batch("PRAGMA page_size = 8192; VACUUM;")
        .unwrap();
    let before = env.snapshot();
    let err = env.fails(&["db", "restore", path_str(&backup), "--yes"], 1);
    assert!(
        err.contains("page size") && err.contains("not changed"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.verify(&a, &[]).status.code(), Some(5));
    env.ok(&["db", "check"]);
}

#[test]
fn restore_of_a_missing_file_names_it_and_changes_nothing() {
    let env = TestEnv::new();
    diverged(&env);
    let before = env.snapshot();
    let missing = env.dir.path().join("no-such-backup.db");
    let err = env.fails(&["db", "restore", path_str(&missing), "--yes"], 1);
    assert!(err.contains(path_str(&missing)), "{err}");
    assert!(!missing.exists());
    assert_eq!(env.snapshot(), before);
}

#[test]
fn restore_refuses_the_store_itself_and_needs_a_store() {
    let env = TestEnv::new();
    diverged(&env);
    let before = env.snapshot();
    env.fails(&["db", "restore", path_str(&env.db), "--yes"], 4);
    assert_eq!(env.snapshot(), before);

    let empty = TestEnv::new();
    let err = empty.fails(&["db", "restore", path_str(&env.db), "--yes"], 1);
    assert!(err.contains("no store"), "{err}");
    assert!(!empty.db.exists());
}
