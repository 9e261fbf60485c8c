use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use tokio_postgres::config::{Host as PgHost, SslMode};

use super::*;
use crate::error::Kind;

const SECRET: &str = "Sekr3t";

fn env() -> Env {
    Env {
        login: Some("osuser".into()),
        pgpassword: None,
        pgpassfile: Some(PathBuf::from("/nonexistent/pgpass")),
        home: None,
        default_socket_dir: PathBuf::from("/run/postgresql"),
    }
}

fn parse(url: &str) -> PgTarget {
    PgTarget::parse_with(url, &env()).unwrap()
}

fn error(url: &str) -> Error {
    PgTarget::parse_with(url, &env()).unwrap_err()
}

fn password(target: &PgTarget) -> Option<&[u8]> {
    target.config().get_password()
}

/// The message and hint of a refusal, which must never hold the password.
fn refusal(url: &str) -> String {
    let err = error(url);
    assert_eq!(err.kind, Kind::Usage, "{url}");
    assert!(err.hint.is_some(), "{url}: no hint");
    let text = format!("{} {}", err.message, err.hint.unwrap_or_default());
    assert!(!text.contains(SECRET), "{url}: {text}");
    assert!(!text.contains('\n'), "{url}: {text}");
    text
}

#[test]
fn postgres_urls_are_told_from_paths() {
    for url in [
        "postgres://h/db",
        "postgresql://h/db",
        "POSTGRES://h/db",
        "PostgreSQL://h/db",
        "postgres://",
    ] {
        assert!(is_postgres_url(url), "{url}");
    }
    for path in [
        "",
        "tokens.db",
        "/var/lib/tokenctl/tokens.db",
        "./postgres://h/db",
        "postgres:/h/db",
        "postgresx://h/db",
        "mysql://h/db",
    ] {
        assert!(!is_postgres_url(path), "{path}");
    }
}

#[test]
fn the_process_environment_is_read() {
    let env = Env::from_process();
    assert!(env.default_socket_dir.is_absolute());
    // Everything named in the URL: nothing from the environment is used.
    let t = PgTarget::parse("postgres://u:x@h:7/db?sslmode=disable").unwrap();
    assert_eq!((t.user(), t.port(), t.dbname()), ("u", 7, "db"));
    assert_eq!(password(&t), Some(&b"x"[..]));
}

#[test]
fn a_full_tcp_url() {
    let t = parse("postgres://alice:Sekr3t@db.example:5433/app");
    assert_eq!(t.host(), &Host::Tcp("db.example".into()));
    assert_eq!(t.port(), 5433);
    assert_eq!(t.user(), "alice");
    assert_eq!(t.dbname(), "app");
    assert_eq!(password(&t), Some(SECRET.as_bytes()));
    assert!(t.password_in_url());
    assert_eq!(t.password_source(), &PasswordSource::Url);
    let c = t.config();
    assert_eq!(c.get_hosts(), &[PgHost::Tcp("db.example".into())]);
    assert_eq!(c.get_ports(), &[5433]);
    assert_eq!(c.get_user(), Some("alice"));
    assert_eq!(c.get_dbname(), Some("app"));
    assert_eq!(c.get_ssl_mode(), SslMode::Prefer);
    let sync = t.sync_config();
    assert_eq!(sync.get_user(), Some("alice"));
    assert_eq!(sync.get_dbname(), Some("app"));
}

#[test]
fn defaults_fill_what_the_url_leaves_out() {
    let t = parse("postgresql://db.example/app");
    assert_eq!(t.port(), DEFAULT_PORT);
    assert_eq!(t.user(), "osuser");
    assert_eq!(t.schema(), DEFAULT_SCHEMA);
    assert_eq!(t.tls_mode(), TlsMode::Prefer);
    assert_eq!(t.root_cert(), None);
    assert_eq!(password(&t), None);
    assert!(!t.password_in_url());
    assert_eq!(t.password_source(), &PasswordSource::None);
    assert_eq!(t.config().get_application_name(), Some("tokenctl"));
    assert_eq!(t.config().get_connect_timeout(), None);
    assert!(t.warnings().is_empty());
    // The database is named after the user when the URL names none.
    assert_eq!(parse("postgres://alice@db.example").dbname(), "alice");
    assert_eq!(parse("postgres://alice@db.example/").dbname(), "alice");
    assert_eq!(parse("postgres://db.example:/").port(), DEFAULT_PORT);
}

