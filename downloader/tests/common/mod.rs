//! What every integration test shares: real servers on 127.0.0.1 with a free port (an HTTP/HTTPS
//! server whose behaviour each route sets, and an S3-compatible server), and a way to run the real
//! `fetch` binary with a scrubbed environment.

#![allow(dead_code)] // Each test file uses its own subset.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// How one path of the test server behaves.
#[derive(Clone, Default)]
pub struct Route {
    /// The file's bytes.
    pub body: Bytes,
    /// Serve `Range` requests (and honour `If-Range` against the ETag).
    pub ranges: bool,
    /// Strong ETag sent with the file.
    pub etag: Option<String>,
    /// Answer this many requests with 503 first.
    pub fail_first: usize,
    /// `Retry-After` sent with those 503s.
    pub retry_after: Option<String>,
    /// Cut this many responses off after `cut_after` body bytes (the connection drops).
    pub cuts: usize,
    /// Where the cut happens, counted from the start of the response body.
    pub cut_after: usize,
    /// After `stall_after` body bytes, send nothing more, ever.
    pub stall_after: Option<usize>,
    /// Answer with this status and a short page instead of the file (404, 403, ...).
    pub status: Option<u16>,
    /// Redirect (302) to this URL.
    pub location: Option<String>,
    /// Wait this long before answering each request, as a distant server would.
    pub latency: Duration,
    /// The first requests answered without `latency`.
    pub fast_first: usize,
    /// Once the file has been answered, it is replaced by these bytes (a file changed in place).
    pub changes_to: Option<Bytes>,
    /// Send the file without Content-Length (chunked), as a server streaming it does.
    pub no_length: bool,
    /// Send each answer's body at this many bytes a second at most (0: as fast as it goes), as
    /// nginx's `limit_rate` does.
    pub rate: u64,
}

impl Route {
    /// A plain file with range support and an ETag.
    pub fn file(body: impl Into<Bytes>) -> Route {
        let body = body.into();
        Route {
            etag: Some(format!("\"{}\"", body.len())),
            body,
            ranges: true,
            ..Route::default()
        }
    }

    /// A file served whole only: no ranges, no validator.
    pub fn no_ranges(body: impl Into<Bytes>) -> Route {
        Route {
            body: body.into(),
            ..Route::default()
        }
    }
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: Vec<Hit>,
    /// Per path: the requests waiting for their answer.
    waiting: HashMap<String, Waiting>,
}

/// Requests waiting for their answer now, and the most that ever did at once: how many the client
/// had in flight together, when the server answers slowly enough for them to overlap.
#[derive(Clone, Default)]
struct Waiting(Arc<Mutex<(usize, usize)>>);

impl Waiting {
    /// Counts one request as waiting while `answer` runs.
    async fn during<T>(&self, answer: impl std::future::Future<Output = T>) -> T {
        {
            let mut counts = self.0.lock().unwrap();
            counts.0 += 1;
            counts.1 = counts.1.max(counts.0);
        }
        let answered = answer.await;
        self.0.lock().unwrap().0 -= 1;
        answered
    }

    fn most(&self) -> usize {
        self.0.lock().unwrap().1
    }
}

/// An HTTP/1.1 and HTTP/2 server on 127.0.0.1, optionally over TLS with a CA made for the test.
pub struct HttpServer {
    pub addr: SocketAddr,
    scheme: &'static str,
    state: Arc<Mutex<State>>,
    /// Connections accepted so far.
    connections: Arc<AtomicUsize>,
    /// PEM of the CA that signed the server's certificate (TLS servers only).
    pub ca_pem: Option<String>,
}

impl HttpServer {
    /// A plain http server.
    pub async fn start() -> HttpServer {
        Self::launch(None).await
    }

    /// An https server whose certificate (for 127.0.0.1 and localhost) a fresh test CA signed.
    pub async fn start_tls() -> HttpServer {
        let (acceptor, ca_pem) = test_support::tls_acceptor("fetch test CA");
        let mut server = Self::launch(Some(acceptor)).await;
        server.ca_pem = Some(ca_pem);
        server
    }

