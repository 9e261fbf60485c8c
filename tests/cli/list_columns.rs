//! `token list`'s ID column: shown with `--all` (a revoked token is shown
//! by its id) and with `--wide`, which shows every column in full even on
//! a narrow terminal; when a terminal is too narrow, the ID is the last
//! column to give way.

use rstest::rstest;
use serde_json::Value;

use crate::common::{Backend, Postgres, Sqlite, TestEnv};
use crate::fixtures::*;
use crate::terminal::{KNOWN, PRIVILEGES, assert_fits, crowded, drawn};

const WIDE: [&str; 7] = [
    "Name",
    "ID",
    "Created",
    "Expires",
    "Last Used",
    "ACLs",
    "Status",
];

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect()
}

#[rstest]
fn wide_shows_the_ids_in_every_table(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("deploy", &["--acl", "read,write"]);
    let id = id_by_name(&env, "deploy");
    let rows = table_rows(&env.ok(&["token", "list", "--wide"]));
    assert_eq!(rows[0], strings(&WIDE));
    assert_eq!(rows[1][..2], [strings(&["deploy"])[0].clone(), id.clone()]);
    assert_eq!(rows[1][5], "read,write");
    let rows = table_rows(&env.ok(&["token", "list", "--wide", "--all-accounts"]));
    let mut header = vec!["Account"];
    header.extend(WIDE);
    assert_eq!(rows[0], strings(&header));
    assert_eq!(rows[1][2], id);
    // Without --all or --wide, the columns stay as they were.
    let rows = table_rows(&env.ok(&["token", "list"]));
    assert!(!rows[0].contains(&"ID".to_string()), "{rows:?}");
    // JSON and YAML have every field already.
    assert_eq!(
        env.json(&["token", "list", "--wide"]),
        env.json(&["token", "list"])
    );
}

#[rstest]
fn the_ids_of_all_tokens_outlast_other_columns_on_narrow_terminals(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = crowded(backend) else {
        return;
    };
    env.ok(&["token", "revoke", "backup-nightly", "--yes"]);
    let all = ids(&env.json(&["token", "list", "--all"]));
    assert_eq!(all.len(), 3);
    for columns in [80, 60, 45] {
        let list = drawn(&env, &["token", "list", "--all"], &columns.to_string());
        assert_fits(&list, columns, KNOWN);
        let text = list.join("\n");
        assert!(text.contains("│ Name"), "{text}");
        for id in &all {
            assert!(text.contains(id.as_str()), "{columns}: no id {id}\n{text}");
        }
        assert!(text.contains("revoked"), "{text}");
        // One line per token: nothing wraps.
        let rows = list.iter().filter(|l| l.starts_with('│')).count();
        assert_eq!(rows, 4, "{text}");
    }
    // At 45 columns only the name (cut short), the id and the status stay.
    let list = drawn(&env, &["token", "list", "--all"], "45");
    assert!(!list.join("\n").contains("Expires"), "{list:#?}");
}

#[rstest]
fn wide_is_never_cut_on_a_terminal(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = crowded(backend) else {
        return;
    };
    let list = drawn(&env, &["token", "list", "--wide"], "80");
    let text = list.join("\n");
    for word in [
        PRIVILEGES,
        "deploy-production-frontend-eu-west",
        "Created",
        "Last Used",
        "┆ ID ",
    ] {
        assert!(text.contains(word), "no {word:?}:\n{text}");
    }
    assert!(!text.contains('…'), "{text}");
    assert!(
        list.iter().any(|l| l.chars().count() > 80),
        "wide lines are as long as they need:\n{text}"
    );
    let rows = list.iter().filter(|l| l.starts_with('│')).count();
    assert_eq!(rows, 4, "one line per token:\n{text}");
}