#[test]
fn no_user_anywhere_is_refused() {
    let no_login = Env {
        login: None,
        ..env()
    };
    let err = PgTarget::parse_with("postgres://h/db", &no_login).unwrap_err();
    assert_eq!(err.kind, Kind::Usage);
    assert!(err.message.contains("user"), "{}", err.message);
    let t = PgTarget::parse_with("postgres://h/db?user=bob", &no_login).unwrap();
    assert_eq!(t.user(), "bob");
}

#[test]
fn unix_sockets_in_every_spelling() {
    let dir = Host::Socket(PathBuf::from("/run/postgresql"));
    for url in [
        "postgres://alice@/app?host=/run/postgresql",
        "postgres:///app?host=%2Frun%2Fpostgresql",
        "postgres://%2Frun%2Fpostgresql/app",
        "postgres://alice@%2frun%2fpostgresql:/app",
        // No host: the default socket folder, as with libpq.
        "postgres:///app",
        "postgres://alice@/app",
    ] {
        let t = parse(url);
        assert_eq!(t.host(), &dir, "{url}");
        assert_eq!(
            t.config().get_hosts(),
            &[PgHost::Unix(PathBuf::from("/run/postgresql"))],
            "{url}"
        );
        assert_eq!(t.dbname(), "app");
    }
    // The port names the socket file.
    assert_eq!(parse("postgres:///app?host=/tmp&port=5499").port(), 5499);
}

#[test]
fn no_tls_over_a_unix_socket_whatever_sslmode_says() {
    for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
        let t = parse(&format!("postgres:///app?host=/tmp&sslmode={mode}"));
        assert_eq!(t.config().get_ssl_mode(), SslMode::Disable, "{mode}");
        assert_eq!(t.tls_mode().as_str(), mode);
    }
}

#[test]
fn query_parameters_override_the_url_parts_as_with_libpq() {
    let t =
        parse("postgres://alice:one@h1:1/db1?host=h2&port=2&user=bob&dbname=db2&password=Sekr3t");
    assert_eq!(t.host(), &Host::Tcp("h2".into()));
    assert_eq!(t.port(), 2);
    assert_eq!(t.user(), "bob");
    assert_eq!(t.dbname(), "db2");
    assert_eq!(password(&t), Some(SECRET.as_bytes()));
    assert!(t.password_in_url());
    // Empty values leave them unset; empty pairs are skipped.
    let t = parse("postgres://alice@h1:7/db1?&host=&port=&user=&dbname=&application_name=&");
    assert_eq!(t.host(), &Host::Socket(PathBuf::from("/run/postgresql")));
    assert_eq!(t.port(), DEFAULT_PORT);
    assert_eq!(t.user(), "osuser");
    assert_eq!(t.dbname(), "osuser");
    assert_eq!(t.config().get_application_name(), Some("tokenctl"));
}

#[test]
fn ipv6_hosts_in_brackets() {
    let t = parse("postgres://alice@[::1]:5433/app");
    assert_eq!(t.host(), &Host::Tcp("::1".into()));
    assert_eq!(t.port(), 5433);
    assert_eq!(parse("postgres://[2001:db8::7]/app").port(), DEFAULT_PORT);
    let t = parse("postgres://[fe80::1%25eth0]:5432/app");
    assert_eq!(t.host(), &Host::Tcp("fe80::1%eth0".into()));
    assert_eq!(t.to_string(), "postgres://osuser@[fe80::1%25eth0]:5432/app");
    for bad in [
        "postgres://[::1/app",
        "postgres://[::1]5432/app",
        "postgres://[]:5432/app",
    ] {
        assert!(refusal(bad).contains("IPv6"), "{bad}");
    }
}

#[test]
fn ports_are_numbers_from_1_to_65535_and_never_quoted() {
    assert_eq!(parse("postgres://h:65535/db").port(), 65535);
    assert_eq!(parse("postgres://h:1/db").port(), 1);
    for bad in ["0", "65536", "+5432", "-1", " 5432", "54x", "99999999999"] {
        let text = refusal(&format!("postgres://h:{bad}/db"));
        assert!(text.contains("port"), "{bad}: {text}");
        refusal(&format!("postgres://h/db?port={bad}"));
    }
    // A URL missing its '@' puts the password where the port goes.
    let text = refusal("postgres://alice:Sekr3t/db");
    assert!(text.contains("port"), "{text}");
}

