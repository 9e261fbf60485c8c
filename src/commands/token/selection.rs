//! The filters shared by `token list` and `token revoke-all`.

use anyhow::Result;

use crate::cli::SelectionArgs;
use crate::commands::Context;
use crate::model::Account;
use crate::store::{Queries, TokenQuery};
use crate::values;

/// The filters shared by `list` and `revoke-all`, as a store query.
pub(super) fn selection_query<'a>(
    ctx: &Context,
    sel: &SelectionArgs,
    name_glob: Option<&'a glob::Pattern>,
    account: Option<&Account>,
) -> Result<TokenQuery<'a>> {
    let unused_since = match &sel.unused_for {
        Some(dur) => Some(ctx.now - values::duration(dur)?),
        None => None,
    };
    Ok(TokenQuery {
        account_id: account.map(|a| a.id),
        expired_at: sel.expired.then_some(ctx.now),
        unused_since,
        name_glob,
        ..TokenQuery::default()
    })
}

/// Checks the selection flags' values before any store access.
pub(super) fn parse_glob(sel: &SelectionArgs) -> Result<Option<glob::Pattern>> {
    if let Some(dur) = &sel.unused_for {
        values::duration(dur)?;
    }
    Ok(sel.name_glob.as_deref().map(values::glob).transpose()?)
}

/// The acting account for a selection, or `None` for every account.
/// `Ok(Err(()))` when there is nothing to select from yet.
pub(super) fn selection_account(
    ctx: &Context,
    store: &dyn Queries,
    sel: &SelectionArgs,
) -> Result<Result<Option<Account>, ()>> {
    if sel.all_accounts {
        return Ok(Ok(None));
    }
    Ok(ctx.read_account(store)?.map(Some).ok_or(()))
}
