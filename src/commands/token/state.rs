//! `token disable`, `enable` and `revoke`: state changes of named tokens.

use anyhow::Result;

use super::{plural, resolve_live, revoked_conflict, token_not_found};
use crate::commands::Context;
use crate::model::Token;
use crate::output::{self, ChangedView, RevokedView};
use crate::store::Queries;

/// The state changes that take several `<TOKEN>`s.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    Revoke,
    Disable,
    Enable,
}

impl Change {
    fn action(self) -> &'static str {
        match self {
            Change::Revoke => "revoke",
            Change::Disable => "disable",
            Change::Enable => "enable",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Change::Revoke => "revoked",
            Change::Disable => "disabled",
            Change::Enable => "enabled",
        }
    }

    /// Whether the change would do anything to `t`.
    fn applies_to(self, t: &Token) -> bool {
        match self {
            Change::Revoke => t.revoked_at.is_none(),
            Change::Disable => t.disabled_at.is_none(),
            Change::Enable => t.disabled_at.is_some(),
        }
    }
}

/// Revokes, disables or enables several tokens in one transaction: if any
/// is not found (or, for disable/enable, revoked) nothing changes. A token
/// already in the wanted state is left alone, with no audit event.
pub(super) fn change_tokens(ctx: &Context, names: &[String], change: Change) -> Result<()> {
    let mut store = ctx.open_to_change()?;
    let targets = resolve_all(ctx, &store, names, change)?;
    let pending: Vec<&str> = targets
        .iter()
        .filter(|t| change.applies_to(t))
        .map(|t| t.name.as_str())
        .collect();
    if change == Change::Revoke && !pending.is_empty() {
        ctx.confirm(&format!(
            "Revoke {} ({})? It stops working at once",
            plural(pending.len(), "token"),
            pending.join(", ")
        ))?;
    }

    let (changed, unchanged) = ctx.write_as_account(&mut store, |tx, account| {
        let (mut changed, mut unchanged) = (Vec::new(), Vec::new());
        for target in &targets {
            // Re-read under the write lock, by id (a name could now be
            // another token's): another process may have acted meanwhile.
            let mut t = tx
                .token_by_id(&target.id)?
                .filter(|t| t.account_id == account.id)
                .ok_or_else(|| token_not_found(ctx, &target.name))?;
            if change != Change::Revoke && t.revoked_at.is_some() {
                return Err(revoked_conflict(&t, change.past()).into());
            }
            if !change.applies_to(&t) {
                unchanged.push(t);
                continue;
            }
            match change {
                Change::Revoke => t.revoked_at = Some(ctx.now),
                Change::Disable => t.disabled_at = Some(ctx.now),
                Change::Enable => t.disabled_at = None,
            }
            tx.update_token(&t)?;
            tx.record_event(&ctx.token_event(change.action(), &t))?;
            changed.push(t);
        }
        Ok((changed, unchanged))
    })?;
    let view = ChangedView::new(change.past(), &changed, &unchanged, ctx.now);
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}

/// `token revoke --dry-run`: the tokens `revoke` would take, in the shape
/// of `revoke-all --dry-run`; changes nothing and never asks.
pub(super) fn revoke_dry_run(ctx: &Context, names: &[String]) -> Result<()> {
    let store = ctx.open_to_change()?;
    let mut would = resolve_all(ctx, &store, names, Change::Revoke)?;
    would.retain(|t| Change::Revoke.applies_to(t));
    let view = RevokedView::new(&[], Some(&would), ctx.now, false, None);
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}

/// Every named token, each once; an unknown name (or, for disable and
/// enable, a revoked token) is an error before anything is asked.
fn resolve_all(
    ctx: &Context,
    store: &dyn Queries,
    names: &[String],
    change: Change,
) -> Result<Vec<Token>> {
    let first = names.first().map(String::as_str).unwrap_or_default();
    let account = ctx
        .read_account(store)?
        .ok_or_else(|| token_not_found(ctx, first))?;
    let mut targets: Vec<Token> = Vec::new();
    for name in names {
        let t = match change {
            Change::Revoke => store
                .resolve_token(account.id, name)?
                .ok_or_else(|| token_not_found(ctx, name))?,
            _ => resolve_live(ctx, store, &account, name, change.past())?,
        };
        if !targets.iter().any(|o| o.id == t.id) {
            targets.push(t);
        }
    }
    Ok(targets)
}
