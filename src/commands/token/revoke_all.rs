//! `token revoke-all`: revokes every token a selection matches.

use std::collections::HashSet;

use anyhow::Result;

use super::selection::{parse_glob, selection_account, selection_query};
use crate::cli::{RevokeAllArgs, SelectionArgs};
use crate::commands::Context;
use crate::model::Token;
use crate::output::{self, RevokedView, TokenList};
use crate::store::Queries;

/// From this many tokens on, a person confirms by typing the count, not
/// just `y`: up to four is a list read at a glance, more is a bulk action
/// (README, "Exit codes").
const TYPE_THE_COUNT_FROM: usize = 5;

pub(super) fn revoke_all(ctx: &Context, args: RevokeAllArgs) -> Result<()> {
    let glob = parse_glob(&args.selection)?;
    let mut store = ctx.open_to_change()?;
    let account = match selection_account(ctx, &store, &args.selection)? {
        Ok(account) => account,
        Err(()) => {
            let covers = Some(format!("account {}", ctx.user()?));
            return print_revoked(
                ctx,
                &[],
                args.dry_run.then_some(&[][..]),
                &args.selection,
                covers,
            );
        }
    };
    let covers = Some(match &account {
        Some(account) => format!("account {}", account.name),
        None => "all accounts".to_string(),
    });
    let query = selection_query(ctx, &args.selection, glob.as_ref(), account.as_ref())?;
    // With --yes (cron) the selection is made once, under the write lock.
    // Otherwise what a person approved is what gets revoked: only the
    // tokens listed (and still selected) are taken.
    let approved: Option<HashSet<String>> = if ctx.yes && !args.dry_run {
        None
    } else {
        let preview = store.list_tokens(&query)?;
        if args.dry_run {
            return print_revoked(ctx, &[], Some(&preview), &args.selection, covers);
        }
        if preview.is_empty() {
            return print_revoked(ctx, &[], None, &args.selection, covers);
        }
        if ctx.interactive {
            let view = TokenList::new(&preview, ctx.now, args.selection.all_accounts);
            output::show(ctx.style, ctx.msg, &view)?;
        }
        match preview.len() {
            1 => ctx.confirm("Revoke this token? It stops working at once")?,
            n if n < TYPE_THE_COUNT_FROM => ctx.confirm(&format!(
                "Revoke these {n} tokens? They stop working at once"
            ))?,
            n => ctx.confirm_typed(
                &format!("Revoke these {n} tokens? They stop working at once"),
                "the number of tokens",
                &n.to_string(),
            )?,
        }
        Some(preview.into_iter().map(|t| t.id).collect())
    };
    let detail = revoke_all_detail(&args.selection);
    let revoked = store.write(|tx| {
        let mut selected = tx.list_tokens(&query)?;
        if let Some(approved) = &approved {
            selected.retain(|t| approved.contains(&t.id));
        }
        let ids: Vec<&str> = selected.iter().map(|t| t.id.as_str()).collect();
        tx.revoke_tokens(&ids, ctx.now)?;
        let events: Vec<_> = selected
            .iter()
            .map(|t| {
                let mut event = ctx.token_event("revoke", t);
                event.detail = Some(detail.clone());
                event
            })
            .collect();
        tx.record_events(&events)?;
        for t in &mut selected {
            t.revoked_at = Some(ctx.now);
        }
        Ok(selected)
    })?;
    print_revoked(ctx, &revoked, None, &args.selection, covers)
}

fn revoke_all_detail(sel: &SelectionArgs) -> String {
    let mut parts = vec!["revoke-all".to_string()];
    if sel.expired {
        parts.push("--expired".into());
    }
    if let Some(d) = &sel.unused_for {
        parts.push(format!("--unused-for {d}"));
    }
    if let Some(g) = &sel.name_glob {
        parts.push(format!("--match {g}"));
    }
    if sel.all_accounts {
        parts.push("--all-accounts".into());
    }
    parts.join(" ")
}

/// The outcome of `revoke-all`; `would` is the dry-run selection and
/// `covers` the accounts searched.
fn print_revoked(
    ctx: &Context,
    revoked: &[Token],
    would: Option<&[Token]>,
    sel: &SelectionArgs,
    covers: Option<String>,
) -> Result<()> {
    let view = RevokedView::new(revoked, would, ctx.now, sel.all_accounts, covers);
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}
