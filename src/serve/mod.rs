//! `tokenctl serve`: an HTTP endpoint that checks tokens for a reverse
//! proxy (nginx `auth_request`, Caddy `forward_auth`, Traefik
//! `forwardAuth`) or any service, on the same store.

mod answer;
mod client_ip;
mod connections;
mod credentials;
mod fragments;
mod health;
mod last_used;
mod metrics;
mod verifier;

// What clients send, parsed by pure functions over bytes: callable (and
// fuzzed) without an HTTP stack.
pub use client_ip::{parse_address, parse_forwarded_for, resolve as client_address};
pub use credentials::{Credentials, Problem as CredentialsProblem, parse as parse_credentials};

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use ipnet::IpNet;
use tower::ServiceExt;

use crate::error::Error;
use crate::output;
use crate::store::{Location, Pool};
use crate::values::{self, Privileges};
use crate::verify::{Reason, Verdict};
use answer::Answer;
use connections::Connections;
use health::Health;
use verifier::{Unavailable, Verifier};

/// How long requests in flight may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Config {
    pub db: Location,
    pub listen: SocketAddr,
    /// Proxies whose X-Forwarded-For / X-Real-IP are believed.
    pub trusted: Vec<IpNet>,
}

struct App {
    verifier: Verifier,
    health: Health,
    trusted: Vec<IpNet>,
}

/// Serves until SIGTERM or SIGINT, then finishes in-flight requests,
/// writes the pending Last Used times, and returns.
pub fn run(config: Config) -> anyhow::Result<()> {
    // Verified plaintexts pass through this process's memory: no core
    // dump of it, and no other process of the same user may read it
    // (ptrace, /proc/PID/mem).
    // SAFETY: PR_SET_DUMPABLE only sets a flag of this process.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) } != 0 {
        eprintln!(
            "warning: could not forbid core dumps: {}",
            std::io::Error::last_os_error()
        );
    }
    // Every connection serve uses, opened once, before anything else.
    let Some(store) = Pool::open(&config.db)? else {
        return Err(Error::runtime(format!("no store at {}", config.db))
            .with_hint("create a token first, or point --db (or TOKENCTL_DB) at the store")
            .into());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(config, store))
}

