//! The password file, read as libpq reads it (PostgreSQL's documentation,
//! "The Password File"): lines `hostname:port:database:username:password`,
//! `*` for any value, `\:` and `\\` escapes, `#` comments, the first
//! matching line wins, and a file that gives any access to group or others
//! is ignored with a warning.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The connection a password is looked up for, in the file's terms: a Unix
/// socket in a default folder is `localhost` (see `host_for_socket`).
pub(super) struct Wanted<'a> {
    pub host: &'a str,
    pub port: &'a str,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// The password the file at `path` holds for `wanted`, if any. A missing
/// or unreadable file is silently no password, as with libpq; a file that
/// is not a plain file or that others may read adds a warning instead.
pub(super) fn lookup(path: &Path, wanted: &Wanted, warnings: &mut Vec<String>) -> Option<Vec<u8>> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_file() {
        warnings.push(format!(
            "password file {} is not a plain file; it is ignored",
            path.display()
        ));
        return None;
    }
    if meta.permissions().mode() & 0o077 != 0 {
        warnings.push(format!(
            "password file {} has group or world access and is ignored; \
             permissions should be u=rw (0600) or less",
            path.display()
        ));
        return None;
    }
    let text = fs::read(path).ok()?;
    find(&text, wanted)
}

/// The password of the first line of `text` that matches `wanted`.
fn find(text: &[u8], wanted: &Wanted) -> Option<Vec<u8>> {
    text.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty() && !line.starts_with(b"#"))
        .find_map(|line| {
            let rest = field(line, wanted.host.as_bytes())?;
            let rest = field(rest, wanted.port.as_bytes())?;
            let rest = field(rest, wanted.dbname.as_bytes())?;
            let rest = field(rest, wanted.user.as_bytes())?;
            Some(password(rest))
        })
}

/// Matches the first field of `line` against `want`; the rest of the line
/// after the field's `:` when it matches. A port of libpq's
/// `pwdfMatchesString`, quirks included: `*` only as a whole field, and an
/// unescaped `:` in the line can match a `:` in the value (IPv6 hosts).
fn field<'a>(line: &'a [u8], want: &[u8]) -> Option<&'a [u8]> {
    if let Some(rest) = line.strip_prefix(b"*:") {
        return Some(rest);
    }
    let mut want = want.iter();
    let mut i = 0;
    loop {
        let escaped = line.get(i) == Some(&b'\\');
        if escaped {
            i += 1;
        }
        let c = *line.get(i)?;
        i += 1;
        let next = want.next();
        match next {
            None if c == b':' && !escaped => return Some(&line[i..]),
            Some(&w) if w == c => {}
            _ => return None,
        }
    }
}

/// The password field: up to the next unescaped `:`, backslashes removed
/// (a trailing one is kept, as libpq keeps it).
fn password(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b':' => break,
            b'\\' => match bytes.next() {
                Some(&escaped) => out.push(escaped),
                None => out.push(b'\\'),
            },
            _ => out.push(b),
        }
    }
    out
}

