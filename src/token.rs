//! The token format: `tct_` + 10 id + 30 secret + 6 checksum, all base62.
//!
//! The id is the lookup key and is not secret; the secret is 30 base62
//! characters (about 178 bits) from the OS CSPRNG; the checksum is
//! CRC-32/IEEE of the first 44 bytes, so a typo or truncated paste is caught
//! before any store lookup. Only an argon2id hash of the secret is kept.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRng;
use rand::rngs::SysRng;

use crate::error::{Error, Result};

pub const PREFIX: &str = "tct_";
pub const ID_LEN: usize = 10;
pub const SECRET_LEN: usize = 30;
pub const CHECKSUM_LEN: usize = 6;
pub const TOKEN_LEN: usize = PREFIX.len() + ID_LEN + SECRET_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly generated token. The plaintext lives only in memory, long
/// enough to hash the secret and show the whole token once.
pub struct NewToken {
    pub id: String,
    pub secret: String,
    pub plaintext: String,
}

/// A token that passed the format and checksum checks.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub id: &'a str,
    pub secret: &'a str,
}

/// `len` characters drawn uniformly from the base62 alphabet using the OS
/// CSPRNG. Bytes of 248 and above are dropped so that `% 62` has no bias.
fn random_base62(len: usize) -> Result<String> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        SysRng
            .try_fill_bytes(&mut buf)
            .map_err(|e| Error::runtime(format!("the OS random generator failed: {e}")))?;
        for &b in buf.iter().filter(|&&b| b < 248) {
            if out.len() == len {
                break;
            }
            out.push(BASE62[usize::from(b % 62)] as char);
        }
    }
    Ok(out)
}

/// A new random token id (used again when an id is already taken).
pub fn generate_id() -> Result<String> {
    random_base62(ID_LEN)
}

/// A new token: a random id and secret, with its checksum.
pub fn generate() -> Result<NewToken> {
    let id = generate_id()?;
    let secret = random_base62(SECRET_LEN)?;
    let plaintext = assemble(&id, &secret);
    Ok(NewToken {
        id,
        secret,
        plaintext,
    })
}

/// The plaintext for an id and secret: prefix, id, secret and checksum.
pub fn assemble(id: &str, secret: &str) -> String {
    let body = format!("{PREFIX}{id}{secret}");
    let checksum = checksum(body.as_bytes());
    body + &checksum
}

/// CRC-32/IEEE of `body`, in base62, most significant digit first,
/// left-padded with `0` to six characters.
pub fn checksum(body: &[u8]) -> String {
    let mut n = crc32fast::hash(body);
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    // 62^6 > 2^32, so every CRC fits in six digits.
    String::from_utf8_lossy(&digits).into_owned()
}

/// Checks shape and checksum; no store access. `None` means malformed.
pub fn parse(text: &str) -> Option<Parsed<'_>> {
    let bytes = text.as_bytes();
    if bytes.len() != TOKEN_LEN
        || !text.starts_with(PREFIX)
        || !bytes[PREFIX.len()..].iter().all(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    let (body, sum) = text.split_at(TOKEN_LEN - CHECKSUM_LEN);
    if checksum(body.as_bytes()) != sum {
        return None;
    }
    let rest = &body[PREFIX.len()..];
    let (id, secret) = rest.split_at(ID_LEN);
    Some(Parsed { id, secret })
}

/// The argon2id hasher with OWASP's recommended minimum (m = 19456 KiB, t = 2, p = 1).
/// Verification uses the parameters in the stored PHC string instead, so
/// they can be raised later without breaking existing tokens.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// The argon2id PHC string of a secret, with a random salt.
pub fn hash_secret(secret: &str) -> Result<String> {
    hasher()
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| Error::runtime(format!("hashing the secret failed: {e}")))
}

/// Whether `secret` matches the stored PHC string. A malformed stored hash
/// never matches.
pub fn secret_matches(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|hash| hasher().verify_password(secret.as_bytes(), &hash).is_ok())
}

