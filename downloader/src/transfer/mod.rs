//! One file from source to disk: temporary file, ranged parts in parallel, retries, resume,
//! verification, and the final rename that makes the file appear whole or not at all.
//!
//! The bytes go to `.NAME.fetch-part` beside the target. When the server serves ranges of a file
//! that it identifies (ETag or Last-Modified), the file is split into parts fetched at once and
//! written in place. `.NAME.fetch-state` records how far each part got: kept current while the
//! file downloads (see `saver`) and written when a run stops or fails, so that the next
//! run asks only for the missing bytes, on condition that the file is unchanged (`If-Range` over
//! http, `If-Match` on S3).

pub mod layout;
pub mod leftovers;
mod part;
pub mod paths;
pub mod ramp;
pub mod rate;
mod retry;
mod saver;
pub mod settings;
pub mod to_stdout;
pub mod verify;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Leftover, Result};
use crate::plan::Job;
use crate::progress::JobProgress;

use crate::source::Source;
use crate::source::reply::{Body, ByteRange, Extent, Head, StoredChecksum};
use crate::stop::Stop;
use crate::transfer::layout::Layout;
use crate::transfer::part::PartWorker;
use crate::transfer::paths::Paths;
use crate::transfer::ramp::Reading;
use crate::transfer::retry::{backoff, delay_before_retry, pause};
use crate::transfer::saver::Saver;
use crate::transfer::settings::Settings;
use crate::transfer::verify::{check_file, file_has_md5};

/// How often a split file's rate is read while its ramp may still change.
const RAMP_TICK: Duration = Duration::from_millis(50);

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
    /// The checksum S3 stored with the object that the file was checked against, by name.
    pub s3_checksum: Option<&'static str>,
    /// The file was there already, and shown to be this one: nothing was downloaded.
    pub already_present: bool,
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
        asked: Mutex::new(None),
        saved: Arc::default(),
    };
    transfer.run().await
}

/// One download under way: what it needs of the run, and the retries of all its parts.
struct Transfer<'a> {
    job: &'a Job,
    source: Source,
    paths: Paths,
    may_resume: bool,
    settings: Settings,
    progress: JobProgress,
    stop: Stop,
    retries: Arc<AtomicU32>,
    /// What the server told before the download (see [`Self::head`]), asked once: the object's
    /// size, and the checksum S3 stored with it.
    asked: Mutex<Option<Head>>,
    /// Whether this run saved a state file while downloading (see `saver`).
    saved: Arc<AtomicBool>,
}

