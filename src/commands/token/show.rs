//! `token show`: one token's details.

use anyhow::Result;

use super::{print_token, token_not_found};
use crate::cli::ShowArgs;
use crate::commands::Context;
use crate::store::Queries;

pub(super) fn show(ctx: &Context, args: ShowArgs) -> Result<()> {
    let store = ctx.open_read()?;
    let t = match &store {
        Some(store) => match ctx.read_account(store)? {
            Some(account) => store.resolve_token(account.id, &args.token)?,
            None => None,
        },
        None => None,
    };
    let t = t.ok_or_else(|| match store {
        Some(_) => token_not_found(ctx, &args.token),
        None => token_not_found(ctx, &args.token).with_hint(ctx.no_store()),
    })?;
    print_token(ctx, &t)
}
