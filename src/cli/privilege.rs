//! `tokenctl privilege ...`: the catalogue of privileges' arguments.

use clap::{Args, Subcommand};
use clap_complete::ArgValueCompleter;

use crate::complete;

#[derive(Debug, Subcommand)]
pub enum PrivilegeCommand {
    /// Add a privilege to the catalogue, or every privilege in use
    ///
    /// While the catalogue is empty, any well-formed privilege is accepted
    /// (a privilege new to the store gets a note on stderr). Once it holds
    /// one, accounts and tokens may only be given privileges in it (or
    /// `all`), and serve answers 400 to an ?acl= outside it. A first
    /// privilege is refused (exit 4) while others are granted outside the
    /// catalogue: start it with --from-use, which adds every privilege some
    /// live account or token holds, then describe them with --force.
    /// Acts as the acting account (-u), which the audit trail names.
    Add(PrivilegeAddArgs),
    /// List the catalogue
    ///
    /// An empty catalogue lists nothing, and says on stderr that every
    /// well-formed privilege is accepted.
    List,
    /// Remove a privilege from the catalogue
    ///
    /// Refused (exit 4) while a live account or token holds it, naming
    /// them; take it away first with account edit or token edit
    /// --remove-acl. Removing the last one empties the catalogue, and
    /// every well-formed privilege is accepted again.
    Remove(PrivilegeRemoveArgs),
}

#[derive(Debug, Args)]
pub struct PrivilegeAddArgs {
    /// The privilege: 1 to 64 of a-z 0-9 . _ : -, starting with a letter or digit (not `all`, always valid)
    #[arg(required_unless_present = "from_use", conflicts_with = "from_use")]
    pub name: Option<String>,

    /// What the privilege allows: one line, without control characters, bidi overrides, non-characters or a token
    #[arg(
        long,
        value_name = "TEXT",
        required_unless_present = "from_use",
        conflicts_with = "from_use"
    )]
    pub description: Option<String>,

    /// Add every privilege a live account or token holds (without descriptions)
    #[arg(long)]
    pub from_use: bool,

    /// Replace the description of a privilege already in the catalogue
    #[arg(long, requires = "name")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PrivilegeRemoveArgs {
    /// The privilege to remove
    #[arg(add = ArgValueCompleter::new(complete::catalogue))]
    pub name: String,
}
