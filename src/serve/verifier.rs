//! Token checks for the HTTP endpoint: the README's rules (`crate::verify`) on
//! the token's current row, with three things that keep argon2 paid once
//! and bounded:
//!
//! - a cache of successful verifications, keyed by a keyed hash of the
//!   token (a random key per process; never the plaintext), valid only
//!   while the hash it matched is still the token's current one (or its
//!   previous one during a grace). The row is read on every request, so
//!   revocation and every other change take effect at once;
//! - at most one argon2 run per core, a bounded queue, and 503 beyond it;
//! - a cool-down for an id that keeps failing: its uncached requests are
//!   refused without argon2 for a while. Cached valid tokens are unaffected.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blake2::Blake2bMac512;
use blake2::digest::{KeyInit, Mac};
use rand::TryRng;
use rand::rngs::SysRng;
use tokio::sync::Semaphore;

use super::credentials::Credentials;
use super::last_used::LastUsed;
use super::metrics::Metrics;
use super::store_pool::StorePool;
use crate::model::Token;
use crate::token;
use crate::verify::{self, Found, Reason};

/// Most successful verifications remembered.
const MAX_CACHED: usize = 10_000;
/// Most token ids whose failures are tracked.
const MAX_TRACKED: usize = 10_000;
/// This many wrong secrets for one id within the window start a cool-down.
const FAILURE_LIMIT: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const COOLDOWN: Duration = Duration::from_secs(60);
/// Requests that may wait for an argon2 slot, per slot: about 200 ms of
/// waiting at most, so a flood gets its 503 quickly.
const QUEUE_PER_SLOT: usize = 4;

/// What a request gets.
#[derive(Debug)]
pub enum Outcome {
    Valid(Box<Token>),
    /// 401: missing, malformed, unknown, revoked, ... (the reason is logged).
    Unauthorized(&'static str),
    /// 403: a valid token without a required privilege.
    Forbidden,
    /// 503: argon2 queue full, or the store did not answer.
    Unavailable(&'static str),
}

impl Outcome {
    /// The label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Valid(_) => "ok",
            Outcome::Unauthorized(reason) => reason,
            Outcome::Forbidden => "forbidden",
            Outcome::Unavailable(why) => why,
        }
    }
}

struct Cached {
    id: String,
    /// The stored hash the secret matched.
    hash: String,
}

struct Failures {
    since: Instant,
    count: u32,
    cool_until: Option<Instant>,
}

pub struct Verifier {
    pub store: Arc<StorePool>,
    mac_key: [u8; 32],
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    failures: Mutex<HashMap<String, Failures>>,
    argon2_slots: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    pub metrics: Metrics,
    pub last_used: LastUsed,
}

