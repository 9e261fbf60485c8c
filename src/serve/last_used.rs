//! Last Used, recorded in batches: the newest use of each token is kept in
//! memory and written once a second (and at shutdown), so a busy token
//! costs at most one write per second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::{Pool, Use};

#[derive(Default)]
pub struct LastUsed {
    pending: Mutex<HashMap<String, (i64, Option<String>)>>,
    /// Held while a batch is written: one write at a time, in the order
    /// the batches were taken, so a time never goes backwards.
    flushing: tokio::sync::Mutex<()>,
}

impl LastUsed {
    pub fn record(&self, id: &str, at: i64, ip: Option<String>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.insert(id.to_string(), (at, ip));
    }

    /// Writes what is pending in one transaction. On failure the uses are
    /// put back, unless newer ones arrived meanwhile. Runs as a task of
    /// its own, so that stopping the caller (the flusher, at shutdown)
    /// never stops a write half-way or loses a failed batch.
    pub async fn flush(self: &Arc<Self>, store: &Arc<Pool>) -> anyhow::Result<usize> {
        let (this, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            let _turn = this.flushing.lock().await;
            let batch =
                std::mem::take(&mut *this.pending.lock().unwrap_or_else(|e| e.into_inner()));
            if batch.is_empty() {
                return Ok(0);
            }
            let uses: Vec<Use> = batch
                .iter()
                .map(|(id, (at, ip))| Use {
                    id: id.clone(),
                    at: *at,
                    ip: ip.clone(),
                })
                .collect();
            let written = store.record_uses(uses).await.map(|()| batch.len());
            if written.is_err() {
                let mut pending = this.pending.lock().unwrap_or_else(|e| e.into_inner());
                for (id, used) in batch {
                    pending.entry(id).or_insert(used);
                }
            }
            written
        })
        .await?
    }
}
