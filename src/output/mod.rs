//! What a command prints. Every result is a view (`views`): serialised for
//! JSON and YAML (RFC 3339 UTC), drawn as text for the table format (local
//! time, `never`, WHM-like colours), and printed by `show`, so no command
//! chooses between formats itself. `token list` streams its rows through
//! `show_tokens` instead, and the lists a user reads on a terminal go
//! through `show_list` and the pager. Nothing here touches the store.

mod changes;
mod db_views;
mod fit;
mod list;
mod pager;
mod privilege_views;
mod table;
mod views;

use std::borrow::Cow;
use std::io::{self, Write};

use chrono::{DateTime, Datelike, Local, SecondsFormat, TimeZone, Timelike, Utc};
use serde::{Serialize, Serializer};

use crate::cli::OutputFormat;
use crate::ui::Messages;

pub use changes::{AccountChangeView, ChangedView, DeletedView, EditedView, issued_summary};
pub use db_views::{BackupView, CheckReport, CheckView, CopiedView, RestoredView};
pub use list::show_tokens;
pub use privilege_views::{PrivilegeList, PrivilegeRemovedView};
pub use table::Columns;
pub use views::{
    AccountList, AccountView, EventList, IssuedView, RejectedView, RevokedView, TokenList,
    TokenView, VerifiedView,
};

/// How stdout is rendered for this run.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub format: OutputFormat,
    /// ANSI colour in tables.
    pub color: bool,
    /// stdout is a terminal: tables may use its width and box drawing.
    pub terminal: bool,
}

/// A command's result: `Serialize` gives its JSON and YAML, `text` what
/// the table format prints.
pub trait View: Serialize {
    fn text(&self, style: Style) -> Text;
}

/// What the table format prints for a result, in this order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Text {
    /// For stdout, each ending a line (a table is one).
    pub out: Vec<String>,
    /// Plain text for stderr: what must not pollute stdout, or why it is
    /// empty (`no tokens`).
    pub aside: Option<String>,
    /// A warning for stderr.
    pub warning: Option<&'static str>,
}

impl Text {
    /// One line, or one table, on stdout.
    pub fn line(text: impl Into<String>) -> Text {
        Text::lines(vec![text.into()])
    }

    pub fn lines(out: Vec<String>) -> Text {
        Text {
            out,
            ..Text::default()
        }
    }

    /// Nothing on stdout, and this on stderr.
    pub fn empty(note: &str) -> Text {
        Text {
            aside: Some(note.to_string()),
            ..Text::default()
        }
    }
}

/// Prints a result in the run's format: the one way a command's result
/// reaches stdout.
pub fn show<V: View + ?Sized>(style: Style, msg: Messages, view: &V) -> io::Result<()> {
    if style.format != OutputFormat::Table {
        return structured(style.format, view);
    }
    let text = view.text(style);
    if !text.out.is_empty() {
        let mut out = io::stdout().lock();
        for block in &text.out {
            writeln!(out, "{block}")?;
        }
        out.flush()?;
    }
    asides(msg, &text);
    Ok(())
}

/// Prints a list a user reads (`token list`, `account list`, `audit`) of
/// `count` items called `noun`, as `show` does; but a table on a terminal
/// ends with a count line (`12 tokens`) and goes through the pager (see
/// `pager`). Pipes and files get the table alone, as scripts expect it.
pub fn show_list<V: View + ?Sized>(
    style: Style,
    msg: Messages,
    view: &V,
    count: usize,
    noun: &str,
) -> io::Result<()> {
    if style.format != OutputFormat::Table || !style.terminal {
        return show(style, msg, view);
    }
    let text = view.text(style);
    if !text.out.is_empty() {
        let mut page = String::new();
        for block in &text.out {
            page.push_str(block);
            page.push('\n');
        }
        page.push_str(&plural(count, noun));
        page.push('\n');
        pager::page(&page)?;
    }
    asides(msg, &text);
    Ok(())
}

/// What a table's text has for stderr.
fn asides(msg: Messages, text: &Text) {
    if let Some(aside) = &text.aside {
        msg.text(aside);
    }
    if let Some(warning) = text.warning {
        msg.warn(warning);
    }
}

/// Writes a serialisable value as JSON or YAML.
fn structured<T: Serialize + ?Sized>(format: OutputFormat, value: &T) -> io::Result<()> {
    // stdout is line-buffered; a large list would be a write per line.
    let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    match format {
        OutputFormat::Yaml => {
            let value = serde_json::to_value(value).map_err(io::Error::other)?;
            let text = crate::yaml::to_string(&value);
            out.write_all(text.as_bytes())?;
        }
        OutputFormat::Json | OutputFormat::Table => {
            // Keep the I/O error's kind, so a closed pipe stays quiet.
            serde_json::to_writer_pretty(&mut out, value).map_err(json_io)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

/// A serde_json error as an I/O error of the same kind, so that a closed
/// pipe stays quiet.
fn json_io(e: serde_json::Error) -> io::Error {
    match e.io_error_kind() {
        Some(kind) => io::Error::from(kind),
        None => io::Error::other(e),
    }
}

/// One line of text on stdout.
pub fn line(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// RFC 3339 in UTC to the second, with `Z`.
pub fn utc(ts: i64) -> String {
    // Written directly: a strftime format is parsed again on every call,
    // which showed in listing 100k tokens.
    DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| ts.to_string())
}

/// A time field of a view, as `utc` writes it.
fn utc_field<S: Serializer>(ts: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&utc(*ts))
}

/// Local time (TZ, else the system zone) for tables.
pub fn local(ts: i64) -> String {
    match Local.timestamp_opt(ts, 0).single() {
        Some(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        ),
        None => utc(ts),
    }
}

fn local_or_never(ts: Option<i64>) -> String {
    ts.map_or_else(|| "never".to_string(), local)
}

/// `1 token`, `2 tokens`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Characters a terminal acts on rather than shows: controls (ESC starts
/// sequences that move the cursor or erase lines), bidi overrides and
/// isolates (they reorder the text around them) and the line and paragraph
/// separators.
pub fn disrupts_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

/// Table text with every character of `disrupts_terminal` shown as a
/// visible escape: `\x1b` up to U+00FF, else `\u{202e}`. Names cannot hold
/// them, but notes, audit actors and details can.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(disrupts_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !disrupts_terminal(c) => out.push(c),
            c if u32::from(c) <= 0xff => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
