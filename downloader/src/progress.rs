//! Every progress display is made here, and nothing else prints while transfers run.
//!
//! On a terminal: indicatif bars, one overall and one per large active file. Without one
//! (cloud-init's log, CI, a pipe): a plain line per finished file and a short status line every
//! [`PLAIN_INTERVAL`], with no escape codes. With `--quiet`: nothing.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain display reports on long transfers.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// Files smaller than this get no bar of their own: they finish before one could be read.
const OWN_BAR_THRESHOLD: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Plain,
    Hidden,
}

struct Shared {
    mode: Mode,
    multi: MultiProgress,
    overall: ProgressBar,
    files: AtomicUsize,
    files_done: AtomicUsize,
    bytes: AtomicU64,
    total_bytes: AtomicU64,
}

/// The run's progress display.
#[derive(Clone)]
pub struct Progress {
    shared: Arc<Shared>,
}

impl Progress {
    /// Bars on a terminal, plain lines elsewhere, nothing when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Hidden
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Plain
        };
        let multi = MultiProgress::with_draw_target(if mode == Mode::Bars {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        });
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        overall.set_prefix("total");
        Progress {
            shared: Arc::new(Shared {
                mode,
                multi,
                overall,
                files: AtomicUsize::new(0),
                files_done: AtomicUsize::new(0),
                bytes: AtomicU64::new(0),
                total_bytes: AtomicU64::new(0),
            }),
        }
    }

    /// How many files the run will download.
    pub fn set_files(&self, files: usize) {
        self.shared.files.store(files, Ordering::Relaxed);
        self.update_message();
    }

    /// Progress of one file, named as it will be reported.
    pub fn job(&self, name: String) -> JobProgress {
        JobProgress {
            shared: self.shared.clone(),
            name: Arc::from(name),
            bar: Arc::new(OnceLock::new()),
            bytes: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
        }
    }

    /// In plain mode, prints a status line every [`PLAIN_INTERVAL`] until the returned task is aborted.
    pub fn spawn_ticker(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.shared.mode != Mode::Plain {
            return None;
        }
        let shared = self.shared.clone();
        Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(PLAIN_INTERVAL);
            ticks.tick().await;
            let mut last = shared.bytes.load(Ordering::Relaxed);
            loop {
                ticks.tick().await;
                let now = shared.bytes.load(Ordering::Relaxed);
                let rate = (now.saturating_sub(last)) as f64 / PLAIN_INTERVAL.as_secs_f64();
                last = now;
                eprintln!(
                    "fetch: {} of {} files done, {} of {} received, {}/s",
                    shared.files_done.load(Ordering::Relaxed),
                    shared.files.load(Ordering::Relaxed),
                    HumanBytes(now),
                    HumanBytes(shared.total_bytes.load(Ordering::Relaxed)),
                    HumanBytes(rate as u64),
                );
            }
        }))
    }

    /// Removes the bars so the report prints on a clean screen.
    pub fn finish(&self) {
        self.shared.overall.finish_and_clear();
        let _ = self.shared.multi.clear();
    }

    fn update_message(&self) {
        update_message(&self.shared);
    }
}

fn update_message(shared: &Shared) {
    if shared.mode == Mode::Bars {
        shared.overall.set_message(format!(
            "{}/{} files",
            shared.files_done.load(Ordering::Relaxed),
            shared.files.load(Ordering::Relaxed)
        ));
    }
}

/// Progress of one file; clones share the same counters.
#[derive(Clone)]
pub struct JobProgress {
    shared: Arc<Shared>,
    name: Arc<str>,
    bar: Arc<OnceLock<ProgressBar>>,
    /// This file's bytes on disk so far, resumed ones included.
    bytes: Arc<AtomicU64>,
    started: Instant,
}

impl JobProgress {
    /// The file's size, once known; a large file gets a bar of its own.
    pub fn set_total(&self, total: Option<u64>) {
        if let Some(total) = total {
            self.shared.total_bytes.fetch_add(total, Ordering::Relaxed);
            self.shared.overall.inc_length(total);
        }
        if self.shared.mode == Mode::Bars && total.is_none_or(|t| t >= OWN_BAR_THRESHOLD) {
            let bar = self.bar.get_or_init(|| {
                let bar = self.shared.multi.add(ProgressBar::new(total.unwrap_or(0)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>8} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {wide_msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(format!("{:.0}%", 0.0));
                bar.set_message(self.name.to_string());
                bar
            });
            if let Some(total) = total {
                bar.set_length(total);
            }
        }
    }

    /// Bytes written.
    pub fn add(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.shared.overall.inc(bytes);
        if let Some(bar) = self.bar.get() {
            bar.inc(bytes);
            let percent = bar
                .length()
                .filter(|&l| l > 0)
                .map_or(0.0, |l| bar.position() as f64 * 100.0 / l as f64);
            bar.set_prefix(format!("{percent:.0}%"));
        }
    }

    /// Bytes written that must be written again (a download that restarted).
    pub fn sub(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.shared.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.shared
            .overall
            .set_position(self.shared.overall.position().saturating_sub(bytes));
        if let Some(bar) = self.bar.get() {
            bar.set_position(bar.position().saturating_sub(bytes));
        }
    }

    /// The file is done, well or not; `line` makes its one-line summary for the plain display.
    pub fn finished(&self, line: impl FnOnce() -> String) {
        self.shared.files_done.fetch_add(1, Ordering::Relaxed);
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
            self.shared.multi.remove(bar);
        }
        update_message(&self.shared);
        if self.shared.mode == Mode::Plain {
            eprintln!("fetch: {}", line());
        }
    }

    /// The whole run's bytes so far, every file's: what a split file's ramp compares.
    pub fn run_bytes(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    /// This file's bytes on disk so far: what a failed download got before it failed.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Time since this file's progress was created.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
