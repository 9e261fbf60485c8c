//! Counters for `/metrics`, in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Metrics {
    /// Requests by result: `ok`, or the reason for refusing.
    results: Mutex<BTreeMap<&'static str, u64>>,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    argon2_runs: AtomicU64,
    argon2_micros: AtomicU64,
    /// Requests refused without argon2 because their id was cooling down.
    pub cooldown_refusals: AtomicU64,
    /// Secrets argon2 found wrong, each counted once (a repeat is answered
    /// from the cache), whether or not the client waited for the answer.
    pub wrong_secrets: AtomicU64,
}

impl Metrics {
    pub fn count(&self, result: &'static str) {
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        *results.entry(result).or_default() += 1;
    }

    pub fn argon2(&self, took: Duration) {
        self.argon2_runs.fetch_add(1, Ordering::Relaxed);
        self.argon2_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP tokenctl_requests_total Verification requests by result."
        );
        let _ = writeln!(out, "# TYPE tokenctl_requests_total counter");
        for (result, n) in results.iter() {
            let _ = writeln!(out, "tokenctl_requests_total{{result=\"{result}\"}} {n}");
        }
        let counter = |out: &mut String, name: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {value}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "tokenctl_cache_hits_total",
            "Verifications answered from the cache, without argon2.",
            load(&self.cache_hits).to_string(),
        );
        counter(
            &mut out,
            "tokenctl_cache_misses_total",
            "Verifications that needed argon2.",
            load(&self.cache_misses).to_string(),
        );
        counter(
            &mut out,
            "tokenctl_cooldown_refusals_total",
            "Requests refused without argon2 while their token id cooled down.",
            load(&self.cooldown_refusals).to_string(),
        );
        counter(
            &mut out,
            "tokenctl_wrong_secrets_total",
            "Secrets argon2 found wrong (a repeated one is answered from the cache).",
            load(&self.wrong_secrets).to_string(),
        );
        counter(
            &mut out,
            "tokenctl_argon2_verifications_total",
            "argon2id verifications run.",
            load(&self.argon2_runs).to_string(),
        );
        let seconds = load(&self.argon2_micros) as f64 / 1e6;
        counter(
            &mut out,
            "tokenctl_argon2_seconds_total",
            "Time spent in argon2id verification.",
            format!("{seconds:.6}"),
        );
        out
    }
}
