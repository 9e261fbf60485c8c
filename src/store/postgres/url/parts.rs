//! The text of a PostgreSQL URL taken apart and percent-decoded, as libpq
//! reads it, before any default is filled in. Errors name the part that is
//! wrong, never its value: a mistyped URL can move a password anywhere.

use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use super::{DEFAULT_SCHEMA, FORM, PARAMS, TlsMode, scheme_rest};
use crate::error::Error;

/// The URL's parts, decoded, before defaults.
pub(super) struct Parts {
    pub(super) user: Option<String>,
    pub(super) password: Option<Vec<u8>>,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) dbname: Option<String>,
    pub(super) tls: TlsMode,
    pub(super) root_cert: Option<PathBuf>,
    pub(super) schema: String,
    pub(super) connect_timeout: Option<Duration>,
    pub(super) application_name: Option<String>,
}

impl Parts {
    pub(super) fn split(url: &str) -> Result<Parts, Error> {
        let rest = scheme_rest(url).ok_or_else(|| {
            Error::usage("a PostgreSQL URL starts with postgres:// or postgresql://")
                .with_hint(format!("write {FORM}"))
        })?;
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (before_query, None),
        };
        // A password holding a raw `/` or `?` would end the host part early
        // and leave the rest to be read (and quoted) as something else.
        if path.is_some_and(|p| p.contains('@')) || query.is_some_and(|q| q.contains('@')) {
            return Err(
                Error::usage("the PostgreSQL URL has an '@' after its host part").with_hint(
                    "percent-encode '@', '/' and '?' in the user name, password and values \
                     (%40, %2F, %3F)",
                ),
            );
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let mut parts = Parts {
            user: None,
            password: None,
            host: None,
            port: None,
            dbname: None,
            tls: TlsMode::Prefer,
            root_cert: None,
            schema: DEFAULT_SCHEMA.to_string(),
            connect_timeout: None,
            application_name: None,
        };
        if let Some(info) = userinfo {
            let (user, password) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            parts.user = non_empty(text(user, "user name")?);
            if let Some(p) = password {
                parts.password = Some(decode(p, "password")?).filter(|p| !p.is_empty());
            }
        }
        (parts.host, parts.port) = host_and_port(host_port)?;
        if let Some(path) = path {
            parts.dbname = non_empty(text(path, "database name")?);
        }
        let mut seen: Vec<String> = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                Error::usage("a parameter of the PostgreSQL URL has no '='")
                    .with_hint("write ?KEY=VALUE&KEY=VALUE")
            })?;
            let key = text(key, "parameter name")?;
            if seen.contains(&key) {
                return Err(Error::usage(format!(
                    "the PostgreSQL URL gives {key:?} more than once"
                ))
                .with_hint("give each parameter once"));
            }
            parts.set(&key, value)?;
            seen.push(key);
        }
        Ok(parts)
    }

    /// One `?KEY=VALUE`. An empty value leaves libpq's parameters unset;
    /// those of the URL's own parts give way to them, as with libpq.
    fn set(&mut self, key: &str, raw: &str) -> Result<(), Error> {
        if key == "password" {
            self.password = Some(decode(raw, "password")?).filter(|p| !p.is_empty());
            return Ok(());
        }
        let value = text(raw, key)?;
        match key {
            "host" => {
                if value.contains(',') {
                    return Err(several_hosts());
                }
                self.host = non_empty(value);
            }
            "port" if value.is_empty() => self.port = None,
            "port" => self.port = Some(port(&value)?),
            "user" => self.user = non_empty(value),
            "dbname" => self.dbname = non_empty(value),
            "sslmode" => self.tls = TlsMode::parse(&value)?,
            "sslrootcert" => self.root_cert = non_empty(value).map(PathBuf::from),
            "schema" => self.schema = schema(value)?,
            "connect_timeout" => self.connect_timeout = connect_timeout(&value)?,
            "application_name" => self.application_name = non_empty(value),
            _ => {
                return Err(Error::usage(format!(
                    "unknown parameter {key:?} in the PostgreSQL URL"
                ))
                .with_hint(format!("the parameters are {PARAMS}")));
            }
        }
        Ok(())
    }
}

