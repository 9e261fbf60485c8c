//! Rendering for stdout: tables (local time, `never`, WHM-like colours) and
//! JSON/YAML (RFC 3339 UTC). The serde structs here define the JSON shape
//! in one place. Nothing here touches the store.

use std::borrow::Cow;
use std::io::{self, Write};

use chrono::{DateTime, Datelike, Local, SecondsFormat, TimeZone, Timelike, Utc};
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::model::{Status, Token};

/// How stdout is rendered for this run.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub format: OutputFormat,
    /// ANSI colour in tables.
    pub color: bool,
    /// stdout is a terminal: tables may use its width and box drawing.
    pub terminal: bool,
}

/// A token as JSON and YAML show it.
#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub account: String,
    pub acls: Vec<String>,
    pub created: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub last_used_ip: Option<String>,
    pub allow_ips: Vec<String>,
    pub note: Option<String>,
    pub status: &'static str,
    pub revoked: Option<String>,
}

impl TokenView {
    pub fn new(t: &Token, now: i64) -> TokenView {
        TokenView {
            id: t.id.clone(),
            name: t.name.clone(),
            account: t.account.clone(),
            acls: t.acls.clone(),
            created: utc(t.created_at),
            expires: t.expires_at.map(utc),
            last_used: t.last_used_at.map(utc),
            last_used_ip: t.last_used_ip.clone(),
            allow_ips: t.allow_ips.clone(),
            note: t.note.clone(),
            status: t.status(now).as_str(),
            revoked: t.revoked_at.map(utc),
        }
    }
}

/// A newly created or rotated token: the token fields plus the plaintext.
#[derive(Debug, Serialize)]
pub struct IssuedView<'a> {
    #[serde(flatten)]
    pub token: TokenView,
    #[serde(rename = "token")]
    pub plaintext: &'a str,
}

/// RFC 3339 in UTC to the second, with `Z`.
pub fn utc(ts: i64) -> String {
    // Written directly: a strftime format is parsed again on every call,
    // which showed in listing 100k tokens.
    DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| ts.to_string())
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

