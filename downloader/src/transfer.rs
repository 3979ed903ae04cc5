//! One file from source to disk: temporary file, ranged parts in parallel, retries, resume,
//! verification, and the final rename that makes the file appear whole or not at all.
//!
//! The bytes go to `.NAME.fetch-part` beside the target. When the server serves ranges of a file
//! that it identifies (ETag or Last-Modified), the file is split into parts fetched at once and
//! written in place; an interrupted or failed run then leaves `.NAME.fetch-state` recording how
//! far each part got, and the next run asks only for the missing bytes, on condition that the
//! file is unchanged (`If-Range` over http, `If-Match` on S3).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::lanes::Lanes;
use crate::plan::Job;
use crate::progress::JobProgress;
use crate::source::{Body, ByteRange, Extent, Source};
use crate::stop::Stop;

/// Bytes gathered before one positioned write: few enough system calls to keep up with a fast
/// link, small enough that many parts in flight keep memory low.
const WRITE_BATCH: usize = 256 * 1024;

/// How many parts each connection of a split file gets at least, so that one slow part does not
/// leave the others idle at the end.
const PARTS_PER_CONNECTION: u64 = 4;

/// The largest automatic part size: bounds how much a failed part must be fetched again.
const MAX_PART_SIZE: u64 = 64 * 1024 * 1024;

/// How many connections one split file may use.
///
/// Parallel parts pay off when one connection cannot fill the path: a long round trip limits what
/// a TCP window carries, and S3 caps each connection. A server on this machine shares its cores
/// with us; every byte costs CPU at both ends, so past one connection per core in all more
/// connections only add work (the README's benchmark measures this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// For a server on this machine (see [`crate::source::Source::on_this_host`]).
    pub local: usize,
    /// For any other.
    pub remote: usize,
}

impl Connections {
    /// The most a file uses when `-x` is not given.
    pub const DEFAULT: usize = 8;

    /// `-x`, when given, holds for every server, and [`Self::DEFAULT`] otherwise; but never more
    /// than a file's fair part of the `jobs` connections when `files` run at once. Without `-x`, a
    /// server on this machine gets a file's fair part of one connection per lane.
    pub fn new(explicit: Option<usize>, jobs: usize, files: usize, lanes: usize) -> Connections {
        let files = files.max(1);
        let remote = explicit.unwrap_or(Self::DEFAULT).min(jobs / files).max(1);
        let local = match explicit {
            Some(_) => remote,
            None => (lanes / files).clamp(1, remote),
        };
        Connections { local, remote }
    }

    /// The limit for a server on this machine (`local`) or elsewhere.
    fn limit(self, local: bool) -> usize {
        if local { self.local } else { self.remote }
    }
}

/// Settings that shape every transfer of a run.
#[derive(Clone)]
pub struct Settings {
    /// Files above this size are split into parts of this size.
    pub part_size: u64,
    /// Parts of one file in flight at once.
    pub connections: Connections,
    /// Retries of a transient failure, per request.
    pub retries: u32,
    /// Longest wait for the next byte.
    pub idle_timeout: Duration,
    /// Where the parts of a split file run, spread so that one big file uses every core.
    pub lanes: Arc<Lanes>,
}

/// What a successful transfer produced.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The file written, under the output directory.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Bytes already on disk from an earlier run.
    pub resumed_from: u64,
    /// Transient failures that were retried.
    pub retries: u32,
    /// Whether a `#sha256=` was checked.
    pub verified: bool,
}