#[test]
fn parts_are_percent_decoded() {
    let t =
        parse("postgres://al%40ice:p%40ss%2Fw%3Ard%25@db.example/my%20db?application_name=a%26b");
    assert_eq!(t.user(), "al@ice");
    assert_eq!(password(&t), Some("p@ss/w:rd%".as_bytes()));
    assert_eq!(t.dbname(), "my db");
    assert_eq!(t.config().get_application_name(), Some("a&b"));
    // A '+' is a plus sign, not a space (libpq does not read form encoding).
    assert_eq!(parse("postgres://h/a+b").dbname(), "a+b");
    // A password need not be UTF-8; the other parts must.
    assert_eq!(password(&parse("postgres://u:%ff@h/db")), Some(&[0xff][..]));
    assert!(refusal("postgres://%ff@h/db").contains("UTF-8"));
    // A colon in the password is kept: only the first one splits.
    assert_eq!(
        password(&parse("postgres://u:a:b@h/db")),
        Some("a:b".as_bytes())
    );
    // An '@' in the password too: the last one ends the user part.
    assert_eq!(
        password(&parse("postgres://u:a@b@h/db")),
        Some("a@b".as_bytes())
    );
}

#[test]
fn bad_percent_encoding_is_refused_without_quoting() {
    for url in [
        "postgres://u:Sekr3t%zz@h/db",
        "postgres://u:Sekr3t%4@h/db",
        "postgres://u:Sekr3t%@h/db",
        "postgres://u:Sekr3t%00@h/db",
        "postgres://h/db?password=Sekr3t%0",
        "postgres://h/d%00b",
        "postgres://h%zz/db",
    ] {
        assert!(refusal(url).contains("percent-encoding"), "{url}");
    }
}

#[test]
fn sslmode_takes_libpq_values_except_allow() {
    let modes = [
        ("disable", TlsMode::Disable, SslMode::Disable),
        ("prefer", TlsMode::Prefer, SslMode::Prefer),
        ("require", TlsMode::Require, SslMode::Require),
        ("verify-ca", TlsMode::VerifyCa, SslMode::Require),
        ("verify-full", TlsMode::VerifyFull, SslMode::Require),
    ];
    for (text, mode, ssl) in modes {
        let t = parse(&format!("postgres://h/db?sslmode={text}"));
        assert_eq!(t.tls_mode(), mode);
        assert_eq!(t.config().get_ssl_mode(), ssl);
    }
    assert!(refusal("postgres://h/db?sslmode=allow").contains("not supported"));
    for bad in ["VERIFY-FULL", "verify_full", "on", "1", ""] {
        let text = refusal(&format!("postgres://h/db?sslmode={bad}"));
        assert!(
            text.contains("disable, prefer, require, verify-ca or verify-full"),
            "{text}"
        );
    }
}

#[test]
fn sslrootcert_is_kept_as_a_path() {
    let t = parse("postgres://h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fpg%2Fca.pem");
    assert_eq!(t.root_cert(), Some(Path::new("/etc/pg/ca.pem")));
    assert_eq!(parse("postgres://h/db?sslrootcert=").root_cert(), None);
}

#[test]
fn a_connector_is_built_for_the_target() {
    parse("postgres://h/db?sslmode=disable")
        .connector()
        .unwrap();
    parse("postgres://h/db?sslmode=require")
        .connector()
        .unwrap();
}

#[test]
fn schema_names_are_plain_identifiers() {
    let longest = "s".repeat(63);
    for good in ["tokenctl", "t", "_x", "app_2", longest.as_str()] {
        assert_eq!(
            parse(&format!("postgres://h/db?schema={good}")).schema(),
            good
        );
    }
    let too_long = "s".repeat(64);
    for bad in [
        "",
        "Tokenctl",
        "1abc",
        "a-b",
        "a b",
        "a%22b",
        "é",
        too_long.as_str(),
    ] {
        let text = refusal(&format!("postgres://h/db?schema={bad}"));
        assert!(text.contains("schema"), "{bad}: {text}");
    }
}