    /// As [`HttpServer::start_tls`], speaking HTTP/1.1 only.
    pub async fn start_tls_http1() -> HttpServer {
        let (acceptor, ca_pem) = test_support::tls_acceptor_for("fetch test CA", &[b"http/1.1"]);
        let mut server = Self::launch(Some(acceptor)).await;
        server.ca_pem = Some(ca_pem);
        server
    }

    async fn launch(tls: Option<tokio_rustls::TlsAcceptor>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let service = hyper::service::service_fn(move |req| {
            let state = shared.clone();
            async move { Ok::<_, Infallible>(answer(&state, req).await) }
        });
        serve(listener, tls, service, accepted);
        HttpServer {
            addr,
            scheme,
            state,
            connections,
            ca_pem: None,
        }
    }

    /// Sets how `path` behaves.
    pub fn route(&self, path: &str, route: Route) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    /// The URL of `path` on this server (by IP address).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path)
    }

    /// The most requests for `path` that waited for their answer at the same time: how many
    /// the client had in flight at once, for a route with a `latency`.
    pub fn most_at_once(&self, path: &str) -> usize {
        let state = self.state.lock().unwrap();
        state.waiting.get(path).map_or(0, Waiting::most)
    }

    /// How many connections clients have opened to this server.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The requests `path` received, in order.
    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.state
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }
}

/// An answer without the file: an HTML page, as servers send with their redirects and errors. Its
/// 12 KiB, as a styled error page can have, are more than a client's first read of the answer
/// (hyper's is 8 KiB), so a client that drops the page unread also loses the connection.
fn status_page(status: u16) -> Response<Body> {
    let filler = "<!-- styling -->".repeat(750);
    let page = format!("<html><body><h1>{status}</h1>{filler}</body></html>\n");
    let len = page.len();
    let mut response = Response::new(
        http_body_util::Full::new(Bytes::from(page))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("content-length", HeaderValue::from(len));
    response
}

/// Answers `req` after its route's latency, counting it as waiting meanwhile.
async fn answer(state: &Mutex<State>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let (latency, waiting) = {
        let mut state = state.lock().unwrap();
        let earlier = state.hits.iter().filter(|hit| hit.path == path).count();
        let latency = state
            .routes
            .get(&path)
            .filter(|r| earlier >= r.fast_first)
            .map(|r| r.latency);
        let waiting = state.waiting.entry(path).or_default().clone();
        (latency.unwrap_or_default(), waiting)
    };
    waiting
        .during(async {
            tokio::time::sleep(latency).await;
            handle(state, req)
        })
        .await
}

fn handle(state: &Mutex<State>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let mut state = state.lock().unwrap();
    state.hits.push(Hit {
        path: path.clone(),
        headers: req.headers().clone(),
    });
    let Some(route) = state.routes.get_mut(&path) else {
        return status_page(404);
    };
    if let Some(status) = route.status {
        return status_page(status);
    }
    if let Some(location) = &route.location {
        let mut response = status_page(302);
        response
            .headers_mut()
            .insert("location", HeaderValue::from_str(location).unwrap());
        return response;
    }
    if route.fail_first > 0 {
        route.fail_first -= 1;
        let mut response = status_page(503);
        if let Some(after) = &route.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_str(after).unwrap());
        }
        return response;
    }
    let len = route.body.len() as u64;
    let if_range_ok = match req.headers().get("if-range") {
        Some(v) => route
            .etag
            .as_deref()
            .is_some_and(|e| v.to_str().ok() == Some(e)),
        None => true,
    };
    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .filter(|_| route.ranges && if_range_ok)
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .map(|(a, b)| {
            let start: u64 = a.parse().unwrap();
            let end: u64 = if b.is_empty() {
                len.saturating_sub(1)
            } else {
                b.parse::<u64>().unwrap().min(len.saturating_sub(1))
            };
            (start, end)
        });
    let (status, slice) = match range {
        Some((start, _)) if start >= len => return status_page(416),
        Some((start, end)) => (206, route.body.slice(start as usize..=end as usize)),
        None => (200, route.body.clone()),
    };
    if let Some(next) = route.changes_to.take() {
        route.body = next;
    }
    let cut = if route.cuts > 0 {
        route.cuts -= 1;
        Some(route.cut_after)
    } else {
        None
    };
    let stall = route.stall_after;
    let rate = route.rate;
    let mut response = Response::new(body_stream(slice.clone(), cut, stall, rate));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    let headers = response.headers_mut();
    if !route.no_length {
        headers.insert("content-length", HeaderValue::from(slice.len() as u64));
    }
    if route.ranges {
        headers.insert("accept-ranges", HeaderValue::from_static("bytes"));
    }
    if let Some(etag) = &route.etag {
        headers.insert("etag", HeaderValue::from_str(etag).unwrap());
    }
    if let Some((start, end)) = range {
        headers.insert(
            "content-range",
            HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")).unwrap(),
        );
    }
    response
}

