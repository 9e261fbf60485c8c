//! The table format's tables: the token list and a token's details (with
//! WHM's row marks), plain tables of text, and the plain layout written a
//! row at a time for lists of any length.

use std::io::{self, Write};

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};

use super::changes::grace_end;
use super::fit::{Step, fit, terminal_width};
use super::{Style, local, local_or_never, printable};
use crate::model::{Status, Token};
use crate::values::AllowList;

fn text_cell(text: &str) -> Cell {
    Cell::new(printable(text))
}

fn new_table(style: Style) -> Table {
    let mut table = Table::new();
    if style.terminal {
        table
            .load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(terminal_width()).unwrap_or(u16::MAX));
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
        Status::Revoked | Status::Disabled | Status::Suspended => Some(Mark::Dim),
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

/// The token list's columns beyond Name, Created, Expires, Last Used,
/// ACLs and Status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Columns {
    /// Account, first: every account's tokens.
    pub account: bool,
    /// ID, after Name: what a revoked token is named by.
    pub id: bool,
    /// Every column in full, even on a terminal (`--wide`).
    pub full: bool,
}

/// The token list: Name, Created, Expires, Last Used, ACLs, Status (with
/// Account first for every account's tokens, and ID after Name). On a
/// terminal, unless every column is asked for in full, it fits the
/// width: ACLs are cut short first, then dates lose their time of day,
/// Created and Last Used go, names are cut short, ACLs go, and with an
/// ID, names are cut shorter still, Expires goes, and the ID goes last.
pub fn token_table(style: Style, tokens: &[Token], now: i64, columns: Columns) -> String {
    let header = token_header(columns);
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            token_cells(t, now, columns)
                .iter()
                .map(|c| printable(c).into_owned())
                .collect()
        })
        .collect();
    let a = usize::from(columns.account);
    let name = a;
    let i = a + 1 + usize::from(columns.id);
    let (created, expires, used, acls) = (i, i + 1, i + 2, i + 3);
    let mut steps = vec![
        Step::Shrink(acls, 12),
        Step::Short(created),
        Step::Short(used),
        Step::Drop(created),
        Step::Short(expires),
        Step::Drop(used),
        Step::Shrink(name, 20),
    ];
    if columns.account {
        steps.push(Step::Shrink(0, 12));
    }
    steps.extend([Step::Shrink(acls, 6), Step::Drop(acls)]);
    if columns.id {
        // The id is what a revoked token is acted on by: it outlasts
        // the ACLs, the name's tail and the expiry.
        steps.extend([
            Step::Shrink(name, 12),
            Step::Drop(expires),
            Step::Drop(name + 1),
        ]);
    }
    let (header, rows) = if columns.full {
        (header.iter().map(|h| h.to_string()).collect(), rows)
    } else {
        fitted(style, &header, rows, &steps)
    };
    let mut table = new_table(style);
    if columns.full {
        // Lines as long as they need, as `kubectl get -o wide` draws them.
        table.set_content_arrangement(ContentArrangement::Disabled);
    }
    table.set_header(header);
    for (t, cells) in tokens.iter().zip(rows) {
        let color = mark(t, now).filter(|_| style.color);
        let row: Vec<Cell> = cells.iter().map(|c| cell(c, color)).collect();
        table.add_row(row);
    }
    table.to_string()
}

/// On a terminal, `header` and `rows` fitted to its width by `steps`;
/// elsewhere, as they are.
fn fitted(
    style: Style,
    header: &[&str],
    rows: Vec<Vec<String>>,
    steps: &[Step],
) -> (Vec<String>, Vec<Vec<String>>) {
    if style.terminal {
        fit(terminal_width(), header, rows, steps)
    } else {
        (header.iter().map(|h| h.to_string()).collect(), rows)
    }
}

/// A table of plain text cells fitted to a terminal's width by `steps`
/// (see `fit`).
pub fn fitted_table(
    style: Style,
    header: &[&str],
    rows: Vec<Vec<String>>,
    steps: &[Step],
) -> String {
    let rows = rows
        .into_iter()
        .map(|r| r.iter().map(|c| printable(c).into_owned()).collect())
        .collect();
    let (header, rows) = fitted(style, header, rows, steps);
    let mut table = new_table(style);
    table.set_header(header);
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

/// A table of plain text cells; no header when `header` is empty.
pub fn plain_table(style: Style, header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = new_table(style);
    if !header.is_empty() {
        table.set_header(header.to_vec());
    }
    for row in rows {
        table.add_row(row.iter().map(|c| text_cell(c)).collect::<Vec<_>>());
    }
    table.to_string()
}

/// The token list's cells, in column order.
pub fn token_cells(t: &Token, now: i64, columns: Columns) -> Vec<String> {
    let mut cells = vec![
        t.name.clone(),
        local(t.created_at),
        local_or_never(t.expires_at),
        local_or_never(t.last_used_at),
        granted(t, ","),
        t.status(now).as_str().to_string(),
    ];
    if columns.id {
        cells.insert(1, t.id.clone());
    }
    if columns.account {
        cells.insert(0, t.account.clone());
    }
    cells
}

pub fn token_header(columns: Columns) -> Vec<&'static str> {
    let mut header = vec!["Name", "Created", "Expires", "Last Used", "ACLs", "Status"];
    if columns.id {
        header.insert(1, "ID");
    }
    if columns.account {
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
pub fn token_details(style: Style, t: &Token, now: i64) -> String {
    let mut table = new_table(style);
    let color = mark(t, now).filter(|_| style.color);
    let or_none = |v: &AllowList| {
        if v.is_empty() {
            "any".to_string()
        } else {
            v.entries().join(", ")
        }
    };
    let lapsed = t.acls_not_in_effect();
    let lapsed = (!lapsed.is_empty()).then(|| {
        let it = if lapsed.len() == 1 { "it" } else { "them" };
        format!(
            "{} (account {} no longer holds {it})",
            lapsed.join(", "),
            t.account
        )
    });
    let rows: [(&str, Cell); 12] = [
        ("Name", text_cell(&t.name)),
        ("ID", text_cell(&t.id)),
        ("Account", text_cell(&t.account)),
        ("Status", cell(t.status(now).as_str(), color)),
        ("ACLs", text_cell(&granted(t, ", "))),
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
        if label == "ACLs"
            && let Some(lapsed) = &lapsed
        {
            table.add_row(vec![Cell::new("Not in effect"), text_cell(lapsed)]);
        }
    }
    if let Some(until) = grace_end(t, now) {
        let until = format!("works until {}", local(until));
        table.add_row(vec![Cell::new("Old Secret"), text_cell(&until)]);
    }
    table.to_string()
}

/// The privileges a token grants, as tables show them: what `verify`
/// and `serve` grant (README, "Effective privileges"), `none` when that
/// is nothing; the ones its account no longer holds are in `token show`'s
/// "Not in effect" row.
fn granted(t: &Token, separator: &str) -> String {
    let effective = t.effective_acls();
    if effective.is_empty() {
        "none".to_string()
    } else {
        effective.join(separator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::OutputFormat;

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
        let comfy = plain_table(plain, &header, rows.clone());
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
}