/// Downloads `job` from `source` into `paths`; `may_resume` is false when it is known that no
/// earlier run left a state file there.
pub async fn download(
    job: &Job,
    source: Source,
    paths: Paths,
    may_resume: bool,
    settings: Settings,
    progress: JobProgress,
    stop: Stop,
) -> Result<Delivered> {
    // The output directory itself exists already; only files under an s3 prefix need more.
    if job.target.components().count() > 1
        && let Some(parent) = paths.target.parent()
    {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let transfer = Transfer {
        job,
        source,
        paths,
        may_resume,
        settings,
        progress,
        stop,
        retries: Arc::new(AtomicU32::new(0)),
    };
    transfer.run().await
}

/// The three names one download uses.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The file as it appears when complete.
    pub target: PathBuf,
    /// `.NAME.fetch-part`: the bytes while they arrive.
    pub partial: PathBuf,
    /// `.NAME.fetch-state`: how far an interrupted download got.
    pub state: PathBuf,
}

impl Paths {
    /// The names for `target`, a path relative to `output_dir`.
    pub fn new(output_dir: &Path, target: &Path) -> Paths {
        let target = output_dir.join(target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Keep the helper names within the usual 255-byte limit however long the target is.
        let stem = if name.len() > 200 {
            hex::encode(&Sha256::digest(name.as_bytes())[..16])
        } else {
            name
        };
        let dir = target.parent().unwrap_or(output_dir).to_path_buf();
        Paths {
            partial: dir.join(format!(".{stem}.fetch-part")),
            state: dir.join(format!(".{stem}.fetch-state")),
            target,
        }
    }
}

/// How far one range of the file has come.
#[derive(Debug)]
struct Part {
    start: u64,
    /// Inclusive; `None` for a stream of unknown length.
    end: Option<u64>,
    done: AtomicU64,
}

impl Part {
    fn new(start: u64, end: Option<u64>, done: u64) -> Part {
        Part {
            start,
            end,
            done: AtomicU64::new(done),
        }
    }

    fn len(&self) -> Option<u64> {
        self.end.map(|end| end - self.start + 1)
    }

    fn done(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }

    fn complete(&self) -> bool {
        self.len() == Some(self.done())
    }
}

/// The file as a set of parts, plus what makes a later range request safe.
#[derive(Debug)]
struct Layout {
    total: Option<u64>,
    validator: Option<String>,
    /// Ranges of this file can be requested: parts and retries continue where they stopped
    /// instead of starting over (resuming across runs also needs the validator).
    ranged: bool,
    parts: Vec<Part>,
}

impl Layout {
    /// Parts of `part_size` after a first part `[0, first_end]`.
    fn split(total: u64, first_end: u64, part_size: u64, validator: Option<String>) -> Layout {
        let mut parts = vec![Part::new(0, Some(first_end), 0)];
        let mut start = first_end + 1;
        while start < total {
            let end = (start + part_size).min(total) - 1;
            parts.push(Part::new(start, Some(end), 0));
            start = end + 1;
        }
        // The server answered a range request, so ranges work; without a validator a retried range
        // cannot prove the file unchanged, and such a file is not resumed across runs.
        Layout {
            total: Some(total),
            ranged: true,
            validator,
            parts,
        }
    }

    fn done(&self) -> u64 {
        self.parts.iter().map(Part::done).sum()
    }
}

/// What `.NAME.fetch-state` holds.
#[derive(Debug, Serialize, Deserialize)]
struct ResumeState {
    /// The (redacted) URL the partial file belongs to.
    url: String,
    validator: String,
    total: u64,
    /// `[start, end, done]` per part.
    parts: Vec<[u64; 3]>,
}

struct Transfer<'a> {
    job: &'a Job,
    source: Source,
    paths: Paths,
    may_resume: bool,
    settings: Settings,
    progress: JobProgress,
    stop: Stop,
    retries: Arc<AtomicU32>,
}