/// The body in 16 KiB frames, at most `rate` bytes a second unless 0; cut off with an error after
/// `cut` bytes, or stalled forever after `stall` bytes.
fn body_stream(data: Bytes, cut: Option<usize>, stall: Option<usize>, rate: u64) -> Body {
    use futures::StreamExt;
    const FRAME: usize = 16 * 1024;
    let limit = cut.or(stall).unwrap_or(data.len()).min(data.len());
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = (0..limit)
        .step_by(FRAME)
        .map(|at| Ok(Frame::data(data.slice(at..(at + FRAME).min(limit)))))
        .collect();
    let pace = (rate > 0).then(|| Duration::from_secs_f64(FRAME as f64 / rate as f64));
    let head = futures::stream::iter(frames).then(move |frame| async move {
        if let Some(pace) = pace {
            tokio::time::sleep(pace).await;
        }
        frame
    });
    let tail: futures::stream::BoxStream<'static, Result<Frame<Bytes>, std::io::Error>> =
        if cut.is_some() {
            Box::pin(futures::stream::once(async {
                // Give the client the bytes before the cut, then drop the connection.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "cut by the test",
                ))
            }))
        } else if stall.is_some() {
            Box::pin(futures::stream::pending())
        } else {
            Box::pin(futures::stream::empty())
        };
    BodyExt::boxed_unsync(StreamBody::new(head.chain(tail)))
}

/// What a test server's connection reads and writes: plain TCP or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// An accepted connection, after the TLS handshake when `tls` is given (`None` if it failed).
async fn accept(
    stream: tokio::net::TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Option<Box<dyn Io>> {
    match tls {
        Some(acceptor) => Some(Box::new(acceptor.accept(stream).await.ok()?)),
        None => Some(Box::new(stream)),
    }
}

/// Serves each connection `listener` accepts with `service` (after a TLS handshake when `tls` is
/// given), counting them in `accepted`.
fn serve<S, B>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    service: S,
    accepted: Arc<AtomicUsize>,
) where
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            accepted.fetch_add(1, Ordering::SeqCst);
            let service = service.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                if let Some(io) = accept(stream, tls).await {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                }
            });
        }
    });
}

/// The instance role [`ImdsServer`] hands out.
pub const ROLE: &str = "fetch-test-role";

/// An instance metadata service (IMDSv2) on 127.0.0.1 whose role's credentials are the S3 test
/// server's keys. Its port is chosen at once but answers only from [`ImdsServer::serve`] on:
/// until then connections to it are refused, as on an instance that is still booting.
pub struct ImdsServer {
    pub addr: SocketAddr,
    /// `METHOD PATH` of each request, in arrival order.
    requests: Arc<Mutex<Vec<String>>>,
}

impl ImdsServer {
    /// Takes a free port and closes it again.
    pub fn reserve() -> ImdsServer {
        ImdsServer {
            addr: closed_port(),
            requests: Arc::default(),
        }
    }

    /// What `AWS_EC2_METADATA_SERVICE_ENDPOINT` is set to.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts answering on the reserved port.
    pub async fn serve(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        let requests = self.requests.clone();
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let requests = requests.clone();
            async move { Ok::<_, Infallible>(imds_answer(&requests, &req)) }
        });
        serve(listener, None, service, Arc::default());
    }

    /// `METHOD PATH` of each request so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// An address on 127.0.0.1 where nothing listens: connections to it are refused.
