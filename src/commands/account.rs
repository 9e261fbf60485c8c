//! `tokenctl account ...`: the accounts tokens authenticate as, and the
//! privileges that bound every token of theirs.

use anyhow::Result;

use super::Context;
use super::privilege::check_given;
use crate::cli::{AccountAddArgs, AccountArgs, AccountCommand, AccountEditArgs};
use crate::error::Error;
use crate::model::Account;
use crate::output::{self, AccountChangeView, AccountList, AccountView, DeletedView, plural};
use crate::store::{Queries, TokenQuery};
use crate::values::{self, AclEdit, Privileges};

pub fn run(ctx: &Context, cmd: AccountCommand) -> Result<()> {
    match cmd {
        AccountCommand::Add(args) => add(ctx, args),
        AccountCommand::List => list(ctx),
        AccountCommand::Show(args) => show(ctx, args),
        AccountCommand::Edit(args) => edit(ctx, args),
        AccountCommand::Suspend(args) => set_suspended(ctx, args, true),
        AccountCommand::Unsuspend(args) => set_suspended(ctx, args, false),
        AccountCommand::Delete(args) => delete(ctx, args),
    }
}

fn add(ctx: &Context, args: AccountAddArgs) -> Result<()> {
    values::account_name(&args.name)?;
    let acls = Privileges::parse(&args.acl)?;
    if ctx.open_existing()?.is_none() {
        // A fresh store bootstraps the acting user: know who it is before
        // anything is created.
        ctx.user()?;
    }
    let mut store = ctx.open_or_create()?;
    // Account commands name their account; the acting user matters only
    // to bootstrap a fresh store, and not when it is adding itself (then
    // with the privileges asked for rather than `all`).
    let fresh = !store.is_bootstrapped()?;
    let bootstrap_user = match fresh {
        true => Some(ctx.user()?).filter(|u| *u != args.name),
        false => None,
    };
    let (account, bootstrapped, new_privileges) = store.write(|tx| {
        let bootstrapped = match &bootstrap_user {
            Some(user) => ctx.bootstrap_if_fresh(tx, user)?,
            None => false,
        };
        if tx.find_account(&args.name)?.is_some() {
            return Err(
                Error::conflict(format!("an account named '{}' exists", args.name))
                    .with_hint("pick another name, or change it with: tokenctl account edit")
                    .into(),
            );
        }
        let new_privileges = check_given(tx, &[], &values::privileges(&args.acl)?)?;
        let account = tx.insert_account(&args.name, &acls, ctx.now)?;
        tx.mark_bootstrapped(ctx.now)?;
        let mut event = ctx.account_event("account-add", &account);
        event.detail = Some(format!("acls={}", acls.join(",")));
        tx.record_event(&event)?;
        Ok((account, bootstrapped, new_privileges))
    })?;
    if let Some(user) = bootstrap_user.filter(|_| bootstrapped) {
        ctx.note_bootstrap(&user);
    }
    if let Some(note) = new_privileges {
        ctx.msg.note(&note);
    }
    let detail = [format!("acls {}", account.acls.join(","))];
    let view = AccountChangeView::new("added", &account, 0, Some(&detail));
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}

fn list(ctx: &Context) -> Result<()> {
    let accounts = match ctx.open_read()? {
        Some(store) => store.list_accounts()?,
        None => {
            ctx.msg.note(&ctx.no_store());
            Vec::new()
        }
    };
    let view = AccountList::new(&accounts);
    Ok(output::show_list(
        ctx.style,
        ctx.msg,
        &view,
        accounts.len(),
        "account",
    )?)
}

fn print_account(ctx: &Context, account: &Account, tokens: i64) -> Result<()> {
    Ok(output::show(
        ctx.style,
        ctx.msg,
        &AccountView::new(account, tokens),
    )?)
}

fn find(store: &dyn Queries, name: &str) -> Result<Account> {
    Ok(store
        .find_account(name)?
        .ok_or_else(|| no_such_account(name))?)
}

fn show(ctx: &Context, args: AccountArgs) -> Result<()> {
    let store = ctx
        .open_read()?
        .ok_or_else(|| no_such_account(&args.name).with_hint(ctx.no_store()))?;
    let account = find(&store, &args.name)?;
    let tokens = store.live_token_count(account.id)?;
    print_account(ctx, &account, tokens)
}

