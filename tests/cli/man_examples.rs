//! Every command in the EXAMPLES of the committed man pages, as `man`
//! shows it (rendered by mandoc), runs as written against a new store:
//! a reader copies them into a shell.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{BIN, TestEnv, tool};

/// The text of a page as a terminal shows it: mandoc's rendering with its
/// overstrike (bold, underline) removed.
fn rendered(page: &Path) -> String {
    let out = Command::new("mandoc")
        .args(["-T", "utf8"])
        .arg(page)
        .output()
        .expect("run mandoc");
    assert!(out.status.success(), "mandoc {}: {out:?}", page.display());
    let mut text = String::new();
    for c in String::from_utf8(out.stdout).expect("utf-8 page").chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

/// The commands of a rendered page's EXAMPLES: the lines indented deeper
/// than the prose that introduces them.
fn examples(text: &str) -> Vec<String> {
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim_end() != "EXAMPLES")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(char::is_whitespace));
    let mut commands = Vec::new();
    let indent = |l: &str| -> usize {
        l.chars()
            .take_while(|c| c.is_whitespace())
            .map(|c| if c == '\t' { 8 } else { 1 })
            .sum()
    };
    let mut prose = None;
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            continue;
        }
        let depth = indent(line);
        match prose {
            None => prose = Some(depth),
            Some(p) if depth > p => commands.push(line.trim().to_string()),
            Some(_) => {}
        }
    }
    commands
}

fn pages() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "1"))
        .collect();
    pages.sort();
    pages
}

#[test]
fn every_man_page_example_runs_as_written() {
    if !tool("mandoc") {
        return;
    }
    let mut all = Vec::new();
    for page in pages() {
        for command in examples(&rendered(&page)) {
            all.push((
                page.file_name().unwrap().to_string_lossy().into_owned(),
                command,
            ));
        }
    }
    assert!(all.len() >= 6, "the examples were not found: {all:?}");
    // One shell runs them in order, as a reader would: later examples use
    // what earlier ones made (the variable T, the token ci-deploy).
    let env = TestEnv::new();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let mut script = String::from("set -e\n");
    for (n, (_, command)) in all.iter().enumerate() {
        script.push_str(&format!("{command}\necho {n} >>\"$DONE\"\n"));
    }
    let done = env.dir.path().join("done");
    let out = Command::new("sh")
        .env_clear()
        .env("HOME", env.dir.path())
        .env("TOKENCTL_DB", &env.db)
        .env("USER", &env.user)
        .env("TZ", "UTC")
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("DONE", &done)
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run sh");
    let ran = std::fs::read_to_string(&done)
        .unwrap_or_default()
        .lines()
        .count();
    assert!(
        out.status.success() && ran == all.len(),
        "example {:?} failed ({:?})\nstdout: {}\nstderr: {}",
        all.get(ran),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn examples_are_read_from_the_rendered_page() {
    let text = "EXAMPLES\n       Say hello:\n\n\t      printf '%s\\n' hi\n\nVERSION\n";
    assert_eq!(examples(text), ["printf '%s\\n' hi"]);
}
