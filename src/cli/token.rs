//! `tokenctl token ...`: the token commands' arguments.

use clap::{Args, Subcommand};
use clap_complete::ArgValueCompleter;

use crate::complete;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its plaintext is shown once
    ///
    /// The token is committed to the store before it is shown. On a
    /// terminal it is printed on a line of its own with its details and a
    /// warning, and you confirm "Yes, I saved my token" (no shows it
    /// again; --yes skips the question). Piped, stdout is the token alone,
    /// so `T=$(tokenctl token create ci)` works; "created token ci (ID) in
    /// account ACCOUNT" and the details go to stderr. With -o json|yaml,
    /// one object: the token's fields plus "token".
    ///
    /// Privileges default to the account's own and must stay within them.
    /// Refused for a suspended account (exit 1).
    Create(CreateArgs),
    /// List the account's live tokens
    ///
    /// Columns: Name, Created, Expires, Last Used, ACLs, Status (Account
    /// first with --all-accounts; ID after Name with --all, as a revoked
    /// token is shown by its id, and with --wide). ACLs and Status are as
    /// `token show` gives them: the effective privileges, and the first
    /// status that applies (revoked, disabled, suspended, expired, active).
    ///
    /// On a terminal the table fits its width: long ACLs are cut short,
    /// dates lose their time of day, Created and Last Used go, names are
    /// cut short, ACLs go; the ID goes last. --wide shows every column in
    /// full however long the lines; pipes and files always get them in
    /// full, and JSON and YAML have every field.
    ///
    /// With no store yet (a new machine), stdout is empty (JSON: []) and
    /// stderr says where the store will be and that the first
    /// `tokenctl token create NAME` creates it.
    ///
    /// On a terminal the table ends with a count line and goes through the
    /// pager (TOKENCTL_PAGER, else PAGER, else less; empty or cat for none);
    /// piped, it is the table alone.
    List(ListArgs),
    /// Show every field of one token
    ///
    /// Status is the first that applies: revoked, disabled, suspended (its
    /// account is), expired, active; verify gives the same as its reason.
    /// ACLs are the effective privileges, what verify grants: the token's
    /// own as far as its account still holds them. A "Not in effect" row
    /// names the token's privileges its account no longer holds. JSON and
    /// YAML carry both: "acls" as stored, "effective_acls" as granted.
    ///
    /// While a rotation's grace runs, also until when the old secret works
    /// (Old Secret; "previous_secret_valid_until" in JSON and YAML, null
    /// when no grace runs).
    Show(ShowArgs),
    /// Change a token's name, privileges, expiry, allow-list or note
    ///
    /// Prints what changed: "edited token NAME (ID) in account ACCOUNT:
    /// acls read -> read,write". When nothing changes, stdout is empty and
    /// stderr says so. With -o json|yaml, the token.
    Edit(EditArgs),
    /// Issue a new secret for a token, keeping its id, name and settings
    ///
    /// The new token is shown exactly as `create` shows it. The old secret
    /// stops at once, or keeps working for --grace (at most 30 days, never
    /// past the token's expiry). Rotating again ends any earlier grace.
    /// stderr says "rotated token NAME (ID) in account ACCOUNT" and until
    /// when the old secret works ("the old secret works until 2026-12-03
    /// 14:00 UTC"); `token show` shows it while the grace runs.
    Rotate(RotateArgs),
    /// Suspend tokens without revoking them
    ///
    /// Prints a line for each token disabled: "disabled token NAME (ID) in
    /// account ACCOUNT"; one already disabled is left as it is and named on
    /// stderr.
    Disable(TokensArgs),
    /// Restore disabled tokens
    ///
    /// Prints a line for each token enabled, as `disable` does.
    Enable(TokensArgs),
    /// Revoke tokens: they stop verifying at once
    ///
    /// Asks on a terminal; without one it needs --yes (exit 6 otherwise).
    /// --dry-run shows the tokens it would revoke and changes nothing.
    /// Prints a line for each token revoked: "revoked token NAME (ID) in
    /// account ACCOUNT"; one already revoked (named by its id) is left as
    /// it is and named on stderr.
    Revoke(RevokeArgs),
    /// Revoke every live token that passes the filters
    ///
    /// Without filters, every live token of the account (or of every
    /// account with --all-accounts). Filters combine: --expired, --unused-for
    /// DUR (Last Used, or Created if never used, older than DUR), --match
    /// GLOB (the whole name, case-sensitive). One transaction, with one
    /// audit event per token. Asks on a terminal (from 5 tokens on, you
    /// type their number); without one it needs --yes (exit 6 otherwise);
    /// --dry-run and an empty selection never ask. `token list` with the
    /// same filters shows the same tokens. A missing store is exit 1, with
    /// or without --dry-run, so a mistyped --db shows. It says which accounts it covered; when nothing was
    /// revoked and stdout is not a terminal, it prints nothing (cron mails
    /// every line), while JSON and YAML still print the empty result.
    ///
    /// Cron, every account: tokenctl token revoke-all --expired --all-accounts --yes
    RevokeAll(RevokeAllArgs),
    /// Check a token read from TOKENCTL_TOKEN or stdin (never from argv)
    ///
    /// The token is TOKENCTL_TOKEN when set and not empty, else the first
    /// line of stdin (at most 1 KiB, surrounding blanks ignored). Valid
    /// means: checksum right, id known, secret right (during a rotation
    /// grace the previous one too), account present, status active (not
    /// revoked, disabled, suspended or expired, in that order: the status
    /// `token show` gives), --ip inside the allow-list when the token has
    /// one, and every --acl among its effective privileges (its own, as far
    /// as its account still holds them).
    ///
    /// Exit 0 records Last Used and prints the account and token; exit 5
    /// prints the reason on stderr: malformed, unknown, revoked, disabled,
    /// expired, suspended, ip or forbidden. A missing store is exit 1. A
    /// stored hash asking for more argon2 work than 256 MiB, 10 passes or
    /// 4 lanes never verifies (`db check` reports it).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Token name: 1 to 50 of A-Z a-z 0-9 - _, not another token's id
    pub name: String,

    /// never, a date (23:59:59 local), an RFC 3339 time, or a duration such as 90d [default: 365d]
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,

    /// A privilege, or a comma list; repeatable; at most 100 [default: the account's]
    #[arg(long, value_name = "ACL", add = ArgValueCompleter::new(complete::privileges))]
    pub acl: Vec<String>,

    /// Only accept the token from this address or CIDR block; repeatable, at most 100 (::ffff:10.0.0.1 is kept as 10.0.0.1)
    #[arg(long, value_name = "NET")]
    pub allow_ip: Vec<String>,

    /// A free-text note: one line, without control characters, bidi overrides, non-characters or a token
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// The filters `list` shares with `revoke-all`, so that `list` with them
/// shows exactly what `revoke-all` would take.
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Only tokens past their expiry, even those shown as disabled or suspended
    #[arg(long)]
    pub expired: bool,

    /// Only tokens whose Last Used (or Created, if never used) is older than DUR
    #[arg(long, value_name = "DUR")]
    pub unused_for: Option<String>,

    /// Only names matching this shell glob (* ? [...]), case-sensitive
    #[arg(long = "match", value_name = "GLOB")]
    pub name_glob: Option<String>,

    /// Every account's tokens, not only the acting account's
    #[arg(long)]
    pub all_accounts: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only names containing TEXT (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    /// Include revoked tokens, with an ID column (a revoked token is shown by its id)
    #[arg(long)]
    pub all: bool,

    /// Every column in full, ID included, even on a narrow terminal
    #[arg(long)]
    pub wide: bool,

    #[command(flatten)]
    pub selection: SelectionArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Name of a live token, or id of any of the account's tokens
    #[arg(add = ArgValueCompleter::new(complete::token_names))]
    pub token: String,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Name of a live token, or its id
    #[arg(add = ArgValueCompleter::new(complete::token_names))]
    pub token: String,

    /// Rename the token (a name as create takes it)
    #[arg(long, value_name = "NAME")]
    pub new_name: Option<String>,

    #[command(flatten)]
    pub acls: AclEditArgs,

    /// New expiry: never, a date, an RFC 3339 time, or a duration from now
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,

    /// Replace the IP allow-list; repeatable, as --allow-ip of create
    #[arg(long, value_name = "NET", conflicts_with = "clear_allow_ip")]
    pub allow_ip: Vec<String>,

    /// Remove the IP allow-list
    #[arg(long)]
    pub clear_allow_ip: bool,

    /// Replace the note ("" removes it)
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// Privilege edits, applied in this order: --acl replaces, --add-acl
/// adds, --remove-acl removes.
#[derive(Debug, Args)]
pub struct AclEditArgs {
    /// Replace the privileges (comma list; repeatable; at most 100 in all)
    #[arg(long, value_name = "ACL", add = ArgValueCompleter::new(complete::privileges))]
    pub acl: Vec<String>,

    /// Add privileges (after --acl)
    #[arg(long, value_name = "ACL", add = ArgValueCompleter::new(complete::privileges))]
    pub add_acl: Vec<String>,

    /// Remove privileges (after --add-acl)
    #[arg(long, value_name = "ACL", add = ArgValueCompleter::new(complete::privileges))]
    pub remove_acl: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TokensArgs {
    /// Names of live tokens, or ids
    #[arg(required = true, value_name = "TOKEN", add = ArgValueCompleter::new(complete::token_names))]
    pub tokens: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub tokens: TokensArgs,

    /// Show what would be revoked, and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Name of a live token, or its id
    #[arg(add = ArgValueCompleter::new(complete::token_names))]
    pub token: String,

    /// How long the old secret keeps working: 0 or a duration, at most 30d
    #[arg(long, value_name = "DUR", default_value = "0")]
    pub grace: String,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events since: an RFC 3339 time, a date (00:00 local), or a duration ago (7d)
    #[arg(long, value_name = "WHEN|DUR")]
    pub since: Option<String>,

    /// Only events of this token (name of a live token, or id)
    #[arg(long, value_name = "TOKEN", add = ArgValueCompleter::new(complete::token_names))]
    pub token: Option<String>,

    /// Every account's events, not only the acting account's
    #[arg(long)]
    pub all_accounts: bool,

    /// Keep only the newest N events
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RevokeAllArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Show what would be revoked, and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A privilege the token must grant (comma list; repeatable)
    #[arg(long, value_name = "ACL", add = ArgValueCompleter::new(complete::privileges))]
    pub acl: Vec<String>,

    /// The client's address, checked against the token's allow-list
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<String>,
}
