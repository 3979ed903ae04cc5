//! `-o -`: one URL's bytes to standard output, in order, as they arrive.
//!
//! Standard output cannot take bytes back, so nothing is split into parts and nothing is renamed
//! into place. What stays: retries, which continue from the last byte written when the server
//! serves ranges of a file it identifies (the validated range of a resume, `If-Range` or
//! `If-Match`), and start over only while nothing has been written; `--limit-rate`,
//! `--max-filesize` and the stall timeout; the `#sha256=` check, over the stream, whose failure
//! the report states with the bytes written (an S3 object asked for whole is also checked by the
//! SDK against the checksum S3 stored with it). A failure after the first byte says how many bytes
//! went out, so that a reader of the pipe knows what it got.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::{Error, Leftover, Result};
use crate::plan::Job;
use crate::progress::JobProgress;
use crate::source::Source;
use crate::source::reply::{Body, ByteRange, Extent};
use crate::stop::Stop;
use crate::transfer::retry::{backoff, delay_before_retry, pause};
use crate::transfer::settings::Settings;

/// What a stream to standard output delivered.
#[derive(Debug, Clone)]
pub struct Streamed {
    /// Bytes written.
    pub bytes: u64,
    /// Transient failures that were retried.
    pub retries: u32,
    /// Whether a `#sha256=` was checked.
    pub verified: bool,
}

/// Streams `job` from `source` into `out`, an unbuffered handle on standard output (see
/// [`stdout`]). After the first byte, an error is an [`Error::Streamed`] that counts what was
/// written.
pub async fn stream(
    job: &Job,
    source: &Source,
    settings: &Settings,
    progress: &JobProgress,
    stop: &Stop,
    out: &mut impl Write,
) -> Result<Streamed> {
    let mut streaming = Streaming {
        job,
        source,
        settings,
        progress,
        stop,
        written: 0,
        total: None,
        resumable: None,
        hasher: job.sha256.as_ref().map(|_| Sha256::new()),
        retries: AtomicU32::new(0),
    };
    let outcome = streaming.run(out).await;
    let written = streaming.written;
    let outcome = match outcome {
        // What was written is out there, in the pipe's buffer at least; flushing is part of it.
        Ok(()) => out.flush().map_err(stdout_error),
        Err(err) => Err(err),
    };
    match outcome {
        Ok(()) => {
            if let (Some(expected), Some(hasher)) = (&job.sha256, streaming.hasher.take()) {
                let actual = hex::encode(hasher.finalize());
                if &actual != expected {
                    return Err(Error::Streamed {
                        written,
                        cause: Box::new(Error::ChecksumMismatch {
                            expected: expected.clone(),
                            actual,
                        }),
                    });
                }
            }
            Ok(Streamed {
                bytes: written,
                retries: streaming.retries.load(Ordering::Relaxed),
                verified: job.sha256.is_some(),
            })
        }
        Err(err) if written == 0 => Err(err.leaving(Leftover::NothingArrived)),
        Err(err) => Err(Error::Streamed {
            written,
            cause: Box::new(err),
        }),
    }
}

/// The state of one stream: how far it got, and what a continuation must match.
struct Streaming<'a> {
    job: &'a Job,
    source: &'a Source,
    settings: &'a Settings,
    progress: &'a JobProgress,
    stop: &'a Stop,
    written: u64,
    /// The size the first answer announced.
    total: Option<u64>,
    /// The validator a continuation is asked on, when the server serves ranges and names the
    /// file's version (ETag or Last-Modified).
    resumable: Option<String>,
    hasher: Option<Sha256>,
    retries: AtomicU32,
}