impl Transfer<'_> {
    async fn run(&self) -> Result<Delivered> {
        let mut resumed_from = 0;
        let state = self
            .may_resume
            .then(|| std::fs::read(&self.paths.state).ok())
            .flatten();
        let had_state = state.is_some();
        let mut result = match state.and_then(|text| self.load_resume_state(&text)) {
            Some(layout) => {
                resumed_from = layout.done();
                tracing::info!(url = %self.job.shown, bytes = resumed_from, "resuming an earlier download");
                let layout = Arc::new(layout);
                self.progress.set_total(layout.total);
                self.progress.add(resumed_from);
                let outcome = match OpenOptions::new().write(true).open(&self.paths.partial) {
                    Ok(file) => self.fetch_parts(&layout, Arc::new(file), None).await,
                    Err(e) => Err(Error::io(&self.paths.partial, e)),
                };
                Some((layout, outcome))
            }
            None => None,
        };
        // Start afresh when there was nothing to resume or the file changed since; a file that
        // changes again under a fresh download is a failure, not a loop.
        for _ in 0..2 {
            match &result {
                Some((_, Err(Error::Changed))) | None => {
                    if let Some((layout, _)) = &result {
                        self.progress.sub(layout.done());
                    }
                    resumed_from = 0;
                    result = Some(self.fresh().await);
                }
                Some(_) => break,
            }
        }
        let (layout, outcome) = result.expect("a transfer ran");
        match outcome {
            Ok(()) => self.finish(&layout, resumed_from, had_state).await,
            Err(err) => {
                self.keep_or_discard(&layout);
                Err(err)
            }
        }
    }

    /// The first request asks for the first part only; the answer tells the size, whether ranges
    /// work, and the validator, and its body becomes part 0.
    async fn fresh(&self) -> (Arc<Layout>, Result<()>) {
        let empty = Arc::new(Layout {
            total: None,
            validator: None,
            ranged: false,
            parts: Vec::new(),
        });
        let first = ByteRange {
            start: 0,
            end: Some(self.settings.part_size - 1),
        };
        let reply = match self.request_with_retries(first).await {
            Ok(reply) => reply,
            Err(err) => return (empty, Err(err)),
        };
        let layout = match reply.extent {
            Extent::Partial {
                start: 0,
                end,
                total,
            } => {
                // Parts after the first grow with the file, so that each connection makes a few
                // large requests rather than many small ones (s5cmd uses 50 MB parts): fewer
                // requests cost the server and the client less CPU per byte.
                let rest = (total.saturating_sub(end + 1))
                    .div_ceil(PARTS_PER_CONNECTION * self.connections() as u64);
                let part_size = self.settings.part_size.max(rest).min(MAX_PART_SIZE);
                Layout::split(total, end, part_size, reply.validator)
            }
            Extent::Partial { start, .. } => {
                let err =
                    Error::Protocol(format!("asked for byte 0, got a range from byte {start}"));
                return (empty, Err(err));
            }
            Extent::Whole {
                len,
                accepts_ranges,
            } => Layout {
                total: len,
                ranged: accepts_ranges && reply.validator.is_some() && len.is_some(),
                validator: reply.validator,
                parts: match len {
                    Some(0) => Vec::new(),
                    Some(len) => vec![Part::new(0, Some(len - 1), 0)],
                    None => vec![Part::new(0, None, 0)],
                },
            },
        };
        let layout = Arc::new(layout);
        self.progress.set_total(layout.total);
        // Parts land in any order, so a split file gets its full size up front; a single stream
        // grows the file as it writes.
        let preallocate = layout.total.filter(|_| layout.parts.len() > 1);
        let file = match create_partial(&self.paths.partial, preallocate) {
            Ok(file) => Arc::new(file),
            Err(err) => return (layout, Err(err)),
        };
        let outcome = self.fetch_parts(&layout, file, Some(reply.body)).await;
        (layout, outcome)
    }

    /// The first request of a fresh download, retried while failures are transient.
    async fn request_with_retries(&self, range: ByteRange) -> Result<crate::source::Reply> {
        let mut delays = backoff(self.settings.retries);
        loop {
            let attempt = tokio::select! {
                biased;
                _ = self.stop.stopped() => return Err(self.stop.error()),
                reply = self.source.get(Some(range), None) => reply,
            };
            match attempt {
                Err(err) if err.is_transient() => {
                    let Some(delay) = delays.next() else {
                        return Err(err);
                    };
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    let delay = delay.max(err.retry_after().unwrap_or_default());
                    tracing::info!(url = %self.job.shown, ?delay, "retrying: {err}");
                    pause(&self.stop, delay).await?;
                }
                other => return other,
            }
        }
    }

    /// How many parts of this file may be in flight at once.
    fn connections(&self) -> usize {
        self.settings.connections.limit(self.source.on_this_host())
    }

    /// Runs every unfinished part, at most [`Self::connections`] at once. `first_body` already
    /// carries the start of part 0.
    async fn fetch_parts(
        &self,
        layout: &Arc<Layout>,
        file: Arc<File>,
        first_body: Option<Body>,
    ) -> Result<()> {
        let worker = PartWorker {
            source: self.source.clone(),
            file,
            layout: layout.clone(),
            settings: self.settings.clone(),
            progress: self.progress.clone(),
            stop: self.stop.clone(),
            siblings_failed: CancellationToken::new(),
            retries: self.retries.clone(),
        };
        let pending: Vec<usize> = (0..layout.parts.len())
            .filter(|&i| !layout.parts[i].complete())
            .collect();
        if pending.len() <= 1 {
            // One part: no task to spawn, no semaphore to take.
            return match pending.first() {
                Some(&index) => worker.run(index, first_body).await,
                None => Ok(()),
            };
        }
        let worker = Arc::new(worker);
        let lanes = &self.settings.lanes;
        let mut tasks = JoinSet::new();
        let mut first_body = first_body;
        let mut launch = |tasks: &mut JoinSet<Result<()>>, index: usize| {
            let worker = worker.clone();
            // Part 0 may carry the first response, whose connection this lane drives.
            let body = if index == 0 { first_body.take() } else { None };
            let (lane, seat) = match body {
                Some(_) => lanes.this_lane().unwrap_or_else(|| lanes.least_busy()),
                None => lanes.least_busy(),
            };
            tasks.spawn_on(
                async move {
                    let _seat = seat;
                    worker.run(index, body).await
                },
                lane,
            );
        };
        // `self.connections()` parts at a time; each part starts on the lane least busy then.
        let mut pending = pending.into_iter();
        pending
            .by_ref()
            .take(self.connections())
            .for_each(|index| launch(&mut tasks, index));
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let outcome =
                joined.unwrap_or_else(|e| Err(Error::Other(format!("a part crashed: {e}"))));
            match outcome {
                Err(err) if first_error.is_none() => {
                    worker.siblings_failed.cancel();
                    first_error = Some(err);
                }
                Ok(()) if first_error.is_none() => {
                    if let Some(index) = pending.next() {
                        launch(&mut tasks, index);
                    }
                }
                _ => {}
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Verifies the partial file, then renames it into place.
    async fn finish(
        &self,
        layout: &Layout,
        resumed_from: u64,
        had_state: bool,
    ) -> Result<Delivered> {
        let bytes = layout.done();
        if let Some(total) = layout.total
            && bytes != total
        {
            self.keep_or_discard(layout);
            return Err(Error::Truncated {
                expected: total,
                got: bytes,
            });
        }
        let partial = self.paths.partial.clone();
        let expected = self.job.sha256.clone();
        let unknown_length = layout.total.is_none();
        let verify = move || -> Result<()> {
            if unknown_length {
                // A stream of unknown length retried from zero may have left bytes past its end.
                let file = OpenOptions::new()
                    .write(true)
                    .open(&partial)
                    .map_err(|e| Error::io(&partial, e))?;
                file.set_len(bytes).map_err(|e| Error::io(&partial, e))?;
            }
            if let Some(expected) = expected {
                let actual = sha256_file(&partial)?;
                if actual != expected {
                    return Err(Error::ChecksumMismatch { expected, actual });
                }
            }
            Ok(())
        };
        // Most files have nothing to verify beyond their size: no thread hand-off for them.
        let verify = if unknown_length || self.job.sha256.is_some() {
            tokio::task::spawn_blocking(verify)
                .await
                .map_err(|e| Error::Other(format!("verification crashed: {e}")))?
        } else {
            Ok(())
        };
        if let Err(err) = verify {
            // A file with the wrong content must not be resumed either.
            self.discard();
            return Err(err);
        }
        std::fs::rename(&self.paths.partial, &self.paths.target)
            .map_err(|e| Error::io(&self.paths.target, e))?;
        if had_state {
            let _ = std::fs::remove_file(&self.paths.state);
        }
        Ok(Delivered {
            path: self.paths.target.clone(),
            bytes,
            resumed_from,
            retries: self.retries.load(Ordering::Relaxed),
            verified: self.job.sha256.is_some(),
        })
    }

    /// After a failure: keep the partial file and record its state when a later run can resume
    /// it, otherwise remove it.
    fn keep_or_discard(&self, layout: &Layout) {
        let resumable = layout.ranged && layout.done() > 0;
        let state = match (&layout.validator, layout.total) {
            (Some(validator), Some(total)) if resumable => ResumeState {
                url: self.job.shown.clone(),
                validator: validator.clone(),
                total,
                parts: layout
                    .parts
                    .iter()
                    .map(|p| [p.start, p.end.unwrap_or(total - 1), p.done()])
                    .collect(),
            },
            _ => return self.discard(),
        };
        let saved = serde_json::to_vec(&state)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(&self.paths.state, json));
        if saved.is_err() {
            self.discard();
        }
    }

    fn discard(&self) {
        let _ = std::fs::remove_file(&self.paths.partial);
        let _ = std::fs::remove_file(&self.paths.state);
    }

    /// The layout left by an earlier run, when its partial file is still there and belongs to
    /// this URL. Anything inconsistent is removed and the download starts afresh.
    fn load_resume_state(&self, text: &[u8]) -> Option<Layout> {
        let state: Option<ResumeState> = serde_json::from_slice(text).ok();
        let Ok(partial_len) = std::fs::metadata(&self.paths.partial).map(|m| m.len()) else {
            self.discard();
            return None;
        };
        // Every byte the state counts as done must be in the file (a split file was sized up
        // front; a single stream is as long as what it wrote).
        let usable = state.filter(|s| {
            s.url == self.job.shown
                && partial_len <= s.total
                && s.parts.iter().all(|&[start, end, done]| {
                    start <= end
                        && done <= end - start + 1
                        && (done == 0 || start + done <= partial_len)
                })
        });
        let Some(state) = usable else {
            self.discard();
            return None;
        };
        Some(Layout {
            total: Some(state.total),
            validator: Some(state.validator),
            ranged: true,
            parts: state
                .parts
                .iter()
                .map(|&[start, end, done]| Part::new(start, Some(end), done))
                .collect(),
        })
    }
}

