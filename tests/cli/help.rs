//! `--help`: a command's own options apart from the global ones, and
//! `serve` without the global options it ignores.

use crate::common::TestEnv;

/// The option lines of one heading of a help text, e.g. "Options:".
fn section<'a>(help: &'a str, heading: &str) -> Vec<&'a str> {
    help.lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| l.trim_start().starts_with('-'))
        .collect()
}

#[test]
fn a_commands_help_lists_its_own_options_apart_from_the_global_ones() {
    let env = TestEnv::new();
    let help = env.ok(&["token", "create", "--help"]);
    let own = section(&help, "Options:").join("\n");
    let global = section(&help, "Global options:").join("\n");
    assert!(own.contains("--acl"), "{help}");
    assert!(own.contains("--expires"), "{help}");
    for flag in ["--db", "--user", "--output", "--yes", "--color"] {
        assert!(!own.contains(flag), "{flag} among the own options:\n{help}");
        assert!(global.contains(flag), "{flag} not a global option:\n{help}");
    }
    assert!(!global.contains("--acl"), "{help}");
    assert!(!env.db.exists());
}

#[test]
fn serve_help_leaves_out_the_global_options_it_ignores_and_still_accepts_them() {
    let env = TestEnv::new();
    let help = env.ok(&["serve", "--help"]);
    assert!(help.contains("--listen"), "{help}");
    assert!(help.contains("--db"), "{help}");
    for flag in [
        "--user", "--output", "--yes", "--color", "-u,", "-o,", "-y,",
    ] {
        assert!(!help.contains(flag), "{flag} in serve --help:\n{help}");
    }
    // Accepted all the same, so a wrapper that passes them keeps working.
    env.ok(&[
        "serve", "-u", "bob", "-o", "json", "-y", "--color", "never", "--help",
    ]);
    // Other commands still document them.
    let list = env.ok(&["token", "list", "--help"]);
    assert!(list.contains("--output"), "{list}");
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/tokenctl-serve.1"),
    )
    .unwrap();
    assert!(
        !page.contains("\\-\\-color"),
        "the serve man page lists --color"
    );
    assert!(page.contains("\\-\\-db"), "the serve man page lacks --db");
}
