//! `tokenctl privilege ...`: the optional catalogue of privileges, and
//! the check every privilege given to an account or token passes.

use anyhow::Result;

use super::Context;
use crate::cli::{PrivilegeAddArgs, PrivilegeCommand, PrivilegeRemoveArgs};
use crate::error::Error;
use crate::model::{CataloguedPrivilege, Event};
use crate::output::{self, PrivilegeList, PrivilegeRemovedView};
use crate::store::Queries;
use crate::values::{self, ALL, Privileges};

/// How many holders a refused removal names.
const HOLDERS_NAMED: usize = 5;

pub fn run(ctx: &Context, cmd: PrivilegeCommand) -> Result<()> {
    match cmd {
        PrivilegeCommand::Add(args) if args.from_use => add_from_use(ctx),
        PrivilegeCommand::Add(args) => add(ctx, args),
        PrivilegeCommand::List => list(ctx),
        PrivilegeCommand::Remove(args) => remove(ctx, args),
    }
}

fn add(ctx: &Context, args: PrivilegeAddArgs) -> Result<()> {
    let name = args.name.unwrap_or_default();
    values::privilege(&name)?;
    if name == ALL {
        return Err(
            Error::usage("'all' is always valid and is not kept in the catalogue")
                .with_hint("add the privileges it stands for one by one")
                .into(),
        );
    }
    let description = values::description(args.description.as_deref().unwrap_or_default())?;
    let mut store = ctx.open_to_change()?;
    let changed = ctx.write_as_account(&mut store, |tx, acting| {
        let catalogue = tx.catalogue()?;
        let mut entry = CataloguedPrivilege {
            name: name.clone(),
            description: description.clone(),
            created_at: ctx.now,
        };
        if let Some(existing) = catalogue.iter().find(|p| p.name == name) {
            if !args.force {
                return Err(Error::conflict(format!(
                    "privilege '{name}' is in the catalogue already"
                ))
                .with_hint("replace its description with --force")
                .into());
            }
            entry.created_at = existing.created_at;
            if existing.description == entry.description {
                return Ok(Vec::new());
            }
            tx.put_privilege(&entry)?;
            let event = event(ctx.account_event("privilege-edit", acting), &entry);
            tx.record_event(&event)?;
            return Ok(vec![entry]);
        }
        if catalogue.is_empty() {
            let outside: Vec<String> = tx
                .privileges_in_use()?
                .into_iter()
                .filter(|p| p != ALL && *p != name)
                .collect();
            if !outside.is_empty() {
                let granted = match outside.len() {
                    1 => "privilege is",
                    _ => "privileges are",
                };
                return Err(Error::conflict(format!(
                    "{} {granted} granted outside the catalogue ({}), which a catalogue of '{name}' alone would refuse",
                    outside.len(),
                    outside.join(", ")
                ))
                .with_hint("add them first with: tokenctl privilege add --from-use")
                .into());
            }
        }
        tx.put_privilege(&entry)?;
        tx.record_event(&event(ctx.account_event("privilege-add", acting), &entry))?;
        Ok(vec![entry])
    })?;
    // Empty only when --force gave the description it has.
    show(
        ctx,
        &changed,
        "the privilege has that description already; nothing changed",
    )
}

fn add_from_use(ctx: &Context) -> Result<()> {
    let mut store = ctx.open_to_change()?;
    let added = ctx.write_as_account(&mut store, |tx, acting| {
        let catalogue = tx.catalogue()?;
        let added: Vec<CataloguedPrivilege> = tx
            .privileges_in_use()?
            .into_iter()
            .filter(|p| p != ALL && !catalogue.iter().any(|c| c.name == *p))
            .map(|name| CataloguedPrivilege {
                name,
                description: None,
                created_at: ctx.now,
            })
            .collect();
        let mut events = Vec::new();
        for entry in &added {
            tx.put_privilege(entry)?;
            let mut e = event(ctx.account_event("privilege-add", acting), entry);
            e.detail = Some(format!("privilege={} (in use)", entry.name));
            events.push(e);
        }
        tx.record_events(&events)?;
        Ok(added)
    })?;
    show(
        ctx,
        &added,
        "every privilege in use is in the catalogue already; nothing was added",
    )
}

fn list(ctx: &Context) -> Result<()> {
    let catalogue = match ctx.open_read()? {
        Some(store) => store.catalogue()?,
        None => {
            ctx.msg.note(&ctx.no_store());
            Vec::new()
        }
    };
    show(
        ctx,
        &catalogue,
        "the catalogue is empty: every well-formed privilege is accepted",
    )
}

