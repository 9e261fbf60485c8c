//! Free text: notes, `--search` texts and `--match` globs.

use super::no_token;
use crate::error::{Error, Result};

/// Characters a note cannot hold: controls, line breaks, bidi overrides
/// and isolates (a terminal acts on them, see `output::disrupts_terminal`)
/// and non-characters (YAML readers refuse them).
fn forbidden_in_note(c: char) -> bool {
    let non_character = matches!(c, '\u{fdd0}'..='\u{fdef}') || u32::from(c) & 0xfffe == 0xfffe;
    crate::output::disrupts_terminal(c) || non_character
}

/// A note: free text on one line, without the characters of
/// `forbidden_in_note` or a token. Empty means none.
pub fn note(text: &str) -> Result<Option<String>> {
    one_line("note", text)
}

/// A privilege's description in the catalogue: the rules of a note.
pub fn description(text: &str) -> Result<Option<String>> {
    one_line("description", text)
}

/// Free text of the kind `what` (a note, a description): one line,
/// without the characters of `forbidden_in_note` or a token.
fn one_line(what: &str, text: &str) -> Result<Option<String>> {
    no_token(&format!("a {what}"), text)?;
    if let Some(c) = text.chars().find(|&c| forbidden_in_note(c)) {
        return Err(Error::usage(format!(
            "a {what} cannot contain control characters, line breaks, bidi overrides or non-characters (found U+{:04X})",
            u32::from(c)
        ))
        .with_hint(format!("write the {what} on one line of plain text")));
    }
    Ok(Some(text.to_string()).filter(|n| !n.is_empty()))
}

/// A `--search` text.
pub fn search(text: &str) -> Result<()> {
    no_token("a --search text", text)
}

/// A `--match` glob: `*`, `?` and `[...]`, case-sensitive, on the whole name.
pub fn glob(text: &str) -> Result<glob::Pattern> {
    no_token("a --match pattern", text)?;
    // A shell reads `**` in a name as `*`; the glob crate keeps it for
    // paths and refuses it inside a word.
    let mut pattern = text.to_string();
    while pattern.contains("**") {
        pattern = pattern.replace("**", "*");
    }
    glob::Pattern::new(&pattern).map_err(|e| {
        Error::usage(format!("invalid pattern {text:?}: {}", e.msg))
            .with_hint("use * ? and [...] as in the shell, and quote the pattern")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_one_line_of_text() {
        assert_eq!(
            note("runner 4 ünïcode").unwrap().as_deref(),
            Some("runner 4 ünïcode")
        );
        assert_eq!(note("").unwrap(), None);
        assert!(note("a\nb").is_err());
        assert!(note("\u{1b}[31mred").is_err());
        for bad in [
            "\u{85}",
            "\u{9b}",
            "\u{202e}",
            "\u{2067}",
            "\u{2028}",
            "\u{2029}",
            "\u{fdd0}",
            "\u{fffe}",
            "\u{ffff}",
            "\u{1fffe}",
            "\u{10ffff}",
        ] {
            assert!(note(&format!("a{bad}b")).is_err(), "{bad:?}");
        }
        assert!(note("\u{200f}\u{fdcf}\u{fdf0}\u{fffd}\u{1f600}").is_ok());
    }

    #[test]
    fn globs() {
        let opts = glob::MatchOptions::new();
        assert!(glob("ci-*").unwrap().matches_with("ci-prod", opts));
        assert!(!glob("ci-*").unwrap().matches_with("CI-prod", opts));
        assert!(glob("[").is_err());
        assert!(glob("ci-**").unwrap().matches_with("ci-prod", opts));
    }
}
