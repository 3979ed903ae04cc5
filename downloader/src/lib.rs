//! `fetch`: download many http, https and s3 URLs concurrently, safely and fast.
//!
//! Data flows one way, and the modules are in that order:
//!
//! 1. [`cli`]: the raw flags, as clap parses them.
//! 2. [`config`]: the checked settings (and `--header`), built once.
//! 3. [`plan`]: URLs to jobs with safe target paths, each distinct URL once; s3 prefixes listed
//!    and filtered by [`plan::listing`].
//! 4. [`source`]: what a transfer asks of a server, answered over [`source::http`] (with
//!    [`source::tls`]) or [`source::s3`] (with [`source::credentials`], which waits for a booting
//!    instance's metadata service); [`source::cause`] puts a failed connection into words.
//! 5. [`transfer`]: one file from source to disk: its [`transfer::layout`] of parts, resumes from
//!    what [`transfer::leftovers`] found, checks by [`transfer::verify`], the atomic rename.
//! 6. [`report`]: one outcome per URL, for people or as JSON; then [`exit_code`].
//!
//! Beside the flow: [`progress`] is presentation only; [`stop`] carries Ctrl-C and `--deadline` to
//! every transfer; [`lanes`] are the threads transfers run on; [`redact`] keeps secrets out of
//! everything shown; [`error`] is the one error type.

pub mod cli;
pub mod config;
pub mod error;
pub mod exit_code;
pub mod lanes;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod report;
pub mod source;
pub mod stop;
pub mod transfer;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::lanes::Lanes;
use crate::plan::{Entry, Job, Rejection, Remote};
use crate::progress::{JobProgress, Progress};
use crate::report::{Outcome, Report, Status};
use crate::source::Source;
use crate::source::s3::{S3Clients, S3Source};
use crate::stop::{Stop, StopReason};
use crate::transfer::leftovers::Leftovers;

/// The clients transfers share.
#[derive(Clone)]
struct Clients {
    http: source::http::HttpClients,
    s3: Option<Arc<S3Clients>>,
}

/// Makes the output directory (and its parents) unless it exists; a usage error otherwise.
fn create_output_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        let shown = dir.display();
        if dir.exists() && !dir.is_dir() {
            Error::Usage(format!(
                "--output-dir {shown} is a file, not a directory: give a directory (it is created if missing)"
            ))
        } else {
            let advice = error::io_advice(&e);
            Error::Usage(format!(
                "cannot create the output directory {shown}: {e}{advice}"
            ))
        }
    })
}

/// Runs a whole download: plans, transfers every job (at most `config.jobs` at once) and returns
/// the report. One URL failing never stops the others; only a usage problem is an `Err`.
pub async fn run(config: &Config, stop: Stop) -> Result<Report> {
    let started = Instant::now();
    let entries = plan::parse_wanted(&config.urls);
    if !config.s3.filters.is_empty() && !entries.iter().any(|e| matches!(e, Entry::S3Prefix { .. }))
    {
        return Err(Error::Usage(
            "--include and --exclude filter the objects of an s3://bucket/prefix/ listing, and no such URL was given".into(),
        ));
    }
    if let (true, Some(Entry::S3Prefix { shown, .. })) = (
        config.stdout,
        entries.iter().find(|e| matches!(e, Entry::S3Prefix { .. })),
    ) {
        return Err(Error::Usage(format!(
            "{shown} names every object under a prefix, and standard output (-o -) takes one file; name one object, or write them to a directory with -o DIR"
        )));
    }
    if !config.dry_run && !config.stdout {
        create_output_dir(&config.output_dir)?;
    }
    let needs_s3 = entries.iter().any(|e| {
        matches!(
            e,
            Entry::S3Prefix { .. }
                | Entry::Job(Job {
                    remote: Remote::S3 { .. },
                    ..
                })
        )
    });
    let lanes = Arc::new(
        Lanes::per_core()
            .map_err(|e| Error::Other(format!("cannot start the transfer threads: {e}")))?,
    );
    let clients = Clients {
        http: source::http::HttpClients::new(config, lanes.count())?,
        // Loading AWS settings costs file reads and maybe network: only when an s3 URL needs it.
        // Cut short by a stop, there are none, and no s3 URL is started.
        s3: if needs_s3 {
            stop.unless_stopped(async { Ok(S3Clients::load(config).await) })
                .await
                .ok()
                .map(Arc::new)
        } else {
            None
        },
    };
    let mut entries =
        plan::listing::expand_prefixes(entries, clients.s3.as_deref(), &config.s3.filters, &stop)
            .await;
    plan::resolve_conflicts(&mut entries);
    if config.dry_run {
        let outcomes = entries
            .into_iter()
            .map(|entry| match entry {
                Entry::Job(job) => planned(job, &config.output_dir),
                Entry::Rejected { shown, why } => rejected(shown, why),
                Entry::S3Prefix { .. } => unreachable!("prefixes were expanded"),
            })
            .collect();
        let interrupted = stop.reason() == Some(StopReason::Interrupted);
        return Ok(Report::new(outcomes, started.elapsed(), interrupted).of_dry_run());
    }

    let progress = Progress::new(config.quiet);
    progress.set_files(
        entries
            .iter()
            .filter(|e| matches!(e, Entry::Job(_)))
            .count(),
    );
    let ticker = progress.spawn_ticker();
    let outcomes = run_entries(config, entries, &lanes, &clients, &progress, &stop).await;
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    progress.finish();
    let interrupted = stop.reason() == Some(StopReason::Interrupted);
    Ok(Report::new(outcomes, started.elapsed(), interrupted))
}

