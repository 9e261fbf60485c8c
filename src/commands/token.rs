//! `tokenctl token ...`: create, list, show, edit, revoke, revoke-all, verify.

use std::collections::HashSet;
use std::io::{self, BufRead, Read};
use std::net::IpAddr;

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;

use super::Context;
use crate::cli::{
    CreateArgs, EditArgs, ListArgs, OutputFormat, RevokeAllArgs, RotateArgs, SelectionArgs,
    ShowArgs, TokenCommand, VerifyArgs,
};
use crate::error::{Error, Kind};
use crate::model::{Account, Token};
use crate::output::{self, IssuedView, Style, TokenView};
use crate::store::{self, Store, TokenQuery};
use crate::values::AclEdit;
use crate::verify::{self, Reason};
use crate::{token, ui, values};

/// A token's lifetime when `--expires` is not given.
const DEFAULT_LIFETIME: i64 = 365 * 86_400;
/// The longest a rotated-out secret may keep working.
const MAX_GRACE: i64 = 30 * 86_400;
/// The longest token `verify` reads; anything longer is malformed.
const MAX_TOKEN_INPUT: usize = 1024;

pub fn run(ctx: &Context, cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create(args) => create(ctx, args),
        TokenCommand::List(args) => list(ctx, args),
        TokenCommand::Show(args) => show(ctx, args),
        TokenCommand::Edit(args) => edit(ctx, args),
        TokenCommand::Rotate(args) => rotate(ctx, args),
        TokenCommand::Disable(args) => change_tokens(ctx, &args.tokens, Change::Disable),
        TokenCommand::Enable(args) => change_tokens(ctx, &args.tokens, Change::Enable),
        TokenCommand::Revoke(args) => change_tokens(ctx, &args.tokens, Change::Revoke),
        TokenCommand::RevokeAll(args) => revoke_all(ctx, args),
        TokenCommand::Verify(args) => verify(ctx, args),
    }
}

fn create(ctx: &Context, args: CreateArgs) -> Result<()> {
    // Every value is checked before the store is opened (or created),
    // the acting account's name included.
    ctx.user()?;
    values::token_name(&args.name)?;
    let requested_acls = match args.acl.is_empty() {
        true => None,
        false => Some(values::privilege_set(&args.acl)?),
    };
    let expires_at = match &args.expires {
        Some(when) => values::expiry(when, ctx.now_utc())?,
        None => Some(ctx.now + DEFAULT_LIFETIME),
    };
    let allow_ips = values::networks(&args.allow_ip)?;
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
        check_within_account(account, &acls)?;
        if store::live_name_taken(tx, account.id, &args.name, None)? {
            return Err(name_taken(&args.name, &account.name).into());
        }
        check_not_an_id(tx, &args.name)?;
        // Ids are random; on the rare collision, draw another. An id equal
        // to a live name of the account would be hidden by that token, as
        // names are resolved first.
        let mut id = new.id.clone();
        while store::token_id_taken(tx, &id)?
            || id == args.name
            || store::live_name_taken(tx, account.id, &id, None)?
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
        };
        store::insert_token(tx, &t)?;
        let mut event = ctx.token_event("create", &t);
        event.detail = Some(format!(
            "acls={}; expires={}",
            t.acls.join(","),
            t.expires_at.map_or("never".into(), output::utc)
        ));
        store::record_event(tx, &event)?;
        Ok(t)
    })?;
    let plaintext = token::assemble(&created.id, &new.secret);
    show_issued(ctx, &created, &plaintext)
}

