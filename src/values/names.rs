//! Token and account names.

use super::no_token;
use crate::error::{Error, Result};

/// A token name: 1 to 50 of `A-Z a-z 0-9 - _`.
pub fn token_name(name: &str) -> Result<()> {
    no_token("a token name", name)?;
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.len() > 50 || !name.chars().all(ok_char) {
        return Err(
            Error::usage(format!("invalid token name {name:?}")).with_hint(
                "a token name is 1 to 50 characters of A-Z a-z 0-9 - _ (e.g. deploy-prod)",
            ),
        );
    }
    Ok(())
}

/// An account name: 1 to 64 of `A-Z a-z 0-9 . _ - @`, not starting with `-`.
pub fn account_name(name: &str) -> Result<()> {
    no_token("an account name", name)?;
    let ok_char = |c: char| c.is_ascii_alphanumeric() || ".-_@".contains(c);
    if name.is_empty() || name.len() > 64 || name.starts_with('-') || !name.chars().all(ok_char) {
        return Err(
            Error::usage(format!("invalid account name {name:?}")).with_hint(
                "an account name is 1 to 64 characters of A-Z a-z 0-9 . _ - @, not starting with -",
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names() {
        assert!(token_name("deploy-runner_2").is_ok());
        assert!(token_name(&"a".repeat(50)).is_ok());
        assert!(token_name(&"a".repeat(51)).is_err());
        for bad in ["", "has space", "dot.name", "ünï", "semi;colon"] {
            assert!(token_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn account_names() {
        assert!(account_name("alice@example.com").is_ok());
        assert!(account_name("a.b_c-d").is_ok());
        assert!(account_name(&"a".repeat(64)).is_ok());
        assert!(account_name(&"a".repeat(65)).is_err());
        assert!(account_name("-alice").is_err());
        assert!(account_name("al ice").is_err());
    }
}
