//! The terminal: whether we may prompt, confirmations, and the status,
//! warning and error lines that go to stderr (stdout is for data).

use std::io::{self, IsTerminal, Write};

use crate::cli::ColorChoice;
use crate::error::{Error, Kind, Result};
use crate::output::printable;

/// stdin, stdout and stderr are all terminals.
pub fn all_terminals() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal() && io::stderr().is_terminal()
}

/// Colour is on when asked for, or under `auto` when the stream is a
/// terminal and NO_COLOR is unset or empty (flag > NO_COLOR > auto).
pub fn use_color(choice: ColorChoice, stream_is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Writes to stderr; decides once whether its labels are coloured.
#[derive(Debug, Clone, Copy)]
pub struct Messages {
    pub color: bool,
}

impl Messages {
    fn label(&self, label: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[{ansi}m{label}\x1b[0m")
        } else {
            label.to_string()
        }
    }

    // Error, warning and note lines quote what users typed (a name, a
    // path, SUDO_USER): each stays one line, with terminal controls shown
    // as escapes, as in tables.

    pub fn error(&self, message: &str, hint: Option<&str>) {
        let mut err = io::stderr().lock();
        let _ = writeln!(
            err,
            "{} {}",
            self.label("error:", "1;31"),
            printable(message)
        );
        if let Some(hint) = hint {
            let _ = writeln!(err, "{} {}", self.label("hint:", "1;36"), printable(hint));
        }
    }

    pub fn warn(&self, message: &str) {
        let label = self.label("warning:", "1;33");
        let _ = writeln!(io::stderr(), "{label} {}", printable(message));
    }

    pub fn note(&self, message: &str) {
        let _ = writeln!(
            io::stderr(),
            "{} {}",
            self.label("note:", "1;32"),
            printable(message)
        );
    }

    /// Plain text on stderr (details that must not pollute stdout).
    pub fn text(&self, text: &str) {
        let _ = writeln!(io::stderr(), "{text}");
    }
}

/// Asks a yes/no question on the terminal; `default` is the answer to a
/// bare Enter. The answer counts only once Enter is pressed (the last `y`
/// or `n` typed wins, other keys are read and ignored), so typing `yes`
/// and Enter answers yes and leaves nothing behind for the shell. Only
/// call this when `all_terminals()` holds.
pub fn ask(prompt: &str, default: bool) -> Result<bool> {
    dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(default)
        .wait_for_newline(true)
        .interact()
        .map_err(|e| Error::new(Kind::Aborted, format!("no answer to the confirmation: {e}")))
}

/// Asks the user to type `expected` and Enter, as GitHub does before
/// deleting a repository; true when what was typed (trimmed) matches.
/// Only call this when `all_terminals()` holds.
pub fn ask_typed(prompt: &str, expected: &str) -> Result<bool> {
    let typed: String = dialoguer::Input::new()
        .with_prompt(prompt)
        .allow_empty(true)
        .interact_text()
        .map_err(|e| Error::new(Kind::Aborted, format!("no answer to the confirmation: {e}")))?;
    Ok(typed.trim() == expected)
}
