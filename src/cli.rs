//! The command line, as clap derive types only: no I/O and no logic, so
//! that tests and the completion and man-page generators can call
//! `command()`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::ArgValueCompleter;

use crate::complete;

#[derive(Debug, Parser)]
#[command(
    name = "tokenctl",
    version,
    about = "Create, list, rotate, verify and revoke API tokens kept in a local SQLite store",
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 not found, \
                  4 conflict, 5 verification failed, 6 aborted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The options every command takes, listed apart in each `--help`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The store [default: <data dir>/tokenctl/tokens.db]
    ///
    /// A regular file that only its owner can read or write (otherwise exit
    /// 1, and the hint gives the chmod to run). Only token create and
    /// account add create a store: any other change to a missing store is
    /// exit 1 naming the path, and a read of one says on stderr that there
    /// is no store there yet. Reads work on a store in a folder that
    /// cannot be written.
    ///
    /// A postgres:// or postgresql:// URL keeps the store in a PostgreSQL
    /// schema instead (README, "The store on PostgreSQL"); a password
    /// given in it on the command line gets a warning.
    #[arg(long, env = "TOKENCTL_DB", global = true, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,

    /// The account the command acts for [default: the login name]
    #[arg(
        short = 'u',
        long,
        env = "TOKENCTL_USER",
        global = true,
        value_name = "ACCOUNT",
        add = ArgValueCompleter::new(complete::account_names)
    )]
    pub user: Option<String>,

    /// Output format
    ///
    /// On a terminal, tables fit its width (COLUMNS, else the terminal's):
    /// long cells end in "…" and the least needed columns are left out;
    /// piped, a table has every column in full.
    #[arg(
        short = 'o',
        long,
        env = "TOKENCTL_OUTPUT",
        global = true,
        value_enum,
        default_value_t = OutputFormat::Table
    )]
    pub output: OutputFormat,

    /// Answer yes to every confirmation
    ///
    /// On a terminal a confirmation is answered with y (or yes) or n and then
    /// Enter, a bare Enter being no; without a terminal a command that needs
    /// one is refused (exit 6) unless --yes is given.
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Colour in tables and messages (NO_COLOR is honoured under auto)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// The global options `serve` ignores: accepted there, not listed in its
/// help, man page or completions.
const IGNORED_BY_SERVE: [&str; 4] = ["user", "output", "yes", "color"];