async fn serve(config: Config, store: Pool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::runtime(format!("cannot listen on {}: {e}", config.listen)))?;
    let db = config.db.clone();
    let app = Arc::new(App {
        verifier: Verifier::new(store)?,
        health: Health::default(),
        trusted: config.trusted,
    });
    let router = Router::new()
        .route("/verify", get(verify).post(verify))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(app.clone());
    eprintln!(
        "tokenctl serve: listening on {} (store {})",
        listener.local_addr()?,
        db
    );

    let flusher = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = flush_last_used(&app).await {
                    eprintln!("warning: could not record Last Used: {e:#}");
                }
            }
        })
    };
    // Connections are accepted here rather than by axum::serve, so that
    // each is watched: closed when silent or idle too long, or to make
    // room beyond the cap (connections.rs).
    let mut http = Builder::new(TokioExecutor::new());
    // connections.rs times requests out; hyper's header timeout would also
    // cut idle keep-alive connections (its default is 30 s).
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    http.http2().timer(TokioTimer::new());
    let http = Arc::new(http);
    let connections = Arc::new(Connections::new(connections::cap_from_rlimit()));
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        // Out of descriptors or the like: breathe, go on.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Every connection busy with a request: this one waits no
                // better in a queue than being refused.
                let Some(admitted) = connections.admit() else {
                    drop(stream);
                    continue;
                };
                let slot = admitted.slot.clone();
                let router = router.clone();
                let app = app.clone();
                let (stream, heads) = fragments::Watched::new(stream);
                let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    let in_flight = slot.begin();
                    let http1 = req.version() < axum::http::Version::HTTP_2;
                    let fragment =
                        http1 && heads.lock().unwrap_or_else(|e| e.into_inner()).next_had_fragment();
                    let router = router.clone();
                    let app = app.clone();
                    async move {
                        let _in_flight = in_flight;
                        // Bytes after a body are not followed by `heads`:
                        // no further request on this connection.
                        let close = http1 && !hyper::body::Body::is_end_stream(req.body());
                        let mut response = match refuse_malformed(&req, fragment) {
                            Some(refusal) => {
                                log_refusal(&app, peer, &req);
                                refusal
                            }
                            None => {
                                req.extensions_mut().insert(ConnectInfo(peer));
                                router.oneshot(req).await?
                            }
                        };
                        if close {
                            response
                                .headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let http = http.clone();
                let connections = connections.clone();
                tokio::spawn(async move {
                    let connection = http.serve_connection(TokioIo::new(stream), service);
                    connections.drive(admitted, connection).await;
                });
            }
            () = &mut signal => break,
        }
    }
    // On SIGTERM/SIGINT/SIGHUP: stop accepting, close idle connections and
    // let requests in flight finish, but no longer than SHUTDOWN_GRACE: a
    // stalled client must not keep the server (and its unwritten Last Used
    // times) from stopping.
    drop(listener);
    tokio::select! {
        () = connections.stop() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => eprintln!(
            "warning: connections still open {} s after the signal; stopping anyway",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    flusher.abort();
    if let Err(e) = flush_last_used(&app).await {
        eprintln!("warning: could not record Last Used: {e:#}");
    }
    eprintln!("tokenctl serve: stopped");
    Ok(())
}

async fn flush_last_used(app: &Arc<App>) -> anyhow::Result<usize> {
    app.verifier.last_used.flush(&app.verifier.store).await
}

/// SIGTERM, SIGINT or SIGHUP. A hangup (the terminal or SSH session that
/// started serve going away) stops it the same graceful way, rather than
/// killing it with Last Used times unwritten.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let on = |kind: SignalKind| async move {
        match signal(kind) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = on(SignalKind::terminate()) => {}
        () = on(SignalKind::interrupt()) => {}
        () = on(SignalKind::hangup()) => {}
    }
}

/// A 400 for a request no route should see: HTTP/1.1 without exactly one
/// `Host` (RFC 9112, section 3.2), or a request target with a fragment,
/// which hyper would drop unseen (fragments.rs).
fn refuse_malformed<B>(req: &Request<B>, fragment: bool) -> Option<Response> {
    let hosts = req.headers().get_all(header::HOST).iter().count();
    let malformed = fragment
        || match req.version() {
            axum::http::Version::HTTP_11 => hosts != 1,
            axum::http::Version::HTTP_10 | axum::http::Version::HTTP_09 => hosts > 1,
            _ => false,
        };
    malformed.then(|| (StatusCode::BAD_REQUEST, "bad request\n").into_response())
}

async fn verify(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp();
    let ip = client_of(&app, peer, &headers);

    let answer = match wanted_privileges(uri.query()) {
        None => Answer::BadRequest,
        // A privilege outside the catalogue is the proxy's typo: 400,
        // before any token is looked at.
        Some((wanted, asked)) => match outside_catalogue(&app, &asked).await {
            Err(_) => Answer::Unavailable("store"),
            Ok(true) => Answer::BadRequest,
            Ok(false) => check(&app, &headers, &wanted, ip, now).await,
        },
    };
    let label = answer.label();
    app.verifier.metrics.count(label);
    // One line per request; never the token.
    log_request(
        now,
        ip,
        &method,
        &uri,
        answer.status().as_u16(),
        &format!("{label}{}", answer.who()),
        started,
    );
    if let Answer::Verdict(Verdict::Valid { token: t, .. }) = &answer {
        // An unknown address is recorded as none, never as one a
        // client may have forged.
        app.verifier
            .last_used
            .record(&t.id, now, ip.map(|ip| ip.to_string()));
    }
    answer.into_response()
}