#[test]
fn unknown_duplicate_and_malformed_parameters_are_refused() {
    let text = refusal("postgres://h/db?sslcert=/x");
    assert!(text.contains("\"sslcert\""), "{text}");
    assert!(text.contains("sslrootcert"), "{text}");
    let text = refusal("postgres://h/db?sslmode=disable&sslmode=require");
    assert!(text.contains("\"sslmode\""), "{text}");
    assert!(refusal("postgres://h/db?sslmode").contains("'='"));
    // The password's value is never quoted, whatever is wrong around it.
    refusal("postgres://h/db?password=Sekr3t&password=Sekr3t");
    refusal("postgres://h/db?password=Sekr3t&bogus=1");
}

#[test]
fn connect_timeout_is_in_seconds_as_with_libpq() {
    let timeout = |v: &str| {
        parse(&format!("postgres://h/db?connect_timeout={v}"))
            .config()
            .get_connect_timeout()
            .copied()
    };
    assert_eq!(timeout("10"), Some(Duration::from_secs(10)));
    assert_eq!(timeout("0"), None);
    assert_eq!(timeout("1"), Some(Duration::from_secs(2)));
    for bad in ["-1", "1.5", "ten", "+3"] {
        assert!(
            refusal(&format!("postgres://h/db?connect_timeout={bad}")).contains("connect_timeout")
        );
    }
}

#[test]
fn application_name_can_be_set() {
    let t = parse("postgres://h/db?application_name=web-1");
    assert_eq!(t.config().get_application_name(), Some("web-1"));
}

#[test]
fn several_hosts_are_refused() {
    for url in [
        "postgres://h1,h2/db",
        "postgres://h1:5432,h2:5433/db",
        "postgres:///db?host=h1,h2",
    ] {
        assert!(refusal(url).contains("several hosts"), "{url}");
    }
}

#[test]
fn a_raw_at_after_the_host_is_refused_without_quoting() {
    for url in [
        "postgres://alice:Sek/r3t@h/db",
        "postgres://alice:Sek?r3t@h/db",
        "postgres://h/db?application_name=Sekr3t@x",
    ] {
        assert!(refusal(url).contains("'@'"), "{url}");
    }
}

#[test]
fn the_wrong_scheme_is_refused() {
    assert!(refusal("mysql://h/db").contains("postgres://"));
}

#[test]
fn the_password_comes_from_the_url_then_pgpassword_then_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pgpass");
    fs::write(&file, "*:*:*:*:fromfile\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let with_env = Env {
        pgpassword: Some(b"fromenv".to_vec()),
        pgpassfile: Some(file.clone()),
        ..env()
    };
    let t = PgTarget::parse_with("postgres://u:fromurl@h/db", &with_env).unwrap();
    assert_eq!(password(&t), Some(&b"fromurl"[..]));
    // An empty password in the URL is none.
    let t = PgTarget::parse_with("postgres://u:@h/db", &with_env).unwrap();
    assert_eq!(password(&t), Some(&b"fromenv"[..]));
    assert_eq!(t.password_source(), &PasswordSource::Environment);
    assert!(!t.password_in_url());
    let with_file = Env {
        pgpassword: None,
        ..with_env
    };
    let t = PgTarget::parse_with("postgres://u@h/db", &with_file).unwrap();
    assert_eq!(password(&t), Some(&b"fromfile"[..]));
    assert_eq!(t.password_source(), &PasswordSource::File(file));
}

/// A password file in a temp home folder, as `~/.pgpass`.
fn home_with_pgpass(text: &str, mode: u32) -> (tempfile::TempDir, Env) {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".pgpass");
    fs::write(&file, text).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
    let env = Env {
        pgpassfile: None,
        home: Some(home.path().to_path_buf()),
        ..env()
    };
    (home, env)
}