/// The command line that is parsed, completed and documented: `Cli`'s,
/// with the global options `serve` ignores hidden there. A subcommand's
/// own copy of a global option stops clap propagating the visible one.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let hidden: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| IGNORED_BY_SERVE.contains(&a.get_id().as_str()))
        .map(|a| a.clone().hide(true))
        .collect();
    cmd.mut_subcommand("serve", |serve| serve.args(hidden))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, edit, revoke and verify tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the accounts tokens authenticate as, and their privileges
    #[command(subcommand)]
    Account(AccountCommand),
    /// Show the change log, oldest first
    ///
    /// Every change: create, edit, rotate, disable, enable, revoke and the
    /// account-* actions, with the time, the OS user who made it (and
    /// SUDO_USER), the account, the token name and id, and what changed.
    /// Never a secret or a hash.
    Audit(AuditArgs),
    /// Back up, restore or check the store
    #[command(subcommand)]
    Db(DbCommand),
    /// Check tokens over HTTP for a reverse proxy (nginx auth_request, Caddy, Traefik)
    ///
    /// GET, HEAD or POST /verify with Authorization: Bearer TOKEN, Basic
    /// (password = token; a non-empty user must be its account) or
    /// "tokenctl ACCOUNT:TOKEN"; privileges from ?acl=a&acl=b or ?acl=a,b.
    /// 200 with X-Token-Account, X-Token-Name and X-Token-Id; 401 (with
    /// WWW-Authenticate: Bearer) when the token is missing, malformed,
    /// unknown, wrong, revoked, disabled, expired, from outside its
    /// allow-list, of a suspended account or of another account than the
    /// one named; 403 when it lacks a privilege; 503 when argon2 work is
    /// saturated; 400 for an acl that is not a privilege, any other query
    /// key, a fragment in the target, or HTTP/1.1 without one Host header.
    /// GET /healthz and GET /metrics (Prometheus text).
    ///
    /// Every request reads the token's current state, so a revocation acts
    /// at once. argon2 results, right and wrong, are cached under a keyed
    /// hash, and concurrent requests with the same token share one run; a
    /// token id that keeps failing with new secrets cools down. The process
    /// cannot be dumped or read by another process.
    ///
    /// A connection that sends no whole request within 10 s is closed; an
    /// idle keep-alive one after 150 s. Connections are capped at the
    /// open-files limit (raised to the hard limit) less 64; beyond it the
    /// oldest silent or idle one is closed to make room.
    ///
    /// SIGTERM, SIGINT or SIGHUP stops it: idle connections close at once,
    /// requests in flight finish (10 s at most), pending Last Used times are
    /// written, exit 0.
    ///
    /// On a PostgreSQL store, run one serve on each web server: a change
    /// made from any machine is refused by all of them on their next
    /// request. It answers 503 while the database does not answer, and
    /// again as usual within 5 s of it answering, without a restart; it
    /// refuses a standby (README, "Many servers").
    Serve(ServeArgs),
    /// Print the shell completion script (it completes names from the store)
    ///
    /// The script calls `tokenctl -- WORDS` back with TOKENCTL_COMPLETE set
    /// to the shell; no other call is taken as a completion request.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address (or host name) and port to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8089")]
    pub listen: String,

    /// A proxy (address or CIDR) whose X-Forwarded-For (or, without one, X-Real-IP) is believed; repeatable
    ///
    /// A forwarding header from it that cannot be read leaves the client
    /// address unknown: a token with an allow-list is then refused.
    #[arg(long, value_name = "NET")]
    pub trust_proxy: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Write a consistent copy of the store (safe while others write), mode 0600
    ///
    /// The copy is a SQLite file, whatever kind the store is: on
    /// PostgreSQL it holds every row of one snapshot of the store, and
    /// `db restore` restores it into a store of either kind.
    Backup(BackupArgs),
    /// Replace the store's contents with a backup, in place (safe while serve runs)
    ///
    /// FILE must be a tokenctl store written by `db backup` (or any healthy
    /// tokenctl store of this version or older); another file, a damaged
    /// one or one of a newer tokenctl is refused (exit 1) and nothing is
    /// changed. Every account, token and audit event is replaced by the
    /// backup's: tokens created since it stop working, and tokens revoked
    /// since it work again; the audit trail is the backup's too, so the
    /// restore itself is reported on stderr. The copy is written into the
    /// store under its write lock, in one transaction (on PostgreSQL too:
    /// the backup's rows replace the store's), so a running
    /// `tokenctl serve` answers from the restored data from its next
    /// request on. Asks on a terminal; needs --yes without one (exit 6
    /// otherwise).
    ///
    /// Moving or copying a file over a store in use is not a supported way
    /// to restore: processes that have it open keep writing to the old
    /// file, or replay its -wal over the new one.
    Restore(RestoreArgs),
    /// Copy the whole store into a new one, SQLite or PostgreSQL, in either direction
    ///
    /// Every account (deleted ones too), token (ids, secret hashes,
    /// rotation grace, Last Used, disabled and revoked ones) and audit
    /// event (in order) is copied, so existing tokens keep working on the
    /// target without reissue. TARGET is a SQLite path or a postgres://
    /// URL, as for --db, and must be empty: a SQLite path that does not
    /// exist yet (created 0600, only if still absent when the copy is
    /// done) or a PostgreSQL schema without tables (?schema=NAME, default
    /// tokenctl); anything else is refused (exit 4) and left untouched.
    /// The source is read in one snapshot and the target written in one
    /// transaction; the rows of each table are counted on both sides, and
    /// a copy that does not match is rolled back. The source is not
    /// changed: stop writers (and serve) before the copy when cutting over.
    Copy(CopyArgs),
    /// Run the store's integrity checks and tokenctl's schema checks; exit 1 if unhealthy
    ///
    /// The checks: SQLite's integrity_check (on SQLite), the schema
    /// version, every token belonging to an account, every secret an
    /// argon2id hash within verification's bounds (256 MiB, 10 passes, 4
    /// lanes), every privilege list valid, every token id 10 base62
    /// characters. On PostgreSQL it also warns (without failing) about
    /// server settings that weaken a revoke: synchronous_commit=off,
    /// fsync=off, a standby or a read-only server, and a role that may
    /// not write the store.
    Check,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The new store: a SQLite path that does not exist yet, or a postgres:// URL of an empty schema
    #[arg(long, value_name = "TARGET", value_hint = clap::ValueHint::AnyPath)]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore, written by tokenctl db backup
    #[arg(value_hint = clap::ValueHint::FilePath)]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy, a file in an existing folder; an existing file is replaced only with --yes
    #[arg(value_hint = clap::ValueHint::FilePath)]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the script for
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its plaintext is shown once
    ///
    /// The token is committed to the store before it is shown. On a
    /// terminal it is printed on a line of its own with its details and a
    /// warning, and you confirm "Yes, I saved my token" (no shows it
    /// again; --yes skips the question). Piped, stdout is the token alone,
    /// so `T=$(tokenctl token create ci)` works; details go to stderr. With
    /// -o json|yaml, one object: the token's fields plus "token".
    ///
    /// Privileges default to the account's own and must stay within them.
    /// Refused for a suspended account (exit 1).
    Create(CreateArgs),
    /// List the account's live tokens
    ///
    /// With no store yet (a new machine), stdout is empty (JSON: []) and
    /// stderr says where the store will be and that the first
    /// `tokenctl token create NAME` creates it.
    List(ListArgs),
    /// Show every field of one token
    Show(ShowArgs),
    /// Change a token's name, privileges, expiry, allow-list or note
    Edit(EditArgs),
    /// Issue a new secret for a token, keeping its id, name and settings
    ///
    /// The new token is shown exactly as `create` shows it. The old secret
    /// stops at once, or keeps working for --grace (at most 30 days, never
    /// past the token's expiry). Rotating again ends any earlier grace.
    Rotate(RotateArgs),
    /// Suspend tokens without revoking them
    Disable(TokensArgs),
    /// Restore disabled tokens
    Enable(TokensArgs),
    /// Revoke tokens: they stop verifying at once
    ///
    /// Asks on a terminal; without one it needs --yes (exit 6 otherwise).
    /// --dry-run shows the tokens it would revoke and changes nothing.
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
    /// grace the previous one too), not revoked, disabled or expired,
    /// account present and not suspended, --ip inside the allow-list when
    /// the token has one, and every --acl granted by the token and still by
    /// its account.
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
    /// Only expired tokens
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

    /// Include revoked tokens
    #[arg(long)]
    pub all: bool,

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

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an account with its privileges
    Add(AccountAddArgs),
    /// List the accounts
    List,
    /// Show one account
    Show(AccountArgs),
    /// Rename an account or change its privileges
    Edit(AccountEditArgs),
    /// Suspend an account: its tokens stop verifying and no new ones are made
    Suspend(AccountArgs),
    /// Lift a suspension
    Unsuspend(AccountArgs),
    /// Delete an account and revoke all its tokens
    ///
    /// One transaction. On a terminal you confirm by typing the account's
    /// name; without one it needs --yes (exit 6 otherwise). The name can
    /// be added again later; the old tokens stay revoked.
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        super::command().debug_assert();
    }
}
