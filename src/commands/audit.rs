//! `tokenctl audit`: the change log, oldest first.

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::cli::{AuditArgs, OutputFormat};
use crate::error::Error;
use crate::model::Event;
use crate::output;
use crate::store::EventQuery;
use crate::store::Queries;
use crate::values;

/// An event as JSON and YAML show it.
#[derive(Serialize)]
struct EventView<'a> {
    at: String,
    actor: &'a str,
    action: &'a str,
    account: &'a str,
    token: Option<&'a str>,
    id: Option<&'a str>,
    detail: Option<&'a str>,
}

impl<'a> EventView<'a> {
    fn new(e: &'a Event) -> EventView<'a> {
        EventView {
            at: output::utc(e.at),
            actor: &e.actor,
            action: &e.action,
            account: &e.account,
            token: e.token_name.as_deref(),
            id: e.token_id.as_deref(),
            detail: e.detail.as_deref(),
        }
    }
}

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
    match ctx.format() {
        OutputFormat::Table if events.is_empty() => ctx.msg.text("no events"),
        OutputFormat::Table => {
            let rows = events
                .iter()
                .map(|e| {
                    vec![
                        output::local(e.at),
                        e.actor.clone(),
                        e.action.clone(),
                        e.account.clone(),
                        e.token_name.clone().unwrap_or_default(),
                        e.token_id.clone().unwrap_or_default(),
                        e.detail.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            output::plain_table(
                ctx.style,
                &[
                    "Time", "Actor", "Action", "Account", "Token", "ID", "Detail",
                ],
                rows,
            )?;
        }
        format => {
            let views: Vec<EventView> = events.iter().map(EventView::new).collect();
            output::structured(format, &views)?;
        }
    }
    Ok(())
}

fn no_such_token(ctx: &Context, args: &AuditArgs) -> Error {
    let name = args.token.as_deref().unwrap_or_default();
    let account = ctx.user().unwrap_or_default();
    Error::not_found(format!("no token '{name}' in account '{account}'"))
        .with_hint("a revoked token is found by its id (tokenctl token list --all); with --all-accounts, give an id")
}
