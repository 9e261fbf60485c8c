//! The store file under attack and under other programs: another SQLite
//! client reading the store while `serve` runs, files planted by other
//! users, FIFOs, argon2 parameters beyond bounds, read-only folders and
//! mistyped paths.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};

use crate::common::checks::wait_at_most;
use crate::common::{BIN, TestEnv, path_str, tool};
use crate::fixtures::{id_of, mode, set_token};
use crate::serve::Server;
use crate::verify::secret_part;

const WAIT: Duration = Duration::from_secs(30);

/// `sqlite3`, or `None` when it is not installed (`missing_tool`).
fn sqlite3() -> Option<&'static str> {
    tool("sqlite3").then_some("sqlite3")
}

/// Waits until `token show NAME` reports a Last Used.
fn wait_last_used(env: &TestEnv, name: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let shown = env.json(&["token", "show", name]);
        if shown["last_used"].is_string() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Last Used never written: {shown}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// The status of the newest token named `name`, revoked ones included
/// (`None` when there is none).
fn status(env: &TestEnv, name: &str) -> Option<String> {
    let all = env.json(&["token", "list", "--all"]);
    all.as_array()
        .expect("a list")
        .iter()
        .rfind(|t| t["name"] == name)
        .map(|t| t["status"].as_str().expect("a status").to_string())
}

/// SQLite's locks are per process: closing any descriptor on the store
/// drops all of them, and another SQLite program then takes the store for
/// unused, checkpoints and deletes its `-wal` under `serve`. A revoke made
/// then must still act at once and survive serve's shutdown.
#[test]
fn a_revoke_survives_another_sqlite_reader_while_serving() {
    let Some(sqlite3) = sqlite3() else {
        return;
    };
    let env = TestEnv::new();
    let a = env.create("a", &[]);
    let mut server = Server::start(&env, &[]);
    assert_eq!(server.bearer("/verify", &a).status, 200);
    wait_last_used(&env, "a");

    let out = Command::new(sqlite3)
        .arg(&env.db)
        .arg("select count(*) from tokens")
        .output()
        .expect("run sqlite3");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    env.ok(&["token", "list"]);

    env.ok(&["token", "revoke", "a", "--yes"]);
    assert_eq!(server.bearer("/verify", &a).status, 401, "A still valid");
    let c = env.create("c", &[]);
    assert_eq!(server.bearer("/verify", &c).status, 200, "C unknown");
    // serve's own writes (Last Used of C) go to the same store.
    wait_last_used(&env, "c");
    assert_eq!(server.bearer("/verify", &a).status, 401, "A valid again");

    let stopped = server.terminate();
    assert!(stopped.success(), "{stopped:?}: {}", server.stderr());
    assert_eq!(
        status(&env, "a").as_deref(),
        Some("revoked"),
        "revoke undone"
    );
    assert_eq!(status(&env, "c").as_deref(), Some("active"), "C was lost");
    env.ok(&["db", "check"]);
}

// ------------------------------------------------------ argon2 parameters

/// The PHC string of `secret` with the given argon2id parameters.
fn phc(secret: &str, m: u32, t: u32, p: u32) -> String {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(m, t, p, None).unwrap(),
    )
    .hash_password(secret.as_bytes())
    .unwrap()
    .to_string()
}

