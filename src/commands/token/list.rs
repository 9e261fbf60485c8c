//! `token list`: the tokens of the acting account (or all), as a table or
//! a stream of rows.

use std::io;

use anyhow::Result;

use super::selection::{parse_glob, selection_account, selection_query};
use crate::cli::{ListArgs, OutputFormat};
use crate::commands::Context;
use crate::model::Token;
use crate::output::{self, TokenView};
use crate::store::Queries;
use crate::store::{Store, TokenQuery};
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
        ctx.msg.note(&ctx.no_store());
    }
    let (Some(store), Ok(account)) = (store, account) else {
        // No store, or one that has never had an account: nothing to list.
        return print_tokens(ctx, &[], args.selection.all_accounts);
    };
    let mut query = selection_query(ctx, &args.selection, glob.as_ref(), account.as_ref())?;
    query.include_revoked = args.all;
    query.search = args.search.as_deref();
    if ctx.format() == OutputFormat::Json {
        // Streamed row by row: a list of any length in constant memory.
        let mut list = output::JsonList::start();
        store.each_token(
            &query,
            &mut |t| Ok(list.push(&TokenView::new(&t, ctx.now))?),
        )?;
        return Ok(list.finish()?);
    }
    if ctx.format() == OutputFormat::Table && !ctx.style.terminal && !ctx.style.color {
        return plain_list(ctx, &store, &query, args.selection.all_accounts);
    }
    let tokens = store.list_tokens(&query)?;
    print_tokens(ctx, &tokens, args.selection.all_accounts)
}

/// The table for pipes and files, in two passes over one snapshot (column
/// widths, then rows): constant memory for any number of tokens.
fn plain_list(ctx: &Context, store: &Store, query: &TokenQuery, all_accounts: bool) -> Result<()> {
    let header = output::token_header(all_accounts);
    let mut widths = output::header_widths(&header);
    let mut count = 0;
    store.read(|snapshot| {
        snapshot.each_token(query, &mut |t| {
            output::fit_widths(&mut widths, &output::token_cells(&t, ctx.now, all_accounts));
            count += 1;
            Ok(())
        })?;
        if count == 0 {
            ctx.msg.text("no tokens");
            return Ok(());
        }
        let out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
        let mut table = output::PlainTable::start(widths, &header, out)?;
        snapshot.each_token(query, &mut |t| {
            Ok(table.row(&output::token_cells(&t, ctx.now, all_accounts))?)
        })?;
        table.finish()?;
        Ok(())
    })
}

fn print_tokens(ctx: &Context, tokens: &[Token], all_accounts: bool) -> Result<()> {
    match ctx.format() {
        OutputFormat::Table if tokens.is_empty() => ctx.msg.text("no tokens"),
        OutputFormat::Table => output::token_table(ctx.style, tokens, ctx.now, all_accounts)?,
        format => {
            let views: Vec<TokenView> = tokens.iter().map(|t| TokenView::new(t, ctx.now)).collect();
            output::structured(format, &views)?;
        }
    }
    Ok(())
}