fn remove(ctx: &Context, args: PrivilegeRemoveArgs) -> Result<()> {
    let name = args.name;
    values::privilege(&name)?;
    let mut store = ctx.open_to_change()?;
    ctx.write_as_account(&mut store, |tx, acting| {
        let catalogue = tx.catalogue()?;
        let Some(entry) = catalogue.iter().find(|p| p.name == name) else {
            let known: Vec<String> = catalogue.into_iter().map(|p| p.name).collect();
            let hint = match values::close_matches(&name, &known).as_slice() {
                [] => "list them with: tokenctl privilege list".to_string(),
                close => format!("did you mean {}? (tokenctl privilege list)", close.join(", ")),
            };
            return Err(
                Error::not_found(format!("privilege '{name}' is not in the catalogue"))
                    .with_hint(hint)
                    .into(),
            );
        };
        let holders = tx.privilege_holders(&name)?;
        if !holders.is_empty() {
            let mut named = holders
                .iter()
                .take(HOLDERS_NAMED)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if holders.len() > HOLDERS_NAMED {
                named += &format!(" and {} more", holders.len() - HOLDERS_NAMED);
            }
            return Err(Error::conflict(format!(
                "privilege '{name}' is still granted to {named}"
            ))
            .with_hint(format!(
                "take it away first with: tokenctl account edit ACCOUNT --remove-acl {name}, or tokenctl -u ACCOUNT token edit TOKEN --remove-acl {name}"
            ))
            .into());
        }
        tx.delete_privilege(&name)?;
        let mut e = ctx.account_event("privilege-remove", acting);
        e.detail = Some(format!("privilege={}", entry.name));
        tx.record_event(&e)?;
        Ok(())
    })?;
    Ok(output::show(
        ctx.style,
        ctx.msg,
        &PrivilegeRemovedView::new(&name),
    )?)
}

/// A privilege event's detail: the privilege and its description.
fn event(mut event: Event, entry: &CataloguedPrivilege) -> Event {
    event.detail = Some(match &entry.description {
        Some(d) => format!("privilege={}; description={d}", entry.name),
        None => format!("privilege={}", entry.name),
    });
    event
}

fn show(ctx: &Context, privileges: &[CataloguedPrivilege], empty: &'static str) -> Result<()> {
    Ok(output::show(
        ctx.style,
        ctx.msg,
        &PrivilegeList::new(privileges, empty),
    )?)
}

/// Checks the privileges given to an account or token against the
/// catalogue: those `asked` for (as typed: `all,raed` still holds the
/// typo that `all` would absorb) not `accepted` already, and not `all`,
/// must be in it, once it holds any (exit 2, with the close ones as a
/// hint). While it is empty every one is accepted, and the note returned
/// names those new to the store, for stderr once the change is made.
pub fn check_given(
    tx: &dyn Queries,
    accepted: &[&Privileges],
    asked: &[String],
) -> Result<Option<String>> {
    let mut given: Vec<&str> = asked
        .iter()
        .map(String::as_str)
        .filter(|p| *p != ALL && !accepted.iter().any(|a| a.iter().any(|h| h == *p)))
        .collect();
    given.sort_unstable();
    given.dedup();
    if given.is_empty() {
        return Ok(None);
    }
    let catalogue = tx.catalogue()?;
    if catalogue.is_empty() {
        let in_use = tx.privileges_in_use()?;
        let new: Vec<&str> = given
            .into_iter()
            .filter(|p| !in_use.iter().any(|u| u == p))
            .collect();
        return Ok((!new.is_empty()).then(|| {
            let what = match new.len() {
                1 => "privilege",
                _ => "privileges",
            };
            format!(
                "new {what} in this store: {} (check the spelling; tokenctl privilege add keeps a catalogue that refuses others)",
                new.join(", ")
            )
        }));
    }
    let known: Vec<String> = catalogue.into_iter().map(|p| p.name).collect();
    let outside: Vec<&str> = given
        .into_iter()
        .filter(|p| !known.iter().any(|k| k == p))
        .collect();
    let Some(first) = outside.first() else {
        return Ok(None);
    };
    let message = match outside.len() {
        1 => format!("privilege '{first}' is not in the catalogue"),
        _ => format!(
            "privileges {} are not in the catalogue",
            outside
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let hint = match values::close_matches(first, &known).as_slice() {
        [] => "see it with: tokenctl privilege list; add one with: tokenctl privilege add NAME --description TEXT".to_string(),
        close => format!("did you mean {}? (tokenctl privilege list)", close.join(", ")),
    };
    Err(Error::usage(message).with_hint(hint).into())
}
