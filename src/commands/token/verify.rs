//! `token verify`: checks a token read from the environment or stdin.

use std::io::{self, BufRead, Read};

use anyhow::Result;

use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::error::{Error, Kind};
use crate::model::{Found, Token};
use crate::output::{self, RejectedView, VerifiedView};
use crate::store::{Queries, Store};
use crate::values::{self, Privileges};
use crate::verify::{self, Secret, Verdict};

/// The longest token `verify` reads; anything longer is malformed.
const MAX_TOKEN_INPUT: usize = 1024;

pub(super) fn verify(ctx: &Context, args: VerifyArgs) -> Result<()> {
    let wanted = Privileges::wanted(&args.acl)?;
    let ip = args.ip.as_deref().map(values::address).transpose()?;
    // A missing store is a failure of the setup, whatever the input.
    let store = Store::open_read(&ctx.db)?.ok_or_else(|| {
        Error::runtime(format!("no store at {}", ctx.db))
            .with_hint("create a token first, or point --db (or TOKENCTL_DB) at the store")
    })?;
    let input = read_token_input(ctx)?;
    // Input that cannot be a token is checked as none: malformed.
    let request = verify::Request {
        token: input.as_deref().unwrap_or_default(),
        account: None,
        wanted: &wanted,
        ip,
        now: ctx.now,
    };
    let checked = match check_token(&store, &request)? {
        Verdict::Refused { reason, .. } => Err(reason),
        Verdict::Valid {
            token: t,
            privileges,
        } => {
            let ip = ip.map(|ip| ip.to_string());
            // Last Used already says this second and this address: writing
            // it again would only queue for the write lock.
            if t.last_used_at != Some(ctx.now) || t.last_used_ip != ip {
                // The answer does not depend on recording Last Used, which
                // a store we can only read does not allow.
                let recorded = store
                    .to_change(|| {
                        Store::open_as_is(&ctx.db)?
                            .ok_or_else(|| Error::runtime(ctx.no_store()).into())
                    })
                    .and_then(|mut store| {
                        store.write(|tx| Ok(tx.record_use(&t.id, ctx.now, ip.as_deref())?))
                    });
                if let Err(e) = recorded {
                    ctx.msg.warn(&format!("could not record Last Used: {e:#}"));
                }
            }
            Ok((*t, privileges))
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

/// The sequence of tokenctl-token-verify(1) on this store. A store that
/// fails is a runtime error (exit 1), not a verdict.
fn check_token(store: &Store, request: &verify::Request<'_>) -> Result<Verdict> {
    run_to_end(verify::check(&OnStore(store), request))
}

/// Runs a future whose steps never wait (the CLI's are plain blocking
/// calls) on this thread, in one poll. Not an async runtime: the
/// PostgreSQL client runs its own, which may not start inside another.
fn run_to_end<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => Err(anyhow::anyhow!("a verification step waited")),
    }
}

/// The CLI's steps: a read of the store, and argon2 with no cache.
struct OnStore<'a>(&'a Store);

impl verify::Steps for OnStore<'_> {
    type Error = anyhow::Error;

    async fn lookup(&self, id: &str) -> Result<Option<Found>> {
        Ok(self.0.lookup(id)?)
    }

    async fn check_secret(
        &self,
        request: &verify::Request<'_>,
        secret: &str,
        stored: &Token,
    ) -> Result<Secret> {
        Ok(verify::plain_secret(stored, secret, request.now))
    }
}