/// A stored hash asking for more argon2 work than README's bounds (10
/// passes, 4 lanes, 256 MiB) is reported by `db check` and never verifies,
/// even with the right secret: a planted `m=4194304` would otherwise cost
/// 4 GiB and seconds per unauthenticated request to `serve`.
#[test]
fn argon2_parameters_beyond_bounds_are_refused() {
    let env = TestEnv::new();
    let token = env.create("a", &[]);
    let secret = secret_part(&token);
    let within = [phc(secret, 8, 10, 1), phc(secret, 64, 1, 4)];
    let beyond = [
        phc(secret, 8, 11, 1),
        phc(secret, 64, 1, 5),
        // Not computed (4 GiB): the parameters alone must refuse it.
        phc(secret, 8, 1, 1).replace("m=8,", "m=4194304,"),
    ];
    for hash in &within {
        set_token(&env, "a", &format!("secret_hash = '{hash}'"));
        env.ok(&["db", "check"]);
        assert_eq!(env.verify(&token, &[]).status.code(), Some(0), "{hash}");
    }
    for hash in &beyond {
        set_token(&env, "a", &format!("secret_hash = '{hash}'"));
        let out = env.cmd(&["db", "check"]).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{hash}: {report}");
        assert!(
            report.contains("PROBLEM hashes") && report.contains(&id_of(&token)),
            "{report}"
        );
        let out = env.verify(&token, &[]);
        assert_eq!(out.status.code(), Some(5), "{hash}: {out:?}");
    }
    let server = Server::start(&env, &[]);
    assert_eq!(server.bearer("/verify", &token).status, 401);
    set_token(&env, "a", &format!("secret_hash = '{}'", within[0]));
    assert_eq!(server.bearer("/verify", &token).status, 200);
}

// ------------------------------------------------------------------ files

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The same environment with the store at `db`.
fn at(db: PathBuf) -> TestEnv {
    TestEnv {
        db,
        ..TestEnv::new()
    }
}

/// An empty file is adopted as a new store only when it is ours, 0600, in
/// a folder no one else can write; one planted by another user in a
/// shared folder (umask 0: 0666) is refused and left as it was.
#[test]
fn an_empty_file_is_adopted_only_when_it_can_be_nobody_elses() {
    let env = TestEnv::new();
    let shared = env.dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o777);
    let planted = shared.join("tokens.db");
    fs::write(&planted, b"").unwrap();
    chmod(&planted, 0o666);
    if is_root() {
        std::os::unix::fs::chown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let env = TestEnv { db: planted, ..env };
    let err = env.fails(&["token", "create", "a"], 1);
    assert!(err.contains(path_str(&env.db)), "{err}");
    assert_eq!(
        fs::read(&env.db).unwrap().len(),
        0,
        "the planted file was written"
    );
    assert_eq!(fs::read_dir(&shared).unwrap().count(), 1, "files appeared");

    // Ours and 0600, but in a folder others can write: refused too.
    let mine = shared.join("mine.db");
    fs::write(&mine, b"").unwrap();
    chmod(&mine, 0o600);
    at(mine.clone()).fails(&["token", "create", "a"], 1);
    assert_eq!(fs::read(&mine).unwrap().len(), 0);

    // Ours, in a private folder, but 0644: refused.
    let private = env.dir.path().join("private");
    fs::create_dir(&private).unwrap();
    chmod(&private, 0o700);
    let loose = private.join("loose.db");
    fs::write(&loose, b"").unwrap();
    chmod(&loose, 0o644);
    at(loose.clone()).fails(&["token", "create", "a"], 1);
    assert_eq!(fs::read(&loose).unwrap().len(), 0);

    // Ours, 0600, in a private folder (a first create killed half-way):
    // adopted.
    let left = private.join("left.db");
    fs::write(&left, b"").unwrap();
    chmod(&left, 0o600);
    let env = at(left.clone());
    let token = env.create("a", &[]);
    assert_eq!(env.verify(&token, &[]).status.code(), Some(0));
    assert_eq!(mode(&left), 0o600);
}

/// A store other users can read or write is refused by every command,
/// with the fix on the hint line, and nothing is changed.
#[test]
fn a_store_others_can_read_or_write_is_refused() {
    let env = TestEnv::new();
    env.create("a", &[]);
    let before = env.snapshot();
    for loose in [0o644, 0o640, 0o606] {
        chmod(&env.db, loose);
        for args in [
            &["token", "list"][..],
            &["token", "create", "b"],
            &["token", "revoke", "a", "--yes"],
            &["db", "check"],
        ] {
            let err = env.fails(args, 1);
            assert!(
                err.contains(&format!("chmod 600 {}", env.db.display())),
                "{args:?}: {err}"
            );
            assert_eq!(err.lines().count(), 2, "{err}");
        }
    }
    chmod(&env.db, 0o600);
    assert_eq!(env.snapshot(), before);
    env.ok(&["token", "list"]);
}