/// Whether `wanted` (the names as asked: `all,deplyo` is still a typo)
/// holds a privilege outside the catalogue, read afresh for each request
/// that asks for one (nothing stale: a privilege added is accepted by the
/// next request); `all` always passes, and every privilege does while the
/// catalogue is empty.
async fn outside_catalogue(app: &App, wanted: &[String]) -> anyhow::Result<bool> {
    if wanted.iter().all(|p| p == values::ALL) {
        return Ok(false);
    }
    let known = app.verifier.store.catalogue().await?;
    Ok(!known.is_empty()
        && wanted
            .iter()
            .any(|p| p != values::ALL && !known.iter().any(|k| k == p)))
}

/// The verdict on the request's credentials for `wanted`.
async fn check(
    app: &App,
    headers: &HeaderMap,
    wanted: &Privileges,
    ip: Option<std::net::IpAddr>,
    now: i64,
) -> Answer {
    match credentials::parse(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes())) {
        Err(credentials::Problem::Missing) => Answer::Missing,
        Err(credentials::Problem::Malformed) => Answer::Verdict(Verdict::Refused {
            reason: Reason::Malformed,
            id: None,
        }),
        Ok(creds) => match app.verifier.check(&creds, wanted, ip, now).await {
            Ok(verdict) => Answer::Verdict(verdict),
            Err(Unavailable(why)) => Answer::Unavailable(why),
        },
    }
}

/// The client's address: the peer, or what a trusted proxy forwarded.
fn client_of(app: &App, peer: SocketAddr, headers: &HeaderMap) -> Option<std::net::IpAddr> {
    // Raw bytes, every line: a value that is not ASCII must make the
    // address unknown, not vanish (client_ip.rs).
    let header_lines =
        |name: &str| -> Vec<&[u8]> { headers.get_all(name).iter().map(|v| v.as_bytes()).collect() };
    let forwarded_for = header_lines("x-forwarded-for");
    let real_ip = header_lines("x-real-ip");
    client_ip::resolve(peer.ip(), &app.trusted, &forwarded_for, &real_ip)
}

/// A request to /verify refused before its route is logged and counted
/// like any other, with the same client address.
fn log_refusal<B>(app: &App, peer: SocketAddr, req: &Request<B>) {
    if req.uri().path() == "/verify" {
        app.verifier.metrics.count("bad-request");
        let now = chrono::Utc::now().timestamp();
        let (method, uri) = (req.method(), req.uri());
        log_request(
            now,
            client_of(app, peer, req.headers()),
            method,
            uri,
            400,
            "bad-request",
            Instant::now(),
        );
    }
}

/// The log line of one request to /verify: never the token.
fn log_request(
    at: i64,
    ip: Option<std::net::IpAddr>,
    method: &Method,
    uri: &Uri,
    status: u16,
    result: &str,
    started: Instant,
) {
    // Formatted first and written with one
    // write(2). `eprintln!` on the unbuffered stderr made a system call for
    // each piece of the format, about ten per request. Still unbuffered:
    // each line is out before the answer, and none is lost at a crash.
    let line = format!(
        "{} {} {method} {} {status} {result} {}us\n",
        output::utc(at),
        ip.map_or("-".into(), |ip| ip.to_string()),
        uri.path(),
        started.elapsed().as_micros()
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `?acl=deploy&acl=read` or `?acl=deploy,read`; `None` when a value is
/// not a privilege or a key is not `acl`: a misspelt `?ACL=admin` must not
/// pass as "no privilege required". The set, and the names as asked.
fn wanted_privileges(query: Option<&str>) -> Option<(Privileges, Vec<String>)> {
    let mut values = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key != "acl" {
            return None;
        }
        values.push(value.into_owned());
    }
    let asked = values::privileges(&values).ok()?;
    Some((Privileges::wanted(&values).ok()?, asked))
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    if app.health.store_answers(&app.verifier.store).await {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n").into_response()
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.verifier.metrics.render(),
    )
        .into_response()
}