/// Shows a new plaintext exactly once, after it is committed: a bare line
/// for scripts, an object for JSON/YAML, and on a terminal the details and
/// a confirmation that it was saved.
fn show_issued(ctx: &Context, t: &Token, plaintext: &str) -> Result<()> {
    if ctx.format() != OutputFormat::Table {
        let view = IssuedView {
            token: TokenView::new(t, ctx.now),
            plaintext,
        };
        output::structured(ctx.format(), &view)?;
        return Ok(());
    }
    if !ctx.interactive {
        // `T=$(tokenctl token create ci)` gets the token and nothing else.
        output::line(plaintext)?;
        let plain = Style {
            color: false,
            terminal: false,
            ..ctx.style
        };
        ctx.msg
            .text(&output::token_details_table(plain, t, ctx.now).to_string());
        ctx.msg
            .warn("this token will not be shown again; store it somewhere safe now");
        return Ok(());
    }
    loop {
        output::line("")?;
        output::line(plaintext)?;
        output::line("")?;
        output::token_details(ctx.style, t, ctx.now)?;
        ctx.msg
            .warn("this token will not be shown again; copy it somewhere safe now");
        if ctx.yes || ui::ask("Yes, I saved my token", false)? {
            return Ok(());
        }
    }
}

/// The filters shared by `list` and `revoke-all`, as a store query.
fn selection_query<'a>(
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
fn parse_glob(sel: &SelectionArgs) -> Result<Option<glob::Pattern>> {
    if let Some(dur) = &sel.unused_for {
        values::duration(dur)?;
    }
    Ok(sel.name_glob.as_deref().map(values::glob).transpose()?)
}

/// The acting account for a selection, or `None` for every account.
/// `Ok(Err(()))` when there is nothing to select from yet.
fn selection_account(
    ctx: &Context,
    conn: &Connection,
    sel: &SelectionArgs,
) -> Result<Result<Option<Account>, ()>> {
    if sel.all_accounts {
        return Ok(Ok(None));
    }
    Ok(ctx.read_account(conn)?.map(Some).ok_or(()))
}

fn list(ctx: &Context, args: ListArgs) -> Result<()> {
    let glob = parse_glob(&args.selection)?;
    if let Some(text) = &args.search {
        values::search(text)?;
    }
    let store = ctx.open_read()?;
    let account = match &store {
        Some(store) => selection_account(ctx, store.conn(), &args.selection)?,
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
        store::each_token(store.conn(), &query, |t| -> Result<()> {
            Ok(list.push(&TokenView::new(&t, ctx.now))?)
        })?;
        return Ok(list.finish()?);
    }
    if ctx.format() == OutputFormat::Table && !ctx.style.terminal && !ctx.style.color {
        return plain_list(ctx, &store, &query, args.selection.all_accounts);
    }
    let tokens = store::list_tokens(store.conn(), &query)?;
    print_tokens(ctx, &tokens, args.selection.all_accounts)
}