/// Transfers the jobs concurrently and returns one outcome per entry, in entry order.
///
/// `config.jobs` workers, spread over the lanes, each take the next job from one queue until it is
/// empty: no task per file and no hand-off through the caller's thread between files, which for
/// thousands of small files is a good part of the run.
async fn run_entries(
    config: &Config,
    entries: Vec<Entry>,
    lanes: &Arc<Lanes>,
    clients: &Clients,
    progress: &Progress,
    stop: &Stop,
) -> Vec<Outcome> {
    let leftovers = Leftovers::scan(
        &config.output_dir,
        entries.iter().filter_map(|e| match e {
            Entry::Job(job) if !config.stdout => Some(job.target.as_path()),
            _ => None,
        }),
    );
    let mut outcomes: Vec<Option<Outcome>> = vec![None; entries.len()];
    let mut queue = VecDeque::new();
    for (index, entry) in entries.into_iter().enumerate() {
        match entry {
            Entry::Job(job) => queue.push_back((index, job)),
            Entry::Rejected { shown, why } => outcomes[index] = Some(rejected(shown, why)),
            Entry::S3Prefix { .. } => unreachable!("prefixes were expanded"),
        }
    }
    let workers = config.jobs.min(queue.len());
    // Several big files at once share the run's connections rather than open `-x` each: a run
    // stays polite to a server however many files it names.
    let connections =
        transfer::layout::Connections::new(config.connections_per_file, config.jobs, workers);
    let pool = Arc::new(Pool {
        queue: Mutex::new(queue),
        settings: transfer::settings::Settings {
            part_size: config.part_size,
            connections,
            retries: config.retries,
            idle_timeout: config.idle_timeout,
            lanes: lanes.clone(),
            rate: config
                .limit_rate
                .map(|rate| Arc::new(transfer::rate::RateLimit::new(rate))),
            max_filesize: config.max_filesize,
            no_clobber: config.no_clobber,
        },
        output_dir: config.output_dir.clone(),
        stdout: config.stdout,
        leftovers,
        clients: clients.clone(),
        progress: progress.clone(),
        stop: stop.clone(),
    });
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let pool = pool.clone();
        tasks.spawn_on(async move { pool.work().await }, lanes.next());
    }
    while let Some(done) = tasks.join_next().await {
        // A transfer task panicked: a bug, and its files would go unreported, so say so loudly.
        let done = done.unwrap_or_else(|e| panic!("a transfer task failed: {e}"));
        for (index, outcome) in done {
            outcomes[index] = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every entry has an outcome"))
        .collect()
}

/// What the workers of [`run_entries`] share.
struct Pool {
    queue: Mutex<VecDeque<(usize, Job)>>,
    settings: transfer::settings::Settings,
    output_dir: PathBuf,
    /// `-o -`: the one job goes to standard output.
    stdout: bool,
    leftovers: Leftovers,
    clients: Clients,
    progress: Progress,
    stop: Stop,
}

impl Pool {
    /// Runs jobs until the queue is empty; after a stop, the jobs left are reported as not run.
    async fn work(&self) -> Vec<(usize, Outcome)> {
        let mut done = Vec::new();
        loop {
            let next = self
                .queue
                .lock()
                .expect("no worker panics holding the queue")
                .pop_front();
            let Some((index, job)) = next else {
                return done;
            };
            let outcome = if self.stop.reason().is_some() {
                Outcome::not_run(job.shown, Status::Failed, self.stop.error().to_string())
            } else {
                self.transfer(job).await
            };
            done.push((index, outcome));
        }
    }

    async fn transfer(&self, job: Job) -> Outcome {
        let source = match &job.remote {
            Remote::Http { url, basic_auth } => Source::Http(source::http::HttpSource::new(
                self.clients.http.clone(),
                url.clone(),
                basic_auth.clone(),
                self.settings.idle_timeout,
            )),
            Remote::S3 {
                bucket,
                key,
                version_id,
            } => Source::S3(S3Source::new(
                self.clients.s3.clone().expect(
                    "s3 clients exist when an s3 URL starts (a stop before them starts none)",
                ),
                bucket.clone(),
                key.clone(),
                version_id.clone(),
            )),
        };
        if self.stdout {
            return self.to_stdout(job, source).await;
        }
        let paths = transfer::paths::Paths::new(&self.output_dir, &job.target);
        if self.settings.no_clobber && std::fs::symlink_metadata(&paths.target).is_ok() {
            return Outcome {
                path: Some(paths.target),
                ..Outcome::not_run(job.shown, Status::Skipped, NO_CLOBBER.into())
            };
        }
        let job_progress = self.progress.job(job.shown.clone());
        let may_resume = self.leftovers.may_have_state(&paths);
        let result = transfer::download(
            &job,
            source,
            paths,
            may_resume,
            self.settings.clone(),
            job_progress.clone(),
            self.stop.clone(),
        )
        .await;
        let outcome = outcome_of(job, result, &job_progress);
        job_progress.finished(|| outcome.line());
        outcome
    }
}

impl Pool {
    /// `-o -`'s transfer: the bytes of `job` to standard output, and the report's line for it.
    async fn to_stdout(&self, job: Job, source: Source) -> Outcome {
        let progress = self.progress.job(job.shown.clone());
        let streamed = match transfer::to_stdout::stdout() {
            Ok(mut stdout) => {
                transfer::to_stdout::stream(
                    &job,
                    &source,
                    &self.settings,
                    &progress,
                    &self.stop,
                    &mut stdout,
                )
                .await
            }
            Err(err) => Err(err),
        };
        let outcome = match streamed {
            Ok(done) => Outcome {
                bytes: done.bytes,
                elapsed: progress.elapsed(),
                error: None,
                sha256_verified: done.verified,
                retries: done.retries,
                ..Outcome::not_run(job.shown, Status::Ok, String::new())
            },
            Err(err) => Outcome {
                elapsed: progress.elapsed(),
                bytes: match &err {
                    Error::Streamed { written, .. } => *written,
                    _ => 0,
                },
                ..Outcome::not_run(job.shown, Status::Failed, err.to_string())
            },
        };
        progress.finished(|| outcome.line());
        outcome
    }
}

/// Why `--no-clobber` skipped a URL.
const NO_CLOBBER: &str = "the file exists already, and --no-clobber keeps it";

fn rejected(shown: String, why: Rejection) -> Outcome {
    match why {
        Rejection::Unsupported(reason) => Outcome::not_run(shown, Status::Unsupported, reason),
        Rejection::Invalid(reason) | Rejection::Failed(reason) => {
            Outcome::not_run(shown, Status::Failed, reason)
        }
        Rejection::Superseded { by } => Outcome {
            superseded_by: Some(by),
            error: None,
            ..Outcome::not_run(shown, Status::Skipped, String::new())
        },
    }
}

/// The report's line for a job `--dry-run` only plans: where it would be written.
fn planned(job: Job, output_dir: &std::path::Path) -> Outcome {
    Outcome {
        path: Some(output_dir.join(&job.target)),
        bytes: job.listed_size.unwrap_or(0),
        error: None,
        ..Outcome::not_run(job.shown, Status::Planned, String::new())
    }
}

/// The report's line for a finished transfer; a failed one counts the bytes it got.
fn outcome_of(job: Job, result: Result<transfer::Delivered>, progress: &JobProgress) -> Outcome {
    let elapsed = progress.elapsed();
    match result {
        Ok(done) => Outcome {
            url: job.shown,
            status: Status::Ok,
            path: Some(done.path),
            bytes: done.bytes,
            elapsed,
            error: None,
            superseded_by: None,
            sha256_verified: done.verified,
            s3_checksum_verified: done.s3_checksum,
            resumed_bytes: done.resumed_from,
            already_present: done.already_present,
            retries: done.retries,
        },
        Err(Error::Exists(path)) => Outcome {
            elapsed,
            path: Some(path),
            ..Outcome::not_run(job.shown, Status::Skipped, NO_CLOBBER.into())
        },
        Err(err) => Outcome {
            elapsed,
            bytes: progress.bytes(),
            ..Outcome::not_run(job.shown, Status::Failed, err.to_string())
        },
    }
}