pub fn closed_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A server on 127.0.0.1 that accepts connections and reads the requests, but never answers, as
/// an endpoint that hangs.
pub struct Unanswering {
    pub addr: SocketAddr,
    /// `METHOD PATH` of each request, in arrival order.
    requests: Arc<Mutex<Vec<String>>>,
}

impl Unanswering {
    pub async fn start() -> Unanswering {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncBufReadExt;
                    let mut lines = tokio::io::BufReader::new(stream).lines();
                    // Held open, unanswered, until the client gives up.
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(request) = line.strip_suffix(" HTTP/1.1") {
                            seen.lock().unwrap().push(request.to_string());
                        }
                    }
                });
            }
        });
        Unanswering { addr, requests }
    }

    /// `http://ADDR`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `METHOD PATH` of each request so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The session token [`ImdsServer`] issues and expects.
const IMDS_TOKEN: &str = "fetch-test-imds-token";

/// IMDSv2's answers: a session token for a PUT that asks for one (its TTL echoed, which the SDK
/// requires), then, with that token, the role's name and its credentials.
fn imds_answer(
    requests: &Mutex<Vec<String>>,
    req: &Request<hyper::body::Incoming>,
) -> Response<Body> {
    let path = req.uri().path();
    requests
        .lock()
        .unwrap()
        .push(format!("{} {path}", req.method()));
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let text = |status: u16, body: String| {
        let mut response = Response::new(
            http_body_util::Full::new(Bytes::from(body))
                .map_err(|e| match e {})
                .boxed_unsync(),
        );
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        response
    };
    const TTL: &str = "x-aws-ec2-metadata-token-ttl-seconds";
    if path == "/latest/api/token" {
        return match (req.method(), header(TTL)) {
            (&hyper::Method::PUT, Some(ttl)) => {
                let mut response = text(200, IMDS_TOKEN.into());
                response
                    .headers_mut()
                    .insert(TTL, HeaderValue::from_str(ttl).unwrap());
                response
            }
            _ => text(400, String::new()),
        };
    }
    if header("x-aws-ec2-metadata-token") != Some(IMDS_TOKEN) {
        return text(401, String::new());
    }
    let credentials = "/latest/meta-data/iam/security-credentials/";
    match path.strip_prefix(credentials) {
        Some("") => text(200, ROLE.into()),
        Some(role) if role == ROLE => text(
            200,
            serde_json::json!({
                "Code": "Success",
                "LastUpdated": "2026-01-01T00:00:00Z",
                "Type": "AWS-HMAC",
                "AccessKeyId": ACCESS_KEY,
                "SecretAccessKey": SECRET_KEY,
                "Token": "fetch-test-session-token",
                "Expiration": "2099-01-01T00:00:00Z",
            })
            .to_string(),
        ),
        _ => text(404, String::new()),
    }
}

/// Requests as the S3 test server saw them: path and `Range` header.
type SeenRanges = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The keys the S3 test server accepts.
pub const ACCESS_KEY: &str = "AKIDFETCHTEST";
pub const SECRET_KEY: &str = "fetch-test-secret";

/// An S3-compatible server (s3s-fs) on 127.0.0.1, storing objects in a temporary directory.
pub struct S3Server {
    pub endpoint: String,
    /// PEM of the CA that signed the server's certificate (TLS servers only).
    pub ca_pem: Option<String>,
    waiting: Waiting,
    /// Every GET's path and `Range` header, in arrival order.
    ranges: SeenRanges,
    /// `METHOD PATH` of every request, in arrival order.
    requests: Arc<Mutex<Vec<String>>>,
    /// How many more GETs of an object are answered with `refusal` instead, as S3 throttles.
    throttled: Arc<AtomicUsize>,
    /// The status and error code of a throttled answer.
    refusal: Arc<Mutex<(u16, &'static str)>>,
    /// The wait before each answer, in milliseconds.
    latency: Arc<AtomicU64>,
    /// How many more GETs of an object are answered; the ones after are never answered.
    answered: Arc<AtomicUsize>,
    /// The region the buckets live in, once set, and how a request signed for another is answered.
    region: Arc<Mutex<Option<(String, RegionAnswer)>>>,
    /// Requester Pays buckets: S3 refuses a request to them that does not say
    /// `x-amz-request-payer: requester` (s3s-fs has no such setting).
    requester_pays: Arc<Mutex<Vec<String>>>,
    root: tempfile::TempDir,
}

impl S3Server {
    /// A plain http endpoint.
    pub async fn start() -> S3Server {
        Self::launch(None, Duration::ZERO).await
    }