fn edit(ctx: &Context, args: AccountEditArgs) -> Result<()> {
    let acl_edit = AclEdit::parse(&args.acls.acl, &args.acls.add_acl, &args.acls.remove_acl)?;
    if args.new_name.is_none() && acl_edit.is_none() {
        return Err(Error::usage("nothing to change")
            .with_hint("give at least one of --new-name, --acl, --add-acl, --remove-acl")
            .into());
    }
    if let Some(name) = &args.new_name {
        values::account_name(name)?;
    }

    let mut store = ctx.open_to_change()?;
    let (account, tokens, changes, new_privileges) = store.write(|tx| {
        let mut account = find(tx, &args.name)?;
        let mut changes = Vec::new();
        let mut new_privileges = None;
        if let Some(name) = args.new_name.as_ref().filter(|n| **n != account.name) {
            if tx.find_account(name)?.is_some() {
                return Err(Error::conflict(format!("an account named '{name}' exists"))
                    .with_hint("pick another name")
                    .into());
            }
            changes.push(format!("name {} -> {name}", account.name));
            account.name = name.clone();
        }
        if let Some(acl_edit) = &acl_edit {
            let acls = acl_edit.apply(&account.acls)?;
            new_privileges = check_given(tx, &[&account.acls], &acl_edit.asked())?;
            if acls != account.acls {
                changes.push(format!(
                    "acls {} -> {}",
                    account.acls.join(","),
                    acls.join(",")
                ));
                account.acls = acls;
            }
        }
        if !changes.is_empty() {
            tx.update_account(&account)?;
            let mut event = ctx.account_event("account-edit", &account);
            event.detail = Some(changes.join("; "));
            tx.record_event(&event)?;
        }
        Ok((
            account.clone(),
            tx.live_token_count(account.id)?,
            changes,
            new_privileges,
        ))
    })?;
    if let Some(note) = new_privileges {
        ctx.msg.note(&note);
    }
    let changed = (!changes.is_empty()).then_some(changes.as_slice());
    let view = AccountChangeView::new("edited", &account, tokens, changed);
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}

fn set_suspended(ctx: &Context, args: AccountArgs, suspended: bool) -> Result<()> {
    let mut store = ctx.open_to_change()?;
    let (account, tokens, changed) = store.write(|tx| {
        let mut account = find(tx, &args.name)?;
        // Suspending a suspended account changes nothing and records nothing.
        let changed = account.suspended != suspended;
        if changed {
            account.suspended = suspended;
            tx.update_account(&account)?;
            let action = if suspended {
                "account-suspend"
            } else {
                "account-unsuspend"
            };
            tx.record_event(&ctx.account_event(action, &account))?;
        }
        Ok((account.clone(), tx.live_token_count(account.id)?, changed))
    })?;
    let past = if suspended {
        "suspended"
    } else {
        "unsuspended"
    };
    let view = AccountChangeView::new(past, &account, tokens, changed.then_some(&[]));
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}

fn delete(ctx: &Context, args: AccountArgs) -> Result<()> {
    let mut store = ctx.open_to_change()?;
    let account = find(&store, &args.name)?;
    let live = store.live_token_count(account.id)?;
    ctx.confirm_typed(
        &format!(
            "Delete account '{}' and revoke its {}?",
            account.name,
            plural(live as usize, "live token")
        ),
        "the account's name",
        &account.name,
    )?;
    let (account, revoked) = store.write(|tx| {
        // By id: the account may have been renamed since we asked.
        let account = tx
            .account_by_id(account.id)?
            .ok_or_else(|| no_such_account(&args.name))?;
        let query = TokenQuery {
            account_id: Some(account.id),
            ..TokenQuery::default()
        };
        let tokens = tx.list_tokens(&query)?;
        let ids: Vec<&str> = tokens.iter().map(|t| t.id.as_str()).collect();
        tx.revoke_tokens(&ids, ctx.now)?;
        tx.delete_account(account.id, ctx.now)?;
        let mut events: Vec<_> = tokens
            .iter()
            .map(|t| {
                let mut event = ctx.token_event("revoke", t);
                event.detail = Some("account deleted".into());
                event
            })
            .collect();
        let mut event = ctx.account_event("account-delete", &account);
        event.detail = Some(format!("revoked {}", plural(tokens.len(), "token")));
        events.push(event);
        tx.record_events(&events)?;
        Ok((account, tokens))
    })?;
    // As they were when revoked.
    let revoked: Vec<_> = revoked
        .into_iter()
        .map(|mut t| {
            t.revoked_at = t.revoked_at.or(Some(ctx.now));
            t
        })
        .collect();
    let view = DeletedView::new(&account, &revoked, ctx.now);
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}

fn no_such_account(name: &str) -> Error {
    Error::not_found(format!("no account named '{name}'"))
        .with_hint("list accounts with: tokenctl account list")
}
