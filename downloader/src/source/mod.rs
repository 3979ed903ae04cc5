//! What a transfer asks of a server, whatever the protocol: "send me these bytes, if the file is
//! still the one I started with". [`Source`] hides whether http or S3 answers.

pub mod cause;
pub mod credentials;
pub mod http;
pub mod reply;
pub mod s3;
pub mod tls;

use crate::error::Result;
use crate::source::http::HttpSource;
use crate::source::reply::{ByteRange, Head, Reply};
use crate::source::s3::S3Source;

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
}
