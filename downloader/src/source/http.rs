//! http and https transfers with reqwest: one client per lane (connection reuse, HTTP/2 over TLS),
//! redirects followed here (so that credentials and `--header` stay with the URL's own origin, and
//! https never downgrades), and every reqwest error turned into a classified [`Error`].

use std::error::Error as StdError;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{
    ACCEPT_RANGES, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, LOCATION, RANGE, RETRY_AFTER,
};
use reqwest::{StatusCode, redirect};
use url::Url;

use crate::config::{Config, DEFAULT_CONNECTIONS_PER_FILE};
use crate::error::{Error, Result};
use crate::lanes;
use crate::redact::redact;
use crate::source::reply::{ByteRange, Extent, Reply, parse_content_range, range_header};
use crate::source::tls;

/// How many redirects one request may follow, as curl's `--max-redirs` default of 50 is more
/// than any honest server needs.
const MAX_REDIRECTS: usize = 10;

/// The http(s) clients of a run, one per lane (see [`crate::lanes`]), each made on first use.
#[derive(Clone)]
pub struct HttpClients {
    config: Arc<Config>,
    tls: Arc<rustls::ClientConfig>,
    /// Index `lanes`: the one used outside the lanes.
    clients: Arc<[OnceLock<reqwest::Client>]>,
}

impl HttpClients {
    /// Clients for `lanes` lanes; fails, as a usage error, when `config` cannot make one.
    pub fn new(config: &Config, lanes: usize) -> Result<HttpClients> {
        let tls = Arc::new(tls::client_config(
            config.ca_cert.as_ref().map_or(&[], |ca| &ca.roots),
        )?);
        // Made now so that settings reqwest refuses fail before any transfer; it serves lane 0.
        let first = client(config, &tls)?;
        let clients: Arc<[OnceLock<reqwest::Client>]> =
            (0..=lanes).map(|_| OnceLock::new()).collect();
        let _ = clients[0].set(first);
        Ok(HttpClients {
            config: Arc::new(config.clone()),
            tls,
            clients,
        })
    }

    /// Headers given with `--header`.
    fn headers(&self) -> &reqwest::header::HeaderMap {
        &self.config.headers
    }

    /// The client of the calling thread's lane.
    pub fn current(&self) -> &reqwest::Client {
        let index = lanes::current()
            .unwrap_or(self.clients.len() - 1)
            .min(self.clients.len() - 1);
        self.clients[index].get_or_init(|| {
            client(&self.config, &self.tls)
                .expect("the first client was made from the same settings")
        })
    }
}

/// Builds one client. It follows no redirect itself: [`HttpSource::send`] does.
fn client(config: &Config, tls: &rustls::ClientConfig) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("fetch/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect::Policy::none())
        .connect_timeout(config.connect_timeout)
        .read_timeout(config.idle_timeout)
        .tcp_nodelay(true)
        // Keep enough idle connections for every concurrent file and part to reuse one.
        .pool_max_idle_per_host(
            config.jobs
                * config
                    .connections_per_file
                    .unwrap_or(DEFAULT_CONNECTIONS_PER_FILE),
        )
        // Large windows let one HTTP/2 connection carry several fast streams.
        .http2_adaptive_window(true)
        .tls_backend_preconfigured(tls.clone())
        .build()
        .map_err(|e| Error::Usage(format!("cannot set up https: {}", innermost(&e))))
}

/// One http(s) URL.
#[derive(Clone)]
pub struct HttpSource {
    clients: HttpClients,
    url: Url,
    basic_auth: Option<(String, Option<String>)>,
    idle_timeout: Duration,
}

impl HttpSource {
    /// A source for `url`; `basic_auth`, like `--header`, goes to that URL's origin only.
    pub fn new(
        clients: HttpClients,
        url: Url,
        basic_auth: Option<(String, Option<String>)>,
        idle_timeout: Duration,
    ) -> Self {
        HttpSource {
            clients,
            url,
            basic_auth,
            idle_timeout,
        }
    }

    /// See [`crate::source::Source::get`]: a `Range` request validated with `If-Range`.
    pub async fn get(&self, range: Option<ByteRange>, validator: Option<&str>) -> Result<Reply> {
        let response = self.send(range, validator).await?;
        if response.status().as_u16() == 416 && range.is_some_and(|r| r.start == 0) {
            // Only an empty file has no byte 0: ask for it whole.
            discard(response).await;
            let response = self.send(None, None).await?;
            return self.reply(response).await;
        }
        self.reply(response).await
    }