#[test]
fn the_password_file_is_matched_on_host_port_database_and_user() {
    let (_home, env) = home_with_pgpass(
        "db.example:5432:app:alice:one\n\
         db.example:5433:app:alice:two\n\
         db.example:*:other:*:three\n\
         localhost:5432:app:alice:four\n\
         /srv/pg:5432:app:alice:five\n\
         \\:\\:1:5432:app:alice:six\n\
         h:5432:app:bob:pa\\:ss\\\\word\n",
        0o600,
    );
    let found = |url: &str| {
        let t = PgTarget::parse_with(url, &env).unwrap();
        password(&t).map(|p| String::from_utf8(p.to_vec()).unwrap())
    };
    assert_eq!(
        found("postgres://alice@db.example/app").as_deref(),
        Some("one")
    );
    assert_eq!(
        found("postgres://alice@db.example:5433/app").as_deref(),
        Some("two")
    );
    assert_eq!(
        found("postgres://carol@db.example:9/other").as_deref(),
        Some("three")
    );
    assert_eq!(
        found("postgres://alice@localhost/app").as_deref(),
        Some("four")
    );
    assert_eq!(found("postgres://alice@[::1]/app").as_deref(), Some("six"));
    assert_eq!(
        found("postgres://bob@h/app").as_deref(),
        Some("pa:ss\\word")
    );
    assert_eq!(found("postgres://alice@db.example/nope"), None);
    // A socket in the default folder is `localhost`; elsewhere, its path.
    assert_eq!(found("postgres://alice@/app").as_deref(), Some("four"));
    assert_eq!(
        found("postgres://alice@/app?host=/tmp").as_deref(),
        Some("four")
    );
    assert_eq!(
        found("postgres://alice@/app?host=/srv/pg").as_deref(),
        Some("five")
    );
    assert_eq!(found("postgres://alice@/app?host=/srv/other"), None);
}

#[test]
fn an_empty_password_in_the_file_is_none() {
    let (_home, env) = home_with_pgpass("*:*:*:*:\n", 0o600);
    let t = PgTarget::parse_with("postgres://u@h/db", &env).unwrap();
    assert_eq!(password(&t), None);
    assert_eq!(t.password_source(), &PasswordSource::None);
}

#[test]
fn a_password_file_others_may_read_is_ignored_with_a_warning() {
    let (_home, env) = home_with_pgpass("*:*:*:*:Sekr3t\n", 0o644);
    let t = PgTarget::parse_with("postgres://u@h/db", &env).unwrap();
    assert_eq!(password(&t), None);
    assert_eq!(t.warnings().len(), 1);
    assert!(t.warnings()[0].contains(".pgpass"), "{:?}", t.warnings());
    assert!(!t.warnings()[0].contains(SECRET));
    // Not read at all when the password is given otherwise.
    let t = PgTarget::parse_with("postgres://u:x@h/db", &env).unwrap();
    assert!(t.warnings().is_empty());
}

#[test]
fn display_and_debug_never_show_the_password() {
    let cases = [
        (
            "postgres://alice:Sekr3t@db.example:5433/app",
            "postgres://alice@db.example:5433/app",
        ),
        (
            "postgresql://alice:Sekr3t@db.example/app?schema=billing",
            "postgres://alice@db.example:5432/app?schema=billing",
        ),
        (
            "postgres://db.example/app?password=Sekr3t&sslmode=require",
            "postgres://osuser@db.example:5432/app",
        ),
        (
            "postgres://alice:Sekr3t@/app?host=/run/postgresql",
            "postgres://alice@/app?host=/run/postgresql",
        ),
        (
            "postgres://alice:Sekr3t@/app?host=/tmp&port=5499",
            "postgres://alice@/app?host=/tmp&port=5499",
        ),
        (
            "postgres://alice:Sekr3t@[::1]/app",
            "postgres://alice@[::1]:5432/app",
        ),
        (
            "postgres://al%40ice:Sekr3t@h/my%20db",
            "postgres://al%40ice@h:5432/my%20db",
        ),
    ];
    for (url, shown) in cases {
        let t = parse(url);
        assert_eq!(t.to_string(), shown);
        let debug = format!("{t:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(debug.contains(shown), "{debug}");
    }
    // What Display writes reads back as the same target.
    let t = parse("postgres://al%40ice:Sekr3t@/my%20db?host=/srv/p%20g&port=7&schema=s");
    let again = parse(&t.to_string());
    assert_eq!(
        (
            again.user(),
            again.dbname(),
            again.host(),
            again.port(),
            again.schema()
        ),
        (t.user(), t.dbname(), t.host(), t.port(), t.schema())
    );
}
