//! `man/` and `completions/` are generated from `cli::command()` and
//! committed. This test regenerates them and fails when the committed
//! files are stale; `UPDATE_GENERATED=1 cargo test --test cli generated`
//! rewrites them.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use tokenctl::cli::{self, Shell};
use tokenctl::commands::completions::registration;

use crate::common::tool;

/// The date on the pages; bump it when their content changes meaningfully.
const MAN_DATE: &str = "2026-11-23";

fn man(cmd: clap::Command) -> Man {
    let title = cmd
        .get_display_name()
        .unwrap_or(cmd.get_name())
        .to_uppercase();
    Man::new(cmd).title(title).date(MAN_DATE)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const EXIT_CODES: &[(&str, &str)] = &[
    ("0", "success"),
    (
        "1",
        "runtime failure: store unreadable or missing for verify, I/O, suspended account",
    ),
    (
        "2",
        "usage error or invalid value: bad name, bad date, past expiry, privilege beyond the account's, unknown flag",
    ),
    ("3", "not found: token or account"),
    (
        "4",
        "conflict: name already in use, revoked token changed, backup file exists",
    ),
    ("5", "verification failed"),
    (
        "6",
        "aborted: confirmation declined, or needed without a terminal and no --yes",
    ),
];

const EXAMPLES: &[(&str, &str)] = &[
    (
        "Create a token for a CI job and keep it in a variable:",
        "T=$(tokenctl token create ci-deploy --acl deploy --expires 90d)",
    ),
    (
        "Check a token from a script (never pass it on the command line):",
        "printf '%s\\n' \"$T\" | tokenctl token verify --acl deploy",
    ),
    (
        "List tokens nobody has used for three months:",
        "tokenctl token list --unused-for 90d",
    ),
    (
        "Rotate a token, keeping the old secret valid for a day:",
        "tokenctl token rotate ci-deploy --grace 1d",
    ),
    (
        "Nightly cleanup from cron:",
        "tokenctl token revoke-all --expired --yes",
    ),
    (
        "Give another account limited privileges:",
        "tokenctl account add deploy-bot --acl deploy,read",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    ("TOKENCTL_DB", "the store, as --db"),
    (
        "TOKENCTL_USER",
        "the acting account, as --user; else USER, then LOGNAME",
    ),
    ("TOKENCTL_OUTPUT", "the output format, as --output"),
    (
        "TOKENCTL_TOKEN",
        "the token for verify, instead of standard input",
    ),
    (
        "NO_COLOR",
        "when set and not empty, no colour under --color auto",
    ),
    (
        "TOKENCTL_PAGER",
        "the pager for token list, account list and audit on a terminal, run by sh -c; \
         empty or cat for none",
    ),
    ("PAGER", "the pager when TOKENCTL_PAGER is unset; else less"),
    (
        "LESS",
        "set to FRX for the pager when unset (as LV to -c), as git does",
    ),
    (
        "TZ",
        "the zone of the local times in tables and of WHEN dates",
    ),
    (
        "SUDO_USER",
        "recorded in the audit trail beside the real user",
    ),
];

fn tagged(roff: &mut Roff, title: &str, items: &[(&str, &str)], code: bool) {
    roff.control("SH", [title]);
    for (tag, text) in items {
        roff.control("TP", []);
        if code {
            roff.text([roman(*tag)]);
            roff.control("IP", []);
            roff.text([bold(*text)]);
        } else {
            roff.text([bold(*tag)]);
            roff.text([roman(*text)]);
        }
    }
}

/// tokenctl.1: clap's sections plus exit status, environment, files and
/// examples.
fn main_page(cmd: clap::Command) -> Vec<u8> {
    let man = man(cmd);
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    man.render_options_section(&mut out).unwrap();
    man.render_subcommands_section(&mut out).unwrap();
    let mut roff = Roff::default();
    tagged(&mut roff, "EXIT STATUS", EXIT_CODES, false);
    tagged(&mut roff, "ENVIRONMENT", ENVIRONMENT, false);
    roff.control("SH", ["FILES"]);
    roff.text([
        italic("$XDG_DATA_HOME/tokenctl/tokens.db"),
        roman(" (else ~/.local/share/tokenctl/tokens.db): the default store, mode 0600 in a 0700 folder."),
    ]);
    tagged(&mut roff, "EXAMPLES", EXAMPLES, true);
    roff.to_writer(&mut out).unwrap();
    man.render_version_section(&mut out).unwrap();
    out
}

/// Every generated file with its expected content.
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut cmd = cli::command().disable_help_subcommand(true);
    cmd.build();
    fn pages(cmd: &clap::Command, files: &mut Vec<(PathBuf, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages(sub, files);
            let man = man(sub.clone());
            let mut out = Vec::new();
            man.render(&mut out).unwrap();
            files.push((Path::new("man").join(man.get_filename()), out));
        }
    }
    pages(&cmd, &mut files);
    files.push((Path::new("man").join("tokenctl.1"), main_page(cmd)));
    for (shell, name) in [
        (Shell::Bash, "tokenctl.bash"),
        (Shell::Zsh, "_tokenctl"),
        (Shell::Fish, "tokenctl.fish"),
    ] {
        let mut out = Vec::new();
        registration(shell, &mut out).unwrap();
        files.push((Path::new("completions").join(name), out));
    }
    files.sort();
    files
}

#[test]
fn generated_files_are_fresh() {
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for (rel, content) in generated() {
        let path = root().join(&rel);
        if std::fs::read(&path).ok().as_deref() == Some(&content[..]) {
            continue;
        }
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else {
            stale.push(rel.display().to_string());
        }
    }
    // A page for a command that no longer exists is stale too.
    let expected: Vec<PathBuf> = generated().into_iter().map(|(p, _)| p).collect();
    for dir in ["man", "completions"] {
        for entry in std::fs::read_dir(root().join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let rel = Path::new(dir).join(entry.file_name());
            if !expected.contains(&rel) {
                if update {
                    std::fs::remove_file(entry.path()).unwrap();
                } else {
                    stale.push(format!("{} (no longer generated)", rel.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}\nregenerate with: UPDATE_GENERATED=1 cargo test --test cli generated"
    );
}

#[test]
fn man_pages_are_lint_clean() {
    if !tool("mandoc") {
        return;
    }
    let pages: Vec<PathBuf> = generated()
        .into_iter()
        .map(|(p, _)| root().join(p))
        .filter(|p| p.extension().is_some_and(|e| e == "1"))
        .collect();
    assert!(pages.len() > 10, "expected a page per subcommand");
    let out = Command::new("mandoc")
        .args(["-T", "lint", "-W", "warning"])
        .args(&pages)
        .output()
        .unwrap();
    // mandoc exits 2 for warnings; 3 and above are errors, or mandoc not
    // running at all, which must not read as a clean page.
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "mandoc -T lint: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // clap_mangen puts .br next to .sp; mandoc notes it skips the redundant
    // macro. That is cosmetic: anything else fails.
    let report = String::from_utf8_lossy(&out.stdout);
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| !l.contains("skipping paragraph macro: br"))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_main_page_documents_exit_codes_and_examples() {
    let page = std::fs::read_to_string(root().join("man/tokenctl.1")).unwrap();
    for section in [
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "EXAMPLES",
        "SUBCOMMANDS",
    ] {
        assert!(page.contains(section), "missing {section}");
    }
    for code in 0..=6 {
        assert!(
            page.contains(&format!("\\fB{code}\\fR")),
            "exit code {code}"
        );
    }
}
