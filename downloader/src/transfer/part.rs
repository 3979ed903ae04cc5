//! One part of a file, from its request to its place on disk: a validated range request, the
//! body streamed into the file in batched positioned writes, and retries that continue where the
//! part stopped.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use bytes::Bytes;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::progress::JobProgress;
use crate::source::Source;
use crate::source::reply::{Body, ByteRange, Extent};
use crate::stop::Stop;
use crate::transfer::layout::{Layout, Part};
use crate::transfer::retry::{backoff, delay_before_retry, pause};
use crate::transfer::settings::Settings;

/// Bytes gathered before one positioned write: few enough system calls to keep up with a fast
/// link, small enough that many parts in flight keep memory low.
const WRITE_BATCH: usize = 256 * 1024;

/// Everything a part needs, shareable with a spawned task.
pub(crate) struct PartWorker {
    pub(crate) source: Source,
    pub(crate) file: Arc<File>,
    /// The file's path, for error messages.
    pub(crate) partial: Arc<Path>,
    pub(crate) layout: Arc<Layout>,
    pub(crate) settings: Settings,
    pub(crate) progress: JobProgress,
    pub(crate) stop: Stop,
    /// Fired when another part of the same file failed for good.
    pub(crate) siblings_failed: CancellationToken,
    /// Transient failures retried so far, by every part of the file.
    pub(crate) retries: Arc<AtomicU32>,
}

impl PartWorker {
    /// Brings part `index` to completion, retrying transient failures from where it stopped.
    pub(crate) async fn run(&self, index: usize, body: Option<Body>) -> Result<()> {
        let part = &self.layout.parts[index];
        let mut body = body;
        let mut delays = backoff(self.settings.retries);
        loop {
            let attempt = async {
                let mut stream = match body.take() {
                    Some(stream) => stream,
                    None => self.stop.unless_stopped(self.open(part)).await?,
                };
                self.pump(part, &mut stream).await?;
                match part.len() {
                    Some(len) if part.done() != len => Err(Error::Truncated {
                        expected: len,
                        got: part.done(),
                    }),
                    _ => Ok(()),
                }
            };
            let err = match attempt.await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            let Some(delay) = delay_before_retry(&err, &mut delays, &self.retries) else {
                return Err(err);
            };
            tracing::info!(
                part = index,
                offset = part.start + part.done(),
                ?delay,
                "retrying part: {err}"
            );
            pause(&self.stop, delay).await?;
        }
    }

    /// Requests what part still lacks: a validated range when the file allows it, else all of it
    /// again from the start.
    async fn open(&self, part: &Part) -> Result<Body> {
        if !self.layout.ranged {
            let reply = self.source.get(None, None).await?;
            match reply.extent {
                // A size the answer does not tell is checked as the bytes arrive.
                Extent::Whole { len, .. }
                    if len == self.layout.total || len.is_none() || self.layout.total.is_none() =>
                {
                    self.progress.sub(part.restart());
                    return Ok(reply.body);
                }
                _ => return Err(Error::Changed),
            }
        }
        let offset = part.start + part.done();
        tracing::debug!(start = offset, end = part.end, "requesting a range");
        let range = ByteRange {
            start: offset,
            end: part.end,
        };
        let reply = self
            .source
            .get(Some(range), self.layout.validator.as_deref())
            .await?;
        match reply.extent {
            Extent::Partial { start, total, .. }
                if start == offset && Some(total) == self.layout.total =>
            {
                Ok(reply.body)
            }
            // A whole file in answer to a validated range: it is not the file we started.
            Extent::Whole { .. } => Err(Error::Changed),
            Extent::Partial { total, .. } if Some(total) != self.layout.total => {
                Err(Error::Changed)
            }
            Extent::Partial { start, .. } => Err(Error::Protocol(format!(
                "asked for bytes from {offset}, got bytes from {start}"
            ))),
        }
    }

    /// Streams a body into the part's place in the file, in batched positioned writes.
    async fn pump(&self, part: &Part, body: &mut Body) -> Result<()> {
        let idle = self.settings.idle_timeout;
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batched = 0usize;
        loop {
            let next = tokio::select! {
                biased;
                _ = self.stop.stopped() => {
                    self.flush(part, &mut batch, &mut batched)?;
                    return Err(self.stop.error());
                }
                _ = self.siblings_failed.cancelled() => {
                    self.flush(part, &mut batch, &mut batched)?;
                    return Err(Error::Other("stopped because another part of the file failed".into()));
                }
                next = tokio::time::timeout(idle, body.next()) => next,
            };
            match next {
                Err(_) => {
                    self.flush(part, &mut batch, &mut batched)?;
                    return Err(Error::Stalled(idle));
                }
                Ok(None) => return self.flush(part, &mut batch, &mut batched),
                Ok(Some(Err(err))) => {
                    self.flush(part, &mut batch, &mut batched)?;
                    return Err(err);
                }
                Ok(Some(Ok(chunk))) => {
                    if let Some(max) = self.settings.max_filesize
                        && part.start + part.done() + (batched + chunk.len()) as u64 > max
                    {
                        return Err(Error::GrewTooLarge(max));
                    }
                    if let Some(rate) = &self.settings.rate {
                        let taken = self.stop.unless_stopped(async {
                            rate.take(chunk.len() as u64).await;
                            Ok(())
                        });
                        if let Err(stopped) = taken.await {
                            self.flush(part, &mut batch, &mut batched)?;
                            return Err(stopped);
                        }
                    }
                    if let Some(len) = part.len()
                        && part.done() + (batched + chunk.len()) as u64 > len
                    {
                        return Err(Error::Protocol(
                            "the server sent more bytes than it announced".into(),
                        ));
                    }
                    batched += chunk.len();
                    batch.push(chunk);
                    if batched >= WRITE_BATCH {
                        self.flush(part, &mut batch, &mut batched)?;
                    }
                }
            }
        }
    }

    /// Writes the batch at the part's current end, then counts it as done.
    fn flush(&self, part: &Part, batch: &mut Vec<Bytes>, batched: &mut usize) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let chunks = std::mem::take(batch);
        *batched = 0;
        let offset = part.start + part.done();
        // Written right here, on the lane: a page-cache write costs less than handing it to
        // another thread, and a slow disk holds up only this lane's transfers.
        let mut at = offset;
        chunks
            .iter()
            .try_for_each(|chunk| {
                self.file.write_all_at(chunk, at)?;
                at += chunk.len() as u64;
                Ok(())
            })
            .map_err(|e| Error::io(&*self.partial, e))?;
        self.progress.add(part.wrote(&chunks));
        Ok(())
    }
}
