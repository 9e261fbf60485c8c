//! One module per command group. Each takes parsed arguments and a
//! `Context`, calls the store, and hands results to `output`.

pub mod account;
mod acting;
pub mod audit;
pub mod completions;
pub mod db;
pub mod os_user;
pub mod privilege;
pub mod serve;
pub mod token;

use std::io::{self, IsTerminal};

use anyhow::Result;

use crate::cli::{Cli, Command, GlobalArgs, OutputFormat};
use crate::error::{Error, Kind};
use crate::model::Account;
use crate::output::Style;
use crate::store::{Location, Queries, Store};
use crate::ui::{self, Messages};
use crate::values;

/// Everything a command needs besides its own arguments, resolved once.
pub struct Context {
    pub db: Location,
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
        Command::Privilege(cmd) => privilege::run(&context()?, cmd),
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
            Some(arg) => {
                let location = Location::parse(arg)?;
                for warning in location.warnings() {
                    msg.warn(warning);
                }
                let from_environment =
                    std::env::var_os("TOKENCTL_DB").as_deref() == Some(arg.as_os_str());
                if location.has_password() && !from_environment {
                    msg.warn("a password in --db can be read by other users in the process list; use PGPASSWORD or ~/.pgpass");
                }
                location
            }
            None => Location::default_store()?,
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
        let name = self
            .user
            .clone()
            .or_else(os_user::login_name)
            .ok_or_else(|| {
                Error::usage("cannot tell which account to act for")
                    .with_hint("pass -u ACCOUNT or set TOKENCTL_USER")
            })?;
        values::account_name(&name)?;
        Ok(name)
    }

    /// The store if it exists, to change; never creates one. An older
    /// schema is migrated by the first write, not by opening.
    pub fn open_existing(&self) -> Result<Option<Store>> {
        Store::open_to_change(&self.db)
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
        format!("no store at {} yet", self.db)
    }

    /// The store for a command that changes tokens or accounts but cannot
    /// create them: a missing store is an error naming the path (only
    /// `token create` and `account add` create a store).
    pub fn open_to_change(&self) -> Result<Store> {
        Ok(self.open_existing()?.ok_or_else(|| {
            Error::runtime(format!("no store at {}", self.db)).with_hint(
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

    /// The acting account for a read. `Ok(None)` on a store that has never
    /// had an account (nothing to show yet).
    pub fn read_account(&self, store: &dyn Queries) -> Result<Option<Account>> {
        let user = self.user()?;
        match store.find_account(&user)? {
            Some(account) => Ok(Some(account)),
            None if !store.is_bootstrapped()? => Ok(None),
            None => Err(unknown_account(&user).into()),
        }
    }

    /// For destructive commands: asks on a terminal, else requires --yes.
    pub fn confirm(&self, question: &str) -> Result<()> {
        if !self.must_ask()? {
            return Ok(());
        }
        if ui::ask(question, false)? {
            Ok(())
        } else {
            Err(Error::new(Kind::Aborted, "aborted; nothing was changed").into())
        }
    }

    /// For bulk and irreversible commands: on a terminal the user types
    /// `expected` (a count or a name); else requires --yes.
    pub fn confirm_typed(&self, question: &str, what: &str, expected: &str) -> Result<()> {
        if !self.must_ask()? {
            return Ok(());
        }
        self.msg.text(question);
        let prompt = format!("Type {what} ({expected}) to confirm");
        if ui::ask_typed(&prompt, expected)? {
            Ok(())
        } else {
            Err(Error::new(
                Kind::Aborted,
                format!("you did not type {expected}; aborted, nothing was changed"),
            )
            .into())
        }
    }

    /// Whether a confirmation must be asked: not with --yes; refused
    /// without a terminal.
    fn must_ask(&self) -> Result<bool> {
        if self.yes {
            return Ok(false);
        }
        if !self.interactive {
            return Err(Error::new(Kind::Aborted, "this command needs confirmation")
                .with_hint("pass --yes to confirm without a terminal")
                .into());
        }
        Ok(true)
    }
}

pub fn unknown_account(name: &str) -> Error {
    Error::not_found(format!("no account named '{name}'")).with_hint(format!(
        "create it with: tokenctl account add {name} --acl PRIVILEGE, or pick another with -u"
    ))
}
