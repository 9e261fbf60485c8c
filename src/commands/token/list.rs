//! `token list`: the tokens of the acting account (or all), fed to the
//! output from one snapshot of the store (JSON and plain tables stream
//! them a row at a time).

use anyhow::Result;

use super::selection::{parse_glob, selection_account, selection_query};
use crate::cli::ListArgs;
use crate::commands::Context;
use crate::output::{self, Columns};
use crate::values;

pub(super) fn list(ctx: &Context, args: ListArgs) -> Result<()> {
    let glob = parse_glob(&args.selection)?;
    if let Some(text) = &args.search {
        values::search(text)?;
    }
    let store = ctx.open_read()?;
    let account = match &store {
        Some(store) => selection_account(ctx, store, &args.selection)?,
        None => Err(()),
    };
    if store.is_none() {
        // A newcomer's first command: say where the store will be and how
        // to start it (stderr, so stdout and JSON stay as for no tokens).
        ctx.msg.note(&format!(
            "{}; the first `tokenctl token create NAME` creates it, with your first token",
            ctx.no_store()
        ));
    }
    // Ids with --all, where revoked tokens are listed: a revoked token is
    // named by its id (`token show ID`).
    let columns = Columns {
        account: args.selection.all_accounts,
        id: args.all || args.wide,
        full: args.wide,
    };
    let (Some(store), Ok(account)) = (store, account) else {
        // No store, or one that has never had an account: nothing to list.
        return output::show_tokens(ctx.style, ctx.msg, ctx.now, columns, |_| Ok(()));
    };
    let mut query = selection_query(ctx, &args.selection, glob.as_ref(), account.as_ref())?;
    query.include_revoked = args.all;
    query.search = args.search.as_deref();
    // One snapshot: the tokens may be read twice (see `show_tokens`).
    store.read(|snapshot| {
        output::show_tokens(ctx.style, ctx.msg, ctx.now, columns, |feed| {
            snapshot.each_token(&query, feed)
        })
    })
}
