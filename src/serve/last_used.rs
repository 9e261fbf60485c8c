//! Last Used, recorded in batches: the newest use of each token is kept in
//! memory and written once a second (and at shutdown), so a busy token
//! costs at most one write per second.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{self, Store};

#[derive(Default)]
pub struct LastUsed {
    pending: Mutex<HashMap<String, (i64, Option<String>)>>,
}

impl LastUsed {
    pub fn record(&self, id: &str, at: i64, ip: Option<String>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.insert(id.to_string(), (at, ip));
    }

    /// Writes what is pending in one transaction. On failure the uses are
    /// put back, unless newer ones arrived meanwhile.
    pub fn flush(&self, store: &mut Store) -> anyhow::Result<usize> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return Ok(0);
        }
        let written = store.write(|tx| {
            for (id, (at, ip)) in &batch {
                store::record_use(tx, id, *at, ip.as_deref())?;
            }
            Ok(batch.len())
        });
        if written.is_err() {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for (id, used) in batch {
                pending.entry(id).or_insert(used);
            }
        }
        written
    }
}