    /// A plain http endpoint that waits `latency` before answering each request.
    pub async fn start_slow(latency: Duration) -> S3Server {
        Self::launch(None, latency).await
    }

    /// An https endpoint whose certificate a fresh test CA signed.
    pub async fn start_tls() -> S3Server {
        let (acceptor, ca_pem) = test_support::tls_acceptor("fetch test CA");
        let mut server = Self::launch(Some(acceptor), Duration::ZERO).await;
        server.ca_pem = Some(ca_pem);
        server
    }

    /// The `Range` header of each GET of `path` (`/bucket/key`), in arrival order.
    pub fn ranges(&self, path: &str) -> Vec<Option<String>> {
        let ranges = self.ranges.lock().unwrap();
        ranges
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, range)| range.clone())
            .collect()
    }

    /// `METHOD PATH` of every request so far, listings included.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits `latency` before each answer from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.latency
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    /// Puts every bucket in `region` from now on: a request signed for another region gets
    /// `answer`, naming the region in `x-amz-bucket-region` (a HEAD's answer has only that header).
    pub fn move_buckets_to(&self, region: &str, answer: RegionAnswer) {
        *self.region.lock().unwrap() = Some((region.to_string(), answer));
    }

    /// Answers the next `gets` GETs of an object, and never any after them: the connection stays
    /// open and silent, as a server that stalls.
    pub fn stall_gets_after(&self, gets: usize) {
        self.answered.store(gets, Ordering::SeqCst);
    }

    /// Answers the next `gets` GETs of an object with S3's `503 SlowDown` instead of the object.
    pub fn throttle(&self, gets: usize) {
        self.throttle_with(gets, 503, "SlowDown");
    }

    /// Answers the next `gets` GETs of an object with `status` and the error `code`, as other
    /// S3-compatible stores throttle (`400 Throttling`, ...).
    pub fn throttle_with(&self, gets: usize, status: u16, code: &'static str) {
        *self.refusal.lock().unwrap() = (status, code);
        self.throttled.store(gets, Ordering::SeqCst);
    }

    /// Makes `bucket` a Requester Pays bucket from now on: requests that do not agree to pay are
    /// answered `403 AccessDenied`, as S3 answers them.
    pub fn require_requester_pays(&self, bucket: &str) {
        self.requester_pays.lock().unwrap().push(bucket.to_string());
    }

    /// Where s3s-fs keeps an object's bytes, to change them behind the server's back.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// The most requests that waited for their answer at once (see [`Self::start_slow`]).
    pub fn most_at_once(&self) -> usize {
        self.waiting.most()
    }

    async fn launch(tls: Option<tokio_rustls::TlsAcceptor>, latency: Duration) -> S3Server {
        let root = tempfile::tempdir().unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let waiting = Waiting::default();
        let counted = waiting.clone();
        let ranges: SeenRanges = Arc::default();
        let seen = ranges.clone();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let asked = requests.clone();
        let throttled = Arc::new(AtomicUsize::new(0));
        let throttle = throttled.clone();
        let refusal = Arc::new(Mutex::new((503, "SlowDown")));
        let refuse = refusal.clone();
        let latency = Arc::new(AtomicU64::new(latency.as_millis() as u64));
        let wait = latency.clone();
        let answered = Arc::new(AtomicUsize::new(usize::MAX));
        let answer_left = answered.clone();
        let region: Arc<Mutex<Option<(String, RegionAnswer)>>> = Arc::default();
        let bucket_region = region.clone();
        let requester_pays: Arc<Mutex<Vec<String>>> = Arc::default();
        let pays = requester_pays.clone();
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            asked
                .lock()
                .unwrap()
                .push(format!("{} {}", req.method(), req.uri().path()));
            let mut slow_down = None;
            let mut stall = false;
            // `/bucket/key`: an object, not a bucket's listing.
            let object = req.uri().path().trim_matches('/').contains('/');
            if req.method() == hyper::Method::GET {
                let range = req.headers().get("range").and_then(|v| v.to_str().ok());
                seen.lock()
                    .unwrap()
                    .push((req.uri().path().to_string(), range.map(String::from)));
                let throttled = object
                    && throttle
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                slow_down = throttled.then(|| *refuse.lock().unwrap());
                stall = object
                    && answer_left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_err();
            }
            let service = service.clone();
            let waiting = counted.clone();
            let latency = Duration::from_millis(wait.load(Ordering::SeqCst));
            let elsewhere = bucket_region
                .lock()
                .unwrap()
                .clone()
                .filter(|(region, _)| signed_region(&req).as_deref() != Some(region.as_str()));
            let head = req.method() == hyper::Method::HEAD;
            let bucket = req.uri().path().trim_start_matches('/');
            let bucket = bucket.split('/').next().unwrap_or_default();
            let unpaid = pays.lock().unwrap().iter().any(|b| b == bucket)
                && req
                    .headers()
                    .get("x-amz-request-payer")
                    .is_none_or(|v| v != "requester");
            async move {
                if let Some((region, answer)) = elsewhere {
                    return Ok(wrong_region(&region, answer, head));
                }
                if unpaid {
                    return Ok(error_answer(
                        403,
                        "AccessDenied",
                        "Access Denied: the bucket is Requester Pays",
                    ));
                }
                if let Some((status, code)) = slow_down {
                    return Ok(throttled_answer(status, code));
                }
                if stall {
                    std::future::pending::<()>().await;
                }
                waiting
                    .during(async {
                        tokio::time::sleep(latency).await;
                        hyper::service::Service::call(&service, req).await
                    })
                    .await
            }
        });
        serve(listener, tls, service, Arc::default());
        S3Server {
            endpoint: format!("{scheme}://{addr}"),
            ca_pem: None,
            waiting,
            ranges,
            requests,
            throttled,
            refusal,
            latency,
            answered,
            region,
            requester_pays,
            root,
        }
    }

    /// An SDK client with the right keys (trusting the test CA), for setting up buckets and objects.
    pub fn client(&self) -> aws_sdk_s3::Client {
        use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
        let trust = match &self.ca_pem {
            Some(pem) => TrustStore::empty().with_pem_certificate(pem.as_bytes()),
            None => TrustStore::empty(),
        };
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(
                TlsContext::builder()
                    .with_trust_store(trust)
                    .build()
                    .unwrap(),
            )
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn put(&self, bucket: &str, key: &str, body: impl Into<Bytes>) {
        self.put_with(self.client(), bucket, key, body).await;
    }

    /// Uploads as older clients did, with no checksum for S3 to store: only its ETag (the MD5 of
    /// a single part) describes the object's bytes.
    pub async fn put_without_checksum(&self, bucket: &str, key: &str, body: impl Into<Bytes>) {
        let config = self
            .client()
            .config()
            .to_builder()
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .build();
        self.put_with(aws_sdk_s3::Client::from_conf(config), bucket, key, body)
            .await;
    }

    async fn put_with(
        &self,
        client: aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        body: impl Into<Bytes>,
    ) {
        let _ = client.create_bucket().bucket(bucket).send().await;
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.into()))
            .send()
            .await
            .unwrap();
    }
}

