//! serve's steps of the verification sequence (`crate::verify`): the
//! token's current row, read through the store pool, and the secret
//! checked with what keeps argon2 paid once and bounded:
//!
//! - a cache of successful verifications, keyed by a keyed hash of the
//!   token (a random key per process; never the plaintext), valid only
//!   while the hash it matched is still the token's current one (or its
//!   previous one during a grace). The row is read on every request, so
//!   revocation and every other change take effect at once;
//! - a cache of wrong secrets, keyed the same way, valid only while the
//!   token's hashes are the ones the secret failed against: a client that
//!   keeps retrying an old secret costs no argon2 and no cool-down;
//! - single flight: concurrent checks of the same token against the same
//!   hashes share one argon2 run;
//! - at most one argon2 run per core, a bounded queue, and 503 beyond it;
//! - a cool-down for an id that keeps failing with new secrets: its new
//!   secrets are refused without argon2 for a while. Cached valid tokens
//!   (and secrets whose check is already running) are unaffected.
//!
//! An argon2 check runs as a task of its own, which the request only
//! awaits: a client that hangs up (or an HTTP/2 stream reset) cancels its
//! wait, never the check, so the slot, the queue place and the failure
//! accounting are always given back and done.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use blake2::Blake2bMac512;
use blake2::digest::{KeyInit, Mac};
use rand::TryRng;
use rand::rngs::SysRng;
use tokio::sync::{Semaphore, watch};
use zeroize::Zeroizing;

use super::credentials::Credentials;
use super::last_used::LastUsed;
use super::metrics::Metrics;
use crate::model::{Found, Token};
use crate::store::Pool;
use crate::values::Privileges;
use crate::verify::{self, Secret, Steps, Verdict};

/// Most successful verifications remembered.
const MAX_CACHED: usize = 10_000;
/// Most wrong secrets remembered.
const MAX_WRONG: usize = 10_000;
/// Most token ids whose failures are tracked.
const MAX_TRACKED: usize = 10_000;
/// This many new wrong secrets for one id within the window start a
/// cool-down.
const FAILURE_LIMIT: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const COOLDOWN: Duration = Duration::from_secs(60);
/// Checks that may wait for an argon2 slot, per slot: about 200 ms of
/// waiting at most, so a flood gets its 503 quickly.
const QUEUE_PER_SLOT: usize = 4;

/// Why a request got no verdict: the store did not answer (`store`), or
/// argon2 work is saturated (`overloaded`) or failed (`argon2`). 503.
#[derive(Debug)]
pub struct Unavailable(pub &'static str);

/// A keyed hash of a plaintext token.
type Key = [u8; 32];

/// The stored hashes a secret is checked against at a given time: the
/// token's current one, and its previous one while the grace lasts.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Against {
    id: String,
    current: String,
    previous: Option<String>,
}

impl Against {
    fn of(t: &Token, now: i64) -> Against {
        Against {
            id: t.id.clone(),
            current: t.secret_hash.clone(),
            previous: t
                .prev_secret_hash
                .clone()
                .filter(|p| verify::hash_still_valid(t, p, now)),
        }
    }
}

struct Matched {
    id: String,
    /// The stored hash the secret matched.
    hash: String,
}

/// What an argon2 check found, shared with every request waiting for it.
#[derive(Clone, Copy)]
enum Finding {
    Matched,
    Wrong,
    /// The check itself failed (a panic in argon2): 503.
    Failed,
}

struct Failures {
    since: Instant,
    count: u32,
    cool_until: Option<Instant>,
}

#[derive(Default)]
struct State {
    matched: HashMap<Key, Matched>,
    /// Wrong secrets, with the hashes they failed against: a rotation or
    /// a restore changes those, and the secret is checked again.
    wrong: HashMap<Key, Against>,
    /// Checks running or waiting for a slot; requests for the same token
    /// against the same hashes wait for the same one.
    flights: HashMap<(Key, Against), watch::Receiver<Option<Finding>>>,
    /// Checks waiting for a slot (not yet running).
    waiting: usize,
    failures: HashMap<String, Failures>,
}

/// What the checks share with the tasks that run argon2.
struct Shared {
    state: Mutex<State>,
    slots: Arc<Semaphore>,
    max_waiting: usize,
    metrics: Arc<Metrics>,
}

pub struct Verifier {
    pub store: Arc<Pool>,
    mac_key: Zeroizing<[u8; 32]>,
    shared: Arc<Shared>,
    pub metrics: Arc<Metrics>,
    pub last_used: Arc<LastUsed>,
}

impl Verifier {
    pub fn new(store: Pool) -> anyhow::Result<Verifier> {
        let mut mac_key = Zeroizing::new([0u8; 32]);
        SysRng
            .try_fill_bytes(mac_key.as_mut())
            .map_err(|e| anyhow::anyhow!("the OS random generator failed: {e}"))?;
        let slots = std::thread::available_parallelism().map_or(1, |n| n.get());
        let metrics = Arc::new(Metrics::default());
        Ok(Verifier {
            store: Arc::new(store),
            mac_key,
            shared: Arc::new(Shared {
                state: Mutex::default(),
                slots: Arc::new(Semaphore::new(slots)),
                max_waiting: slots * QUEUE_PER_SLOT,
                metrics: metrics.clone(),
            }),
            metrics,
            last_used: Arc::default(),
        })
    }

