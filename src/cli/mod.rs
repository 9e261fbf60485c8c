//! The command line, as clap derive types only: no I/O and no logic, so
//! that tests and the completion and man-page generators can call
//! `command()`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::ArgValueCompleter;

use crate::complete;

mod account;
mod privilege;
mod token;

pub use account::*;
pub use privilege::*;
pub use token::*;

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
    /// given in it on the command line gets a warning. Each command opens
    /// one connection per store: PgBouncer in session mode may pool them,
    /// not in transaction or statement mode (README, "Many servers").
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
    ///
    /// A change prints one line per thing it changed, in one shape:
    /// "revoked token nightly (a1B2c3D4e5) in account deploy-bot",
    /// "suspended account deploy-bot". What was already so is said on
    /// stderr, leaving stdout empty.
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
    /// Keep a catalogue of the privileges accounts and tokens may hold
    ///
    /// Optional: while it is empty, any well-formed privilege is accepted.
    /// Once it holds privileges, an --acl outside it (other than `all`) is
    /// refused (exit 2, with the close ones as a hint) and serve answers
    /// 400 to an ?acl= outside it.
    #[command(subcommand)]
    Privilege(PrivilegeCommand),
    /// Show the change log, oldest first
    ///
    /// Every change: create, edit, rotate, disable, enable, revoke and the
    /// account-* and privilege-* actions, with the time, the OS user who made it (and
    /// SUDO_USER), the account, the token name and id, and what changed.
    /// Never a secret or a hash.
    ///
    /// On a terminal the table ends with a count line and goes through the
    /// pager (TOKENCTL_PAGER, else PAGER, else less; empty or cat for none);
    /// piped, it is the table alone.
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
    /// saturated; 400 for an acl that is not a privilege or is outside the
    /// catalogue of privileges (once it holds any), any other query key, a
    /// fragment in the target, or HTTP/1.1 without one Host header.
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
    /// changed. Every account, token, audit event and the catalogue of
    /// privileges are replaced by the backup's (a store of an older version
    /// is brought up to date first): tokens created since it stop working, and tokens revoked
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
    /// rotation grace, Last Used, disabled and revoked ones), audit event
    /// (in order) and privilege of the catalogue is copied, so existing tokens keep working on the
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
    /// version (an older one is healthy: the next change migrates it), every token belonging to an account, every secret an
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
