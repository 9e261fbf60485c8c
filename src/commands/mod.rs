//! One module per command group. Each takes parsed arguments and a
//! `Context`, calls the store, and hands results to `output`.

pub mod account;
pub mod audit;
pub mod completions;
pub mod db;
pub mod serve;
pub mod token;

use std::ffi::CStr;
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Result;
use rusqlite::{Connection, Transaction};

use crate::cli::{Cli, Command, GlobalArgs, OutputFormat};
use crate::error::{Error, Kind};
use crate::model::{Account, Event, Token};
use crate::output::Style;
use crate::store::{self, Store};
use crate::ui::{self, Messages};
use crate::values;

/// Everything a command needs besides its own arguments, resolved once.
pub struct Context {
    pub db: PathBuf,
    user: Option<String>,
    pub yes: bool,
    /// We may prompt: all three streams are terminals and output is a table.
    pub interactive: bool,
    pub style: Style,
    pub msg: Messages,
    /// "Now" for the whole command, Unix seconds.
    pub now: i64,
}

pub fn run(cli: Cli, msg: Messages) -> Result<()> {
    let Cli { global, command } = cli;
    let context = || Context::new(&global, msg);
    match command {
        Command::Token(cmd) => token::run(&context()?, cmd),
        Command::Account(cmd) => account::run(&context()?, cmd),
        Command::Audit(args) => audit::run(&context()?, args),
        Command::Db(cmd) => db::run(&context()?, cmd),
        Command::Serve(args) => serve::run(&context()?, args),
        // Needs no store, and so no store path.
        Command::Completions(args) => completions::run(args),
    }
}

impl Context {
    fn new(g: &GlobalArgs, msg: Messages) -> Result<Context> {
        let db = match &g.db {
            Some(path) => path.clone(),
            None => store::default_path()?,
        };
        let stdout_terminal = io::stdout().is_terminal();
        Ok(Context {
            db,
            user: g.user.clone(),
            yes: g.yes,
            interactive: g.output == OutputFormat::Table && ui::all_terminals(),
            style: Style {
                format: g.output,
                color: ui::use_color(g.color, stdout_terminal),
                terminal: stdout_terminal,
            },
            msg,
            now: chrono::Utc::now().timestamp(),
        })
    }

    /// The acting account's name: `-u`, `TOKENCTL_USER`, then the login name.
    pub fn user(&self) -> Result<String> {
        let name = self.user.clone().or_else(login_name).ok_or_else(|| {
            Error::usage("cannot tell which account to act for")
                .with_hint("pass -u ACCOUNT or set TOKENCTL_USER")
        })?;
        values::account_name(&name)?;
        Ok(name)
    }

    /// The store if it exists; never creates one.
    pub fn open_existing(&self) -> Result<Option<Store>> {
        Store::open_existing(&self.db)
    }

    /// The store for a command that only reads it (a store in a folder we
    /// cannot write can still be read). `None` when there is none yet: a
    /// read shows nothing, and says so with `no_store`.
    pub fn open_read(&self) -> Result<Option<Store>> {
        Store::open_read(&self.db)
    }

    /// Which path has no store yet, so that a newcomer's first read and a
    /// mistyped --db both show: a note on stderr for an empty result, or
    /// the hint of a "not found" error.
    pub fn no_store(&self) -> String {
        format!("no store at {} yet", self.db.display())
    }

    /// The store for a command that changes tokens or accounts but cannot
    /// create them: a missing store is an error naming the path (only
    /// `token create` and `account add` create a store).
    pub fn open_to_change(&self) -> Result<Store> {
        Ok(self.open_existing()?.ok_or_else(|| {
            Error::runtime(format!("no store at {}", self.db.display())).with_hint(
                "check --db (or TOKENCTL_DB); a store is created by token create or account add",
            )
        })?)
    }

    pub fn open_or_create(&self) -> Result<Store> {
        Store::open_or_create(&self.db)
    }

