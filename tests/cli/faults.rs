//! Store faults: the store path is a folder, a dangling symlink, not a
//! SQLite file, another program's SQLite file, a newer tokenctl's store, a
//! damaged store; its folder or file cannot be written; its disk is full or
//! read-only. Each is refused with exit 1 and one `error:` line (and maybe
//! a `hint:`) that names the problem, and nothing is modified.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::checks::{Outcome, Rng};
use crate::common::{TestEnv, path_str};

/// One command to try against a faulty store.
struct Probe {
    args: Vec<String>,
    stdin: Option<String>,
    /// Whether it writes to the store (or would create it).
    writes: bool,
}

/// Where `db backup` probes write: a folder of its own beside the store.
fn copy_path(env: &TestEnv) -> PathBuf {
    let out = env.dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    out.join("copy.db")
}

/// Every kind of command: writes, reads, verify and db.
fn probes(env: &TestEnv, token: &str) -> Vec<Probe> {
    let copy = copy_path(env);
    let probe = |args: &[&str], writes: bool| Probe {
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        writes,
    };
    vec![
        probe(&["token", "create", "new"], true),
        probe(&["token", "edit", "x", "--note", "n"], true),
        probe(&["token", "rotate", "x"], true),
        probe(&["token", "disable", "x"], true),
        probe(&["token", "revoke", "x", "--yes"], true),
        probe(&["token", "revoke-all", "--yes"], true),
        probe(&["account", "add", "bob", "--acl", "read"], true),
        probe(&["token", "list"], false),
        probe(&["token", "show", "x"], false),
        probe(&["account", "list"], false),
        probe(&["audit"], false),
        probe(&["db", "check"], false),
        probe(&["db", "backup", path_str(&copy)], false),
        Probe {
            args: vec!["token".into(), "verify".into()],
            stdin: Some(format!("{token}\n")),
            writes: false,
        },
    ]
}

/// Runs a probe against the store at `db`, as `uid` when given.
fn run_probe(env: &TestEnv, db: &Path, probe: &Probe, uid: Option<u32>) -> Outcome {
    let args: Vec<&str> = probe.args.iter().map(String::as_str).collect();
    let mut cmd = env.piped_cmd(&args);
    cmd.env("TOKENCTL_DB", db).stdin(Stdio::piped());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let mut child = cmd.spawn().expect("spawn tokenctl");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = &probe.stdin {
        let _ = stdin.write_all(input.as_bytes());
    }
    drop(stdin);
    Outcome::from_output(child.wait_with_output().unwrap())
}

/// Exit 1, one `error:` line that contains `mentions`, at most a `hint:`
/// after it.
fn assert_refused(out: &Outcome, what: &str, mentions: &[&str]) {
    out.expect(what, &[1]);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() <= 2 && lines.get(1).is_none_or(|l| l.starts_with("hint: ")),
        "{what}: more than an error and a hint: {}",
        out.stderr
    );
    for m in mentions {
        assert!(lines[0].contains(m), "{what}: {m:?} not in {:?}", lines[0]);
    }
}

/// A token from another store: well-formed, so verify looks for the store.
fn foreign_token() -> String {
    TestEnv::new().create("elsewhere", &[])
}

/// The names in a folder, sorted (but the probes' backup folder).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "out")
        .collect();
    names.sort();
    names
}

/// Runs every probe against `db` and asserts each is refused, mentioning
/// the path and `problem`; and that no backup copy was written.
fn all_refused(env: &TestEnv, db: &Path, problem: &str) {
    let token = foreign_token();
    for probe in probes(env, &token) {
        let out = run_probe(env, db, &probe, None);
        assert_refused(&out, &probe.args.join(" "), &[path_str(db), problem]);
    }
    assert!(!copy_path(env).exists());
}

#[test]
fn a_folder_at_the_store_path() {
    let env = TestEnv::new();
    let db = env.dir.path().join("folder");
    fs::create_dir(&db).unwrap();
    all_refused(&env, &db, "is a folder");
    assert!(listing(&db).is_empty(), "something was created inside");
}

#[test]
fn a_dangling_symlink_at_the_store_path() {
    let env = TestEnv::new();
    let target = env.dir.path().join("gone").join("tokens.db");
    let db = env.dir.path().join("link.db");
    symlink(&target, &db).unwrap();
    all_refused(&env, &db, "broken symbolic link");
    assert_eq!(fs::read_link(&db).unwrap(), target);
    assert!(
        !target.parent().unwrap().exists(),
        "created through the link"
    );
}