/// The file's name for a Unix-socket connection: libpq writes `localhost`
/// for its default socket folder (`/tmp` upstream, `/var/run/postgresql` on
/// Debian, a link to `/run/postgresql`) and the folder itself otherwise.
pub(super) fn host_for_socket(dir: &Path) -> String {
    let text = dir.to_string_lossy();
    let trimmed = match text.trim_end_matches('/') {
        "" => "/",
        t => t,
    };
    match trimmed {
        "/tmp" | "/run/postgresql" | "/var/run/postgresql" => "localhost".to_string(),
        _ => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> Wanted<'static> {
        Wanted {
            host: "db.example",
            port: "5432",
            dbname: "app",
            user: "alice",
        }
    }

    fn found(text: &str) -> Option<String> {
        find(text.as_bytes(), &wanted()).map(|p| String::from_utf8(p).unwrap())
    }

    #[test]
    fn an_exact_line_gives_its_password() {
        assert_eq!(
            found("db.example:5432:app:alice:s3cret\n"),
            Some("s3cret".into())
        );
        assert_eq!(
            found("db.example:5432:app:alice:s3cret"),
            Some("s3cret".into())
        );
        assert_eq!(
            found("db.example:5432:app:alice:s3cret\r\n"),
            Some("s3cret".into())
        );
    }

    #[test]
    fn wildcards_match_any_value_as_a_whole_field_only() {
        assert_eq!(found("*:*:*:*:any\n"), Some("any".into()));
        assert_eq!(found("db.example:*:app:*:p\n"), Some("p".into()));
        // `*` inside a field is a literal character.
        assert_eq!(found("db.*:5432:app:alice:p\n"), None);
        // An escaped `*` is a literal star.
        assert_eq!(found("\\*:5432:app:alice:p\n"), None);
    }

    #[test]
    fn the_first_matching_line_wins_and_others_are_skipped() {
        let text = "# a comment:*:*:*:no\n\
                    \n\
                    other:5432:app:alice:wrong-host\n\
                    db.example:5433:app:alice:wrong-port\n\
                    db.example:5432:other:alice:wrong-db\n\
                    db.example:5432:app:bob:wrong-user\n\
                    db.example:5432:app:alice:first\n\
                    *:*:*:*:second\n";
        assert_eq!(found(text), Some("first".into()));
    }

    #[test]
    fn a_value_must_match_the_whole_field() {
        assert_eq!(found("db.example.org:5432:app:alice:p\n"), None);
        assert_eq!(found("db:5432:app:alice:p\n"), None);
        assert_eq!(found("db.example:5432:app:alice\n"), None);
    }

    #[test]
    fn escapes_in_fields_and_in_the_password() {
        let w = Wanted {
            host: "h",
            port: "5432",
            dbname: "a:b",
            user: "back\\slash",
        };
        let text = b"h:5432:a\\:b:back\\\\slash:pa\\:ss\\\\word:ignored\n";
        assert_eq!(find(text, &w), Some(b"pa:ss\\word".to_vec()));
        // A trailing backslash is kept.
        assert_eq!(password(b"end\\"), b"end\\".to_vec());
        assert_eq!(password(b""), Vec::<u8>::new());
    }

    #[test]
    fn an_ipv6_host_matches_escaped_or_not() {
        let w = Wanted {
            host: "::1",
            port: "5432",
            dbname: "app",
            user: "alice",
        };
        assert_eq!(find(b"\\:\\:1:5432:app:alice:p\n", &w), Some(b"p".to_vec()));
        assert_eq!(find(b"::1:5432:app:alice:p\n", &w), Some(b"p".to_vec()));
    }

    #[test]
    fn socket_folders_by_default_are_localhost() {
        assert_eq!(host_for_socket(Path::new("/run/postgresql")), "localhost");
        assert_eq!(
            host_for_socket(Path::new("/var/run/postgresql/")),
            "localhost"
        );
        assert_eq!(host_for_socket(Path::new("/tmp")), "localhost");
        assert_eq!(host_for_socket(Path::new("/srv/pg")), "/srv/pg");
    }

    fn write(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join("pgpass");
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_private_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "db.example:5432:app:alice:fromfile\n", 0o600);
        let mut warnings = Vec::new();
        assert_eq!(
            lookup(&path, &wanted(), &mut warnings),
            Some(b"fromfile".to_vec())
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn a_file_others_can_read_is_ignored_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o640, 0o604, 0o620, 0o610] {
            let path = write(dir.path(), "*:*:*:*:leaked\n", mode);
            let mut warnings = Vec::new();
            assert_eq!(lookup(&path, &wanted(), &mut warnings), None);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("group or world access"));
            assert!(!warnings[0].contains("leaked"));
        }
    }

    #[test]
    fn a_missing_file_or_a_folder_gives_no_password() {
        let dir = tempfile::tempdir().unwrap();
        let mut warnings = Vec::new();
        assert_eq!(
            lookup(&dir.path().join("none"), &wanted(), &mut warnings),
            None
        );
        assert!(warnings.is_empty());
        assert_eq!(lookup(dir.path(), &wanted(), &mut warnings), None);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("not a plain file"));
    }
}
