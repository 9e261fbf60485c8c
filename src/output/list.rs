//! `token list` for stores of any size: JSON and the plain table (pipes,
//! files) are written a token at a time, in constant memory; YAML and the
//! terminal's table need every row first, and get them.

use std::io::{self, Write};

use serde::Serialize;

use super::table::{Columns, PlainTable, fit_widths, header_widths, token_cells, token_header};
use super::{Style, TokenList, TokenView, json_io, show_list};
use crate::cli::OutputFormat;
use crate::model::Token;
use crate::ui::Messages;

/// Feeds tokens to whoever asked for them, one at a time.
pub type Feed<'f, E> = &'f mut dyn FnMut(Token) -> Result<(), E>;

/// Prints the tokens `walk` feeds, as `show_list` would print a
/// `TokenList` of them with these columns. `walk` may be called twice (the plain table measures its columns
/// first), so it must feed the same tokens each time: read them from one
/// snapshot.
pub fn show_tokens<E: From<io::Error>>(
    style: Style,
    msg: Messages,
    now: i64,
    columns: Columns,
    mut walk: impl FnMut(Feed<'_, E>) -> Result<(), E>,
) -> Result<(), E> {
    match style.format {
        OutputFormat::Json => {
            let out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
            let mut list = JsonList::start(out);
            walk(&mut |t| Ok(list.push(&TokenView::new(&t, now))?))?;
            list.finish()?;
            Ok(())
        }
        OutputFormat::Table if !style.terminal && !style.color => {
            plain_list(msg, now, columns, walk)
        }
        OutputFormat::Table | OutputFormat::Yaml => {
            let mut tokens = Vec::new();
            walk(&mut |t| {
                tokens.push(t);
                Ok(())
            })?;
            let list = TokenList::with_columns(&tokens, now, columns);
            Ok(show_list(style, msg, &list, tokens.len(), "token")?)
        }
    }
}

/// The table for pipes and files, in two walks (column widths, then rows).
fn plain_list<E: From<io::Error>>(
    msg: Messages,
    now: i64,
    columns: Columns,
    mut walk: impl FnMut(Feed<'_, E>) -> Result<(), E>,
) -> Result<(), E> {
    let header = token_header(columns);
    let mut widths = header_widths(&header);
    let mut count = 0;
    walk(&mut |t| {
        fit_widths(&mut widths, &token_cells(&t, now, columns));
        count += 1;
        Ok(())
    })?;
    if count == 0 {
        msg.text("no tokens");
        return Ok(());
    }
    let out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut table = PlainTable::start(widths, &header, out)?;
    walk(&mut |t| Ok(table.row(&token_cells(&t, now, columns))?))?;
    table.finish()?;
    Ok(())
}

/// A JSON array written one element at a time, exactly as `show` would
/// print the whole array.
struct JsonList<W: Write> {
    out: W,
    empty: bool,
    element: Vec<u8>,
}

impl<W: Write> JsonList<W> {
    fn start(out: W) -> JsonList<W> {
        JsonList {
            out,
            empty: true,
            element: Vec::new(),
        }
    }

    fn push<T: Serialize>(&mut self, item: &T) -> io::Result<()> {
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

    fn finish(mut self) -> io::Result<W> {
        self.out
            .write_all(if self.empty { b"[]\n" } else { b"\n]\n" })?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::token;

    /// What `show` prints for the whole list, as JSON.
    fn whole(tokens: &[Token]) -> String {
        let list = TokenList::new(tokens, 1_795_471_805, false);
        serde_json::to_string_pretty(&list).unwrap() + "\n"
    }

    fn streamed(tokens: &[Token]) -> String {
        let mut list = JsonList::start(Vec::new());
        for t in tokens {
            list.push(&TokenView::new(t, 1_795_471_805)).unwrap();
        }
        String::from_utf8(list.finish().unwrap()).unwrap()
    }

    #[test]
    fn the_streamed_json_list_is_the_whole_list() {
        let tokens = [token("a", None), token("b", Some("two\nlines"))];
        for n in 0..=tokens.len() {
            assert_eq!(streamed(&tokens[..n]), whole(&tokens[..n]));
        }
    }
}
