//! `--db postgres://...`: everything needed to reach a PostgreSQL store,
//! read as libpq reads a connection URI (PostgreSQL's documentation,
//! "Connection URIs"), with the parameters tokenctl accepts.
//!
//! tokio-postgres's own parser refuses `verify-full`, `sslrootcert` and
//! `schema`, and reads neither `PGPASSWORD` nor the password file, so the
//! URL is read here. A password never appears in a message: errors name the
//! part that is wrong, never its value, and `Display` leaves it out.

mod parts;
mod pgpass;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::error::Error;
use parts::Parts;

/// PostgreSQL's port when the URL names none.
pub const DEFAULT_PORT: u16 = 5432;
/// The schema the store lives in when the URL names none.
pub const DEFAULT_SCHEMA: &str = "tokenctl";
/// What the server shows for tokenctl's sessions when the URL names nothing
/// else (`pg_stat_activity`).
pub const DEFAULT_APPLICATION_NAME: &str = "tokenctl";

const FORM: &str = "postgres://[USER[:PASSWORD]@][HOST][:PORT]/DBNAME[?PARAMS]";
const PARAMS: &str = "host, port, user, password, dbname, sslmode, sslrootcert, schema, \
                      connect_timeout, application_name";

/// Whether `--db` names a PostgreSQL store: a `postgres://` or
/// `postgresql://` URL, the scheme in any case.
pub fn is_postgres_url(text: &str) -> bool {
    scheme_rest(text).is_some()
}

/// The URL after its `postgres://` or `postgresql://`.
fn scheme_rest(text: &str) -> Option<&str> {
    let (scheme, rest) = text.split_once("://")?;
    (scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql"))
        .then_some(rest)
}

/// `sslmode`, with libpq's meanings. `allow` is refused: it would try
/// without TLS first, which tokio-postgres cannot do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, the certificate unchecked (the default).
    Prefer,
    /// TLS always, the certificate unchecked.
    Require,
    /// TLS always, the certificate signed by a trusted authority.
    VerifyCa,
    /// TLS always, the certificate signed by a trusted authority and naming
    /// the host.
    VerifyFull,
}

impl TlsMode {
    fn parse(text: &str) -> Result<TlsMode, Error> {
        let hint = "use sslmode=disable, prefer, require, verify-ca or verify-full";
        Ok(match text {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            "allow" => {
                return Err(Error::usage("sslmode \"allow\" is not supported").with_hint(hint));
            }
            _ => return Err(Error::usage(format!("invalid sslmode {text:?}")).with_hint(hint)),
        })
    }

    /// The mode as `sslmode=` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name or IP address (IPv6 without its brackets).
    Tcp(String),
    /// The folder holding the server's Unix socket.
    Socket(PathBuf),
}

/// Where the password came from, for a hint after a failed login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    None,
    /// The URL: its user part or `?password=`.
    Url,
    /// `PGPASSWORD`.
    Environment,
    /// The password file (`PGPASSFILE` or `~/.pgpass`).
    File(PathBuf),
}

/// What the parser reads from the process besides the URL, gathered in one
/// place so that tests can give their own.
pub struct Env {
    /// The OS login name, the user when the URL names none.
    pub login: Option<String>,
    /// `PGPASSWORD`.
    pub pgpassword: Option<Vec<u8>>,
    /// `PGPASSFILE`.
    pub pgpassfile: Option<PathBuf>,
    /// The home folder, for `~/.pgpass`.
    pub home: Option<PathBuf>,
    /// The Unix-socket folder when the URL names no host, as libpq's
    /// compiled-in default: Debian's `/run/postgresql` where it exists,
    /// else `/tmp`.
    pub default_socket_dir: PathBuf,
}

impl Env {
    pub fn from_process() -> Env {
        use std::os::unix::ffi::OsStringExt;
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        let socket_dir = ["/run/postgresql", "/var/run/postgresql"]
            .into_iter()
            .map(PathBuf::from)
            .find(|dir| dir.is_dir())
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        Env {
            login: crate::commands::os_user::login_name(),
            pgpassword: var("PGPASSWORD").map(OsStringExt::into_vec),
            pgpassfile: var("PGPASSFILE").map(PathBuf::from),
            home: directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()),
            default_socket_dir: socket_dir,
        }
    }
}

/// A PostgreSQL store's address and settings, read from `--db`.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    host: Host,
    port: u16,
    user: String,
    dbname: String,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
    schema: String,
    password: PasswordSource,
    warnings: Vec<String>,
}

impl PgTarget {
    /// Reads `url` with the process's environment (`PGPASSWORD`,
    /// `PGPASSFILE`, the home folder, the login name).
    pub fn parse(url: &str) -> Result<PgTarget, Error> {
        PgTarget::parse_with(url, &Env::from_process())
    }

