//! Helpers shared by the create, list, show_edit and store tests: the
//! clock, accounts and times set with SQL, table parsing and an
//! independent implementation of the token checksum.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{TestEnv, quote};

pub const DAY: i64 = 86_400;

/// Every key of the token object (README, "Tokens").
pub const TOKEN_FIELDS: [&str; 14] = [
    "id",
    "name",
    "account",
    "acls",
    "effective_acls",
    "created",
    "expires",
    "last_used",
    "last_used_ip",
    "allow_ips",
    "note",
    "status",
    "revoked",
    "previous_secret_valid_until",
];

/// The wall clock, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Sets a time column of the live token `name` (tokenctl itself has no
/// clock override: tests move stored times instead).
pub fn set(env: &TestEnv, name: &str, column: &str, value: i64) {
    let n = env.sql_execute(&format!(
        "UPDATE tokens SET {column} = {value} WHERE name = {} AND revoked_at IS NULL",
        quote(name)
    ));
    assert_eq!(n, 1, "no live token named {name}");
}

/// Runs tokenctl and returns the whole output, whatever the exit code.
pub fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd(args).output().expect("run tokenctl")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Adds an account with SQL, without the command's checks or audit event.
/// `acls` is the JSON text stored, e.g. `["read","write"]`.
pub fn add_account(env: &TestEnv, name: &str, acls: &str) {
    env.sql_execute(&format!(
        "INSERT INTO accounts(name, acls, created_at) VALUES ({}, {}, 0)",
        quote(name),
        quote(acls)
    ));
}

pub fn suspend_account(env: &TestEnv, name: &str) {
    env.sql_execute(&format!(
        "UPDATE accounts SET suspended = true WHERE name = {}",
        quote(name)
    ));
}

/// Runs `UPDATE tokens SET <set> WHERE name = <name>` on live tokens.
pub fn set_token(env: &TestEnv, name: &str, set: &str) {
    let n = env.sql_execute(&format!(
        "UPDATE tokens SET {set} WHERE name = {} AND revoked_at IS NULL",
        quote(name)
    ));
    assert!(n >= 1, "no live token named {name} to update");
}

/// The id of the live token `name`, from `token show`.
pub fn id_by_name(env: &TestEnv, name: &str) -> String {
    env.json(&["token", "show", name])["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Asserts a JSON token object has exactly the documented fields.
pub fn assert_token_fields(t: &Value) {
    let mut keys: Vec<&str> = t
        .as_object()
        .expect("one object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    let mut want = TOKEN_FIELDS.to_vec();
    want.sort();
    assert_eq!(keys, want);
}

/// The token id inside a plaintext token.
pub fn id_of(plaintext: &str) -> String {
    plaintext[4..14].to_string()
}

/// True for `YYYY-MM-DDTHH:MM:SSZ`.
pub fn is_utc_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// A JSON time field as Unix seconds; panics unless it is `...Z` RFC 3339.
pub fn secs(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    assert!(
        is_utc_time(s),
        "not an RFC 3339 UTC time to the second: {s}"
    );
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339")
        .timestamp()
}

/// The names of a JSON array of token objects, in order.
pub fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_string())
        .collect()
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A JSON array of strings as a Vec.
pub fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// The rows of a plain (non-terminal) table: header first, separator
/// lines dropped, cells trimmed.
pub fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The documented checksum, written independently of src/token.rs: CRC-32/IEEE of
/// the body, base62 most significant digit first, left-padded to 6.
pub fn checksum(body: &str) -> String {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize] as char);
        n /= 62;
    }
    while digits.len() < 6 {
        digits.push('0');
    }
    digits.iter().rev().collect()
}

/// A well-formed token (right checksum) that no store knows.
pub fn well_formed_token() -> String {
    let body = format!("tct_{}{}", "Abcdefghij", "0123456789ABCDEFGHIJabcdefghij");
    let sum = checksum(&body);
    body + &sum
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The store's companion files.
pub fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

/// Asserts that there is no store: on PostgreSQL no schema; on SQLite
/// neither the file, its -wal/-shm, nor its folder.
pub fn assert_no_store(env: &TestEnv) {
    assert!(!env.has_store(), "a store was created");
    if env.pg.is_some() {
        return;
    }
    for suffix in ["", "-wal", "-shm"] {
        let p = sidecar(&env.db, suffix);
        assert!(!p.exists(), "{} was created", p.display());
    }
    let dir = env.db.parent().expect("store folder");
    assert!(
        !dir.exists(),
        "the store folder {} was created",
        dir.display()
    );
}