/// Whether `text` holds a token's shape anywhere: `tct_` and at least 46
/// base62 characters (checksum or not). Such a value is refused as a name,
/// note or filter, so that a pasted plaintext never lands in the store.
pub fn contains_token_shape(text: &str) -> bool {
    base62_runs_after_prefix(text).any(|run| run >= TOKEN_LEN - PREFIX.len())
}

/// The length of the base62 run after each `tct_` in `text`.
fn base62_runs_after_prefix(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.match_indices(PREFIX).map(|(at, _)| {
        text[at + PREFIX.len()..]
            .bytes()
            .take_while(u8::is_ascii_alphanumeric)
            .count()
    })
}

/// `text` with anything that looks like a token (even a mistyped one:
/// `tct_` and 20 or more base62 characters) replaced, for error messages
/// that quote what a user typed.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let after = &rest[at + PREFIX.len()..];
        let run = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
        out.push_str(&rest[..at + PREFIX.len()]);
        if run >= 20 {
            out.push_str("<redacted>");
            rest = &after[run..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        for _ in 0..50 {
            let t = generate().unwrap();
            assert_eq!(t.plaintext.len(), 50);
            assert!(t.plaintext.starts_with("tct_"));
            assert!(t.plaintext[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
            let parsed = parse(&t.plaintext).unwrap();
            assert_eq!(parsed.id, t.id);
            assert_eq!(parsed.secret, t.secret);
        }
    }

    #[test]
    fn checksum_is_crc32_ieee_in_padded_base62() {
        // zlib.crc32(b"") == 0; zlib.crc32(b"123456789") == 0xCBF43926.
        assert_eq!(checksum(b""), "000000");
        let mut n: u64 = 0xCBF4_3926;
        let mut expect = Vec::new();
        while n > 0 {
            expect.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        expect.resize(6, b'0');
        expect.reverse();
        assert_eq!(checksum(b"123456789").as_bytes(), expect.as_slice());
    }

    #[test]
    fn any_single_character_change_is_malformed() {
        let t = generate().unwrap().plaintext;
        for i in 4..t.len() {
            let mut bytes = t.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(parse(&changed).is_none(), "changed byte {i} still parses");
        }
        assert!(parse(&t[..49]).is_none());
        assert!(parse(&format!("{t}x")).is_none());
        assert!(parse(&t.replacen("tct_", "tcx_", 1)).is_none());
        assert!(parse("").is_none());
        assert!(parse("tct_ääääääääääääääääääääääääääääää").is_none());
    }

    #[test]
    fn redaction_hides_tokens_and_near_tokens_only() {
        let t = generate().unwrap().plaintext;
        let message = format!("unexpected argument '{t}' found");
        assert_eq!(
            redact(&message),
            "unexpected argument 'tct_<redacted>' found"
        );
        assert!(!redact(&format!("{}x", &t[..40])).contains(&t[10..40]));
        assert_eq!(redact("no token 'tct_ab' here"), "no token 'tct_ab' here");
        assert_eq!(redact("tct_tct_"), "tct_tct_");
    }

    #[test]
    fn token_shapes_are_found_anywhere() {
        let t = generate().unwrap().plaintext;
        assert!(contains_token_shape(&t));
        assert!(contains_token_shape(&format!("see {t}, thanks")));
        assert!(contains_token_shape(&format!("x{t}y")));
        assert!(!contains_token_shape(&t[..49]));
        assert!(!contains_token_shape("tct_short"));
        assert!(!contains_token_shape(&t.replacen("tct_", "tct-", 1)));
    }

    #[test]
    fn hashes_are_argon2id_with_default_params_and_verify() {
        let hash = hash_secret("s3cret").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(secret_matches("s3cret", &hash));
        assert!(!secret_matches("s3cres", &hash));
        assert!(!secret_matches("s3cret", "not a hash"));
    }

    #[test]
    fn verification_reads_parameters_from_the_stored_hash() {
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let phc = cheap.hash_password(b"s3cret").unwrap().to_string();
        assert!(phc.contains("m=8,t=1,p=1"));
        assert!(secret_matches("s3cret", &phc));
    }
}
