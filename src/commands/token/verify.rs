//! `token verify`: checks a token read from the environment or stdin.

use std::io::{self, BufRead, Read};
use std::net::IpAddr;

use anyhow::Result;

use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::error::{Error, Kind};
use crate::model::Token;
use crate::output::{self, RejectedView, VerifiedView};
use crate::store::{Queries, Store};
use crate::verify::{self, Reason};
use crate::{token, values};

/// The longest token `verify` reads; anything longer is malformed.
const MAX_TOKEN_INPUT: usize = 1024;

pub(super) fn verify(ctx: &Context, args: VerifyArgs) -> Result<()> {
    let wanted = values::normalize_acls(values::privileges(&args.acl)?);
    let ip = args.ip.as_deref().map(values::address).transpose()?;
    // A missing store is a failure of the setup, whatever the input.
    let store = Store::open_read(&ctx.db)?.ok_or_else(|| {
        Error::runtime(format!("no store at {}", ctx.db))
            .with_hint("create a token first, or point --db (or TOKENCTL_DB) at the store")
    })?;
    let input = read_token_input(ctx)?;
    // The checksum is checked before any lookup in the store.
    let checked = match input.as_deref().and_then(token::parse) {
        None => Err(Reason::Malformed),
        Some(parsed) => {
            let checked = check_token(ctx, &store, &parsed, &wanted, ip)?;
            let ip = ip.map(|ip| ip.to_string());
            // Last Used already says this second and this address: writing
            // it again would only queue for the write lock.
            if let Ok((t, _)) = &checked
                && (t.last_used_at != Some(ctx.now) || t.last_used_ip != ip)
            {
                // The answer does not depend on recording Last Used, which
                // a store we can only read does not allow.
                let recorded = ctx.open_to_change().and_then(|mut store| {
                    store.write(|tx| Ok(tx.record_use(&t.id, ctx.now, ip.as_deref())?))
                });
                if let Err(e) = recorded {
                    ctx.msg.warn(&format!("could not record Last Used: {e:#}"));
                }
            }
            checked
        }
    };
    let (t, acls) = match checked {
        Ok(found) => found,
        Err(reason) => {
            output::show(ctx.style, ctx.msg, &RejectedView::new(reason.as_str()))?;
            return Err(Error::new(Kind::VerifyFailed, format!("token rejected: {reason}")).into());
        }
    };
    output::show(ctx.style, ctx.msg, &VerifiedView::new(&t, &acls))?;
    Ok(())
}

/// The token to verify: `TOKENCTL_TOKEN` when set and non-empty, else the
/// first line of stdin. `None` when it cannot be a token (too long, not
/// UTF-8).
fn read_token_input(ctx: &Context) -> Result<Option<String>> {
    if let Some(value) = std::env::var_os("TOKENCTL_TOKEN").filter(|v| !v.is_empty()) {
        return Ok(value.into_string().ok().map(|s| s.trim().to_string()));
    }
    let stdin = io::stdin();
    if ctx.interactive {
        // Not echoed, so it stays off the screen and out of scrollback.
        let typed = dialoguer::Password::new()
            .with_prompt("Token")
            .allow_empty_password(true)
            .interact()
            .map_err(|e| Error::runtime(format!("cannot read the token: {e}")))?;
        return Ok(Some(typed.trim().to_string()).filter(|t| t.len() <= MAX_TOKEN_INPUT));
    }
    // Up to the first newline, and at most one byte past the limit: the
    // answer comes as soon as the line does, and a longer line is refused
    // without reading the rest.
    let mut buf = Vec::with_capacity(MAX_TOKEN_INPUT + 1);
    stdin
        .lock()
        .take(MAX_TOKEN_INPUT as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(|e| Error::runtime(format!("cannot read the token from stdin: {e}")))?;
    let line = match buf.strip_suffix(b"\n") {
        Some(line) => line,
        None if buf.len() > MAX_TOKEN_INPUT => return Ok(None),
        None => &buf[..],
    };
    Ok(String::from_utf8(line.to_vec())
        .ok()
        .map(|s| s.trim().to_string()))
}

/// The checks of tokenctl-token-verify(1) after the checksum. The outer
/// error is a runtime failure; the inner one the reason a token is
/// refused. A valid token comes with what it may do now (its privileges
/// within its account's).
fn check_token(
    ctx: &Context,
    store: &dyn Queries,
    parsed: &token::Parsed,
    wanted: &[String],
    ip: Option<IpAddr>,
) -> Result<Result<(Token, Vec<String>), Reason>> {
    // An unknown id costs no argon2: ids are not secret.
    let Some(found) = store.lookup(parsed.id)? else {
        return Ok(Err(Reason::Unknown));
    };
    if verify::matching_hash(&found.token, parsed.secret, ctx.now).is_none() {
        return Ok(Err(Reason::Unknown));
    }
    if let Err(reason) = verify::check_state(&found, ctx.now, wanted, ip) {
        return Ok(Err(reason));
    }
    let acls = match &found.account {
        Some(account) => verify::effective_acls(&found.token, account),
        None => Vec::new(),
    };
    Ok(Ok((found.token, acls)))
}