    /// Sends the request and follows redirects, up to [`MAX_REDIRECTS`]. Credentials and
    /// `--header` go along only while the redirects stay on the URL's own origin (scheme, host and
    /// port), as a redirect can lead anywhere; an https URL never continues over plain http.
    async fn send(
        &self,
        range: Option<ByteRange>,
        validator: Option<&str>,
    ) -> Result<reqwest::Response> {
        let mut url = self.url.clone();
        let mut at_home = true;
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self.clients.current().get(url.clone());
            if let Some(range) = range {
                request = request.header(RANGE, range_header(range));
                if let Some(validator) = validator {
                    request = request.header(IF_RANGE, validator);
                }
            }
            if at_home {
                if let Some((user, pass)) = &self.basic_auth {
                    request = request.basic_auth(user, pass.as_ref());
                }
                // After the URL's user:pass, so that an Authorization header given replaces it.
                let headers = self.clients.headers();
                if !headers.is_empty() {
                    request = request.headers(headers.clone());
                }
            }
            let response = request
                .send()
                .await
                .map_err(|e| classify(&e, &url, self.idle_timeout))?;
            let Some(next) = redirect_target(&url, &response)? else {
                return Ok(response);
            };
            if url.scheme() == "https" && next.scheme() == "http" {
                return Err(Error::RedirectDowngrade(redact(&next)));
            }
            discard(response).await;
            at_home = at_home && next.origin() == self.url.origin();
            url = next;
        }
        Err(Error::TooManyRedirects(MAX_REDIRECTS))
    }

    async fn reply(&self, response: reqwest::Response) -> Result<Reply> {
        let status = response.status();
        let headers = response.headers();
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
        };
        let extent = match status.as_u16() {
            206 => header(CONTENT_RANGE)
                .and_then(parse_content_range)
                .ok_or_else(|| {
                    Error::Protocol("a 206 answer without a usable Content-Range".into())
                })?,
            200..=299 => Extent::Whole {
                len: response.content_length(),
                accepts_ranges: header(ACCEPT_RANGES)
                    .is_some_and(|v| v.eq_ignore_ascii_case("bytes")),
            },
            code => {
                let retry_after = header(RETRY_AFTER).and_then(parse_retry_after);
                let reason = status.canonical_reason().map(String::from);
                discard(response).await;
                return Err(Error::from_status(code, reason, retry_after));
            }
        };
        // A weak ETag cannot validate a range; Last-Modified can, as If-Range allows dates.
        let validator = header(ETAG)
            .filter(|etag| !etag.starts_with("W/"))
            .or_else(|| header(LAST_MODIFIED))
            .map(String::from);
        let (url, idle) = (response.url().clone(), self.idle_timeout);
        let body = response
            .bytes_stream()
            .map_err(move |e| classify(&e, &url, idle))
            .boxed();
        Ok(Reply {
            extent,
            validator,
            body,
        })
    }
}

/// The most of an unwanted body (a redirect's or an error's page) that is read to keep its
/// connection: more costs more than a new connection would.
const DISCARD_LIMIT: u64 = 64 * 1024;

/// Reads an unwanted body to its end, so that its connection goes back to the lane's pool rather
/// than being closed; a body of unknown or larger size than [`DISCARD_LIMIT`] is dropped unread.
/// Errors are of no interest: the connection is then closed, as it would have been anyway.
async fn discard(response: reqwest::Response) {
    if response
        .content_length()
        .is_some_and(|len| len <= DISCARD_LIMIT)
    {
        let _ = response.bytes().await;
        // As in `Source::get`: lets hyper's task put the connection back before the next request.
        tokio::task::yield_now().await;
    }
}

/// Where a redirect answer leads, resolved against `url`; `None` for any other answer (a 3xx
/// without `Location` is then reported as the status it is).
fn redirect_target(url: &Url, response: &reqwest::Response) -> Result<Option<Url>> {
    let follows = matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    let Some(location) = response.headers().get(LOCATION).filter(|_| follows) else {
        return Ok(None);
    };
    let next = location
        .to_str()
        .ok()
        .and_then(|location| url.join(location).ok())
        .ok_or_else(|| Error::Protocol("a redirect whose Location is not a URL".into()))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(Error::Protocol(format!(
            "a redirect to a {} URL, where only http and https are followed",
            next.scheme()
        )));
    }
    Ok(Some(next))
}

/// `Retry-After` is either seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The deepest cause in an error chain: the one that says what actually happened.
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// Maps a reqwest error to our kinds; never includes the URL (it may hold secrets).
fn classify(err: &reqwest::Error, url: &Url, idle: Duration) -> Error {
    let cause = innermost(err);
    let host = url.host_str().unwrap_or("the server");
    if err.is_timeout() {
        return if err.is_connect() {
            Error::Connection(format!("connecting to {host} timed out"))
        } else {
            Error::Stalled(idle)
        };
    }
    // A body only flows after the handshake: its failure is never the certificate's.
    if err.is_body() || err.is_decode() {
        return Error::Connection(format!("the connection broke during the transfer: {cause}"));
    }
    if tls::is_certificate_failure(&cause) {
        return Error::Tls(cause);
    }
    if err.is_connect() {
        return Error::Connection(format!("could not connect to {host}: {cause}"));
    }
    Error::Connection(format!("the request to {host} failed: {cause}"))
}