/// Everything a part needs, shareable with a spawned task.
struct PartWorker {
    source: Source,
    file: Arc<File>,
    layout: Arc<Layout>,
    settings: Settings,
    progress: JobProgress,
    stop: Stop,
    /// Fired when another part of the same file failed for good.
    siblings_failed: CancellationToken,
    retries: Arc<AtomicU32>,
}

impl PartWorker {
    /// Brings part `index` to completion, retrying transient failures from where it stopped.
    async fn run(&self, index: usize, body: Option<Body>) -> Result<()> {
        let part = &self.layout.parts[index];
        let mut body = body;
        let mut delays = backoff(self.settings.retries);
        loop {
            let attempt = async {
                let mut stream = match body.take() {
                    Some(stream) => stream,
                    None => self.open(part).await?,
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
            match attempt.await {
                Err(err) if err.is_transient() => {
                    let Some(delay) = delays.next() else {
                        return Err(err);
                    };
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    let delay = delay.max(err.retry_after().unwrap_or_default());
                    tracing::info!(
                        part = index,
                        offset = part.start + part.done(),
                        ?delay,
                        "retrying part: {err}"
                    );
                    pause(&self.stop, delay).await?;
                }
                other => return other,
            }
        }
    }

    /// Requests what part still lacks: a validated range when the file allows it, else all of it
    /// again from the start.
    async fn open(&self, part: &Part) -> Result<Body> {
        if !self.layout.ranged {
            let reply = self.source.get(None, None).await?;
            match reply.extent {
                Extent::Whole { len, .. }
                    if len == self.layout.total || self.layout.total.is_none() =>
                {
                    self.progress.sub(part.done.swap(0, Ordering::AcqRel));
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
        let written = std::mem::take(batched) as u64;
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
            .map_err(|e: std::io::Error| Error::Io {
                path: PathBuf::from("the temporary file"),
                source: e,
            })?;
        part.done.fetch_add(written, Ordering::AcqRel);
        self.progress.add(written);
        Ok(())
    }
}

/// Exponential backoff with jitter: 250 ms doubling up to 10 s, `retries` times.
fn backoff(retries: u32) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .with_max_times(retries as usize)
        .build()
}

/// Sleeps, unless the run is stopped first.
async fn pause(stop: &Stop, delay: Duration) -> Result<()> {
    tokio::select! {
        _ = stop.stopped() => Err(stop.error()),
        _ = tokio::time::sleep(delay) => Ok(()),
    }
}

/// Creates (or empties) the partial file, sized up front when the size is known so that parts can
/// be written in any order.
fn create_partial(path: &Path, total: Option<u64>) -> Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    if let Some(total) = total {
        file.set_len(total).map_err(|e| Error::io(path, e))?;
    }
    Ok(file)
}

/// SHA-256 of a file, lower-case hex.
fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_this_machine_gets_one_connection_per_lane() {
        // -j 16, one file, 2 lanes.
        let one_file = Connections::new(None, 16, 1, 2);
        assert_eq!(one_file.limit(true), 2);
        assert_eq!(one_file.limit(false), Connections::DEFAULT);
        // Four files at once share the lanes, and the -j connections.
        let four_files = Connections::new(None, 16, 4, 2);
        assert_eq!((four_files.limit(true), four_files.limit(false)), (1, 4));
        // Never more than -x or the file's share of -j, never fewer than one.
        assert_eq!(Connections::new(None, 16, 1, 32).limit(true), 8);
        assert_eq!(Connections::new(None, 16, 32, 2).limit(false), 1);
        assert_eq!(Connections::new(None, 16, 0, 0).limit(true), 1);
        // An explicit -x holds for every server.
        let explicit = Connections::new(Some(6), 16, 1, 2);
        assert_eq!((explicit.limit(true), explicit.limit(false)), (6, 6));
    }

    #[test]
    fn split_covers_the_file_exactly() {
        let layout = Layout::split(25, 9, 10, Some("\"e\"".into()));
        let spans: Vec<_> = layout.parts.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(spans, vec![(0, Some(9)), (10, Some(19)), (20, Some(24))]);
        assert!(layout.ranged);
        let single = Layout::split(5, 4, 10, None);
        assert_eq!(single.parts.len(), 1);
        assert!(single.validator.is_none());
    }

    #[test]
    fn helper_names_sit_beside_the_target() {
        let paths = Paths::new(Path::new("out"), Path::new("a/b.bin"));
        assert_eq!(paths.target, Path::new("out/a/b.bin"));
        assert_eq!(paths.partial, Path::new("out/a/.b.bin.fetch-part"));
        assert_eq!(paths.state, Path::new("out/a/.b.bin.fetch-state"));
        let long = "x".repeat(250);
        let paths = Paths::new(Path::new("out"), Path::new(&long));
        assert!(paths.partial.file_name().unwrap().len() < 60);
    }

    #[test]
    fn backoff_is_bounded() {
        let delays: Vec<_> = backoff(3).collect();
        assert_eq!(delays.len(), 3);
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(20)));
        assert_eq!(backoff(0).count(), 0);
    }
}