/// `--db` naming a FIFO is refused at once, never opened (which would
/// block), and tab completion simply offers nothing.
#[test]
fn a_fifo_as_the_store_is_refused_without_blocking() {
    let env = TestEnv::new();
    fs::create_dir_all(env.db.parent().unwrap()).unwrap();
    let fifo = std::ffi::CString::new(path_str(&env.db)).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    for args in [
        &["token", "list"][..],
        &["token", "create", "x"],
        &["token", "show", "x"],
        &["db", "check"],
    ] {
        let child = env
            .std_cmd(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_at_most(child, WAIT).unwrap_or_else(|| panic!("{args:?} blocked"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains("not a regular file"),
            "{err}"
        );
    }
    // Tab completion, through the committed bash script.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/tokenctl.bash");
    let program = format!(
        "source '{}'
         COMP_WORDS=(tokenctl --db '{}' token revoke '')
         COMP_CWORD=5
         COMP_LINE=\"${{COMP_WORDS[*]}}\"
         COMP_POINT=${{#COMP_LINE}}
         COMP_TYPE=9
         _clap_complete_tokenctl tokenctl '' revoke
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        path_str(&env.db)
    );
    let bin_dir = Path::new(BIN).parent().unwrap();
    let child = Command::new("bash")
        .args(["-c", &program])
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("HOME", env.dir.path())
        .env("TOKENCTL_USER", "alice")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_at_most(child, WAIT).expect("completion blocked on the FIFO");
    assert!(out.status.success(), "{out:?}");
    let offered: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty() && !w.starts_with('-'))
        .map(str::to_string)
        .collect();
    assert!(offered.is_empty(), "{offered:?}");
}

/// `db backup` into a folder others can write: another user who keeps
/// planting links under the names a backup may write to never gets the
/// backup written through them, and the backup is 0600.
#[test]
fn a_backup_into_a_shared_folder_cannot_be_redirected() {
    let env = TestEnv::new();
    env.create("a", &[]);
    let shared = env.dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o777);
    let stolen = env.dir.path().join("stolen.db");
    for round in 0..100 {
        let dest = shared.join(format!("copy{round}.db"));
        let child = env
            .std_cmd(&["db", "backup", path_str(&dest)])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The temporary names tokenctl has used beside the target: the
        // pid is known once it runs. Replant a link there as fast as it is
        // removed.
        let pid = child.id();
        let names: Vec<PathBuf> = ["partial", "new", "tmp"]
            .iter()
            .map(|p| shared.join(format!(".copy{round}.db.{p}-{pid}")))
            .collect();
        let done = Arc::new(AtomicBool::new(false));
        let planter = {
            let (done, stolen) = (done.clone(), stolen.clone());
            thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    for name in &names {
                        let _ = symlink(&stolen, name);
                    }
                }
                for name in &names {
                    let _ = fs::remove_file(name);
                }
            })
        };
        let out = wait_at_most(child, WAIT).expect("db backup finished");
        done.store(true, Ordering::Relaxed);
        planter.join().unwrap();
        let leaked = fs::metadata(&stolen).map(|m| m.len()).unwrap_or(0);
        assert_eq!(
            leaked, 0,
            "round {round}: the backup went through a planted link"
        );
        if out.status.success() {
            assert_eq!(mode(&dest), 0o600);
            assert!(fs::symlink_metadata(&dest).unwrap().is_file());
        } else {
            // Refused (a planted name in the way) is fine; leaking is not.
            assert_eq!(out.status.code(), Some(1), "{out:?}");
        }
    }
}

// ------------------------------------------------ read-only and missing

