//! Which HTTP/1 request targets carried a fragment (`/verify#?acl=deploy`).
//!
//! hyper parses the request target into a `Uri`, which drops a fragment
//! without a trace, so `/verify#?acl=deploy` would be checked as a plain
//! `/verify`: no privilege required. A fragment has no place in a request
//! (RFC 9110, section 7.1), so serve refuses it (README: 400). The bytes
//! are watched as they are read, before hyper sees them: each request
//! line found is noted in order, and each request, as hyper hands it over,
//! takes the oldest note.
//!
//! A head is taken to be followed by the next one directly: serve's
//! routes read no body, and a request that has one is answered with
//! `Connection: close` (see `mod.rs`), so what follows it is never served.
//! An HTTP/2 connection (its preface) is not watched: HTTP/2 cannot be
//! told apart here without decoding its headers, and `:path` comes from a
//! client speaking HTTP/2 to serve directly, not from a proxy's rewrite.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The first bytes, while they may still be the HTTP/2 preface.
    Preface,
    /// Before a request line (empty lines before it are allowed).
    BeforeRequest,
    /// In a request line; whether a `#` was seen.
    RequestLine {
        fragment: bool,
    },
    /// At the start of a header line (an empty one ends the head).
    HeaderStart,
    InHeader,
    /// HTTP/2: not watched.
    Off,
}

/// The request lines seen on one connection, oldest first.
#[derive(Debug)]
pub struct Heads {
    state: State,
    preface: Vec<u8>,
    fragments: VecDeque<bool>,
}

impl Default for Heads {
    fn default() -> Self {
        Heads {
            state: State::Preface,
            preface: Vec::new(),
            fragments: VecDeque::new(),
        }
    }
}

impl Heads {
    /// Follows bytes as read from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.state == State::Preface {
                self.preface.push(b);
                if !H2_PREFACE.starts_with(&self.preface) {
                    self.state = State::BeforeRequest;
                    for b in std::mem::take(&mut self.preface) {
                        self.step(b);
                    }
                } else if self.preface.len() == H2_PREFACE.len() {
                    self.state = State::Off;
                }
                continue;
            }
            self.step(b);
        }
    }

    fn step(&mut self, b: u8) {
        self.state = match (self.state, b) {
            (State::Off | State::Preface, _) => self.state,
            (State::BeforeRequest, b'\r' | b'\n') => State::BeforeRequest,
            (State::BeforeRequest, b) => State::RequestLine {
                fragment: b == b'#',
            },
            (State::RequestLine { fragment }, b'\n') => {
                self.fragments.push_back(fragment);
                State::HeaderStart
            }
            (State::RequestLine { fragment }, b) => State::RequestLine {
                fragment: fragment || b == b'#',
            },
            (State::HeaderStart, b'\n') => State::BeforeRequest,
            (State::HeaderStart, b'\r') => State::HeaderStart,
            (State::InHeader, b'\n') => State::HeaderStart,
            (State::HeaderStart | State::InHeader, _) => State::InHeader,
        };
    }

    /// Whether the next HTTP/1 request handed over had a fragment; a
    /// request with no line seen (which cannot happen) counts as one.
    pub fn next_had_fragment(&mut self) -> bool {
        self.fragments.pop_front().unwrap_or(true)
    }
}

/// A connection whose reads are followed by [`Heads`].
pub struct Watched<IO> {
    io: IO,
    heads: Arc<Mutex<Heads>>,
}

impl<IO> Watched<IO> {
    pub fn new(io: IO) -> (Watched<IO>, Arc<Mutex<Heads>>) {
        let heads = Arc::new(Mutex::new(Heads::default()));
        (
            Watched {
                io,
                heads: heads.clone(),
            },
            heads,
        )
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.heads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .feed(&buf.filled()[before..]);
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragments(chunks: &[&[u8]]) -> Vec<bool> {
        let mut heads = Heads::default();
        for chunk in chunks {
            heads.feed(chunk);
        }
        heads.fragments.into_iter().collect()
    }

    #[test]
    fn each_request_line_is_noted_in_order() {
        let pipelined = b"GET /verify HTTP/1.1\r\nHost: x#y\r\n\r\n\
            GET /verify#?acl=deploy HTTP/1.1\r\nHost: x\r\n\r\n\
            \r\nGET /healthz HTTP/1.1\nHost: x\n\n";
        assert_eq!(fragments(&[pipelined]), [false, true, false]);
        // Split anywhere: the same.
        for at in 0..pipelined.len() {
            let (a, b) = pipelined.split_at(at);
            assert_eq!(fragments(&[a, b]), [false, true, false], "split at {at}");
        }
    }

    #[test]
    fn a_fragment_after_the_query_counts_and_header_values_do_not() {
        assert_eq!(
            fragments(&[b"GET /verify?acl=deploy#x HTTP/1.1\r\nReferer: /a#b\r\n\r\n"]),
            [true]
        );
    }

    #[test]
    fn http2_is_not_watched_but_a_prefix_of_its_preface_is_http1() {
        let mut h2 = H2_PREFACE.to_vec();
        h2.extend_from_slice(b"GET /x#y HTTP/1.1\r\n\r\n");
        assert!(fragments(&[&h2]).is_empty());
        assert_eq!(fragments(&[b"PRI /x#y HTTP/1.1\r\n\r\n"]), [true]);
        assert_eq!(fragments(&[b"P", b"UT /x HTTP/1.1\r\n\r\n"]), [false]);
    }

    #[test]
    fn an_unnoted_request_counts_as_one_with_a_fragment() {
        assert!(Heads::default().next_had_fragment());
    }
}
