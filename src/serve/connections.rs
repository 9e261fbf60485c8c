//! The connections `serve` holds open, and when it lets them go (README,
//! "Checking tokens over HTTP"):
//!
//! - a connection that has not sent a whole request within
//!   [`FIRST_REQUEST_TIMEOUT`] of being accepted is closed (HTTP/1 and
//!   HTTP/2 alike: silence, an HTTP/2 preface alone, headers sent slowly);
//! - a keep-alive connection with no request in flight is closed after
//!   [`IDLE_TIMEOUT`] without a request;
//! - at most [`cap_from_rlimit`] are open at once, from the open-files
//!   limit; beyond it the oldest connection that has not sent a request
//!   (else the idle one unused the longest) is closed to make room;
//! - on shutdown, connections with no request in flight are closed at once
//!   (after [`STOP_LINGER`]), the others once their answer is out.
//!
//! hyper's own HTTP/1 header timeout is not used: it runs between requests
//! too, so it would close idle keep-alive connections after the same 10 s
//! as a slow client, and the auto (HTTP/1 or HTTP/2) connection does not
//! run it before the first byte at all.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// How long a new connection may take to send its first request's headers.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle keep-alive connection stays open: longer than the
/// upstream keep-alive of nginx (60 s), Traefik (90 s, Go's default) and
/// Caddy (2 min), so a proxy drops an idle connection before serve does
/// and never sends a request on a connection serve is closing (a 502).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(150);
/// After SIGTERM, how long an idle connection gets to close itself (an
/// HTTP/2 client answering the GOAWAY) before it is dropped.
pub const STOP_LINGER: Duration = Duration::from_millis(500);
/// Descriptors kept free for the store, its journal, stderr and the
/// listener when the connection cap is taken from the open-files limit.
const DESCRIPTOR_HEADROOM: u64 = 64;
/// Never more connections than this, whatever the limit: each holds
/// buffers, and a forward-auth endpoint needs far fewer.
const MAX_CONNECTIONS: u64 = 16_384;

/// The open connections, oldest first.
pub struct Connections {
    cap: usize,
    open: Mutex<BTreeMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    stop: watch::Sender<bool>,
}

/// One open connection.
pub struct Slot {
    id: u64,
    accepted: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    last_done: Mutex<Instant>,
    evicted: Notify,
}

