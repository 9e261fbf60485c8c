//! Parsing and validation of the values users type: names, privileges,
//! WHEN and DUR, networks and globs. Every refusal is a usage error (exit 2)
//! whose message names the bad value and the rule it broke.

mod names;
mod networks;
mod privileges;
mod text;
mod time;

use crate::error::{Error, Result};

pub use names::{account_name, token_name};
pub use networks::{AllowList, MAX_ALLOW_IPS, address, ip_net, network};
pub use privileges::{
    ALL, AclEdit, MAX_PRIVILEGES, Privileges, close_matches, privilege, privileges,
};
pub use text::{description, glob, note, search};
pub use time::{duration, expiry, grace, since};

/// Refuses a value holding a token's shape: a pasted plaintext must never
/// become a name, note or filter (and so reach the store or audit trail).
/// The value itself is not quoted.
fn no_token(what: &str, text: &str) -> Result<()> {
    if crate::token::contains_token_shape(text) {
        return Err(
            Error::usage(format!("{what} cannot contain a token")).with_hint(
                "tokens are read from stdin or TOKENCTL_TOKEN, never from arguments or stored as data",
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
