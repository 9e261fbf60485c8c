//! `tokenctl token ...`: create, list, show, edit, rotate, disable, enable,
//! revoke, revoke-all, verify; one module per subcommand or close group,
//! and here the lookups, refusals and views they share.

mod create;
mod edit;
mod list;
mod revoke_all;
mod rotate;
mod selection;
mod show;
mod state;
mod verify;

use anyhow::Result;

use super::Context;
use crate::cli::TokenCommand;
use crate::error::Error;
use crate::model::{Account, Token};
use crate::output::{self, IssuedView, TokenView, plural};
use crate::store::Queries;
use crate::ui;
use crate::values::Privileges;
use state::Change;

pub fn run(ctx: &Context, cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create(args) => create::create(ctx, args),
        TokenCommand::List(args) => list::list(ctx, args),
        TokenCommand::Show(args) => show::show(ctx, args),
        TokenCommand::Edit(args) => edit::edit(ctx, args),
        TokenCommand::Rotate(args) => rotate::rotate(ctx, args),
        TokenCommand::Disable(args) => state::change_tokens(ctx, &args.tokens, Change::Disable),
        TokenCommand::Enable(args) => state::change_tokens(ctx, &args.tokens, Change::Enable),
        TokenCommand::Revoke(args) if args.dry_run => {
            state::revoke_dry_run(ctx, &args.tokens.tokens)
        }
        TokenCommand::Revoke(args) => {
            state::change_tokens(ctx, &args.tokens.tokens, Change::Revoke)
        }
        TokenCommand::RevokeAll(args) => revoke_all::revoke_all(ctx, args),
        TokenCommand::Verify(args) => verify::verify(ctx, args),
    }
}

/// Shows a new plaintext exactly once, after it is committed: a bare line
/// for scripts, an object for JSON/YAML, and on a terminal the details and
/// a confirmation that it was saved. What changed (for a rotation, until
/// when the old secret works) goes to stderr.
fn show_issued(ctx: &Context, t: &Token, plaintext: &str, rotated: bool) -> Result<()> {
    if !ctx.interactive {
        let view = IssuedView::new(t, plaintext, ctx.now, rotated);
        output::show(ctx.style, ctx.msg, &view)?;
        return Ok(());
    }
    ctx.msg.text(&output::issued_summary(t, ctx.now, rotated));
    loop {
        output::line("")?;
        output::line(plaintext)?;
        output::line("")?;
        output::show(ctx.style, ctx.msg, &TokenView::new(t, ctx.now))?;
        ctx.msg
            .warn("this token will not be shown again; copy it somewhere safe now");
        if ctx.yes || ui::ask("Yes, I saved my token", false)? {
            return Ok(());
        }
    }
}

fn print_token(ctx: &Context, t: &Token) -> Result<()> {
    Ok(output::show(
        ctx.style,
        ctx.msg,
        &TokenView::new(t, ctx.now),
    )?)
}

/// A live token of the account for a change; a revoked one is a conflict.
fn resolve_live(
    ctx: &Context,
    store: &dyn Queries,
    account: &Account,
    name_or_id: &str,
    verb: &str,
) -> Result<Token> {
    let t = store
        .resolve_token(account.id, name_or_id)?
        .ok_or_else(|| token_not_found(ctx, name_or_id))?;
    if t.revoked_at.is_some() {
        return Err(revoked_conflict(&t, verb).into());
    }
    Ok(t)
}

fn revoked_conflict(t: &Token, verb: &str) -> Error {
    Error::conflict(format!(
        "token '{}' ({}) is revoked and cannot be {verb}",
        t.name, t.id
    ))
    .with_hint("create a new token instead")
}

fn token_not_found(ctx: &Context, name: &str) -> Error {
    let account = ctx.user().unwrap_or_default();
    Error::not_found(format!("no token '{name}' in account '{account}'"))
        .with_hint("list tokens with: tokenctl token list --all")
}

fn name_taken(name: &str, account: &str) -> Error {
    Error::conflict(format!(
        "account '{account}' already has a live token named '{name}'"
    ))
    .with_hint("pick another name, or revoke the existing token first")
}

/// A name that is some token's id would hide that token: a `<TOKEN>`
/// argument is tried as a name first.
fn check_not_an_id(store: &dyn Queries, name: &str) -> Result<()> {
    if store.token_id_taken(name)? {
        return Err(Error::conflict(format!("'{name}' is the id of a token"))
            .with_hint("pick another name: a token named like another token's id would hide it")
            .into());
    }
    Ok(())
}

fn suspended(account: &Account) -> Error {
    Error::runtime(format!("account '{}' is suspended", account.name))
        .with_hint(format!("tokenctl account unsuspend {}", account.name))
}

fn check_within_account(account: &Account, acls: &Privileges) -> Result<(), Error> {
    let lacking = account.acls.lacking(acls);
    if lacking.is_empty() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "account '{}' lacks the privilege{} {}",
        account.name,
        if lacking.len() == 1 { "" } else { "s" },
        lacking.join(", ")
    ))
    .with_hint(format!(
        "a token can only have its account's privileges ({})",
        account.acls.join(", ")
    )))
}
