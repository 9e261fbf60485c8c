//! `tokenctl audit`: the change log, oldest first.

use anyhow::Result;

use super::Context;
use crate::cli::AuditArgs;
use crate::error::Error;
use crate::output::{self, EventList};
use crate::store::{EventQuery, Queries};
use crate::values;

pub fn run(ctx: &Context, args: AuditArgs) -> Result<()> {
    let since = args
        .since
        .as_deref()
        .map(|s| values::since(s, ctx.now_utc()))
        .transpose()?;
    let events = match ctx.open_read()? {
        None if args.token.is_some() => {
            return Err(no_such_token(ctx, &args).with_hint(ctx.no_store()).into());
        }
        None => {
            ctx.msg.note(&ctx.no_store());
            Vec::new()
        }
        Some(store) => {
            let account = match args.all_accounts {
                true => None,
                false => ctx.read_account(&store)?,
            };
            let token_id = match &args.token {
                None => None,
                // Every account's: an id of any token (names are per account).
                Some(id) if args.all_accounts => Some(
                    store
                        .token_by_id(id)?
                        .ok_or_else(|| no_such_token(ctx, &args))?
                        .id,
                ),
                Some(name) => {
                    let account = account.as_ref().ok_or_else(|| no_such_token(ctx, &args))?;
                    Some(
                        store
                            .resolve_token(account.id, name)?
                            .ok_or_else(|| no_such_token(ctx, &args))?
                            .id,
                    )
                }
            };
            // A store that has never had an account has no events either.
            if account.is_none() && !args.all_accounts {
                Vec::new()
            } else {
                let query = EventQuery {
                    account_id: account.as_ref().map(|a| a.id),
                    token_id: token_id.as_deref(),
                    since,
                    limit: args.limit,
                };
                store.list_events(&query)?
            }
        }
    };
    let view = EventList::new(&events);
    Ok(output::show_list(
        ctx.style,
        ctx.msg,
        &view,
        events.len(),
        "event",
    )?)
}

fn no_such_token(ctx: &Context, args: &AuditArgs) -> Error {
    let name = args.token.as_deref().unwrap_or_default();
    let account = ctx.user().unwrap_or_default();
    Error::not_found(format!("no token '{name}' in account '{account}'"))
        .with_hint("a revoked token is found by its id (tokenctl token list --all); with --all-accounts, give an id")
}
