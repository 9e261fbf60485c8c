//! Tables on a terminal fit its width (COLUMNS, else the terminal's):
//! columns are shortened or dropped, rows never wrap, and no word is
//! broken across lines.

use rstest::rstest;

use crate::common::{Backend, Postgres, Sqlite, TestEnv};
use crate::interactive::Pty;

/// In the order they are shown (sorted).
pub(crate) const PRIVILEGES: &str = "backup,dns:read,dns:write,ftp,mail:read,mail:write,ssh,stats";

/// Tokens with long names, many privileges, notes and allow-lists, and an
/// audit trail of them.
pub(crate) fn crowded(backend: Backend) -> Option<TestEnv> {
    let env = TestEnv::on(backend)?;
    env.ok(&["account", "add", "alice", "--acl", PRIVILEGES]);
    env.create(
        "deploy-production-frontend-eu-west",
        &[
            "--acl",
            PRIVILEGES,
            "--note",
            "rotated by the nightly job; ask the platform team before revoking",
            "--allow-ip",
            "203.0.113.0/24",
            "--allow-ip",
            "198.51.100.7",
        ],
    );
    env.create("ci", &["--acl", "dns:read", "--expires", "never"]);
    env.create(
        "backup-nightly",
        &["--acl", "backup,stats", "--expires", "30d"],
    );
    env.ok(&["token", "disable", "ci"]);
    Some(env)
}

/// Lines of a table as drawn on a pty.
pub(crate) fn drawn(env: &TestEnv, args: &[&str], columns: &str) -> Vec<String> {
    let pty = Pty::spawn_with(env, args, &[("COLUMNS", columns), ("NO_COLOR", "1")]);
    let (code, out) = pty.finish();
    assert_eq!(code, 0, "{out}");
    out.replace('\r', "")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Words in table cells: what lies between borders and spaces.
fn words(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| {
            l.split(|c: char| c.is_whitespace() || "│┆─┌┐└┘├┤┬┴┼╞╡╪═".contains(c))
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every word drawn is one of the input's words (or list items), or a
/// prefix of one cut with `…` at the end; none is split over two lines.
pub(crate) fn assert_fits(lines: &[String], columns: usize, known: &[&str]) {
    let text = lines.join("\n");
    for line in lines {
        assert!(
            line.chars().count() <= columns,
            "wider than {columns}: {line:?}\n{text}"
        );
    }
    let known: Vec<&str> = known
        .iter()
        .flat_map(|k| k.split([' ', ',', ';', '-']))
        .filter(|w| !w.is_empty())
        .collect();
    for word in words(lines) {
        let whole = word.trim_end_matches('…').trim_end_matches(',');
        let pieces: Vec<&str> = whole
            .split([',', ';', '-'])
            .filter(|w| !w.is_empty())
            .collect();
        for piece in pieces {
            assert!(
                known.contains(&piece)
                    || piece
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '-' || c == ':')
                    || piece.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "a broken word {piece:?} (in {word:?})\n{text}"
            );
        }
    }
}

pub(crate) const KNOWN: &[&str] = &[
    PRIVILEGES,
    "deploy-production-frontend-eu-west backup-nightly ci alice",
    "rotated by the nightly job; ask the platform team before revoking",
    "203.0.113.0/24 198.51.100.7 any never active disabled",
    "Name Created Expires Last Used ACLs Status Account ID Note Revoked Allowed IPs IP",
    "Time Actor Action Detail",
];

#[rstest]
fn token_list_and_audit_fit_80_columns(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = crowded(backend) else {
        return;
    };
    let list = drawn(&env, &["token", "list"], "80");
    assert_fits(&list, 80, KNOWN);
    assert_eq!(
        list.iter().filter(|l| l.starts_with('│')).count(),
        4,
        "{list:#?}"
    );
    let text = list.join("\n");
    assert!(
        text.contains("deploy-production-frontend-eu-west"),
        "{text}"
    );
    assert!(text.contains("…"), "the ACLs are cut short:\n{text}");
    assert!(!text.contains("Created"), "Created gives way:\n{text}");

    let audit = drawn(&env, &["audit"], "80");
    let actions: Vec<String> = env
        .ok(&["audit", "-o", "json"])
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"action\": \""))
        .map(|a| a.trim_end_matches("\",").to_string())
        .collect();
    let mut known = KNOWN.to_vec();
    let joined = actions.join(" ");
    known.push(&joined);
    assert_fits(&audit, 80, &known);
    // One line per event: nothing wraps.
    let rows = audit.iter().filter(|l| l.starts_with('│')).count();
    assert_eq!(rows, actions.len() + 1, "{audit:#?}");
}

#[rstest]
fn token_list_shows_everything_at_160_columns(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = crowded(backend) else {
        return;
    };
    let list = drawn(&env, &["token", "list"], "160");
    assert_fits(&list, 160, KNOWN);
    let text = list.join("\n");
    // Every column, with times of day; only the longest ACLs give way.
    assert!(
        text.contains("Created") && text.contains("Last Used"),
        "{text}"
    );
    assert!(text.contains("mail:write,ssh,…"), "{text}");
    let full_dates = list[3].matches(':').count();
    assert!(full_dates >= 2, "times of day are shown:\n{text}");
    assert_eq!(
        list.iter().filter(|l| l.starts_with('│')).count(),
        4,
        "{list:#?}"
    );
}

#[rstest]
fn piped_tables_are_never_cut(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = crowded(backend) else {
        return;
    };
    let out = env
        .cmd(&["token", "list"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(PRIVILEGES), "{text}");
    assert!(text.contains("Created"), "{text}");
}