    /// Checks credentials for privileges `wanted` from address `ip`.
    pub async fn check(
        &self,
        creds: &Credentials,
        wanted: &Privileges,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Verdict, Unavailable> {
        let request = verify::Request {
            token: &creds.token,
            account: creds.account.as_deref(),
            wanted,
            ip,
            now,
        };
        verify::check(self, &request).await
    }

    fn cache_key(&self, plaintext: &str) -> Key {
        let mut mac = <Blake2bMac512 as KeyInit>::new_from_slice(self.mac_key.as_ref())
            .expect("a 32-byte key is within BLAKE2b's 64-byte limit");
        mac.update(plaintext.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest[..32]);
        key
    }

    /// Answers from the caches, or finds the check to wait for: one
    /// already running for the same token and hashes, or a new one. All
    /// under one lock, so a check finishing meanwhile is seen either as
    /// running or in the caches, never as neither (which would run
    /// argon2 twice).
    fn start_or_join(&self, key: Key, t: &Token, secret: &str, now: i64) -> Start {
        let metrics = &self.shared.metrics;
        let mut state = self.shared.lock();
        if state
            .matched
            .get(&key)
            .is_some_and(|m| m.id == t.id && verify::hash_still_valid(t, &m.hash, now))
        {
            metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Start::Cached;
        }
        let against = Against::of(t, now);
        if state.wrong.get(&key) == Some(&against) {
            metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Start::Wrong;
        }
        // A miss is a request that waits for argon2 (its own run or a
        // shared one); refusals below are counted as what they are.
        let flight = (key, against);
        if let Some(rx) = state.flights.get(&flight) {
            metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
            return Start::Wait(rx.clone());
        }
        if state.cooling_down(&t.id) {
            metrics.cooldown_refusals.fetch_add(1, Ordering::Relaxed);
            return Start::CoolingDown;
        }
        if state.waiting >= self.shared.max_waiting {
            return Start::Overloaded;
        }
        state.waiting += 1;
        metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        state.flights.insert(flight.clone(), rx.clone());
        drop(state);
        let check = Check {
            shared: self.shared.clone(),
            flight,
            token: t.clone(),
            secret: Zeroizing::new(secret.to_string()),
            now,
            tx,
        };
        tokio::spawn(check.run());
        Start::Wait(rx)
    }
}

/// serve's steps: the store through the pool, and the secret through the
/// caches, single flight, cool-down and argon2 bound of this module.
impl Steps for Verifier {
    type Error = Unavailable;

    async fn lookup(&self, id: &str) -> Result<Option<Found>, Unavailable> {
        self.store
            .lookup(id)
            .await
            .map_err(|_| Unavailable("store"))
    }

    async fn check_secret(
        &self,
        request: &verify::Request<'_>,
        secret: &str,
        stored: &Token,
    ) -> Result<Secret, Unavailable> {
        let key = self.cache_key(request.token);
        let mut rx = match self.start_or_join(key, stored, secret, request.now) {
            Start::Cached => return Ok(Secret::Matched),
            Start::Wait(rx) => rx,
            Start::Wrong => return Ok(Secret::Wrong),
            Start::CoolingDown => return Ok(Secret::CoolingDown),
            Start::Overloaded => return Err(Unavailable("overloaded")),
        };
        // Only this wait is cancelled if the client goes away.
        match rx.wait_for(Option::is_some).await.ok().and_then(|v| *v) {
            Some(Finding::Matched) => Ok(Secret::Matched),
            Some(Finding::Wrong) => Ok(Secret::Wrong),
            Some(Finding::Failed) | None => Err(Unavailable("argon2")),
        }
    }
}

enum Start {
    /// A success remembered for these hashes.
    Cached,
    /// A wrong secret remembered for these hashes.
    Wrong,
    /// Wait for this check's finding.
    Wait(watch::Receiver<Option<Finding>>),
    CoolingDown,
    Overloaded,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One argon2 check, run detached from the requests that wait for it.
struct Check {
    shared: Arc<Shared>,
    flight: (Key, Against),
    token: Token,
    secret: Zeroizing<String>,
    now: i64,
    tx: watch::Sender<Option<Finding>>,
}

impl Check {
    async fn run(self) {
        let Check {
            shared,
            flight,
            token,
            secret,
            now,
            tx,
        } = self;
        // Given back however this task ends (a panic included): the
        // queue place once a slot is had, and the flight once answered.
        let mut queued = QueuePlace(Some(shared.clone()));
        let _flight = FlightEntry(shared.clone(), Some(flight.clone()));
        let permit = shared
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        queued.release();
        let started = Instant::now();
        // The permit is the blocking job's own: a slot is free only once
        // argon2 has really stopped.
        let matched = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify::matching_hash(&token, &secret, now).map(str::to_string)
        })
        .await;
        shared.metrics.argon2(started.elapsed());
        let (key, against) = flight;
        let finding = match matched {
            Ok(Some(hash)) => {
                shared.lock().remember_match(key, against.id, hash);
                Finding::Matched
            }
            Ok(None) => {
                shared.metrics.wrong_secrets.fetch_add(1, Ordering::Relaxed);
                let mut state = shared.lock();
                if state.note_failure(&against.id) {
                    eprintln!(
                        "tokenctl serve: token id {} cooling down: {FAILURE_LIMIT} wrong secrets \
                         within {} s; new secrets for it are refused for {} s",
                        against.id,
                        FAILURE_WINDOW.as_secs(),
                        COOLDOWN.as_secs()
                    );
                }
                state.remember_wrong(key, against);
                Finding::Wrong
            }
            Err(_) => Finding::Failed,
        };
        // The caches first, then the answer; the flight entry goes last
        // (on drop), so no request finds neither.
        let _ = tx.send(Some(finding));
    }
}