/// The region a SigV4 request was signed for: `Credential=KEY/DATE/REGION/s3/aws4_request`.
fn signed_region(req: &Request<hyper::body::Incoming>) -> Option<String> {
    let auth = req.headers().get("authorization")?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?;
    scope.split('/').nth(2).map(String::from)
}

/// How S3 answers a request for a bucket in another region, naming the bucket's region.
#[derive(Debug, Clone, Copy)]
pub enum RegionAnswer {
    /// `400 AuthorizationHeaderMalformed`: the request reached the bucket's regional endpoint,
    /// signed for another region.
    Malformed,
    /// `301 PermanentRedirect`: the request went to another region's endpoint.
    Redirect,
}

/// S3's answer to a request for a bucket in `region`, signed for another: a HEAD gets no body,
/// anything else the error document.
fn wrong_region(region: &str, answer: RegionAnswer, head: bool) -> s3s::HttpResponse {
    let (status, code, message, detail) = match answer {
        RegionAnswer::Malformed => (
            StatusCode::BAD_REQUEST,
            "AuthorizationHeaderMalformed",
            format!("The authorization header is malformed; expecting '{region}'"),
            format!("<Region>{region}</Region>"),
        ),
        RegionAnswer::Redirect => (
            StatusCode::MOVED_PERMANENTLY,
            "PermanentRedirect",
            "The bucket you are attempting to access must be addressed using the specified endpoint."
                .to_string(),
            format!("<Endpoint>s3.{region}.amazonaws.com</Endpoint>"),
        ),
    };
    let body = if head {
        String::new()
    } else {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>{message}</Message>{detail}<RequestId>T2</RequestId></Error>"
        )
    };
    let mut response = Response::new(s3s::Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "x-amz-bucket-region",
        HeaderValue::from_str(region).unwrap(),
    );
    headers.insert("content-type", HeaderValue::from_static("application/xml"));
    response
}

