//! What the `db` commands print: backup, restore, copy and check.

use std::path::Path;

use serde::Serialize;

use super::{Style, Text, View, plural};

/// `db backup`.
#[derive(Serialize)]
pub struct BackupView<'a> {
    backup: &'a Path,
}

impl<'a> BackupView<'a> {
    pub fn new(file: &'a Path) -> BackupView<'a> {
        BackupView { backup: file }
    }
}

impl View for BackupView<'_> {
    fn text(&self, _: Style) -> Text {
        Text::line(format!("backed up to {}", self.backup.display()))
    }
}

/// `db restore`: which backup replaced which store.
#[derive(Serialize)]
pub struct RestoredView<'a> {
    restored: &'a Path,
    /// Where the store is.
    store: String,
}

impl<'a> RestoredView<'a> {
    pub fn new(backup: &'a Path, store: String) -> RestoredView<'a> {
        RestoredView {
            restored: backup,
            store,
        }
    }
}

impl View for RestoredView<'_> {
    fn text(&self, _: Style) -> Text {
        Text::line(format!(
            "restored {} from {}",
            self.store,
            self.restored.display()
        ))
    }
}

/// `db copy`: what was copied where.
#[derive(Serialize)]
pub struct CopiedView {
    /// Where the new store is.
    copied_to: String,
    accounts: i64,
    tokens: i64,
    events: i64,
    /// The catalogue's privileges.
    privileges: i64,
}

impl CopiedView {
    /// `counts`: accounts, tokens, events and catalogued privileges.
    pub fn new(target: String, counts: [i64; 4]) -> CopiedView {
        let [accounts, tokens, events, privileges] = counts;
        CopiedView {
            copied_to: target,
            accounts,
            tokens,
            events,
            privileges,
        }
    }
}

impl View for CopiedView {
    fn text(&self, _: Style) -> Text {
        Text::line(format!(
            "copied {}, {}, {}, {} to {}",
            plural(self.accounts as usize, "account"),
            plural(self.tokens as usize, "token"),
            plural(self.events as usize, "event"),
            plural(self.privileges as usize, "catalogued privilege"),
            self.copied_to
        ))
    }
}

/// `db check`: each check, and whether all passed.
#[derive(Serialize)]
pub struct CheckReport<'a> {
    healthy: bool,
    checks: Vec<CheckView<'a>>,
}

/// One check of `db check`.
#[derive(Serialize)]
pub struct CheckView<'a> {
    pub name: &'a str,
    pub ok: bool,
    /// Shown only when set: a warning leaves the store healthy.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
    pub detail: &'a str,
}

impl<'a> CheckReport<'a> {
    pub fn new(checks: Vec<CheckView<'a>>) -> CheckReport<'a> {
        CheckReport {
            healthy: checks.iter().all(|c| c.ok),
            checks,
        }
    }

    pub fn healthy(&self) -> bool {
        self.healthy
    }
}

impl View for CheckReport<'_> {
    fn text(&self, _: Style) -> Text {
        let lines = self
            .checks
            .iter()
            .map(|c| {
                let mark = match (c.ok, c.warning) {
                    (false, _) => "PROBLEM",
                    (true, true) => "WARNING",
                    (true, false) => "ok     ",
                };
                format!("{mark} {:<11} {}", c.name, c.detail)
            })
            .collect();
        Text::lines(lines)
    }
}
