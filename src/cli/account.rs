//! `tokenctl account ...`: the account commands' arguments.

use clap::{Args, Subcommand};
use clap_complete::ArgValueCompleter;

use super::AclEditArgs;
use crate::complete;

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an account with its privileges
    ///
    /// Prints "added account NAME: acls PRIVILEGES"; with -o json|yaml, the
    /// account (its "status" is active, suspended or deleted, beside
    /// "suspended"), as every account command does.
    Add(AccountAddArgs),
    /// List the accounts
    ///
    /// On a terminal the table ends with a count line and goes through the
    /// pager (TOKENCTL_PAGER, else PAGER, else less; empty or cat for none);
    /// piped, it is the table alone.
    List,
    /// Show one account
    Show(AccountArgs),
    /// Rename an account or change its privileges
    ///
    /// Prints what changed: "edited account NAME: acls deploy,read ->
    /// deploy"; when nothing changes, stdout is empty and stderr says so.
    Edit(AccountEditArgs),
    /// Suspend an account: its tokens stop verifying and no new ones are made
    ///
    /// Prints "suspended account NAME"; an account already suspended is
    /// left as it is, and stderr says so.
    Suspend(AccountArgs),
    /// Lift a suspension
    ///
    /// Prints "unsuspended account NAME"; for an active account, stderr
    /// says it is already active.
    Unsuspend(AccountArgs),
    /// Delete an account and revoke all its tokens
    ///
    /// One transaction. On a terminal you confirm by typing the account's
    /// name; without one it needs --yes (exit 6 otherwise). The name can
    /// be added again later; the old tokens stay revoked. Prints "deleted
    /// account NAME", then a "revoked token ..." line for each of its
    /// tokens; JSON and YAML give "deleted", "revoked" (how many), the
    /// "account" with status deleted and the revoked "tokens".
    Delete(AccountArgs),
}

#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Account name
    #[arg(add = ArgValueCompleter::new(complete::account_names))]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct AccountAddArgs {
    /// Account name: 1 to 64 of A-Z a-z 0-9 . _ - @, not starting with -
    pub name: String,

    /// A privilege, or a comma list; repeatable; at most 100; `all` grants every one
    #[arg(long, value_name = "ACL", required = true, add = ArgValueCompleter::new(complete::privileges))]
    pub acl: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AccountEditArgs {
    /// Account name
    #[arg(add = ArgValueCompleter::new(complete::account_names))]
    pub name: String,

    /// Rename the account (its tokens keep working)
    #[arg(long, value_name = "NAME")]
    pub new_name: Option<String>,

    #[command(flatten)]
    pub acls: AclEditArgs,
}
