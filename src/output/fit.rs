//! Tables that fit the terminal's width: columns are shortened, then
//! dropped, in an order each table gives, and a cell that is still too
//! long ends in an ellipsis at a word's end, so that no row wraps and no
//! word is broken across lines. Pipes and files get every column in full.

use unicode_width::UnicodeWidthStr;

/// One way of making a table narrower, tried in the order given.
#[derive(Clone, Copy)]
pub enum Step {
    /// Keep only the cell's text before its first space (a date without
    /// its time of day).
    Short(usize),
    /// Cut the column's cells to this many columns at least, with `…`.
    Shrink(usize, usize),
    /// Leave the column out.
    Drop(usize),
}

/// The terminal's width: COLUMNS when set (as `ls` reads it), else the
/// terminal's own, else 80.
pub fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    match crossterm::terminal::size() {
        Ok((w, _)) if w > 0 => usize::from(w),
        _ => 80,
    }
}

pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The width of a boxed table with these column widths: `│ x │ y │`.
fn table_width(widths: &[usize]) -> usize {
    1 + widths.iter().map(|w| w + 3).sum::<usize>()
}

/// `text` in at most `max` columns: whole, or cut after the last whole
/// word (or list item, or part of a hyphenated name) that fits, ending in `…`.
pub fn ellipsis(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(1);
    let mut cut = 0;
    let mut last_break = None;
    for (i, c) in text.char_indices() {
        if width(&text[..i + c.len_utf8()]) > room {
            break;
        }
        cut = i + c.len_utf8();
        if matches!(c, ' ' | ',' | '-') {
            last_break = Some(i + c.len_utf8());
        }
    }
    // Prefer to end after a whole word; cut inside one only when not even
    // the first word fits.
    let end = last_break.unwrap_or(cut);
    format!("{}…", text[..end].trim_end())
}

/// Fits `header` and `rows` into `max` columns by taking `steps` in order
/// until they fit. Returns the header and rows to draw.
pub fn fit(
    max: usize,
    header: &[&str],
    mut rows: Vec<Vec<String>>,
    steps: &[Step],
) -> (Vec<String>, Vec<Vec<String>>) {
    let n = header.len();
    let mut keep = vec![true; n];
    let mut cap: Vec<Option<usize>> = vec![None; n];
    let widths = |rows: &[Vec<String>], keep: &[bool], cap: &[Option<usize>]| -> Vec<usize> {
        (0..n)
            .filter(|&i| keep[i])
            .map(|i| {
                let content = rows.iter().map(|r| width(&r[i])).max().unwrap_or(0);
                let w = cap[i].map_or(content, |c| content.min(c));
                w.max(width(header[i]))
            })
            .collect()
    };
    for step in steps {
        let total = table_width(&widths(&rows, &keep, &cap));
        if total <= max {
            break;
        }
        match *step {
            Step::Short(i) => {
                for r in &mut rows {
                    if let Some((day, _)) = r[i].split_once(' ') {
                        r[i] = day.to_string();
                    }
                }
            }
            Step::Shrink(i, min) => {
                let content = rows.iter().map(|r| width(&r[i])).max().unwrap_or(0);
                let now = cap[i].map_or(content, |c| content.min(c));
                let want = now.saturating_sub(total - max).max(min);
                if want < now {
                    cap[i] = Some(want);
                }
            }
            Step::Drop(i) => keep[i] = false,
        }
    }
    let kept_header = (0..n)
        .filter(|&i| keep[i])
        .map(|i| header[i].to_string())
        .collect();
    let rows = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .enumerate()
                .filter(|(i, _)| keep[*i])
                .map(|(i, c)| match cap[i] {
                    Some(w) => ellipsis(&c, w.max(width(header[i]))),
                    None => c,
                })
                .collect()
        })
        .collect();
    (kept_header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ellipsis_ends_after_a_whole_word() {
        assert_eq!(ellipsis("dns:read,dns:write,mail", 14), "dns:read,…");
        assert_eq!(ellipsis("short", 14), "short");
        assert_eq!(ellipsis("averyveryverylongword", 8), "averyve…");
        assert_eq!(ellipsis("two words here", 11), "two words…");
    }

    #[test]
    fn steps_are_taken_until_the_table_fits() {
        let rows = vec![vec![
            "name".to_string(),
            "2026-11-23 22:10".to_string(),
            "a,b,c,d,e,f,g,h,i,j".to_string(),
        ]];
        let steps = [Step::Shrink(2, 6), Step::Short(1), Step::Drop(1)];
        let (h, r) = fit(30, &["Name", "Created", "ACLs"], rows.clone(), &steps);
        assert_eq!(h, ["Name", "Created", "ACLs"]);
        assert!(table_width(&[4, 10, 6]) <= 30);
        assert_eq!(r[0], ["name", "2026-11-23", "a,b,…"]);
        let (h, _) = fit(20, &["Name", "Created", "ACLs"], rows, &steps);
        assert_eq!(h, ["Name", "ACLs"]);
    }
}
