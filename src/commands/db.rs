//! `tokenctl db backup|restore|copy|check`.

use std::fs;
use std::path::Path;

use anyhow::Result;

use super::Context;
use crate::cli::{BackupArgs, CopyArgs, DbCommand, RestoreArgs};
use crate::error::Error;
use crate::output::{self, BackupView, CheckReport, CheckView, CopiedView, RestoredView};
use crate::store::{BackupFile, Location, Scratch, Store};

pub fn run(ctx: &Context, cmd: DbCommand) -> Result<()> {
    match cmd {
        DbCommand::Backup(args) => backup(ctx, args),
        DbCommand::Restore(args) => restore(ctx, args),
        DbCommand::Copy(args) => copy(ctx, args),
        DbCommand::Check => check(ctx),
    }
}

fn existing(ctx: &Context) -> Result<Store> {
    Ok(ctx.open_read()?.ok_or_else(|| {
        Error::runtime(format!("no store at {}", ctx.db))
            .with_hint("point --db (or TOKENCTL_DB) at the store")
    })?)
}

fn backup(ctx: &Context, args: BackupArgs) -> Result<()> {
    let dest = args.file;
    if dest.is_dir() {
        return Err(Error::usage(format!(
            "{} is a folder; db backup writes a file",
            dest.display()
        ))
        .with_hint(format!(
            "name the file, e.g. tokenctl db backup {}",
            dest.join("tokens.db").display()
        ))
        .into());
    }
    let folder = match dest.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(Error::runtime(format!(
            "cannot write the backup {}: the folder {} does not exist",
            dest.display(),
            folder.display()
        ))
        .with_hint(format!(
            "create it first (mkdir -p {}) or choose another folder",
            folder.display()
        ))
        .into());
    }
    if dest.exists() && !ctx.yes {
        return Err(Error::conflict(format!("{} exists", dest.display()))
            .with_hint("pass --yes to replace it, or choose another file")
            .into());
    }
    let store = existing(ctx)?;
    if is_the_store(ctx, &dest) {
        return Err(
            Error::conflict(format!("{} is the store itself", dest.display()))
                .with_hint("back up to another file")
                .into(),
        );
    }
    // Written in a folder of our own beside the target and renamed into
    // place: a failed backup never leaves a partial file under the name
    // asked for, and in a shared folder no one else can swap the file
    // being written for a link of theirs.
    let written = Scratch::new(&dest, "partial")
        .map_err(anyhow::Error::from)
        .and_then(|partial| {
            store.backup_to(&partial.file)?;
            Ok(fs::rename(&partial.file, &dest)?)
        });
    if let Err(e) = written {
        return Err(
            Error::runtime(format!("cannot write the backup {}: {e:#}", dest.display())).into(),
        );
    }
    Ok(output::show(ctx.style, ctx.msg, &BackupView::new(&dest))?)
}

fn restore(ctx: &Context, args: RestoreArgs) -> Result<()> {
    let mut store = existing(ctx)?;
    if is_the_store(ctx, &args.file) {
        return Err(
            Error::conflict(format!("{} is the store itself", args.file.display()))
                .with_hint("restore from a backup written by tokenctl db backup")
                .into(),
        );
    }
    // The backup is checked before anything is asked or written.
    let backup = BackupFile::open(&args.file)?;
    ctx.confirm(&format!(
        "Replace every account, token, audit event and catalogued privilege in {} with those of {}? \
         Tokens created since the backup stop working, and tokens revoked since work again",
        ctx.db,
        backup.path().display()
    ))?;
    store.restore_from(&backup)?;
    // The audit trail is the backup's now, so this line on stderr is the
    // restore's only record: say what replaced what, and when.
    ctx.msg.note(&format!(
        "{} was replaced by the backup {} at {}; its audit trail is the backup's",
        ctx.db,
        backup.path().display(),
        output::utc(ctx.now)
    ));
    let view = RestoredView::new(backup.path(), ctx.db.to_string());
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}

/// Copies every row into a new store; the source is only read.
fn copy(ctx: &Context, args: CopyArgs) -> Result<()> {
    let target = Location::parse(&args.to)?;
    for warning in target.warnings() {
        ctx.msg.warn(warning);
    }
    if target.has_password() {
        ctx.msg.warn("a password in --to can be read by other users in the process list; use PGPASSWORD or ~/.pgpass");
    }
    let store = existing(ctx)?;
    let snapshot = store.export()?;
    Store::create_from(&target, &snapshot)?;
    let copied = snapshot.read_counts();
    let view = CopiedView::new(
        target.to_string(),
        [
            copied.accounts,
            copied.tokens,
            copied.events,
            copied.privileges,
        ],
    );
    Ok(output::show(ctx.style, ctx.msg, &view)?)
}

/// Whether `file` is the store's own file.
fn is_the_store(ctx: &Context, file: &Path) -> bool {
    ctx.db.file().is_some_and(|store| same_file(file, store))
}

/// Whether two paths name one file (through links too).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn check(ctx: &Context) -> Result<()> {
    let store = existing(ctx)?;
    let checks = store.check()?;
    let report = CheckReport::new(
        checks
            .iter()
            .map(|c| CheckView {
                name: c.name,
                ok: c.ok,
                warning: c.warning,
                detail: &c.detail,
            })
            .collect(),
    );
    output::show(ctx.style, ctx.msg, &report)?;
    if !report.healthy() {
        return Err(
            Error::runtime(format!("the store {} is not healthy", ctx.db))
                .with_hint(
                    "restore from a backup (tokenctl db backup) or investigate the problems above",
                )
                .into(),
        );
    }
    Ok(())
}
