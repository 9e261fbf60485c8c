//! `tokenctl completions <shell>`: the registration script, the same as
//! `TOKENCTL_COMPLETE=<shell> tokenctl` prints. It never edits a user's rc files.

use std::io::{self, Write};

use anyhow::Result;
use clap_complete::env::{Elvish, EnvCompleter, Fish, Powershell, Zsh};

use crate::cli::{CompletionsArgs, Shell};

pub fn run(args: CompletionsArgs) -> Result<()> {
    let mut out = io::stdout().lock();
    registration(args.shell, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Writes the script that registers `tokenctl`'s completion with `shell`.
pub fn registration(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &crate::complete::Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Elvish => &Elvish,
        Shell::Powershell => &Powershell,
    };
    let name = crate::COMPLETER;
    completer.write_registration(crate::COMPLETE_VAR, name, name, name, out)
}