    pub fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.now, 0).unwrap_or_default()
    }

    /// An audit event about an account, stamped with this command's time
    /// and actor.
    pub fn account_event(&self, action: &str, account: &Account) -> Event {
        self.event(action, account.id, &account.name)
    }

    fn event(&self, action: &str, account_id: i64, account: &str) -> Event {
        Event {
            at: self.now,
            actor: actor(),
            action: action.to_string(),
            account_id,
            account: account.to_string(),
            token_id: None,
            token_name: None,
            detail: None,
        }
    }

    /// An audit event about one token.
    pub fn token_event(&self, action: &str, t: &Token) -> Event {
        let mut event = self.event(action, t.account_id, &t.account);
        event.token_id = Some(t.id.clone());
        event.token_name = Some(t.name.clone());
        event
    }

    /// Runs `f` in one write transaction as the acting account, which is
    /// bootstrapped first on a store that has never had an account.
    pub fn write_as_account<T>(
        &self,
        store: &mut Store,
        f: impl FnOnce(&Transaction, &Account) -> Result<T>,
    ) -> Result<T> {
        let user = self.user()?;
        let (value, bootstrapped) = store.write(|tx| {
            let bootstrapped = self.bootstrap_if_fresh(tx, &user)?;
            let account = store::find_account(tx, &user)?.ok_or_else(|| unknown_account(&user))?;
            Ok((f(tx, &account)?, bootstrapped))
        })?;
        if bootstrapped {
            self.note_bootstrap(&user);
        }
        Ok(value)
    }

    /// On a store that has never had an account, creates one for `user`
    /// with `all`, in the caller's transaction, so that a refused command
    /// bootstraps nothing. Happens once per store. Returns whether it did.
    pub fn bootstrap_if_fresh(&self, tx: &Transaction, user: &str) -> Result<bool> {
        if store::is_bootstrapped(tx)? {
            return Ok(false);
        }
        let account = store::insert_account(tx, user, &[values::ALL.to_string()], self.now)?;
        store::mark_bootstrapped(tx, self.now)?;
        let mut event = self.account_event("account-add", &account);
        event.detail = Some("acls=all (first use of the store)".into());
        store::record_event(tx, &event)?;
        Ok(true)
    }

    pub fn note_bootstrap(&self, user: &str) {
        self.msg.note(&format!(
            "created account '{user}' with privilege 'all' (first use of {})",
            self.db.display()
        ));
    }

    /// The acting account for a read. `Ok(None)` on a store that has never
    /// had an account (nothing to show yet).
    pub fn read_account(&self, conn: &Connection) -> Result<Option<Account>> {
        let user = self.user()?;
        match store::find_account(conn, &user)? {
            Some(account) => Ok(Some(account)),
            None if !store::is_bootstrapped(conn)? => Ok(None),
            None => Err(unknown_account(&user).into()),
        }
    }

    /// For destructive commands: asks on a terminal, else requires --yes.
    pub fn confirm(&self, question: &str) -> Result<()> {
        if self.yes {
            return Ok(());
        }
        if !self.interactive {
            return Err(Error::new(Kind::Aborted, "this command needs confirmation")
                .with_hint("pass --yes to confirm without a terminal")
                .into());
        }
        if ui::ask(question, false)? {
            Ok(())
        } else {
            Err(Error::new(Kind::Aborted, "aborted; nothing was changed").into())
        }
    }
}

pub fn unknown_account(name: &str) -> Error {
    Error::not_found(format!("no account named '{name}'")).with_hint(format!(
        "create it with: tokenctl account add {name} --acl PRIVILEGE, or pick another with -u"
    ))
}

/// Who made a change, for the audit trail: the OS user of the real uid,
/// and the sudo caller when there is one. Not an account name.
fn actor() -> String {
    // Once per process: revoke-all writes an event per token.
    static ACTOR: OnceLock<String> = OnceLock::new();
    ACTOR.get_or_init(os_actor).clone()
}

/// The login name: `USER`, then `LOGNAME`, then the real uid's user name
/// (containers, cron and systemd units often set neither variable).
pub fn login_name() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(|| real_user_name().ok())
}

/// The user name of the real uid, or the uid when it has none.
fn real_user_name() -> std::result::Result<String, libc::uid_t> {
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    user_name(uid).ok_or(uid)
}

fn os_actor() -> String {
    let name = real_user_name().unwrap_or_else(|uid| format!("uid {uid}"));
    match std::env::var("SUDO_USER") {
        // The actor is kept in the audit trail: a token pasted into
        // SUDO_USER must not be stored with it.
        Ok(sudo) if !sudo.is_empty() && sudo != name => {
            format!("{name} (sudo: {})", crate::token::redact(&sudo))
        }
        _ => name,
    }
}

fn user_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, both owned here and
    // large enough by construction; `result` is non-null only on success.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string in `buf`.
    let name = unsafe { CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}
