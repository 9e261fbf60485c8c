//! `token edit`: a live token's name, privileges, expiry, allow-list, note.

use anyhow::Result;

use super::{check_not_an_id, check_within_account, name_taken, resolve_live};
use crate::cli::EditArgs;
use crate::commands::Context;
use crate::commands::privilege::check_given;
use crate::error::Error;
use crate::output::{self, EditedView};

use crate::values::{self, AclEdit, AllowList};

pub(super) fn edit(ctx: &Context, args: EditArgs) -> Result<()> {
    let acl_edit = AclEdit::parse(&args.acls.acl, &args.acls.add_acl, &args.acls.remove_acl)?;
    let changes_ips = !args.allow_ip.is_empty() || args.clear_allow_ip;
    if args.new_name.is_none()
        && acl_edit.is_none()
        && args.expires.is_none()
        && !changes_ips
        && args.note.is_none()
    {
        return Err(Error::usage("nothing to change")
            .with_hint("give at least one of --new-name, --acl, --add-acl, --remove-acl, --expires, --allow-ip, --clear-allow-ip, --note")
            .into());
    }
    if let Some(name) = &args.new_name {
        values::token_name(name)?;
    }
    let new_note = args.note.as_deref().map(values::note).transpose()?;
    let expires_at = match &args.expires {
        Some(when) => Some(values::expiry(when, ctx.now_utc())?),
        None => None,
    };
    let allow_ips = match changes_ips {
        true => Some(AllowList::parse(&args.allow_ip)?),
        false => None,
    };

    let mut store = ctx.open_to_change()?;
    let (updated, changes, new_privileges) = ctx.write_as_account(&mut store, |tx, account| {
        let old = resolve_live(ctx, tx, account, &args.token, "edited")?;
        let mut t = old.clone();
        let mut changes = Vec::new();
        let mut new_privileges = None;

        if let Some(name) = &args.new_name
            && *name != t.name
        {
            if tx.live_name_taken(account.id, name, Some(&t.id))? {
                return Err(name_taken(name, &account.name).into());
            }
            check_not_an_id(tx, name)?;
            changes.push(format!("name {} -> {name}", t.name));
            t.name = name.clone();
        }
        if let Some(acl_edit) = &acl_edit {
            let acls = acl_edit.apply(&t.acls)?;
            new_privileges = check_given(tx, &[&t.acls, &account.acls], &acl_edit.asked())?;
            check_within_account(account, &acls)?;
            if acls != t.acls {
                changes.push(format!("acls {} -> {}", t.acls.join(","), acls.join(",")));
                t.acls = acls;
            }
        }
        if let Some(at) = expires_at
            && at != t.expires_at
        {
            let show = |v: Option<i64>| v.map_or("never".into(), output::utc);
            changes.push(format!("expires {} -> {}", show(t.expires_at), show(at)));
            t.expires_at = at;
        }
        if let Some(ips) = &allow_ips
            && *ips != t.allow_ips
        {
            let show = |v: &AllowList| {
                if v.is_empty() {
                    "any".into()
                } else {
                    v.entries().join(",")
                }
            };
            changes.push(format!("allow_ips {} -> {}", show(&t.allow_ips), show(ips)));
            t.allow_ips = ips.clone();
        }
        if let Some(note) = &new_note {
            let note = note.clone();
            if note != t.note {
                changes.push("note changed".into());
                t.note = note;
            }
        }
        if !changes.is_empty() {
            tx.update_token(&t)?;
            let mut event = ctx.token_event("edit", &t);
            event.detail = Some(changes.join("; "));
            tx.record_event(&event)?;
        }
        Ok((t, changes, new_privileges))
    })?;
    if let Some(note) = new_privileges {
        ctx.msg.note(&note);
    }
    let view = EditedView::new(&updated, &changes, ctx.now);
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}
