//! tokenctl: API tokens for servers, kept in a local SQLite store.
//!
//! The binary is a thin wrapper around [`run`]; the modules below are what
//! a Rust service would use to check tokens against the same store.

pub mod alloc;
pub mod cli;
pub mod commands;
pub mod complete;
pub mod error;
pub mod model;
pub mod output;
pub mod serve;
pub mod store;
pub mod token;
pub mod ui;
pub mod values;
pub mod verify;
pub mod yaml;

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use clap::FromArgMatches;

use crate::cli::{Cli, ColorChoice};
use crate::error::Kind;
use crate::ui::Messages;

/// The program the registration scripts call back: `tokenctl` on PATH.
pub const COMPLETER: &str = "tokenctl";

/// The variable that asks for completions, tokenctl's own: clap_complete's
/// generic `COMPLETE` is set for other programs too, and would answer a
/// shell's request in place of running the command.
pub const COMPLETE_VAR: &str = "TOKENCTL_COMPLETE";

/// The shells completion answers: clap_complete's, with tokenctl's own
/// bash script (see `complete::Bash`).
const SHELLS: &[&dyn clap_complete::env::EnvCompleter] = &[
    &complete::Bash,
    &clap_complete::env::Elvish,
    &clap_complete::env::Fish,
    &clap_complete::env::Powershell,
    &clap_complete::env::Zsh,
];

/// Parses the command line, runs the command, and turns the outcome into
/// the README's exit code ("Exit codes"), printing one `error:` line (and a `hint:`) on failure.
pub fn run() -> ExitCode {
    // Everything tokenctl creates (the store, its -wal and -shm, backups)
    // holds credentials: owner-only, whatever the caller's umask.
    // SAFETY: umask only sets the process file-mode mask.
    unsafe {
        libc::umask(0o077);
    }
    // A panic is a bug; should one happen, say so in one line, not a
    // backtrace (which could quote values from the store).
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error{at}; nothing more was done");
        eprintln!("hint: please report this as a bug in tokenctl");
    }));
    // An empty variable reads as unset, as NO_COLOR and TOKENCTL_TOKEN do
    // (clap would take it as an empty value and refuse it).
    for var in ["TOKENCTL_DB", "TOKENCTL_USER", "TOKENCTL_OUTPUT"] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // SAFETY: no other thread exists yet.
            unsafe { std::env::remove_var(var) };
        }
    }
    // `TOKENCTL_COMPLETE=bash tokenctl -- <words>`: answer the shell and
    // exit. Only that call shape (or no argument at all, for the script
    // itself) is a completion request: no command starts with `--`, so a
    // stray variable can never stand in for running one (a `verify`
    // exiting 0 unverified).
    if is_completion_call() {
        clap_complete::CompleteEnv::with_factory(cli::command)
            .var(COMPLETE_VAR)
            .completer(COMPLETER)
            .shells(clap_complete::env::Shells(SHELLS))
            .complete();
    }
    let cli = match cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cli::command())))
    {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message starts with "error:" and may quote a token
            // someone pasted as an argument: never echo it back. It quotes
            // other arguments too: their terminal controls are shown as
            // escapes (clap keeps only its own line breaks meaningful).
            let text = e.render().to_string();
            let redacted = token::redact(&text);
            let shown: Vec<_> = redacted.split('\n').map(output::printable).collect();
            eprint!("{}", shown.join("\n"));
            if redacted != text {
                eprintln!(
                    "hint: tokens are read from stdin or TOKENCTL_TOKEN, never from arguments"
                );
            }
            return ExitCode::from(Kind::Usage.exit_code());
        }
    };
    let msg = Messages {
        color: ui::use_color(color_choice(&cli), io::stderr().is_terminal()),
    };
    let outcome = std::panic::catch_unwind(|| commands::run(cli, msg));
    let Ok(outcome) = outcome else {
        return ExitCode::from(Kind::Runtime.exit_code());
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let (kind, message, hint) = describe(&e);
            let hint = hint.map(|h| token::redact(&h));
            msg.error(&token::redact(&message), hint.as_deref());
            ExitCode::from(kind.exit_code())
        }
    }
}

/// Whether the arguments are those of a completion call: none, or `--`
/// first, as the registration scripts pass them.
fn is_completion_call() -> bool {
    let mut args = std::env::args_os().skip(1);
    match args.next() {
        None => true,
        Some(first) => first == "--",
    }
}

fn color_choice(cli: &Cli) -> ColorChoice {
    cli.global.color
}

/// The exit kind, one-line message and hint of an error chain: our own
/// `Error` where there is one, else a runtime failure with its causes.
fn describe(e: &anyhow::Error) -> (Kind, String, Option<String>) {
    let ours = e.chain().find_map(|c| {
        c.downcast_ref::<error::Error>()
            .map(|err| (err.kind, err.message.clone(), err.hint.clone()))
            .or_else(|| {
                let err = c.downcast_ref::<store::Error>()?.for_user();
                Some((err.kind, err.message, err.hint))
            })
    });
    ours.unwrap_or_else(|| (Kind::Runtime, format!("{e:#}").replace('\n', " "), None))
}

/// A closed stdout (`tokenctl token list | head`) is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
