//! What a transfer asks of a server, whatever the protocol: "send me these bytes, if the file is
//! still the one I started with". [`Source`] hides whether http or S3 answers.

use bytes::Bytes;
use futures::stream::BoxStream;
use url::{Host, Url};

use crate::error::Result;
use crate::http::HttpSource;
use crate::s3::S3Source;
use crate::verify::StoredChecksum;

/// An inclusive byte range; `end: None` means "to the end of the file".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte wanted.
    pub start: u64,
    /// Last byte wanted, inclusive.
    pub end: Option<u64>,
}

/// Which bytes a reply carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// A range of a file whose full size is known.
    Partial {
        /// First byte in the body.
        start: u64,
        /// Last byte in the body, inclusive.
        end: u64,
        /// Size of the whole file.
        total: u64,
    },
    /// The whole file (the server ignored or was not asked for a range).
    Whole {
        /// Announced size, if any.
        len: Option<u64>,
        /// Whether the server says it serves ranges of this file.
        accepts_ranges: bool,
    },
}

/// A stream of body bytes; errors are already classified.
pub type Body = BoxStream<'static, Result<Bytes>>;

/// A server's answer to [`Source::get`].
pub struct Reply {
    /// Which bytes the body holds.
    pub extent: Extent,
    /// ETag or Last-Modified: proof, on later range requests, that the file did not change.
    pub validator: Option<String>,
    /// The bytes.
    pub body: Body,
}

/// What [`Source::head`] learnt.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// The file's size.
    pub size: Option<u64>,
    /// The checksum stored with it, of its bytes as a whole.
    pub checksum: Option<StoredChecksum>,
    /// The MD5 of its bytes (lower-case hex), when its ETag is one: an S3 object uploaded in one
    /// part without KMS or customer keys (a multipart upload's ETag ends in `-<parts>`).
    pub etag_md5: Option<String>,
}

/// One remote file, reachable over http(s) or S3.
#[derive(Clone)]
pub enum Source {
    /// http or https.
    Http(HttpSource),
    /// An S3 object.
    S3(S3Source),
}

impl Source {
    /// Requests `range` (all of it when `None`), on condition that the file still matches
    /// `validator` when one is given. A server that cannot honour the condition answers with the
    /// whole file, or fails with [`crate::error::Error::Changed`].
    pub async fn get(&self, range: Option<ByteRange>, validator: Option<&str>) -> Result<Reply> {
        // A connection whose last response was just read goes back to its lane's pool in a task
        // of hyper's own. Yielding lets that task run first, so this request reuses the
        // connection instead of opening another: `-j 16` had opened about 32 connections.
        tokio::task::yield_now().await;
        match self {
            Source::Http(source) => source.get(range, validator).await,
            Source::S3(source) => source.get(range, validator).await,
        }
    }

    /// What the server tells before the download, where it shapes the download: S3 answers a
    /// HEAD with the object's size (an object that fits in one part is then asked for whole, as
    /// S3 sends its stored checksum only then) and its full-object checksum (checked once a file
    /// in parts is complete). http's first ranged GET tells the size anyway, so http says nothing.
    /// Fails when the GET that follows would fail the same way (see [`S3Source::head`]).
    pub async fn head(&self) -> Result<Option<Head>> {
        match self {
            Source::Http(_) => Ok(None),
            Source::S3(source) => source.head().await,
        }
    }

    /// Whether the server runs on this machine, where its work and ours share the same cores.
    pub fn on_this_host(&self) -> bool {
        match self {
            Source::Http(source) => source.on_this_host(),
            Source::S3(source) => source.on_this_host(),
        }
    }
}

/// Whether `url` names this machine: a loopback address, `localhost` or a name under it.
pub fn is_this_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => {
            // Parsing already lowercased the host of an http(s) URL.
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

/// Parses `bytes START-END/TOTAL` (the Content-Range of a 206 answer).
pub fn parse_content_range(value: &str) -> Option<Extent> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end, total) = (
        start.trim().parse().ok()?,
        end.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (start <= end && end < total).then_some(Extent::Partial { start, end, total })
}

/// The value of a `Range` header for `range`.
pub fn range_header(range: ByteRange) -> String {
    match range.end {
        Some(end) => format!("bytes={}-{end}", range.start),
        None => format!("bytes={}-", range.start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_is_loopback_or_localhost() {
        let local = |url: &str| is_this_host(&Url::parse(url).unwrap());
        for url in [
            "http://127.0.0.1:8080/a",
            "http://127.9.9.9/a",
            "http://[::1]:9000/",
            "https://localhost/a",
            "http://LocalHost./a",
            "http://minio.localhost:9000/",
        ] {
            assert!(local(url), "{url} is this machine");
        }
        for url in [
            "https://example.com/a",
            "http://10.0.0.5/a",
            "http://[2001:db8::1]/",
            "http://localhost.example.com/",
            "http://notlocalhost/",
        ] {
            assert!(!local(url), "{url} is another machine");
        }
    }

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 0-99/1000"),
            Some(Extent::Partial {
                start: 0,
                end: 99,
                total: 1000
            })
        );
        assert_eq!(parse_content_range("bytes 0-99/*"), None);
        assert_eq!(parse_content_range("bytes 100-99/1000"), None);
        assert_eq!(parse_content_range("bytes 0-1000/1000"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn range_headers() {
        assert_eq!(
            range_header(ByteRange {
                start: 5,
                end: Some(9)
            }),
            "bytes=5-9"
        );
        assert_eq!(
            range_header(ByteRange {
                start: 5,
                end: None
            }),
            "bytes=5-"
        );
    }
}
