//! Credentials from an `Authorization` header: `Bearer <token>`,
//! `Basic base64(user:token)` or `tokenctl <account>:<token>`; scheme
//! names are case-insensitive.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// A token, and the account the client named (Basic's user, or the
/// `tokenctl` scheme's account), which must then be the token's own.
/// The token is wiped from memory when the credentials are dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    pub token: Zeroizing<String>,
    pub account: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// No Authorization header.
    Missing,
    /// A header we cannot read.
    Malformed,
}

/// The credentials in an Authorization header's raw value (`None`: no
/// header). A pure function of the bytes, so it can be fuzzed alone.
pub fn parse(header: Option<&[u8]>) -> Result<Credentials, Problem> {
    let header = header.ok_or(Problem::Missing)?;
    let header = std::str::from_utf8(header).map_err(|_| Problem::Malformed)?;
    let (scheme, rest) = header.trim().split_once(' ').ok_or(Problem::Malformed)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Credentials {
            token: Zeroizing::new(rest.to_string()),
            account: None,
        });
    }
    // Basic's decoded pair holds the token too: wiped when dropped.
    let decoded;
    let pair = if scheme.eq_ignore_ascii_case("basic") {
        decoded = Zeroizing::new(STANDARD.decode(rest).map_err(|_| Problem::Malformed)?);
        std::str::from_utf8(&decoded).map_err(|_| Problem::Malformed)?
    } else if scheme.eq_ignore_ascii_case("tokenctl") {
        rest
    } else {
        return Err(Problem::Malformed);
    };
    let (account, token) = pair.split_once(':').ok_or(Problem::Malformed)?;
    Ok(Credentials {
        token: Zeroizing::new(token.to_string()),
        account: Some(account.to_string()).filter(|a| !a.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: &str, account: Option<&str>) -> Result<Credentials, Problem> {
        Ok(Credentials {
            token: Zeroizing::new(token.into()),
            account: account.map(Into::into),
        })
    }

    #[test]
    fn the_three_schemes() {
        assert_eq!(parse(Some(b"Bearer tct_x")), creds("tct_x", None));
        assert_eq!(parse(Some(b"bEaReR   tct_x ")), creds("tct_x", None));
        let basic = format!("Basic {}", STANDARD.encode("alice:tct_x"));
        assert_eq!(parse(Some(basic.as_bytes())), creds("tct_x", Some("alice")));
        let no_user = format!("basic {}", STANDARD.encode(":tct_x"));
        assert_eq!(parse(Some(no_user.as_bytes())), creds("tct_x", None));
        assert_eq!(
            parse(Some(b"TOKENCTL alice:tct_x")),
            creds("tct_x", Some("alice"))
        );
    }

    #[test]
    fn problems() {
        assert_eq!(parse(None), Err(Problem::Missing));
        for bad in [
            &b"Bearer"[..],
            b"Digest abc",
            b"Basic !!!",
            b"tokenctl no-colon",
            b"\xff\xfe",
        ] {
            assert_eq!(parse(Some(bad)), Err(Problem::Malformed), "{bad:?}");
        }
    }
}