impl Verifier {
    pub fn new(store: StorePool) -> anyhow::Result<Verifier> {
        let mut mac_key = [0u8; 32];
        SysRng
            .try_fill_bytes(&mut mac_key)
            .map_err(|e| anyhow::anyhow!("the OS random generator failed: {e}"))?;
        let slots = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Verifier {
            store: Arc::new(store),
            mac_key,
            cache: Mutex::default(),
            failures: Mutex::default(),
            argon2_slots: Semaphore::new(slots),
            waiting: AtomicUsize::new(0),
            max_waiting: slots * QUEUE_PER_SLOT,
            metrics: Metrics::default(),
            last_used: LastUsed::default(),
        })
    }

    /// Checks credentials for privileges `wanted` from address `ip`.
    pub async fn check(
        &self,
        creds: &Credentials,
        wanted: &[String],
        ip: Option<IpAddr>,
        now: i64,
    ) -> Outcome {
        let Some(parsed) = token::parse(&creds.token) else {
            return Outcome::Unauthorized(Reason::Malformed.as_str());
        };
        // An unknown id costs no argon2: ids are not secret.
        let found = match self
            .store
            .read(|store| Ok(verify::lookup(store.conn(), parsed.id)?))
            .await
        {
            Ok(Some(found)) => found,
            Ok(None) => return Outcome::Unauthorized(Reason::Unknown.as_str()),
            Err(_) => return Outcome::Unavailable("store"),
        };
        let key = self.cache_key(&creds.token);
        if self.cached(&key, &found.token, now) {
            self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
            if self.cooling_down(&found.token.id) {
                self.metrics
                    .cooldown_refusals
                    .fetch_add(1, Ordering::Relaxed);
                return Outcome::Unauthorized("cooldown");
            }
            match self.argon2(&found.token, parsed.secret, now).await {
                Err(()) => return Outcome::Unavailable("overloaded"),
                Ok(None) => {
                    self.note_failure(&found.token.id);
                    return Outcome::Unauthorized(Reason::Unknown.as_str());
                }
                Ok(Some(hash)) => self.remember(key, &found.token.id, hash),
            }
        }
        state_outcome(found, creds, wanted, ip, now)
    }

    fn cache_key(&self, plaintext: &str) -> [u8; 32] {
        let mut mac = <Blake2bMac512 as KeyInit>::new_from_slice(&self.mac_key)
            .expect("a 32-byte key is within BLAKE2b's 64-byte limit");
        mac.update(plaintext.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest[..32]);
        key
    }

    fn cached(&self, key: &[u8; 32], t: &Token, now: i64) -> bool {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .is_some_and(|c| c.id == t.id && verify::hash_still_valid(t, &c.hash, now))
    }

    fn remember(&self, key: [u8; 32], id: &str, hash: String) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED && !cache.contains_key(&key) {
            // Bounded: make room by forgetting an arbitrary entry, which
            // costs that token one argon2 run later.
            if let Some(old) = cache.keys().next().copied() {
                cache.remove(&old);
            }
        }
        cache.insert(
            key,
            Cached {
                id: id.to_string(),
                hash,
            },
        );
    }

    /// Runs argon2 with a slot; `Err` when too many already wait for one.
    async fn argon2(&self, t: &Token, secret: &str, now: i64) -> Result<Option<String>, ()> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(());
        }
        let permit = self.argon2_slots.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let (t, secret) = (t.clone(), secret.to_string());
        let started = Instant::now();
        let matched = tokio::task::spawn_blocking(move || {
            verify::matching_hash(&t, &secret, now).map(str::to_string)
        })
        .await;
        drop(permit);
        self.metrics.argon2(started.elapsed());
        Ok(matched.unwrap_or(None))
    }

    fn cooling_down(&self, id: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .get(id)
            .and_then(|f| f.cool_until)
            .is_some_and(|until| Instant::now() < until)
    }

    fn note_failure(&self, id: &str) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED && !failures.contains_key(id) {
            failures.retain(|_, f| {
                f.cool_until.is_some_and(|u| now < u) || now - f.since < FAILURE_WINDOW
            });
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let f = failures.entry(id.to_string()).or_insert(Failures {
            since: now,
            count: 0,
            cool_until: None,
        });
        if now - f.since > FAILURE_WINDOW {
            f.since = now;
            f.count = 0;
        }
        f.count += 1;
        if f.count >= FAILURE_LIMIT {
            f.cool_until = Some(now + COOLDOWN);
            f.since = now;
            f.count = 0;
        }
    }
}

/// After the secret: the named account, then the state checks of tokenctl-token-verify(1).
fn state_outcome(
    found: Found,
    creds: &Credentials,
    wanted: &[String],
    ip: Option<IpAddr>,
    now: i64,
) -> Outcome {
    if let Some(named) = &creds.account
        && found.account.as_ref().map(|a| &a.name) != Some(named)
    {
        return Outcome::Unauthorized("account");
    }
    match verify::check_state(&found, now, wanted, ip) {
        Ok(()) => Outcome::Valid(Box::new(found.token)),
        Err(Reason::Forbidden) => Outcome::Forbidden,
        Err(reason) => Outcome::Unauthorized(reason.as_str()),
    }
}