/// `HOST`, `HOST:PORT`, `[IPv6]:PORT`, or nothing; the host decoded (a
/// socket folder may come percent-encoded: `%2Frun%2Fpostgresql`).
fn host_and_port(text: &str) -> Result<(Option<String>, Option<u16>), Error> {
    if text.contains(',') {
        return Err(several_hosts());
    }
    let (host, port_text) = if let Some(bracketed) = text.strip_prefix('[') {
        let bad = || {
            Error::usage("invalid IPv6 address in the PostgreSQL URL")
                .with_hint("write an IPv6 host in brackets: postgres://USER@[::1]:5432/DBNAME")
        };
        let (address, after) = bracketed.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad)?),
        };
        if address.is_empty() {
            return Err(bad());
        }
        (address, port)
    } else {
        match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let port = match port_text {
        None | Some("") => None,
        Some(p) => Some(port(p)?),
    };
    Ok((non_empty(self::text(host, "host")?), port))
}

fn several_hosts() -> Error {
    Error::usage("the PostgreSQL URL names several hosts; tokenctl connects to one")
        .with_hint("name one host (a primary, or an address that follows it)")
}

/// A port. The text is not quoted back: a mistyped URL can put part of a
/// password where the port should be.
fn port(text: &str) -> Result<u16, Error> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p != 0 && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Error::usage("the port in the PostgreSQL URL is not a number from 1 to 65535")
                .with_hint(format!("write {FORM}"))
        })
}

/// A plain SQL identifier, so that it never needs quoting: lowercase ASCII
/// letters, digits and `_`, not starting with a digit, at most 63 bytes
/// (PostgreSQL's limit).
fn schema(name: String) -> Result<String, Error> {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let starts_well = name.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    if plain && starts_well && name.len() <= 63 {
        Ok(name)
    } else {
        Err(Error::usage(format!("invalid schema name {name:?}"))
            .with_hint("use 1 to 63 lowercase letters, digits and _, not starting with a digit"))
    }
}

/// Seconds; 0 waits forever, and less than 2 is 2, as with libpq.
fn connect_timeout(text: &str) -> Result<Option<Duration>, Error> {
    let seconds: u64 = text
        .parse()
        .ok()
        .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Error::usage(format!("invalid connect_timeout {text:?}"))
                .with_hint("give a whole number of seconds, or 0 to wait forever")
        })?;
    Ok(match seconds {
        0 => None,
        s => Some(Duration::from_secs(s.max(2))),
    })
}

fn non_empty(text: String) -> Option<String> {
    Some(text).filter(|t| !t.is_empty())
}

/// A part of the URL as text. `what` names it in errors, which never quote
/// the part itself.
fn text(part: &str, what: &str) -> Result<String, Error> {
    String::from_utf8(decode(part, what)?).map_err(|_| {
        Error::usage(format!(
            "the {what} in the PostgreSQL URL is not valid UTF-8"
        ))
        .with_hint("percent-encode the UTF-8 bytes of the text")
    })
}

/// Percent-decodes a part of the URL, refusing what libpq refuses: a `%`
/// not followed by two hex digits, and `%00`.
fn decode(part: &str, what: &str) -> Result<Vec<u8>, Error> {
    let bytes = part.as_bytes();
    let well_formed = part.match_indices('%').all(|(i, _)| {
        bytes
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    let decoded: Vec<u8> = percent_decode_str(part).collect();
    if !well_formed || decoded.contains(&0) {
        return Err(Error::usage(format!(
            "invalid percent-encoding in the {what} of the PostgreSQL URL"
        ))
        .with_hint("write a special character as % and two hex digits (@ is %40), never %00"));
    }
    Ok(decoded)
}