/// A check's place in the queue for a slot.
struct QueuePlace(Option<Arc<Shared>>);

impl QueuePlace {
    fn release(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.lock().waiting -= 1;
        }
    }
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.release();
    }
}

/// A check's entry in the flights, removed when the check ends.
struct FlightEntry(Arc<Shared>, Option<(Key, Against)>);

impl Drop for FlightEntry {
    fn drop(&mut self) {
        if let Some(flight) = self.1.take() {
            self.0.lock().flights.remove(&flight);
        }
    }
}

impl State {
    fn remember_match(&mut self, key: Key, id: String, hash: String) {
        bounded_insert(&mut self.matched, MAX_CACHED, key, Matched { id, hash });
    }

    fn remember_wrong(&mut self, key: Key, against: Against) {
        bounded_insert(&mut self.wrong, MAX_WRONG, key, against);
    }

    fn cooling_down(&self, id: &str) -> bool {
        self.failures
            .get(id)
            .and_then(|f| f.cool_until)
            .is_some_and(|until| Instant::now() < until)
    }

    /// Counts a new wrong secret for `id`; true when it starts a cool-down.
    fn note_failure(&mut self, id: &str) -> bool {
        let now = Instant::now();
        let failures = &mut self.failures;
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
            return true;
        }
        false
    }
}

/// Bounded: make room by forgetting an arbitrary entry, which costs that
/// token one argon2 run later.
fn bounded_insert<V>(map: &mut HashMap<Key, V>, max: usize, key: Key, value: V) {
    if map.len() >= max
        && !map.contains_key(&key)
        && let Some(old) = map.keys().next().copied()
    {
        map.remove(&old);
    }
    map.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::AllowList;

    fn token(current: &str, previous: Option<(&str, i64)>) -> Token {
        Token {
            id: "AAAAAAAAAA".into(),
            account_id: 1,
            account: "alice".into(),
            name: "ci".into(),
            secret_hash: current.into(),
            prev_secret_hash: previous.map(|(h, _)| h.into()),
            prev_valid_until: previous.map(|(_, until)| until),
            acls: Privileges::default(),
            allow_ips: AllowList::default(),
            note: None,
            created_at: 0,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            disabled_at: None,
            revoked_at: None,
            account_acls: Privileges::default(),
            account_suspended: false,
        }
    }

    #[test]
    fn a_wrong_secret_is_remembered_only_against_the_hashes_it_failed() {
        let now = 1_000;
        let before = Against::of(&token("h1", None), now);
        // Unchanged, and after a grace has ended: the same check.
        assert!(before == Against::of(&token("h1", None), now));
        assert!(before == Against::of(&token("h1", Some(("h0", now - 1))), now));
        // Rotated, or restored with another hash: a new check.
        assert!(before != Against::of(&token("h2", Some(("h1", now + 60))), now));
        assert!(before != Against::of(&token("h2", None), now));
        // A previous hash within its grace is part of what was checked.
        assert!(before != Against::of(&token("h1", Some(("h0", now + 60))), now));
    }

    #[test]
    fn caches_stay_bounded() {
        let mut map = HashMap::new();
        for i in 0..100u8 {
            bounded_insert(&mut map, 10, [i; 32], ());
            assert!(map.len() <= 10);
        }
        assert!(map.contains_key(&[99; 32]));
    }

    #[test]
    fn ten_new_wrong_secrets_start_one_cool_down() {
        let mut state = State::default();
        let started: Vec<bool> = (0..FAILURE_LIMIT)
            .map(|_| state.note_failure("id"))
            .collect();
        assert_eq!(started.iter().filter(|s| **s).count(), 1);
        assert!(started[FAILURE_LIMIT as usize - 1]);
        assert!(state.cooling_down("id"));
        assert!(!state.cooling_down("other"));
    }
}