impl Transfer<'_> {
    async fn run(&self) -> Result<Delivered> {
        if let Some(present) = self.already_present().await? {
            return Ok(present);
        }
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
                // Bytes from an earlier run were never checked whole: the HEAD tells what to check
                // them by when the file is complete.
                let outcome = self
                    .beside_head(async {
                        match OpenOptions::new().write(true).open(&self.paths.partial) {
                            Ok(file) => self.fetch_parts(&layout, Arc::new(file), None).await,
                            Err(e) => Err(Error::io(&self.paths.partial, e)),
                        }
                    })
                    .await;
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
                        // What the HEAD told may be of the version that changed, and a state
                        // saved would describe that version's bytes.
                        *self.asked.lock().expect("head lock") = None;
                        saver::remove(&self.paths);
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
                let leftover = self.keep_or_discard(&layout, &err);
                Err(err.leaving(leftover))
            }
        }
    }

    /// The first request asks for the first part only; the answer tells the size, whether ranges
    /// work, and the validator, and its body becomes part 0. An S3 object known (from a listing or
    /// a HEAD) to fit in one part is asked for whole instead: S3 sends its stored checksum, which
    /// the SDK then checks, only in answer to a request without a range. A bigger one comes in
    /// ranges, and the checksum from its HEAD is checked once the file is complete.
    async fn fresh(&self) -> (Arc<Layout>, Result<()>) {
        let empty = Arc::new(Layout::unknown());
        let part_size = self.settings.part_size;
        // One budget of retries for the requests that follow one another here: a HEAD that
        // stalls is an attempt of this URL, and `--retries 0` gives the URL up after it.
        let mut delays = backoff(self.settings.retries);
        let known_size = match self.job.listed_size {
            Some(size) => Some(size),
            None => match self.head(&mut delays).await {
                Ok(head) => head.size,
                Err(err) => return (empty, Err(err)),
            },
        };
        if let Err(err) = self.within_max(known_size) {
            return (empty, Err(err));
        }
        let first = match known_size {
            Some(size) if size <= part_size => None,
            _ => Some(ByteRange {
                start: 0,
                end: Some(part_size - 1),
            }),
        };
        let reply = match self.job.listed_size {
            // The listing told the size; the HEAD, for the checksum, goes out beside the first GET.
            Some(size) if size > part_size => self.beside_head(self.get(first, &mut delays)).await,
            _ => self.get(first, &mut delays).await,
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(err) => return (empty, Err(err)),
        };
        let reply = match reply.extent {
            // Without a validator nothing proves that later ranges come from the same file: a file
            // replaced at the same size would be spliced from two versions. Ask for it whole.
            Extent::Partial { end, total, .. } if reply.validator.is_none() && end + 1 < total => {
                tracing::info!(url = %self.job.shown, "no ETag or Last-Modified: not split into parts");
                drop(reply);
                match self.get(None, &mut delays).await {
                    Ok(reply) => reply,
                    Err(err) => return (empty, Err(err)),
                }
            }
            _ => reply,
        };
        let layout = match reply.extent {
            Extent::Partial {
                start: 0,
                end,
                total,
            } => Layout::ranged(
                total,
                end,
                self.settings.part_size,
                self.settings.connections.share(total).most,
                reply.validator,
            ),
            Extent::Partial { start, .. } => {
                let err =
                    Error::Protocol(format!("asked for byte 0, got a range from byte {start}"));
                return (empty, Err(err));
            }
            Extent::Whole {
                len,
                accepts_ranges,
            } => Layout::whole(len, accepts_ranges, reply.validator),
        };
        let layout = Arc::new(layout);
        if let Err(err) = self.within_max(layout.total) {
            return (layout, Err(err));
        }
        if let Some(empty) = self.stored_checksum(&layout).and_then(|s| s.running_crc()) {
            layout.track_crc(empty);
        }
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

    /// Fails a file whose announced `size` is above `--max-filesize`, before any byte is written.
    fn within_max(&self, size: Option<u64>) -> Result<()> {
        match (size, self.settings.max_filesize) {
            (Some(size), Some(max)) if size > max => Err(Error::TooLarge { size, max }),
            _ => Ok(()),
        }
    }

    /// The checksum S3 stored with the version of the object that `layout` downloads.
    fn stored_checksum(&self, layout: &Layout) -> Option<StoredChecksum> {
        let asked = self.asked.lock().expect("head lock");
        asked
            .as_ref()?
            .checksum
            .clone()
            .filter(|stored| stored.belongs_to(layout.validator.as_deref()))
    }

    /// Asks what the server tells before a download (see [`Source::head`]), retried within
    /// `delays`, and keeps it for [`Self::finish`]; what was asked already is not asked again.
    async fn head(&self, delays: &mut impl Iterator<Item = Duration>) -> Result<Head> {
        if let Some(head) = self.asked.lock().expect("head lock").clone() {
            return Ok(head);
        }
        let head = self
            .with_retries(delays, || self.source.head())
            .await?
            .unwrap_or_default();
        *self.asked.lock().expect("head lock") = Some(head.clone());
        Ok(head)
    }

    /// The target file, when it is already there and shown to be the one the URL names, so that
    /// no byte is sent again: by the URL's `#sha256=` without asking the server anything, or, for
    /// an S3 object, by the size and the full-object checksum its HEAD tells (the HEAD the
    /// download would begin with anyway). Anything else is downloaded as if the file were absent,
    /// and replaces it once complete and verified.
    async fn already_present(&self) -> Result<Option<Delivered>> {
        if self.job.sha256.is_none() && matches!(self.source, Source::Http(_)) {
            return Ok(None);
        }
        let len = match std::fs::metadata(&self.paths.target) {
            Ok(meta) if meta.is_file() => meta.len(),
            _ => return Ok(None),
        };
        let (stored, etag_md5) = match &self.job.sha256 {
            Some(_) => (None, None),
            // Listed at another size: no need to ask.
            None if self.job.listed_size.is_some_and(|size| size != len) => return Ok(None),
            None => {
                let head = self.head(&mut backoff(self.settings.retries)).await?;
                match (head.checksum, head.etag_md5) {
                    _ if head.size != Some(len) => return Ok(None),
                    (Some(stored), _) => (Some(stored), None),
                    (None, Some(md5)) => (None, Some(md5)),
                    (None, None) => return Ok(None),
                }
            }
        };
        let target = self.paths.target.clone();
        let (expected, check, md5) = (self.job.sha256.clone(), stored.clone(), etag_md5.clone());
        let matches = tokio::task::spawn_blocking(move || match md5 {
            Some(md5) => file_has_md5(&target, &md5).unwrap_or(false),
            None => check_file(&target, expected, check.as_ref()).is_ok(),
        })
        .await
        .unwrap_or(false);
        if !matches {
            tracing::info!(url = %self.job.shown, "the file there differs: downloading it again");
            return Ok(None);
        }
        if self.may_resume {
            // What an earlier, interrupted run left of it is of no use now.
            self.discard();
        }
        Ok(Some(Delivered {
            path: self.paths.target.clone(),
            bytes: len,
            resumed_from: 0,
            retries: self.retries.load(Ordering::Relaxed),
            verified: self.job.sha256.is_some(),
            s3_checksum: match (&stored, &etag_md5) {
                (Some(stored), _) => Some(stored.name()),
                (None, Some(_)) => Some("md5-etag"),
                (None, None) => None,
            },
            already_present: true,
        }))
    }

    /// Runs `work` while [`Self::head`] goes out beside it, with retries of its own, for a HEAD
    /// whose answer `work` does not wait for. A HEAD that fails for good fails the download: its
    /// checksum could not be checked.
    async fn beside_head<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let mut delays = backoff(self.settings.retries);
        match tokio::join!(self.head(&mut delays), work) {
            (Ok(_), outcome) => outcome,
            (Err(failed), _) => Err(failed),
        }
    }

    /// A request of a fresh download (not of one part), retried within `delays`.
    async fn get(
        &self,
        range: Option<ByteRange>,
        delays: &mut impl Iterator<Item = Duration>,
    ) -> Result<crate::source::reply::Reply> {
        self.with_retries(delays, || self.source.get(range, None))
            .await
    }

    /// Runs `attempt` until it succeeds, fails for good or `delays` run out: each transient
    /// failure waits the next delay and counts as a retry of this URL. A stop cuts an attempt
    /// or a wait short.
    async fn with_retries<T, Attempt>(
        &self,
        delays: &mut impl Iterator<Item = Duration>,
        attempt: impl Fn() -> Attempt,
    ) -> Result<T>
    where
        Attempt: Future<Output = Result<T>>,
    {
        loop {
            let err = match self.stop.unless_stopped(attempt()).await {
                Ok(done) => return Ok(done),
                Err(err) => err,
            };
            let Some(delay) = delay_before_retry(&err, delays, &self.retries) else {
                return Err(err);
            };
            tracing::info!(url = %self.job.shown, ?delay, "retrying: {err}");
            pause(&self.stop, delay).await?;
        }
    }

    /// Runs every unfinished part, as many at once as the ramp says, saving the state
    /// beside them (see `saver`) when the file can be resumed, split or not. `first_body`
    /// already carries the start of part 0.
    async fn fetch_parts(
        &self,
        layout: &Arc<Layout>,
        file: Arc<File>,
        first_body: Option<Body>,
    ) -> Result<()> {
        let resumable = layout.ranged && layout.validator.is_some() && layout.total.is_some();
        if !resumable {
            return self.run_parts(layout, file, first_body, None).await;
        }
        let saver = Saver::new(
            layout.clone(),
            self.job.shown.clone(),
            self.paths.clone(),
            self.saved.clone(),
        );
        // On the heap: the futures of a transfer nest deep enough to overflow a lane's stack in
        // a debug build otherwise.
        let parts = Box::pin(self.run_parts(layout, file, first_body, Some(&saver)));
        saver.alongside(parts).await
    }

    /// [`Self::fetch_parts`]' work; a part that completes tells `saver`.
    async fn run_parts(
        &self,
        layout: &Arc<Layout>,
        file: Arc<File>,
        first_body: Option<Body>,
        saver: Option<&Saver>,
    ) -> Result<()> {
        let worker = PartWorker {
            source: self.source.clone(),
            file,
            partial: Arc::from(self.paths.partial.as_path()),
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
        // Its share of the run's connections while its parts run, by its size; as many parts at a
        // time as the ramp says, read every tick; each part starts on the lane least busy then.
        let size = layout.total.unwrap_or_else(|| layout.done());
        let connections = &self.settings.connections;
        let mut splitting = connections.splitting(size);
        let mut ramp = connections.ramp(size);
        splitting.set_parts(ramp.target());
        let mut pending = pending.into_iter();
        pending
            .by_ref()
            .take(ramp.target())
            .for_each(|index| launch(&mut tasks, index));
        let started = tokio::time::Instant::now();
        let mut ticks = tokio::time::interval(RAMP_TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first_error = None;
        loop {
            let joined = tokio::select! {
                joined = tasks.join_next() => match joined {
                    Some(joined) => joined,
                    None => break,
                },
                _ = ticks.tick(), if first_error.is_none() && !ramp.is_fixed() => {
                    let share = connections.share(size);
                    let reading = Reading {
                        file: layout.done(),
                        run: self.progress.run_bytes(),
                        files: share.files,
                        run_parts: share.parts,
                        most: share.most,
                    };
                    let before = ramp.target();
                    let target = ramp.observe(started.elapsed(), reading);
                    if target != before {
                        splitting.set_parts(target);
                        tracing::debug!(url = %self.job.shown, parts = target, files = reading.files, "parts in flight changed");
                    }
                    while tasks.len() < target {
                        let Some(index) = pending.next() else { break };
                        launch(&mut tasks, index);
                    }
                    continue;
                }
            };
            let outcome =
                joined.unwrap_or_else(|e| Err(Error::Other(format!("a part crashed: {e}"))));
            match outcome {
                Err(err) if first_error.is_none() => {
                    worker.siblings_failed.cancel();
                    first_error = Some(err);
                }
                Ok(()) if first_error.is_none() => {
                    if let Some(saver) = saver {
                        saver.part_done();
                    }
                    // A part given back by the ramp is one not started again.
                    while tasks.len() < ramp.target() {
                        let Some(index) = pending.next() else { break };
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
            let err = Error::Truncated {
                expected: total,
                got: bytes,
            };
            self.keep_or_discard(layout, &err);
            return Err(err);
        }
        let partial = self.paths.partial.clone();
        let expected = self.job.sha256.clone();
        let stored = self.stored_checksum(layout);
        let s3_checksum = stored.as_ref().map(StoredChecksum::name);
        // A CRC computed as the parts were written is compared right away; a SHA, or a file with
        // bytes kept by an earlier run, is read once more.
        let written_crc = stored.as_ref().and_then(|s| layout.crc(s.running_crc()?));
        let (checked, reread) = match (stored, written_crc) {
            (Some(stored), Some(crc)) => (stored.check_crc(&crc), None),
            (stored, _) => (Ok(()), stored),
        };
        let unknown_length = layout.total.is_none();
        let read_again = unknown_length || expected.is_some() || reread.is_some();
        let verify = move || -> Result<()> {
            if unknown_length {
                // A stream of unknown length retried from zero may have left bytes past its end.
                let file = OpenOptions::new()
                    .write(true)
                    .open(&partial)
                    .map_err(|e| Error::io(&partial, e))?;
                file.set_len(bytes).map_err(|e| Error::io(&partial, e))?;
            }
            check_file(&partial, expected, reread.as_ref())
        };
        // Most files have nothing to verify beyond their size: no thread hand-off for them.
        let verify = match checked {
            Ok(()) if read_again => tokio::task::spawn_blocking(verify)
                .await
                .map_err(|e| Error::Other(format!("verification crashed: {e}")))?,
            checked => checked,
        };
        if let Err(err) = verify {
            // A file with the wrong content must not be resumed either.
            self.discard();
            return Err(err);
        }
        if self.settings.no_clobber {
            return self
                .place_without_clobbering(bytes, resumed_from, had_state, s3_checksum)
                .await;
        }
        if let Err(e) = std::fs::rename(&self.paths.partial, &self.paths.target) {
            // The target cannot take it (a directory, a name too long): no leftovers either.
            self.discard();
            return Err(Error::io(&self.paths.target, e));
        }
        if had_state || self.saved.load(Ordering::Acquire) {
            saver::remove(&self.paths);
        }
        Ok(Delivered {
            path: self.paths.target.clone(),
            bytes,
            resumed_from,
            retries: self.retries.load(Ordering::Relaxed),
            verified: self.job.sha256.is_some(),
            s3_checksum,
            already_present: false,
        })
    }

    /// `--no-clobber`'s end of [`Self::finish`]: a hard link puts the file in place only if no
    /// file took the name meanwhile (a rename would replace it), then the partial name goes.
    async fn place_without_clobbering(
        &self,
        bytes: u64,
        resumed_from: u64,
        had_state: bool,
        s3_checksum: Option<&'static str>,
    ) -> Result<Delivered> {
        let linked = std::fs::hard_link(&self.paths.partial, &self.paths.target);
        self.discard();
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(self.paths.target.clone()));
            }
            Err(e) => return Err(Error::io(&self.paths.target, e)),
        }
        if had_state || self.saved.load(Ordering::Acquire) {
            saver::remove(&self.paths);
        }
        Ok(Delivered {
            path: self.paths.target.clone(),
            bytes,
            resumed_from,
            retries: self.retries.load(Ordering::Relaxed),
            verified: self.job.sha256.is_some(),
            s3_checksum,
            already_present: false,
        })
    }

    /// After `err`: keep the partial file and record its state when a later run can resume it,
    /// otherwise (bytes known to be wrong included) remove it. Returns what is left.
    fn keep_or_discard(&self, layout: &Layout, err: &Error) -> Leftover {
        let state = layout
            .resume_state(&self.job.shown)
            .filter(|_| !err.is_corrupt_data());
        let leftover = match state {
            Some(_) => match saver::save(layout, &self.job.shown, &self.paths) {
                Ok(true) => return Leftover::Kept(layout.done()),
                Ok(false) | Err(_) => Leftover::Unsaved,
            },
            None if layout.done() == 0 => Leftover::NothingArrived,
            None => Leftover::Dropped,
        };
        self.discard();
        leftover
    }

    fn discard(&self) {
        let _ = std::fs::remove_file(&self.paths.partial);
        saver::remove(&self.paths);
    }

    /// The layout left by an earlier run, when its partial file is still there and belongs to
    /// this URL. Anything inconsistent is removed and the download starts afresh.
    fn load_resume_state(&self, state: &[u8]) -> Option<Layout> {
        let layout = std::fs::metadata(&self.paths.partial)
            .ok()
            .and_then(|meta| Layout::resumed(state, &self.job.shown, meta.len()));
        if layout.is_none() {
            self.discard();
        }
        layout
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
