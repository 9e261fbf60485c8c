//! `GET /healthz`: whether the store answers, asked at most once at a time.
//!
//! Each request used to run its own probe on a blocking thread, so a flood
//! of health checks started hundreds of threads, each with a connection of
//! its own. Now one probe runs at a time, on one of serve's connections,
//! and the requests that arrive while it runs share its answer.

use std::time::Instant;

use tokio::sync::Mutex;

use crate::store::Pool;

#[derive(Default)]
pub struct Health {
    /// When the last probe finished, and its answer.
    last: Mutex<Option<(Instant, bool)>>,
}

impl Health {
    pub async fn store_answers(&self, store: &Pool) -> bool {
        let asked = Instant::now();
        let mut last = self.last.lock().await;
        // A probe that finished after this request arrived answers it too.
        if let Some((finished, answer)) = *last
            && finished >= asked
        {
            return answer;
        }
        let answer = store.ping().await.is_ok();
        *last = Some((Instant::now(), answer));
        answer
    }
}