/// A store in a folder its owner cannot write (0500): every command that
/// only reads works, with no file created; changes are refused cleanly.
/// As root, run as `nobody`, to whom the store is handed, so that the
/// permission bits apply.
#[test]
fn read_only_commands_work_in_a_folder_that_cannot_be_written() {
    let env = TestEnv::new();
    let token = env.create("a", &[]);
    env.ok(&["account", "add", "bob", "--acl", "read"]);
    let folder = env.db.parent().unwrap().to_path_buf();
    let out_dir = env.dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let uid = is_root().then_some(NOBODY);
    if let Some(uid) = uid {
        chmod(env.dir.path(), 0o711);
        for path in [&folder, &env.db, &out_dir] {
            std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
        }
    }
    let before = env.snapshot();
    chmod(&folder, 0o500);
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let mut cmd = env.std_cmd(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    };
    let backup = out_dir.join("copy.db");
    for args in [
        &["token", "list"][..],
        &["token", "list", "--all", "-o", "json"],
        &["token", "show", "a"],
        &["account", "list"],
        &["account", "show", "bob"],
        &["audit"],
        &["db", "check"],
        &["db", "backup", path_str(&backup)],
        &["token", "verify"],
    ] {
        let out = run(args, &format!("{token}\n"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: {err}");
    }
    let listed = String::from_utf8(run(&["token", "list"], "").stdout).unwrap();
    assert!(listed.contains("| a "), "{listed}");
    let out = run(&["token", "revoke", "a", "--yes"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let names: Vec<_> = fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["tokens.db"], "files appeared in the folder");
    chmod(&folder, 0o700);
    assert_eq!(env.snapshot(), before);
    assert!(backup.exists());
}

/// A command that changes tokens or accounts but cannot create them, on a
/// store that does not exist (a mistyped --db in a cron job), is an error
/// naming the path; reads still show nothing, and say which path has no
/// store yet. Nothing is created.
#[test]
fn a_missing_store_is_named() {
    let env = at(TestEnv::new().dir.path().join("typo").join("tokens.db"));
    let db = path_str(&env.db).to_string();
    for args in [
        &["token", "revoke", "a", "--yes"][..],
        &["token", "revoke-all", "--yes"],
        &["token", "revoke-all", "--dry-run"],
        &["token", "revoke-all", "--match", "ci-*", "--yes"],
        &["token", "edit", "a", "--note", "n"],
        &["token", "rotate", "a"],
        &["token", "disable", "a"],
        &["token", "enable", "a"],
        &["account", "edit", "bob", "--add-acl", "x"],
        &["account", "suspend", "bob"],
        &["account", "unsuspend", "bob"],
        &["account", "delete", "bob", "--yes"],
    ] {
        let err = env.fails(args, 1);
        assert!(err.lines().next().unwrap().contains(&db), "{args:?}: {err}");
    }
    let note = format!("no store at {db} yet");
    for (args, code) in [
        (&["token", "list"][..], 0),
        (&["token", "show", "a"], 3),
        (&["account", "list"], 0),
        (&["account", "show", "bob"], 3),
        (&["audit"], 0),
    ] {
        let out = env.cmd(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(&note), "{args:?}: {err}");
    }
    assert!(!env.db.parent().unwrap().exists(), "something was created");
}

/// README's systemd example: the store belongs to a service user, and
/// root runs the CLI on it. Root's reads and changes work, and the store
/// and its side files stay the service user's.
#[test]
fn root_administers_a_store_owned_by_its_service_user() {
    if !is_root() {
        crate::common::skipped("needs root");
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new();
    let token = env.create("a", &[]);
    let folder = env.db.parent().unwrap();
    for path in [folder, env.db.as_path()] {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    env.ok(&["token", "list"]);
    env.create("b", &[]);
    env.ok(&["token", "revoke", "a", "--yes"]);
    assert_eq!(env.verify(&token, &[]).status.code(), Some(5));
    env.ok(&["db", "check"]);
    for entry in fs::read_dir(folder).unwrap() {
        let entry = entry.unwrap();
        assert_eq!(entry.metadata().unwrap().uid(), NOBODY, "{entry:?}");
    }
    assert_eq!(fs::metadata(&env.db).unwrap().uid(), NOBODY);
}