#[test]
fn a_file_that_is_not_sqlite() {
    let env = TestEnv::new();
    let mut rng = Rng::new("not sqlite");
    let db = env.dir.path().join("junk.db");
    for content in [rng.bytes(8192), b"hello, I am a text file\n".to_vec()] {
        fs::write(&db, &content).unwrap();
        let before = listing(env.dir.path());
        all_refused(&env, &db, "is not a tokenctl store");
        assert_eq!(fs::read(&db).unwrap(), content, "the file was modified");
        assert_eq!(listing(env.dir.path()), before);
    }
}

#[test]
fn another_programs_sqlite_file() {
    let env = TestEnv::new();
    let db = env.dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(conn);
    let bytes = fs::read(&db).unwrap();
    let before = listing(env.dir.path());
    all_refused(&env, &db, "is not a tokenctl store");
    assert_eq!(fs::read(&db).unwrap(), bytes, "the file was modified");
    assert_eq!(listing(env.dir.path()), before);
}

#[test]
fn a_store_from_a_newer_tokenctl() {
    let env = TestEnv::new();
    env.create("x", &[]);
    env.sql().pragma_update(None, "user_version", 99).unwrap();
    let bytes = env.store_bytes();
    let folder = env.db.parent().unwrap();
    let before = listing(folder);
    all_refused(&env, &env.db, "newer tokenctl");
    assert_eq!(env.store_bytes(), bytes, "the store was modified");
    assert_eq!(listing(folder), before);
}

#[test]
fn a_damaged_store() {
    let env = TestEnv::new();
    env.create("x", &[]);
    env.sql()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    // Keep the header page and two more: the tables' pages are gone.
    let bytes = fs::read(&env.db).unwrap();
    assert!(bytes.len() > 3 * 4096);
    fs::write(&env.db, &bytes[..3 * 4096]).unwrap();
    let damaged = env.store_bytes();
    let token = foreign_token();
    for probe in probes(&env, &token) {
        let out = run_probe(&env, &env.db, &probe, None);
        assert_refused(&out, &probe.args.join(" "), &[path_str(&env.db)]);
    }
    assert_eq!(env.store_bytes(), damaged, "the damaged store was modified");
    assert!(!copy_path(&env).exists());
}

// ------------------------------------------------------------ permissions

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Who runs the probes so that permission bits apply: as root, `nobody`
/// (with the store's files handed to it); otherwise ourselves. `None`, with
/// a note, when `nobody` cannot run the binary here.
fn unprivileged(env: &TestEnv, owned: &[&Path]) -> Option<Option<u32>> {
    if !is_root() {
        return Some(None);
    }
    // nobody must be able to reach the store through the temp folder.
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
    let out = copy_path(env);
    for path in owned.iter().copied().chain([out.parent().unwrap()]) {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let trial = run_probe(
        env,
        &env.db,
        &Probe {
            args: vec!["--version".into()],
            stdin: None,
            writes: false,
        },
        Some(NOBODY),
    );
    if trial.code != Some(0) {
        crate::common::skipped(&format!(
            "running as root, and nobody cannot run tokenctl here: {trial:?}"
        ));
        return None;
    }
    Some(Some(NOBODY))
}

#[test]
fn an_unwritable_folder() {
    let env = TestEnv::new();
    let token = env.create("x", &[]);
    let folder = env.db.parent().unwrap().to_path_buf();
    let Some(uid) = unprivileged(&env, &[&folder, &env.db]) else {
        return;
    };
    let snapshot = env.snapshot();
    let bytes = fs::read(&env.db).unwrap();
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o500)).unwrap();
    let before = listing(&folder);
    for probe in probes(&env, &token) {
        let out = run_probe(&env, &env.db, &probe, uid);
        let what = probe.args.join(" ");
        if probe.writes {
            assert_refused(&out, &what, &["cannot write the store", path_str(&env.db)]);
        } else {
            // SQLite's WAL needs a -shm beside the store even to read;
            // with no -wal there, the store is read as it is.
            out.expect(&what, &[0]);
        }
    }
    assert_eq!(listing(&folder), before, "files appeared in the folder");
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(fs::read(&env.db).unwrap(), bytes, "the store was modified");
    assert_eq!(env.snapshot(), snapshot);

    // No store yet, in a folder that cannot be written: nothing is created.
    let empty = env.dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    if let Some(uid) = uid {
        std::os::unix::fs::chown(&empty, Some(uid), Some(uid)).unwrap();
    }
    fs::set_permissions(&empty, fs::Permissions::from_mode(0o500)).unwrap();
    let db = empty.join("tokens.db");
    let create = Probe {
        args: vec!["token".into(), "create".into(), "new".into()],
        stdin: None,
        writes: true,
    };
    let out = run_probe(&env, &db, &create, uid);
    assert_refused(
        &out,
        "create in an unwritable folder",
        &["cannot create the store", path_str(&db)],
    );
    assert!(listing(&empty).is_empty());
}

