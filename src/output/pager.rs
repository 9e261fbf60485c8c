//! The pager for lists read on a terminal, as git and gh page theirs
//! (README, "Output"): `TOKENCTL_PAGER`, then `PAGER`, else `less`, run by
//! `sh -c` with the text on its stdin and `LESS=FRX` unless `LESS` is set
//! (one screen is printed as it is, colours pass, the screen is not
//! cleared). An empty value or `cat` turns paging off. The pager runs
//! with `LESSSECURE=1` (no shell escapes or editor from `less`: tokenctl
//! may run under sudo as the store's owner) and without the variables
//! that can hold a secret.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::{Command, Stdio};

/// The pager the user chose; `None` when paging is off. The first variable
/// set wins, even when empty, so `TOKENCTL_PAGER=` turns off a `PAGER`
/// meant for other programs.
fn chosen() -> Option<OsString> {
    let pager = match std::env::var_os("TOKENCTL_PAGER").or_else(|| std::env::var_os("PAGER")) {
        Some(pager) => pager,
        // The default only where it is installed: no "less: not found"
        // line before every list on a machine without it.
        None if on_path("less") => "less".into(),
        None => return None,
    };
    let trimmed = pager.to_string_lossy();
    let trimmed = trimmed.trim();
    (!trimmed.is_empty() && trimmed != "cat").then_some(pager)
}

/// Whether `PATH` holds an executable `program`.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// What the pager's environment must not carry: a plaintext token, a
/// PostgreSQL password, a store URL that may hold one.
const SECRET_VARIABLES: [&str; 3] = ["TOKENCTL_TOKEN", "PGPASSWORD", "TOKENCTL_DB"];

/// Writes `text` to stdout through the pager: only call this when stdout
/// is a terminal. Without a pager, or when it cannot be started, the text
/// is written directly. A pager quit before the end (`q` in `less`) is not
/// an error.
pub fn page(text: &str) -> io::Result<()> {
    if let Some(pager) = chosen()
        && let Some(done) = through(&pager, text)
    {
        return done;
    }
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Runs the pager on `text` and waits for it; `None` when it could not be
/// started (no `sh`, or the shell found no such command: exit 126 or 127),
/// and the text is still to be printed.
fn through(pager: &OsString, text: &str) -> Option<io::Result<()>> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(pager).stdin(Stdio::piped());
    for var in SECRET_VARIABLES {
        cmd.env_remove(var);
    }
    cmd.env("LESSSECURE", "1");
    // As git and gh set them, for `less` and `lv`; a user's own win.
    for (var, value) in [("LESS", "FRX"), ("LV", "-c")] {
        if std::env::var_os(var).is_none() {
            cmd.env(var, value);
        }
    }
    let mut child = cmd.spawn().ok()?;
    // The keyboard's Ctrl-C and Ctrl-\ reach the pager too, which handles
    // them; tokenctl waits for it rather than leave it behind the prompt.
    let _keys = KeyboardSignals::ignore();
    let written = child.stdin.take().map_or(Ok(()), |mut stdin| {
        stdin.write_all(text.as_bytes())?;
        stdin.flush()
        // Dropped: the pager sees the end of the text.
    });
    let status = child.wait();
    if status.is_ok_and(|s| matches!(s.code(), Some(126 | 127))) {
        return None;
    }
    Some(match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    })
}

/// SIGINT and SIGQUIT ignored while it lives.
struct KeyboardSignals {
    before: [libc::sighandler_t; 2],
}

const KEYBOARD: [libc::c_int; 2] = [libc::SIGINT, libc::SIGQUIT];

impl KeyboardSignals {
    fn ignore() -> KeyboardSignals {
        // SAFETY: `signal` only changes this process's dispositions; the
        // pager was started before, with the default ones.
        let before = KEYBOARD.map(|sig| unsafe { libc::signal(sig, libc::SIG_IGN) });
        KeyboardSignals { before }
    }
}

impl Drop for KeyboardSignals {
    fn drop(&mut self) {
        for (sig, handler) in KEYBOARD.into_iter().zip(self.before) {
            // SAFETY: restores the disposition `ignore` found.
            unsafe { libc::signal(sig, handler) };
        }
    }
}
