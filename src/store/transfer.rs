//! Whole stores moved between stores of any kind (`db copy`, and `db
//! backup`/`db restore` on PostgreSQL): every row, as it is stored, read
//! in one snapshot and written in one transaction.

use crate::error::Error as UserError;
use crate::model::{Account, CataloguedPrivilege, Event, Token};

/// Everything a store holds: accounts (deleted ones too), tokens (revoked
/// ones too, with their hashes, grace and Last Used), the audit trail in
/// the order written, and whether the store was bootstrapped.
pub struct Snapshot {
    pub accounts: Vec<AccountRecord>,
    pub tokens: Vec<Token>,
    pub events: Vec<EventRecord>,
    /// The catalogue of privileges (none from a store of version 1).
    pub privileges: Vec<CataloguedPrivilege>,
    /// `meta`'s `bootstrapped` value (the time, as stored), if any.
    pub bootstrapped: Option<String>,
    /// What the source counted in the same snapshot.
    pub counted: Counts,
}

/// An account, live or deleted.
pub struct AccountRecord {
    pub account: Account,
    pub deleted_at: Option<i64>,
}

/// An audit event with its id, which orders the trail.
pub struct EventRecord {
    pub id: i64,
    pub event: Event,
}

/// The rows of each table, as counted by the store itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub accounts: i64,
    pub tokens: i64,
    pub events: i64,
    pub privileges: i64,
}

impl Snapshot {
    /// The rows read, which the source's own count must agree with.
    pub fn read_counts(&self) -> Counts {
        Counts {
            accounts: self.accounts.len() as i64,
            tokens: self.tokens.len() as i64,
            events: self.events.len() as i64,
            privileges: self.privileges.len() as i64,
        }
    }

    /// Refuses a copy whose source or target does not hold exactly the
    /// rows read (`target`, counted inside the target's transaction, which
    /// is then rolled back).
    pub fn expect(&self, target: Counts) -> anyhow::Result<()> {
        let read = self.read_counts();
        for (side, counts) in [("source", self.counted), ("target", target)] {
            if counts != read {
                return Err(UserError::runtime(format!(
                    "the copy is incomplete: the {side} holds {} accounts, {} tokens, {} \
                     events and {} privileges, but {} accounts, {} tokens, {} events and {} \
                     privileges were read; nothing was written",
                    counts.accounts,
                    counts.tokens,
                    counts.events,
                    counts.privileges,
                    read.accounts,
                    read.tokens,
                    read.events,
                    read.privileges
                ))
                .into());
            }
        }
        Ok(())
    }
}

/// The refusal of a copy into a target that already holds something.
pub(crate) fn not_empty(target: &dyn std::fmt::Display, what: &str) -> anyhow::Error {
    UserError::conflict(format!("{target} is not empty: {what}"))
        .with_hint("copy into a SQLite path that does not exist yet, or a PostgreSQL schema without tokenctl tables (?schema=NAME)")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(accounts: i64, tokens: i64, events: i64) -> Counts {
        Counts {
            accounts,
            tokens,
            events,
            privileges: 0,
        }
    }

    fn empty(counted: Counts) -> Snapshot {
        Snapshot {
            accounts: vec![],
            tokens: vec![],
            events: vec![],
            privileges: vec![],
            bootstrapped: None,
            counted,
        }
    }

    #[test]
    fn a_copy_holds_exactly_the_rows_read_on_both_sides() {
        assert!(empty(Counts::default()).expect(Counts::default()).is_ok());
        let source_more = empty(counts(1, 0, 0)).expect(Counts::default());
        let err = source_more.unwrap_err().to_string();
        assert!(err.contains("the source holds 1 accounts"), "{err}");
        let target_more = empty(Counts::default()).expect(counts(0, 0, 3));
        let err = target_more.unwrap_err().to_string();
        assert!(
            err.contains("the target holds 0 accounts, 0 tokens, 3 events and 0 privileges"),
            "{err}"
        );
    }
}