#[test]
fn a_read_only_store_file() {
    let env = TestEnv::new();
    let token = env.create("x", &[]);
    let folder = env.db.parent().unwrap().to_path_buf();
    let Some(uid) = unprivileged(&env, &[&folder, &env.db]) else {
        return;
    };
    let snapshot = env.snapshot();
    let bytes = fs::read(&env.db).unwrap();
    fs::set_permissions(&env.db, fs::Permissions::from_mode(0o400)).unwrap();
    for probe in probes(&env, &token) {
        let out = run_probe(&env, &env.db, &probe, uid);
        let what = probe.args.join(" ");
        if probe.writes {
            assert_refused(&out, &what, &["cannot write the store", path_str(&env.db)]);
        } else {
            // Reads work; verify answers though it cannot record Last Used.
            out.expect(&what, &[0]);
        }
    }
    fs::set_permissions(&env.db, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(fs::read(&env.db).unwrap(), bytes, "the store was modified");
    assert_eq!(env.snapshot(), snapshot);
}

// ----------------------------------------------------------- small disks

/// A small tmpfs mounted for one test, unmounted when dropped. Needs root.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        if !is_root() {
            crate::common::skipped("mounting a small tmpfs needs root");
            return None;
        }
        fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs(at.to_path_buf())),
            other => {
                crate::common::skipped(&format!("cannot mount a tmpfs here: {other:?}"));
                None
            }
        }
    }

    fn remount(&self, option: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{option}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {option}");
    }

    /// Fills the free space with a file; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        for chunk in [65536, 4096, 512, 1] {
            let block = vec![0u8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// A store of two tokens on a fresh small tmpfs.
fn store_on_tmpfs(size: &str) -> Option<(TestEnv, Tmpfs, String)> {
    let base = TestEnv::new();
    let mount = Tmpfs::mount(&base.dir.path().join("disk"), size)?;
    let env = TestEnv {
        db: mount.0.join("tokens.db"),
        ..base
    };
    let token = env.create("x", &[]);
    env.create("x2", &[]);
    Some((env, mount, token))
}

#[test]
fn a_full_disk() {
    let Some((env, disk, token)) = store_on_tmpfs("512k") else {
        return;
    };
    let snapshot = env.snapshot();
    let bytes = fs::read(&env.db).unwrap();

    // Warm: another process has the store open, so SQLite's -wal and -shm
    // already exist; the disk fills up; writes fail on the WAL.
    let holder = rusqlite::Connection::open(&env.db).unwrap();
    let _: i64 = holder
        .query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))
        .unwrap();
    let filler = disk.fill();
    for probe in probes(&env, &token) {
        let out = run_probe(&env, &env.db, &probe, None);
        let _ = fs::remove_file(copy_path(&env));
        let what = probe.args.join(" ");
        if probe.writes {
            assert_refused(&out, &what, &[path_str(&env.db), "disk is full"]);
        } else {
            // Reads work; verify answers and warns it could not record use.
            out.expect(&what, &[0]);
        }
        if probe.args.get(1).is_some_and(|a| a == "verify") {
            assert!(out.stderr.contains("warning"), "{out:?}");
        }
    }
    drop(holder);

    // Cold: nothing has the store open, and there is no room even for
    // SQLite's shared-memory file: everything is refused, cleanly.
    fs::remove_file(&filler).unwrap();
    let filler = disk.fill();
    for probe in probes(&env, &token) {
        let out = run_probe(&env, &env.db, &probe, None);
        let _ = fs::remove_file(copy_path(&env));
        let what = probe.args.join(" ");
        if probe.writes {
            assert_refused(&out, &what, &[path_str(&env.db)]);
        } else {
            out.expect(&what, &[0, 1]);
        }
    }

    // With room again, nothing was changed and everything works.
    fs::remove_file(&filler).unwrap();
    assert_eq!(fs::read(&env.db).unwrap(), bytes, "the store was modified");
    assert_eq!(env.snapshot(), snapshot);
    env.assert_consistent("after a full disk");
    env.ok(&["token", "create", "after"]);
}

#[test]
fn a_read_only_filesystem() {
    // Root is not stopped by permission bits, but is by a read-only mount.
    let Some((env, disk, token)) = store_on_tmpfs("1m") else {
        return;
    };
    let snapshot = env.snapshot();
    disk.remount("ro");
    for probe in probes(&env, &token) {
        let out = run_probe(&env, &env.db, &probe, None);
        let what = probe.args.join(" ");
        if probe.writes {
            assert_refused(&out, &what, &["cannot write the store", path_str(&env.db)]);
        } else {
            out.expect(&what, &[0]);
        }
    }
    disk.remount("rw");
    assert_eq!(env.snapshot(), snapshot);
    env.assert_consistent("after a read-only mount");
}
