//! The layering README's "Architecture" describes, checked on the sources:
//! only `src/store/` knows how the store is kept.

use std::fs;
use std::path::{Path, PathBuf};

/// Names that belong to a store engine or its connections.
const ENGINE_WORDS: &[&str] = &[
    "rusqlite",
    "postgres",
    "tokio_postgres",
    "Connection",
    "Transaction",
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read the source folder") {
        let path = entry.expect("read a folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The code of a line, without its `//` comment.
fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or_default()
}

fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let part_of_name = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !part_of_name(before) && !part_of_name(after)
    })
}

#[test]
fn nothing_outside_the_store_module_reaches_the_engine() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let store = root.join("src/store");
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("examples"), &mut files);
    assert!(files.len() > 20, "found the sources: {files:?}");
    let mut leaks = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&store)) {
        let text = fs::read_to_string(file).expect("read a source file");
        for (number, line) in text.lines().enumerate() {
            let code = code(line);
            let engine = ENGINE_WORDS.iter().any(|w| has_word(code, w));
            if engine || code.contains(".conn()") {
                leaks.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "only src/store/ may name the store engine or reach a raw connection:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn no_source_file_is_over_600_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = fs::read_to_string(f).ok()?.lines().count();
            (lines > 600).then(|| format!("{}: {lines} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

/// Commands build a view and hand it to `output::show`; only the context
/// looks at the output format (to know whether it may prompt).
#[test]
fn commands_do_not_switch_on_the_output_format() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/commands"), &mut files);
    let context = root.join("src/commands/mod.rs");
    let switches: Vec<String> = files
        .iter()
        .filter(|f| **f != context)
        .flat_map(|f| {
            let text = fs::read_to_string(f).unwrap_or_default();
            text.lines()
                .filter(|l| has_word(code(l), "OutputFormat"))
                .map(|l| format!("{}: {}", f.display(), l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(switches.is_empty(), "{switches:?}");
}

#[test]
fn the_check_sees_a_leak() {
    assert!(has_word("use rusqlite::Connection;", "rusqlite"));
    assert!(has_word("fn f(c: &Connection)", "Connection"));
    assert!(!has_word("struct Connections;", "Connection"));
    assert!(!has_word("let tx = Transactional;", "Transaction"));
    assert_eq!(code("let x = 1; // a Connection"), "let x = 1; ");
}