    pub fn parse_with(url: &str, env: &Env) -> Result<PgTarget, Error> {
        let parts = Parts::split(url)?;
        let host = match parts.host {
            None => Host::Socket(env.default_socket_dir.clone()),
            Some(h) if h.starts_with('/') => Host::Socket(PathBuf::from(h)),
            Some(h) => Host::Tcp(h),
        };
        let port = parts.port.unwrap_or(DEFAULT_PORT);
        let user = parts.user.or_else(|| env.login.clone()).ok_or_else(|| {
            Error::usage("cannot tell which PostgreSQL user to connect as")
                .with_hint(format!("name one in the URL: {FORM}"))
        })?;
        let dbname = parts.dbname.unwrap_or_else(|| user.clone());
        let file_host = match &host {
            Host::Tcp(h) => h.clone(),
            Host::Socket(dir) => pgpass::host_for_socket(dir),
        };
        let port_text = port.to_string();
        let wanted = pgpass::Wanted {
            host: &file_host,
            port: &port_text,
            dbname: &dbname,
            user: &user,
        };
        let mut warnings = Vec::new();
        let (password, source) = find_password(parts.password, env, &wanted, &mut warnings);

        let mut config = tokio_postgres::Config::new();
        config
            .user(&user)
            .dbname(&dbname)
            .port(port)
            .application_name(
                parts
                    .application_name
                    .as_deref()
                    .unwrap_or(DEFAULT_APPLICATION_NAME),
            )
            .ssl_mode(ssl_mode(&host, parts.tls));
        match &host {
            Host::Tcp(h) => config.host(h),
            Host::Socket(dir) => config.host_path(dir),
        };
        if let Some(password) = password {
            config.password(password);
        }
        if let Some(timeout) = parts.connect_timeout {
            config.connect_timeout(timeout);
        }
        Ok(PgTarget {
            config,
            host,
            port,
            user,
            dbname,
            tls: parts.tls,
            root_cert: parts.root_cert,
            schema: parts.schema,
            password: source,
            warnings,
        })
    }

    /// The settings to connect with, password included.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The same settings for the synchronous client.
    pub fn sync_config(&self) -> ::postgres::Config {
        ::postgres::Config::from(self.config.clone())
    }

    /// The connector for `config()`, as `sslmode` and `sslrootcert` ask.
    pub fn connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, Error> {
        super::tls::connector(self.tls, self.root_cert.as_deref())
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// `sslmode` as given (the default `prefer`). Over a Unix socket no TLS
    /// is used whatever it says, as with libpq.
    pub fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    /// `sslrootcert`: the authorities to trust instead of the system's.
    pub fn root_cert(&self) -> Option<&Path> {
        self.root_cert.as_deref()
    }

    /// The schema the store lives in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Whether the URL itself holds the password: on the command line,
    /// anyone on the machine can read it (`ps`).
    pub fn password_in_url(&self) -> bool {
        self.password == PasswordSource::Url
    }

    pub fn password_source(&self) -> &PasswordSource {
        &self.password
    }

    /// Lines to show as warnings, as libpq prints them (a password file
    /// others may read, ignored).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// The password and where it came from: the URL, else `PGPASSWORD`, else
/// the password file, as libpq looks (an empty one is none).
fn find_password(
    from_url: Option<Vec<u8>>,
    env: &Env,
    wanted: &pgpass::Wanted,
    warnings: &mut Vec<String>,
) -> (Option<Vec<u8>>, PasswordSource) {
    if let Some(p) = from_url {
        return (Some(p), PasswordSource::Url);
    }
    if let Some(p) = env.pgpassword.clone() {
        return (Some(p), PasswordSource::Environment);
    }
    let file = env.pgpassfile.clone();
    let Some(path) = file.or_else(|| env.home.as_ref().map(|h| h.join(".pgpass"))) else {
        return (None, PasswordSource::None);
    };
    match pgpass::lookup(&path, wanted, warnings) {
        Some(p) if !p.is_empty() => (Some(p), PasswordSource::File(path)),
        _ => (None, PasswordSource::None),
    }
}

/// tokio-postgres's mode: no TLS over a Unix socket (PostgreSQL does not
/// offer it there, and libpq does not ask), and the verifying modes are
/// `Require` with a verifying connector.
fn ssl_mode(host: &Host, tls: TlsMode) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::SslMode;
    match (host, tls) {
        (Host::Socket(_), _) | (_, TlsMode::Disable) => SslMode::Disable,
        (_, TlsMode::Prefer) => SslMode::Prefer,
        (_, TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull) => SslMode::Require,
    }
}

/// Characters that would change the meaning of a URL part.
const PART: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'/')
    .add(b':')
    .add(b'=')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b']');
const SOCKET_PATH: &AsciiSet = &PART.remove(b'/');

/// The URL without its password, for messages.
impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut params = Vec::new();
        write!(f, "postgres://{}@", utf8_percent_encode(&self.user, PART))?;
        match &self.host {
            Host::Tcp(h) if h.contains(':') => {
                write!(f, "[{}]:{}", h.replace('%', "%25"), self.port)?
            }
            Host::Tcp(h) => write!(f, "{}:{}", utf8_percent_encode(h, PART), self.port)?,
            Host::Socket(dir) => {
                let dir = dir.to_string_lossy();
                params.push(format!("host={}", utf8_percent_encode(&dir, SOCKET_PATH)));
                if self.port != DEFAULT_PORT {
                    params.push(format!("port={}", self.port));
                }
            }
        }
        write!(f, "/{}", utf8_percent_encode(&self.dbname, PART))?;
        if self.schema != DEFAULT_SCHEMA {
            params.push(format!("schema={}", self.schema));
        }
        if !params.is_empty() {
            write!(f, "?{}", params.join("&"))?;
        }
        Ok(())
    }
}

/// Never the password: the URL as `Display` writes it.
impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &self.to_string())
            .field("tls", &self.tls)
            .field("root_cert", &self.root_cert)
            .field("password", &self.password)
            .finish()
    }
}
