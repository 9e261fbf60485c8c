//! `token create`: a new token, shown once.

use anyhow::Result;

use super::{check_not_an_id, check_within_account, name_taken, show_issued, suspended};
use crate::cli::CreateArgs;
use crate::commands::Context;
use crate::commands::privilege::check_given;
use crate::model::Token;
use crate::output;

use crate::token;
use crate::values::{self, AllowList, Privileges};

/// A token's lifetime when `--expires` is not given.
const DEFAULT_LIFETIME: i64 = 365 * 86_400;

pub(super) fn create(ctx: &Context, args: CreateArgs) -> Result<()> {
    // Every value is checked before the store is opened (or created),
    // the acting account's name included.
    ctx.user()?;
    values::token_name(&args.name)?;
    let requested_acls = match args.acl.is_empty() {
        true => None,
        false => Some(Privileges::parse(&args.acl)?),
    };
    let expires_at = match &args.expires {
        Some(when) => values::expiry(when, ctx.now_utc())?,
        None => Some(ctx.now + DEFAULT_LIFETIME),
    };
    let allow_ips = AllowList::parse(&args.allow_ip)?;
    let note = args
        .note
        .as_deref()
        .map(values::note)
        .transpose()?
        .flatten();

    // argon2 runs here, before the write lock is taken.
    let new = token::generate()?;
    let secret_hash = token::hash_secret(&new.secret)?;

    let mut store = ctx.open_or_create()?;
    let created = ctx.write_as_account(&mut store, |tx, account| {
        if account.suspended {
            return Err(suspended(account).into());
        }
        let acls = requested_acls.unwrap_or_else(|| account.acls.clone());
        let new_privileges = check_given(tx, &[&account.acls], &values::privileges(&args.acl)?)?;
        check_within_account(account, &acls)?;
        if tx.live_name_taken(account.id, &args.name, None)? {
            return Err(name_taken(&args.name, &account.name).into());
        }
        check_not_an_id(tx, &args.name)?;
        // Ids are random; on the rare collision, draw another. An id equal
        // to a live name of the account would be hidden by that token, as
        // names are resolved first.
        let mut id = new.id.clone();
        while tx.token_id_taken(&id)?
            || id == args.name
            || tx.live_name_taken(account.id, &id, None)?
        {
            id = token::generate_id()?;
        }
        let t = Token {
            id,
            account_id: account.id,
            account: account.name.clone(),
            name: args.name.clone(),
            secret_hash,
            prev_secret_hash: None,
            prev_valid_until: None,
            acls,
            allow_ips,
            note,
            created_at: ctx.now,
            expires_at,
            last_used_at: None,
            last_used_ip: None,
            disabled_at: None,
            revoked_at: None,
            account_acls: account.acls.clone(),
            account_suspended: account.suspended,
        };
        tx.insert_token(&t)?;
        let mut event = ctx.token_event("create", &t);
        event.detail = Some(format!(
            "acls={}; expires={}",
            t.acls.join(","),
            t.expires_at.map_or("never".into(), output::utc)
        ));
        tx.record_event(&event)?;
        Ok((t, new_privileges))
    })?;
    let (created, new_privileges) = created;
    if let Some(note) = new_privileges {
        ctx.msg.note(&note);
    }
    let plaintext = token::assemble(&created.id, &new.secret);
    show_issued(ctx, &created, &plaintext, false)
}
