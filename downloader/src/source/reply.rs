//! What a transfer asks of a server and what the answer holds, the same for every protocol: byte
//! ranges, the extent and validator of a reply, and what a HEAD learns.

use aws_smithy_checksums::ChecksumAlgorithm;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::Result;

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

/// A server's answer to [`crate::source::Source::get`].
pub struct Reply {
    /// Which bytes the body holds.
    pub extent: Extent,
    /// ETag or Last-Modified: proof, on later range requests, that the file did not change.
    pub validator: Option<String>,
    /// The bytes.
    pub body: Body,
}

/// A checksum S3 stored with an object, of the object's bytes as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChecksum {
    /// How it is computed.
    pub algorithm: ChecksumAlgorithm,
    /// Its value, base64 as S3 shows it.
    pub expected: String,
    /// The ETag of the object version it belongs to: a file downloaded from another version (the
    /// object was replaced between the HEAD and the first GET) is not checked against it.
    pub etag: Option<String>,
}

impl StoredChecksum {
    /// The algorithm's name as S3 writes it (`crc32`, `crc64nvme`, `sha256`, ...).
    pub fn name(&self) -> &'static str {
        self.algorithm.as_str()
    }

    /// Whether it describes the version whose bytes were downloaded (`validator` is that
    /// download's ETag).
    pub fn belongs_to(&self, validator: Option<&str>) -> bool {
        self.etag.is_some() && self.etag.as_deref() == validator
    }
}

/// What [`crate::source::Source::head`] learnt.
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
