//! `.NAME.fetch-state` kept current while a file downloads, so that a run that is killed outright
//! (SIGKILL, the OOM killer, a reboot, a power loss) is resumed from where it got, as one stopped
//! by Ctrl-C or `--deadline` is.
//!
//! A state never claims a byte that is not on disk: it records only bytes already written to the
//! part file, that file's data is flushed (`fdatasync`) before the state is written, and the state
//! goes to a temporary file, flushed, then renamed over the old one. A crash therefore leaves the
//! old state or the new one, each true of the part file. The directory itself is not flushed: after
//! a power loss the rename may be lost, and the older state it replaced is then the one found.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::transfer::layout::Layout;
use crate::transfer::paths::Paths;

/// How often the state of a file downloading is saved: what a killed run loses at most, against
/// a flush of the part file's data each time.
pub(crate) const SAVE_EVERY: Duration = Duration::from_secs(2);

/// Writes `layout`'s state for `url` (see the module's doc); `Ok(false)` when the layout cannot be
/// resumed, so that there is nothing to save.
pub(crate) fn save(layout: &Layout, url: &str, paths: &Paths) -> std::io::Result<bool> {
    // Counted before the flush: every byte counted was written before it, so it is flushed too.
    let Some(state) = layout.resume_state(url) else {
        return Ok(false);
    };
    File::open(&paths.partial)?.sync_data()?;
    let temporary = temporary(&paths.state);
    let mut file = File::create(&temporary)?;
    file.write_all(&state)?;
    file.sync_data()?;
    std::fs::rename(&temporary, &paths.state)?;
    Ok(true)
}

/// Removes what [`save`] may have left, the temporary file of a save cut short included.
pub(crate) fn remove(paths: &Paths) {
    let _ = std::fs::remove_file(&paths.state);
    let _ = std::fs::remove_file(temporary(&paths.state));
}

/// `.NAME.fetch-state.tmp`, beside the state (a name that [`crate::transfer::leftovers`] does not
/// take for a state).
fn temporary(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Saves one file's state every [`SAVE_EVERY`] and whenever a part of it completes, alongside its
/// download.
pub(crate) struct Saver {
    layout: Arc<Layout>,
    url: String,
    paths: Paths,
    /// Set once a part completed: the next save need not wait for the clock.
    part_done: Notify,
    /// Set by the first save, so that the state is removed with the finished file.
    saved: Arc<AtomicBool>,
}

impl Saver {
    /// A saver of `layout` for `url` into `paths.state`; `saved` is set once it saved.
    pub(crate) fn new(
        layout: Arc<Layout>,
        url: String,
        paths: Paths,
        saved: Arc<AtomicBool>,
    ) -> Arc<Saver> {
        Arc::new(Saver {
            layout,
            url,
            paths,
            part_done: Notify::new(),
            saved,
        })
    }

    /// Asks for a save now: a part has completed.
    pub(crate) fn part_done(&self) {
        self.part_done.notify_one();
    }

    /// Runs `work`, and once it has run for [`SAVE_EVERY`] saves beside it (most files are done
    /// before: they cost no task and no flush), in a task of its own on this thread so that the
    /// download does not wait for a save. Returns once no save is under way any more, so that
    /// none can write a state after the download finished or left its own.
    pub(crate) async fn alongside<T>(self: &Arc<Self>, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        tokio::select! {
            biased;
            outcome = &mut work => return outcome,
            _ = tokio::time::sleep(SAVE_EVERY) => {}
        }
        let done = CancellationToken::new();
        let saving = tokio::spawn(self.clone().keep_saving(done.clone()));
        let outcome = work.await;
        done.cancel();
        let _ = saving.await;
        outcome
    }

    /// Saves now, then every [`SAVE_EVERY`] and as parts complete, until `done`.
    async fn keep_saving(self: Arc<Self>, done: CancellationToken) {
        let start = tokio::time::Instant::now() + SAVE_EVERY;
        let mut clock = tokio::time::interval_at(start, SAVE_EVERY);
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The flushes block: off this thread, which drives the download's connections.
            let saver = self.clone();
            let saved =
                tokio::task::spawn_blocking(move || save(&saver.layout, &saver.url, &saver.paths))
                    .await;
            match saved {
                Ok(Ok(true)) => self.saved.store(true, Ordering::Release),
                Ok(Ok(false)) => {}
                // A later save, or the one when the download stops, may still succeed.
                Ok(Err(err)) => tracing::debug!(url = %self.url, "cannot save the state: {err}"),
                Err(err) => tracing::debug!(url = %self.url, "saving the state crashed: {err}"),
            }
            tokio::select! {
                _ = done.cancelled() => return,
                _ = clock.tick() => {}
                _ = self.part_done.notified() => {}
            }
        }
    }
}