/// Writes a serialisable value as JSON or YAML.
pub fn structured<T: Serialize + ?Sized>(format: OutputFormat, value: &T) -> io::Result<()> {
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

/// A JSON array written to stdout one element at a time, exactly as
/// `structured` would print the whole array.
pub struct JsonList {
    out: io::BufWriter<io::StdoutLock<'static>>,
    empty: bool,
    element: Vec<u8>,
}

impl JsonList {
    pub fn start() -> JsonList {
        JsonList {
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            empty: true,
            element: Vec::new(),
        }
    }

    pub fn push<T: Serialize>(&mut self, item: &T) -> io::Result<()> {
        self.out
            .write_all(if self.empty { b"[\n" } else { b",\n" })?;
        self.empty = false;
        self.element.clear();
        serde_json::to_writer_pretty(&mut self.element, item).map_err(json_io)?;
        // Pretty-printed inside an array, every line is indented once more.
        for (i, line) in self.element.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.out.write_all(b"\n")?;
            }
            self.out.write_all(b"  ")?;
            self.out.write_all(line)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out
            .write_all(if self.empty { b"[]\n" } else { b"\n]\n" })?;
        self.out.flush()
    }
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

fn text_cell(text: &str) -> Cell {
    Cell::new(printable(text))
}

fn new_table(style: Style) -> Table {
    let mut table = Table::new();
    if style.terminal {
        table
            .load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        // A fixed, plain layout for logs, mail and pipes.
        table
            .load_style(presets::ASCII_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .force_no_tty();
    }
    if style.color {
        table.enforce_styling();
        // The flag was decided already (flag > NO_COLOR > auto); crossterm,
        // which draws the colours, would otherwise consult NO_COLOR again.
        crossterm::style::force_color_output(true);
    }
    table
}

/// How WHM's token list marks a row: expired red, expiring within 24
/// hours yellow, revoked and disabled dim.
#[derive(Clone, Copy)]
enum Mark {
    Dim,
    Color(Color),
}

fn mark(t: &Token, now: i64) -> Option<Mark> {
    match t.status(now) {
        Status::Revoked | Status::Disabled => Some(Mark::Dim),
        Status::Expired => Some(Mark::Color(Color::Red)),
        Status::Active if t.expires_at.is_some_and(|at| at - now < 86_400) => {
            Some(Mark::Color(Color::Yellow))
        }
        Status::Active => None,
    }
}

fn cell(text: &str, mark: Option<Mark>) -> Cell {
    let cell = text_cell(text);
    match mark {
        Some(Mark::Dim) => cell.add_attribute(Attribute::Dim),
        Some(Mark::Color(c)) => cell.fg(c),
        None => cell,
    }
}

/// The token list: Name, Created, Expires, Last Used, ACLs, Status (with
/// Account first for every account's tokens).
pub fn token_table(style: Style, tokens: &[Token], now: i64, with_account: bool) -> io::Result<()> {
    let mut table = new_table(style);
    table.set_header(token_header(with_account));
    for t in tokens {
        let color = mark(t, now).filter(|_| style.color);
        let row: Vec<Cell> = token_cells(t, now, with_account)
            .into_iter()
            .map(|c| cell(&c, color))
            .collect();
        table.add_row(row);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{table}")?;
    out.flush()
}

/// A table of plain text cells; no header when `header` is empty.
pub fn plain_table(style: Style, header: &[&str], rows: Vec<Vec<String>>) -> io::Result<()> {
    let mut table = new_table(style);
    if !header.is_empty() {
        table.set_header(header.to_vec());
    }
    for row in rows {
        table.add_row(row.iter().map(|c| text_cell(c)).collect::<Vec<_>>());
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{table}")?;
    out.flush()
}

/// The token list's cells, in column order.
pub fn token_cells(t: &Token, now: i64, with_account: bool) -> Vec<String> {
    let mut cells = vec![
        t.name.clone(),
        local(t.created_at),
        local_or_never(t.expires_at),
        local_or_never(t.last_used_at),
        t.acls.join(","),
        t.status(now).as_str().to_string(),
    ];
    if with_account {
        cells.insert(0, t.account.clone());
    }
    cells
}

pub fn token_header(with_account: bool) -> Vec<&'static str> {
    let mut header = vec!["Name", "Created", "Expires", "Last Used", "ACLs", "Status"];
    if with_account {
        header.insert(0, "Account");
    }
    header
}

/// Column widths of a plain table: the header's, widened by `fit_widths`.
pub fn header_widths(header: &[&str]) -> Vec<usize> {
    header.iter().map(|h| h.chars().count()).collect()
}

pub fn fit_widths(widths: &mut [usize], cells: &[String]) {
    for (w, c) in widths.iter_mut().zip(cells) {
        *w = (*w).max(printable(c).chars().count());
    }
}

/// The plain (not a terminal, no colour) table layout, written a row at a
/// time once the column widths are known: a list of any length in
/// constant memory. Byte for byte what comfy-table prints with the same
/// preset (a unit test holds the two together).
pub struct PlainTable<W: Write> {
    widths: Vec<usize>,
    out: W,
}

impl<W: Write> PlainTable<W> {
    pub fn start(widths: Vec<usize>, header: &[&str], out: W) -> io::Result<PlainTable<W>> {
        let mut table = PlainTable { widths, out };
        table.border('-', true)?;
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        table.row(&header)?;
        table.border('=', false)?;
        Ok(table)
    }

    fn border(&mut self, fill: char, joints: bool) -> io::Result<()> {
        let mut line = String::from("+");
        for (i, w) in self.widths.iter().enumerate() {
            line.extend(std::iter::repeat_n(fill, w + 2));
            if i + 1 < self.widths.len() {
                line.push(if joints { '+' } else { fill });
            }
        }
        line.push('+');
        writeln!(self.out, "{line}")
    }

    pub fn row(&mut self, cells: &[String]) -> io::Result<()> {
        let mut line = String::from("|");
        for (w, c) in self.widths.iter().zip(cells) {
            let c = printable(c);
            line.push(' ');
            line.push_str(&c);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(c.chars().count()) + 1,
            ));
            line.push('|');
        }
        writeln!(self.out, "{line}")
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.border('-', true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Every field of one token, one per row.
pub fn token_details(style: Style, t: &Token, now: i64) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}", token_details_table(style, t, now))?;
    out.flush()
}

pub fn token_details_table(style: Style, t: &Token, now: i64) -> Table {
    let mut table = new_table(style);
    let color = mark(t, now).filter(|_| style.color);
    let or_none = |v: &[String]| {
        if v.is_empty() {
            "any".to_string()
        } else {
            v.join(", ")
        }
    };
    let rows: [(&str, Cell); 12] = [
        ("Name", text_cell(&t.name)),
        ("ID", text_cell(&t.id)),
        ("Account", text_cell(&t.account)),
        ("Status", cell(t.status(now).as_str(), color)),
        ("ACLs", text_cell(&t.acls.join(", "))),
        ("Created", text_cell(&local(t.created_at))),
        ("Expires", cell(&local_or_never(t.expires_at), color)),
        ("Last Used", text_cell(&local_or_never(t.last_used_at))),
        (
            "Last Used IP",
            text_cell(t.last_used_ip.as_deref().unwrap_or("-")),
        ),
        ("Allowed IPs", text_cell(&or_none(&t.allow_ips))),
        ("Note", text_cell(t.note.as_deref().unwrap_or("-"))),
        (
            "Revoked",
            text_cell(&t.revoked_at.map_or("-".into(), local)),
        ),
    ];
    for (label, value) in rows {
        table.add_row(vec![Cell::new(label), value]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_table_is_what_comfy_table_prints() {
        let header = ["Name", "Created", "Status"];
        let rows = vec![
            vec![
                "deploy-prod".to_string(),
                "2026-11-23 22:10".into(),
                "active".into(),
            ],
            vec!["x".to_string(), "never".into(), "revoked".into()],
        ];
        let plain = Style {
            format: OutputFormat::Table,
            color: false,
            terminal: false,
        };
        let mut comfy = new_table(plain);
        comfy.set_header(header.to_vec());
        for r in &rows {
            comfy.add_row(r.clone());
        }
        let mut widths = header_widths(&header);
        for r in &rows {
            fit_widths(&mut widths, r);
        }
        let mut ours = PlainTable::start(widths, &header, Vec::new()).unwrap();
        for r in &rows {
            ours.row(r).unwrap();
        }
        let ours = String::from_utf8(ours.finish().unwrap()).unwrap();
        assert_eq!(format!("{comfy}\n"), ours);
    }

    #[test]
    fn terminal_controls_are_shown_as_escapes() {
        assert_eq!(printable("plain ünï"), "plain ünï");
        assert_eq!(printable("a\u{1b}[2Kb\n"), "a\\x1b[2Kb\\x0a");
        assert_eq!(printable("\u{85}\u{9b}\u{7f}"), "\\x85\\x9b\\x7f");
        assert_eq!(printable("x\u{202e}y\u{2029}"), "x\\u{202e}y\\u{2029}");
    }

    #[test]
    fn utc_times_are_rfc3339_with_z() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_795_471_805), "2026-11-23T22:10:05Z");
    }
}