impl Streaming<'_> {
    async fn run(&mut self, out: &mut impl Write) -> Result<()> {
        let mut delays = backoff(self.settings.retries);
        loop {
            let err = match self.attempt(out).await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            let can_go_on = self.written == 0 || self.resumable.is_some();
            let delay = match can_go_on {
                true => delay_before_retry(&err, &mut delays, &self.retries),
                false => None,
            };
            let Some(delay) = delay else {
                return Err(err);
            };
            tracing::info!(url = %self.job.shown, offset = self.written, ?delay, "retrying: {err}");
            pause(self.stop, delay).await?;
        }
    }

    /// One request, and its body written out until it ends or fails.
    async fn attempt(&mut self, out: &mut impl Write) -> Result<()> {
        let mut body = self.stop.unless_stopped(self.open()).await?;
        self.pump(&mut body, out).await?;
        match self.total {
            Some(total) if self.written != total => Err(Error::Truncated {
                expected: total,
                got: self.written,
            }),
            _ => Ok(()),
        }
    }

    /// The whole file while nothing is written; the rest of it, validated, after that.
    async fn open(&mut self) -> Result<Body> {
        if self.written == 0 {
            let reply = self.source.get(None, None).await?;
            let Extent::Whole {
                len,
                accepts_ranges,
            } = reply.extent
            else {
                return Err(Error::Protocol(
                    "asked for the whole file, got a range of it".into(),
                ));
            };
            if let (Some(size), Some(max)) = (len, self.settings.max_filesize)
                && size > max
            {
                return Err(Error::TooLarge { size, max });
            }
            self.total = len;
            self.resumable = reply.validator.filter(|_| accepts_ranges && len.is_some());
            self.progress.set_total(len);
            return Ok(reply.body);
        }
        let validator = self
            .resumable
            .as_deref()
            .expect("a stream continues only when it is resumable");
        let range = ByteRange {
            start: self.written,
            end: None,
        };
        let reply = self.source.get(Some(range), Some(validator)).await?;
        match reply.extent {
            Extent::Partial { start, total, .. }
                if start == self.written && Some(total) == self.total =>
            {
                Ok(reply.body)
            }
            Extent::Partial { start, total, .. } if Some(total) == self.total => {
                Err(Error::Protocol(format!(
                    "asked for bytes from {}, got bytes from {start}",
                    self.written
                )))
            }
            // The whole file, or another size, in answer to a validated range: not the same file.
            _ => Err(Error::Changed),
        }
    }

    /// Writes a body out chunk by chunk, counting, hashing and pacing it.
    async fn pump(&mut self, body: &mut Body, out: &mut impl Write) -> Result<()> {
        let idle = self.settings.idle_timeout;
        loop {
            let next = tokio::select! {
                biased;
                _ = self.stop.stopped() => return Err(self.stop.error()),
                next = tokio::time::timeout(idle, body.next()) => next,
            };
            let chunk = match next {
                Err(_) => return Err(Error::Stalled(idle)),
                Ok(None) => return Ok(()),
                Ok(Some(Err(err))) => return Err(err),
                Ok(Some(Ok(chunk))) => chunk,
            };
            let after = self.written + chunk.len() as u64;
            if let Some(max) = self.settings.max_filesize
                && after > max
            {
                return Err(Error::GrewTooLarge(max));
            }
            if self.total.is_some_and(|total| after > total) {
                return Err(Error::Protocol(
                    "the server sent more bytes than it announced".into(),
                ));
            }
            if let Some(rate) = &self.settings.rate {
                self.stop
                    .unless_stopped(async {
                        rate.take(chunk.len() as u64).await;
                        Ok(())
                    })
                    .await?;
            }
            if let Some(hasher) = &mut self.hasher {
                hasher.update(&chunk);
            }
            // Counted write by write, so that a failure states exactly what went out. A blocking
            // write, on this transfer's lane: a reader that falls behind holds the download
            // back, and no buffer between counts bytes as written before they are.
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let n = match out.write(rest) {
                    Ok(0) => return Err(stdout_error(std::io::ErrorKind::WriteZero.into())),
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(stdout_error(e)),
                };
                rest = &rest[n..];
                self.written += n as u64;
                self.progress.add(n as u64);
            }
        }
    }
}

/// A write to standard output that failed: most often its reader went away (`| head`).
fn stdout_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::BrokenPipe => {
            Error::Other("standard output was closed by the program reading it".into())
        }
        _ => Error::Other(format!("cannot write to standard output: {e}")),
    }
}

/// Standard output without Rust's line buffer in front, so that every write the stream counts has
/// reached the file or pipe behind it.
pub fn stdout() -> Result<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::Other(format!("cannot use standard output: {e}")))?;
    Ok(std::fs::File::from(fd))
}
