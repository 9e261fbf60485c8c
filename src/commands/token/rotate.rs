//! `token rotate`: a new secret for a token, the old one kept for a grace.

use anyhow::Result;

use super::{resolve_live, show_issued, suspended};
use crate::cli::RotateArgs;
use crate::commands::Context;
use crate::error::Error;
use crate::output;

use crate::{token, values};

/// The longest a rotated-out secret may keep working.
const MAX_GRACE: i64 = 30 * 86_400;

pub(super) fn rotate(ctx: &Context, args: RotateArgs) -> Result<()> {
    let grace = values::grace(&args.grace)?;
    if grace > MAX_GRACE {
        return Err(
            Error::usage(format!("grace {} is longer than 30 days", args.grace))
                .with_hint("give at most 30d, or 0 to stop the old secret at once")
                .into(),
        );
    }
    // argon2 runs here, before the write lock is taken; only the new
    // secret is used, the token keeps its id.
    let new = token::generate()?;
    let secret_hash = token::hash_secret(&new.secret)?;

    let mut store = ctx.open_to_change()?;
    let rotated = ctx.write_as_account(&mut store, |tx, account| {
        // A new secret is a new credential: not for a suspended account.
        if account.suspended {
            return Err(suspended(account).into());
        }
        let mut t = resolve_live(ctx, tx, account, &args.token, "rotated")?;
        // The old secret works until the grace ends, never past expiry. A
        // grace from an earlier rotation ends here: only the secret being
        // replaced is kept.
        let grace_end = (grace > 0).then(|| {
            let end = ctx.now + grace;
            t.expires_at.map_or(end, |expires| end.min(expires))
        });
        t.prev_secret_hash = grace_end.map(|_| t.secret_hash.clone());
        t.prev_valid_until = grace_end;
        t.secret_hash = secret_hash;
        tx.update_token(&t)?;
        let mut event = ctx.token_event("rotate", &t);
        event.detail = Some(match grace_end {
            Some(end) => format!("old secret valid until {}", output::utc(end)),
            None => "old secret stopped at once".into(),
        });
        tx.record_event(&event)?;
        Ok(t)
    })?;
    let plaintext = token::assemble(&rotated.id, &new.secret);
    show_issued(ctx, &rotated, &plaintext, true)
}