/// The table for pipes and files, in two passes over one snapshot (column
/// widths, then rows): constant memory for any number of tokens.
fn plain_list(ctx: &Context, store: &Store, query: &TokenQuery, all_accounts: bool) -> Result<()> {
    let header = output::token_header(all_accounts);
    let mut widths = output::header_widths(&header);
    let mut count = 0;
    let snapshot = store.conn().unchecked_transaction()?;
    store::each_token(&snapshot, query, |t| -> Result<()> {
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
    store::each_token(&snapshot, query, |t| -> Result<()> {
        Ok(table.row(&output::token_cells(&t, ctx.now, all_accounts))?)
    })?;
    table.finish()?;
    Ok(())
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

fn print_token(ctx: &Context, t: &Token) -> Result<()> {
    match ctx.format() {
        OutputFormat::Table => output::token_details(ctx.style, t, ctx.now)?,
        format => output::structured(format, &TokenView::new(t, ctx.now))?,
    }
    Ok(())
}

fn show(ctx: &Context, args: ShowArgs) -> Result<()> {
    let store = ctx.open_read()?;
    let t = match &store {
        Some(store) => match ctx.read_account(store.conn())? {
            Some(account) => store::resolve_token(store.conn(), account.id, &args.token)?,
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

fn edit(ctx: &Context, args: EditArgs) -> Result<()> {
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
        true => Some(values::networks(&args.allow_ip)?),
        false => None,
    };

    let mut store = ctx.open_to_change()?;
    let updated = ctx.write_as_account(&mut store, |tx, account| {
        let old = resolve_live(ctx, tx, account, &args.token, "edited")?;
        let mut t = old.clone();
        let mut changes = Vec::new();

        if let Some(name) = &args.new_name
            && *name != t.name
        {
            if store::live_name_taken(tx, account.id, name, Some(&t.id))? {
                return Err(name_taken(name, &account.name).into());
            }
            check_not_an_id(tx, name)?;
            changes.push(format!("name {} -> {name}", t.name));
            t.name = name.clone();
        }
        if let Some(acl_edit) = &acl_edit {
            let acls = acl_edit.apply(&t.acls)?;
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
            let show = |v: &[String]| {
                if v.is_empty() {
                    "any".into()
                } else {
                    v.join(",")
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
            store::update_token(tx, &t)?;
            let mut event = ctx.token_event("edit", &t);
            event.detail = Some(changes.join("; "));
            store::record_event(tx, &event)?;
        }
        Ok(t)
    })?;
    print_token(ctx, &updated)
}

/// The state changes that take several `<TOKEN>`s.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Revoke,
    Disable,
    Enable,
}

impl Change {
    fn action(self) -> &'static str {
        match self {
            Change::Revoke => "revoke",
            Change::Disable => "disable",
            Change::Enable => "enable",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Change::Revoke => "revoked",
            Change::Disable => "disabled",
            Change::Enable => "enabled",
        }
    }

    /// Whether the change would do anything to `t`.
    fn applies_to(self, t: &Token) -> bool {
        match self {
            Change::Revoke => t.revoked_at.is_none(),
            Change::Disable => t.disabled_at.is_none(),
            Change::Enable => t.disabled_at.is_some(),
        }
    }
}

/// Revokes, disables or enables several tokens in one transaction: if any
/// is not found (or, for disable/enable, revoked) nothing changes. A token
/// already in the wanted state is left alone, with no audit event.
fn change_tokens(ctx: &Context, names: &[String], change: Change) -> Result<()> {
    let first = names.first().map(String::as_str).unwrap_or_default();
    let mut store = ctx.open_to_change()?;

    // Resolve every name before asking anything.
    let account = ctx
        .read_account(store.conn())?
        .ok_or_else(|| token_not_found(ctx, first))?;
    let mut targets: Vec<Token> = Vec::new();
    for name in names {
        let t = match change {
            Change::Revoke => store::resolve_token(store.conn(), account.id, name)?
                .ok_or_else(|| token_not_found(ctx, name))?,
            _ => resolve_live(ctx, store.conn(), &account, name, change.past())?,
        };
        if !targets.iter().any(|o| o.id == t.id) {
            targets.push(t);
        }
    }
    let pending: Vec<&str> = targets
        .iter()
        .filter(|t| change.applies_to(t))
        .map(|t| t.name.as_str())
        .collect();
    if change == Change::Revoke && !pending.is_empty() {
        ctx.confirm(&format!(
            "Revoke {} ({})? It stops working at once",
            plural(pending.len(), "token"),
            pending.join(", ")
        ))?;
    }

    let changed = ctx.write_as_account(&mut store, |tx, account| {
        let mut changed = Vec::new();
        for target in &targets {
            // Re-read under the write lock, by id (a name could now be
            // another token's): another process may have acted meanwhile.
            let mut t = store::token_by_id(tx, &target.id)?
                .filter(|t| t.account_id == account.id)
                .ok_or_else(|| token_not_found(ctx, &target.name))?;
            if change != Change::Revoke && t.revoked_at.is_some() {
                return Err(revoked_conflict(&t, change.past()).into());
            }
            if !change.applies_to(&t) {
                continue;
            }
            match change {
                Change::Revoke => t.revoked_at = Some(ctx.now),
                Change::Disable => t.disabled_at = Some(ctx.now),
                Change::Enable => t.disabled_at = None,
            }
            store::update_token(tx, &t)?;
            store::record_event(tx, &ctx.token_event(change.action(), &t))?;
            changed.push(t);
        }
        Ok(changed)
    })?;
    match ctx.format() {
        OutputFormat::Table => output::line(&format!(
            "{} {}",
            change.past(),
            plural(changed.len(), "token")
        ))?,
        format => {
            let tokens: Vec<TokenView> =
                changed.iter().map(|t| TokenView::new(t, ctx.now)).collect();
            let view = serde_json::json!({ change.past(): changed.len(), "tokens": tokens });
            output::structured(format, &view)?;
        }
    }
    Ok(())
}

fn rotate(ctx: &Context, args: RotateArgs) -> Result<()> {
    let grace = values::grace(&args.grace)?;
    if grace > MAX_GRACE {
        return Err(
            Error::usage(format!("grace {} is longer than 30 days", args.grace))
                .with_hint("give at most 30d, or 0 to stop the old secret at once")
                .into(),
        );
    }
    // argon2 runs here, before the write lock is taken; only the new
    // secret is used, the token keeps its id.
    let new = token::generate()?;
    let secret_hash = token::hash_secret(&new.secret)?;

    let mut store = ctx.open_to_change()?;
    let rotated = ctx.write_as_account(&mut store, |tx, account| {
        // A new secret is a new credential: not for a suspended account.
        if account.suspended {
            return Err(suspended(account).into());
        }
        let mut t = resolve_live(ctx, tx, account, &args.token, "rotated")?;
        // The old secret works until the grace ends, never past expiry. A
        // grace from an earlier rotation ends here: only the secret being
        // replaced is kept.
        let grace_end = (grace > 0).then(|| {
            let end = ctx.now + grace;
            t.expires_at.map_or(end, |expires| end.min(expires))
        });
        t.prev_secret_hash = grace_end.map(|_| t.secret_hash.clone());
        t.prev_valid_until = grace_end;
        t.secret_hash = secret_hash;
        store::update_token(tx, &t)?;
        let mut event = ctx.token_event("rotate", &t);
        event.detail = Some(match grace_end {
            Some(end) => format!("old secret valid until {}", output::utc(end)),
            None => "old secret stopped at once".into(),
        });
        store::record_event(tx, &event)?;
        Ok(t)
    })?;
    let plaintext = token::assemble(&rotated.id, &new.secret);
    show_issued(ctx, &rotated, &plaintext)
}

fn revoke_all(ctx: &Context, args: RevokeAllArgs) -> Result<()> {
    let glob = parse_glob(&args.selection)?;
    let mut store = ctx.open_to_change()?;
    let account = match selection_account(ctx, store.conn(), &args.selection)? {
        Ok(account) => account,
        Err(()) => {
            return print_revoked(
                ctx,
                &[],
                args.dry_run.then_some(&[][..]),
                args.selection.all_accounts,
            );
        }
    };
    let query = selection_query(ctx, &args.selection, glob.as_ref(), account.as_ref())?;
    // With --yes (cron) the selection is made once, under the write lock.
    // Otherwise what a person approved is what gets revoked: only the
    // tokens listed (and still selected) are taken.
    let approved: Option<HashSet<String>> = if ctx.yes && !args.dry_run {
        None
    } else {
        let preview = store::list_tokens(store.conn(), &query)?;
        if args.dry_run {
            return print_revoked(ctx, &[], Some(&preview), args.selection.all_accounts);
        }
        if preview.is_empty() {
            return print_revoked(ctx, &[], None, args.selection.all_accounts);
        }
        if ctx.interactive {
            output::token_table(ctx.style, &preview, ctx.now, args.selection.all_accounts)?;
        }
        ctx.confirm(&format!(
            "Revoke these {}? They stop working at once",
            plural(preview.len(), "token")
        ))?;
        Some(preview.into_iter().map(|t| t.id).collect())
    };
    let detail = revoke_all_detail(&args.selection);
    let revoked = store.write(|tx| {
        let mut selected = store::list_tokens(tx, &query)?;
        if let Some(approved) = &approved {
            selected.retain(|t| approved.contains(&t.id));
        }
        for t in &mut selected {
            store::revoke_token(tx, &t.id, ctx.now)?;
            let mut event = ctx.token_event("revoke", t);
            event.detail = Some(detail.clone());
            store::record_event(tx, &event)?;
            t.revoked_at = Some(ctx.now);
        }
        Ok(selected)
    })?;
    print_revoked(ctx, &revoked, None, args.selection.all_accounts)
}

fn revoke_all_detail(sel: &SelectionArgs) -> String {
    let mut parts = vec!["revoke-all".to_string()];
    if sel.expired {
        parts.push("--expired".into());
    }
    if let Some(d) = &sel.unused_for {
        parts.push(format!("--unused-for {d}"));
    }
    if let Some(g) = &sel.name_glob {
        parts.push(format!("--match {g}"));
    }
    if sel.all_accounts {
        parts.push("--all-accounts".into());
    }
    parts.join(" ")
}

#[derive(Serialize)]
struct RevokedView {
    revoked: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    would_revoke: Option<usize>,
    tokens: Vec<TokenView>,
}

/// The outcome of `revoke` and `revoke-all`; `would` is the dry-run
/// selection.
fn print_revoked(
    ctx: &Context,
    revoked: &[Token],
    would: Option<&[Token]>,
    all_accounts: bool,
) -> Result<()> {
    let shown = would.unwrap_or(revoked);
    if ctx.format() != OutputFormat::Table {
        let view = RevokedView {
            revoked: revoked.len(),
            would_revoke: would.map(<[Token]>::len),
            tokens: shown.iter().map(|t| TokenView::new(t, ctx.now)).collect(),
        };
        output::structured(ctx.format(), &view)?;
        return Ok(());
    }
    match would {
        Some(would) => {
            if !would.is_empty() {
                output::token_table(ctx.style, would, ctx.now, all_accounts)?;
            }
            output::line(&format!(
                "would revoke {} (dry run)",
                plural(would.len(), "token")
            ))?;
        }
        None => output::line(&format!("revoked {}", plural(revoked.len(), "token")))?,
    }
    Ok(())
}

#[derive(Serialize)]
struct Verified<'a> {
    valid: bool,
    account: &'a str,
    name: &'a str,
    id: &'a str,
    acls: &'a [String],
    expires: Option<String>,
}

#[derive(Serialize)]
struct Rejected {
    valid: bool,
    reason: &'static str,
}

fn verify(ctx: &Context, args: VerifyArgs) -> Result<()> {
    let wanted = values::normalize_acls(values::privileges(&args.acl)?);
    let ip = args.ip.as_deref().map(values::address).transpose()?;
    // A missing store is a failure of the setup, whatever the input.
    let store = Store::open_read(&ctx.db)?.ok_or_else(|| {
        Error::runtime(format!("no store at {}", ctx.db.display()))
            .with_hint("create a token first, or point --db (or TOKENCTL_DB) at the store")
    })?;
    let input = read_token_input(ctx)?;
    // The checksum is checked before any lookup in the store.
    let checked = match input.as_deref().and_then(token::parse) {
        None => Err(Reason::Malformed),
        Some(parsed) => {
            let checked = check_token(ctx, store.conn(), &parsed, &wanted, ip)?;
            let ip = ip.map(|ip| ip.to_string());
            // Last Used already says this second and this address: writing
            // it again would only queue for the write lock.
            if let Ok((t, _)) = &checked
                && (t.last_used_at != Some(ctx.now) || t.last_used_ip != ip)
            {
                // The answer does not depend on recording Last Used, which
                // a store we can only read does not allow.
                let recorded = ctx.open_to_change().and_then(|mut store| {
                    store.write(|tx| Ok(store::record_use(tx, &t.id, ctx.now, ip.as_deref())?))
                });
                if let Err(e) = recorded {
                    ctx.msg.warn(&format!("could not record Last Used: {e:#}"));
                }
            }
            checked
        }
    };
    let (t, acls) = match checked {
        Ok(found) => found,
        Err(reason) => {
            if ctx.format() != OutputFormat::Table {
                output::structured(
                    ctx.format(),
                    &Rejected {
                        valid: false,
                        reason: reason.as_str(),
                    },
                )?;
            }
            return Err(Error::new(Kind::VerifyFailed, format!("token rejected: {reason}")).into());
        }
    };
    match ctx.format() {
        OutputFormat::Table => output::line(&format!(
            "valid: account {}, token {} ({})",
            t.account, t.name, t.id
        ))?,
        format => output::structured(
            format,
            &Verified {
                valid: true,
                account: &t.account,
                name: &t.name,
                id: &t.id,
                acls: &acls,
                expires: t.expires_at.map(output::utc),
            },
        )?,
    }
    Ok(())
}

/// The token to verify: `TOKENCTL_TOKEN` when set and non-empty, else the
/// first line of stdin. `None` when it cannot be a token (too long, not
/// UTF-8).
fn read_token_input(ctx: &Context) -> Result<Option<String>> {
    if let Some(value) = std::env::var_os("TOKENCTL_TOKEN").filter(|v| !v.is_empty()) {
        return Ok(value.into_string().ok().map(|s| s.trim().to_string()));
    }
    let stdin = io::stdin();
    if ctx.interactive {
        // Not echoed, so it stays off the screen and out of scrollback.
        let typed = dialoguer::Password::new()
            .with_prompt("Token")
            .allow_empty_password(true)
            .interact()
            .map_err(|e| Error::runtime(format!("cannot read the token: {e}")))?;
        return Ok(Some(typed.trim().to_string()).filter(|t| t.len() <= MAX_TOKEN_INPUT));
    }
    // Up to the first newline, and at most one byte past the limit: the
    // answer comes as soon as the line does, and a longer line is refused
    // without reading the rest.
    let mut buf = Vec::with_capacity(MAX_TOKEN_INPUT + 1);
    stdin
        .lock()
        .take(MAX_TOKEN_INPUT as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(|e| Error::runtime(format!("cannot read the token from stdin: {e}")))?;
    let line = match buf.strip_suffix(b"\n") {
        Some(line) => line,
        None if buf.len() > MAX_TOKEN_INPUT => return Ok(None),
        None => &buf[..],
    };
    Ok(String::from_utf8(line.to_vec())
        .ok()
        .map(|s| s.trim().to_string()))
}

/// The checks of tokenctl-token-verify(1) after the checksum. The outer
/// error is a runtime failure; the inner one the reason a token is
/// refused. A valid token comes with what it may do now (its privileges
/// within its account's).
fn check_token(
    ctx: &Context,
    conn: &Connection,
    parsed: &token::Parsed,
    wanted: &[String],
    ip: Option<IpAddr>,
) -> Result<Result<(Token, Vec<String>), Reason>> {
    // An unknown id costs no argon2: ids are not secret.
    let Some(found) = verify::lookup(conn, parsed.id)? else {
        return Ok(Err(Reason::Unknown));
    };
    if verify::matching_hash(&found.token, parsed.secret, ctx.now).is_none() {
        return Ok(Err(Reason::Unknown));
    }
    if let Err(reason) = verify::check_state(&found, ctx.now, wanted, ip) {
        return Ok(Err(reason));
    }
    let acls = match &found.account {
        Some(account) => verify::effective_acls(&found.token, account),
        None => Vec::new(),
    };
    Ok(Ok((found.token, acls)))
}

/// A live token of the account for a change; a revoked one is a conflict.
fn resolve_live(
    ctx: &Context,
    conn: &Connection,
    account: &Account,
    name_or_id: &str,
    verb: &str,
) -> Result<Token> {
    let t = store::resolve_token(conn, account.id, name_or_id)?
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
fn check_not_an_id(conn: &Connection, name: &str) -> Result<()> {
    if store::token_id_taken(conn, name)? {
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

fn check_within_account(account: &Account, acls: &[String]) -> Result<(), Error> {
    let lacking = values::lacking(&account.acls, acls);
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

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