/// A store's answer to a client that should slow down: `status` with the error document naming
/// `code` (S3's is 503 `SlowDown`).
fn throttled_answer(status: u16, code: &str) -> s3s::HttpResponse {
    error_answer(status, code, "Please reduce your request rate.")
}

/// An S3 error document with `status`, `code` and `message`.
fn error_answer(status: u16, code: &str, message: &str) -> s3s::HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>T1</RequestId></Error>"
    );
    let mut response = Response::new(s3s::Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/xml"));
    response
}

/// Deterministic pseudo-random bytes, so a misplaced range shows as a mismatch.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut x = seed as u32 | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The `fetch` binary with an environment holding nothing of the machine's: no AWS settings, no
/// CA bundle variables, a temporary HOME.
pub fn fetch(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fetch"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

/// A temporary HOME, the output directory in it (not yet made), and `fetch -q -o OUT -u` waiting
/// for its URLs: the start of most tests.
pub fn quiet_fetch() -> (tempfile::TempDir, PathBuf, Command) {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let mut command = fetch(home.path());
    command.args(["-q", "-o", out.to_str().unwrap(), "-u"]);
    (home, out, command)
}

/// `fetch` set up for the S3 test server with the right (or given) keys.
pub fn fetch_s3(home: &Path, s3: &S3Server, secret: &str) -> Command {
    fetch_s3_at(home, &s3.endpoint, secret)
}

/// `fetch` set up for an S3 endpoint with the test server's access key and `secret`.
pub fn fetch_s3_at(home: &Path, endpoint: &str, secret: &str) -> Command {
    let mut command = fetch(home);
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .args(["--endpoint-url", endpoint]);
    command
}

/// A temporary HOME with an output directory in it, from which a test runs fetch against `s3`
/// with the test credentials.
pub struct Fetcher<'a> {
    s3: &'a S3Server,
    pub home: tempfile::TempDir,
    /// The output directory (not yet made).
    pub out: PathBuf,
}

impl<'a> Fetcher<'a> {
    pub fn new(s3: &'a S3Server) -> Self {
        let home = tempfile::tempdir().unwrap();
        let out = home.path().join("out");
        Fetcher { s3, home, out }
    }

    /// `fetch FLAGS... -o OUT -u URLS...`.
    pub fn command(&self, flags: &[&str], urls: &[&str]) -> Command {
        let mut command = fetch_s3(self.home.path(), self.s3, SECRET_KEY);
        command
            .args(flags)
            .arg("-o")
            .arg(&self.out)
            .arg("-u")
            .args(urls);
        command
    }

    pub async fn run(&self, flags: &[&str], urls: &[&str]) -> Output {
        run(self.command(flags, urls)).await
    }
}

/// Runs a command off the async runtime and returns its output.
pub async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Output as text, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts the exit code, showing the whole output when it differs.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", describe(output));
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The files in a directory (recursively, relative paths), helper files included.
pub fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    fn walk(base: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, found);
            } else {
                found.push(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    walk(dir, dir, &mut found);
    found.sort();
    found
}