/// A request in flight on a connection; dropped when its answer is ready
/// (or the request is abandoned).
pub struct InFlight(Arc<Slot>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last_done.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Slot {
    /// Marks a request as started (its headers are in) on this connection.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    fn last_done(&self) -> Instant {
        *self.last_done.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn has_had_a_request(&self) -> bool {
        self.requests.load(Ordering::SeqCst) > 0
    }

    /// When this connection is to be closed if nothing happens before;
    /// `None` while a request is in flight.
    fn deadline(&self, stopping: Option<Instant>) -> Option<Instant> {
        if !self.is_idle() {
            return None;
        }
        let last_done = self.last_done();
        Some(match stopping {
            Some(at) => at.max(last_done) + STOP_LINGER,
            None if self.has_had_a_request() => last_done + IDLE_TIMEOUT,
            None => self.accepted + FIRST_REQUEST_TIMEOUT,
        })
    }
}

impl Connections {
    pub fn new(cap: usize) -> Connections {
        Connections {
            cap,
            open: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            stop: watch::channel(false).0,
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Slot>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a newly accepted connection. Beyond the cap, the oldest
    /// connection that has never sent a request, else the idle one unused
    /// the longest, is closed to make room; when every connection has a request in
    /// flight, the new one is refused (`None`: close it).
    pub fn admit(&self) -> Option<Admitted> {
        let now = Instant::now();
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::SeqCst),
            accepted: now,
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            last_done: Mutex::new(now),
            evicted: Notify::new(),
        });
        let mut open = self.open();
        if open.len() >= self.cap {
            // Among idle connections that have served, the one unused the
            // longest: a proxy's busy keep-alive connection, however old,
            // is never the one closed while others sit unused.
            let victim = open
                .values()
                .find(|s| s.is_idle() && !s.has_had_a_request())
                .or_else(|| {
                    open.values()
                        .filter(|s| s.is_idle())
                        .min_by_key(|s| s.last_done())
                })
                .map(|s| s.id)?;
            if let Some(victim) = open.remove(&victim) {
                victim.evicted.notify_one();
            }
        }
        open.insert(slot.id, slot.clone());
        Some(Admitted {
            slot,
            stop: self.stop.subscribe(),
        })
    }

    fn release(&self, id: u64) {
        self.open().remove(&id);
    }

    /// Asks every connection to stop, and waits until all are closed.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        self.stop.closed().await;
    }

    /// Drives one connection to its end, closing it by the rules above.
    pub async fn drive<C: GracefulConnection>(&self, admitted: Admitted, connection: C) {
        let Admitted { slot, mut stop } = admitted;
        let mut connection = std::pin::pin!(connection);
        let mut stopping = None;
        loop {
            if stopping.is_none() && *stop.borrow_and_update() {
                stopping = Some(Instant::now());
                Pin::as_mut(&mut connection).graceful_shutdown();
            }
            let limit = if stopping.is_some() {
                STOP_LINGER
            } else {
                FIRST_REQUEST_TIMEOUT
            };
            // While a request is in flight, look again after a while.
            let deadline = slot
                .deadline(stopping)
                .unwrap_or_else(|| Instant::now() + limit);
            tokio::select! {
                _ = Pin::as_mut(&mut connection) => break,
                () = slot.evicted.notified() => break,
                () = tokio::time::sleep_until(deadline) => {
                    if slot.deadline(stopping).is_some_and(|d| d <= Instant::now()) {
                        break;
                    }
                }
                changed = stop.changed(), if stopping.is_none() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        self.release(slot.id);
    }
}

/// A connection given a place, with its stop signal.
pub struct Admitted {
    pub slot: Arc<Slot>,
    stop: watch::Receiver<bool>,
}

/// How many connections serve holds at most: the open-files limit (the
/// soft one, first raised to the hard one) less some headroom.
pub fn cap_from_rlimit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            1024
        } else {
            let wanted = limit.rlim_max.min(MAX_CONNECTIONS + DESCRIPTOR_HEADROOM);
            if wanted > limit.rlim_cur {
                let raised = libc::rlimit {
                    rlim_cur: wanted,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit.rlim_cur = wanted;
                }
            }
            limit.rlim_cur
        }
    };
    cap_for(soft)
}

fn cap_for(open_files: u64) -> usize {
    let cap = open_files
        .saturating_sub(DESCRIPTOR_HEADROOM)
        .max(open_files / 2)
        .clamp(1, MAX_CONNECTIONS);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_headroom_below_the_open_files_limit() {
        assert_eq!(cap_for(1024), 960);
        assert_eq!(cap_for(256), 192);
        assert_eq!(cap_for(100), 50);
        assert_eq!(cap_for(0), 1);
        assert_eq!(cap_for(1 << 40), 16_384);
    }

    #[tokio::test]
    async fn beyond_the_cap_the_oldest_silent_connection_makes_room() {
        let connections = Connections::new(2);
        let served = connections.admit().unwrap();
        let _request = served.slot.begin();
        let silent = connections.admit().unwrap();
        let newest = connections.admit().unwrap();
        let open: Vec<u64> = connections.open().keys().copied().collect();
        assert_eq!(open, [served.slot.id, newest.slot.id]);
        // The evicted connection is told so.
        tokio::time::timeout(Duration::from_secs(1), silent.slot.evicted.notified())
            .await
            .unwrap();
        // Every connection busy: the new one is refused.
        let _second = newest.slot.begin();
        assert!(connections.admit().is_none());
    }

    #[test]
    fn deadlines_follow_the_connection_state() {
        let connections = Connections::new(4);
        let admitted = connections.admit().unwrap();
        let slot = &admitted.slot;
        assert_eq!(
            slot.deadline(None),
            Some(slot.accepted + FIRST_REQUEST_TIMEOUT)
        );
        let request = slot.begin();
        assert_eq!(slot.deadline(None), None);
        drop(request);
        let last = *slot.last_done.lock().unwrap();
        assert_eq!(slot.deadline(None), Some(last + IDLE_TIMEOUT));
        let stop = last + Duration::from_secs(1);
        assert_eq!(slot.deadline(Some(stop)), Some(stop + STOP_LINGER));
    }
}
