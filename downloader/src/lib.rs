//! `fetch`: download many http, https and s3 URLs concurrently, safely and fast.
//!
//! Data flows one way: [`cli`] (raw flags) -> [`config`] (checked settings) -> [`plan`] (jobs with
//! safe target paths, s3 prefixes listed) -> [`transfer`] (one file each, over [`http`] or [`s3`]
//! behind [`source`]) -> [`report`] (one outcome per URL) -> [`exit_code`].
//! [`progress`] is presentation only; [`stop`] carries Ctrl-C and `--deadline` to every transfer.

pub mod cli;
pub mod config;
pub mod error;
pub mod exit_code;
pub mod http;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod report;
pub mod s3;
pub mod source;
pub mod stop;
pub mod transfer;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::plan::{Entry, Job, Rejection, Remote};
use crate::progress::Progress;
use crate::report::{Outcome, Report, Status};
use crate::s3::{S3Clients, S3Source};
use crate::source::Source;
use crate::stop::{Stop, StopReason};

/// The clients transfers share.
struct Clients {
    http: reqwest::Client,
    s3: Option<Arc<S3Clients>>,
}

/// Runs a whole download: plans, transfers every job (at most `config.jobs` at once) and returns
/// the report. One URL failing never stops the others; only a usage problem is an `Err`.
pub async fn run(config: &Config, stop: Stop) -> Result<Report> {
    let started = Instant::now();
    std::fs::create_dir_all(&config.output_dir).map_err(|e| {
        Error::Usage(format!(
            "cannot create the output directory {}: {e}",
            config.output_dir.display()
        ))
    })?;
    let entries = plan::parse(&config.urls);
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
    let clients = Clients {
        http: http::client(config)?,
        // Loading AWS settings costs file reads and maybe network: only when an s3 URL needs it.
        s3: if needs_s3 {
            Some(Arc::new(S3Clients::load(config).await))
        } else {
            None
        },
    };
    let mut entries = expand_prefixes(entries, clients.s3.as_deref()).await;
    plan::resolve_conflicts(&mut entries);

    let progress = Progress::new(config.quiet);
    progress.set_files(
        entries
            .iter()
            .filter(|e| matches!(e, Entry::Job(_)))
            .count(),
    );
    let ticker = progress.spawn_ticker();
    let outcomes = run_entries(config, entries, &clients, &progress, &stop).await;
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    progress.finish();
    let interrupted = stop.reason() == Some(StopReason::Interrupted);
    Ok(Report::new(outcomes, started.elapsed(), interrupted))
}

/// Replaces each s3 prefix by one job per object under it.
async fn expand_prefixes(entries: Vec<Entry>, s3: Option<&S3Clients>) -> Vec<Entry> {
    let mut expanded = Vec::with_capacity(entries.len());
    for entry in entries {
        let Entry::S3Prefix {
            shown,
            bucket,
            prefix,
        } = entry
        else {
            expanded.push(entry);
            continue;
        };
        let s3 = s3.expect("s3 clients exist when an s3 URL does");
        match s3.list(&bucket, &prefix).await {
            Ok(keys) if keys.is_empty() => expanded.push(Entry::Rejected {
                shown,
                why: Rejection::Failed("no objects under this prefix".into()),
            }),
            Ok(keys) => {
                for key in keys {
                    let shown = format!("s3://{bucket}/{key}");
                    expanded.push(match plan::prefix_target(&prefix, &key) {
                        Ok(target) => Entry::Job(Job {
                            shown,
                            remote: Remote::S3 {
                                bucket: bucket.clone(),
                                key,
                            },
                            target,
                            sha256: None,
                        }),
                        Err(why) => Entry::Rejected { shown, why },
                    });
                }
            }
            Err(err) => expanded.push(Entry::Rejected {
                shown,
                why: Rejection::Failed(format!("cannot list the prefix: {err}")),
            }),
        }
    }
    expanded
}

/// Transfers the jobs concurrently and returns one outcome per entry, in entry order.
async fn run_entries(
    config: &Config,
    entries: Vec<Entry>,
    clients: &Clients,
    progress: &Progress,
    stop: &Stop,
) -> Vec<Outcome> {
    let settings = transfer::Settings {
        part_size: config.part_size,
        connections_per_file: config.connections_per_file,
        retries: config.retries,
        idle_timeout: config.idle_timeout,
    };
    let mut outcomes: Vec<Option<Outcome>> = vec![None; entries.len()];
    // The permit bounds files in flight; taking it before spawning keeps tens of thousands of
    // queued URLs as plain data rather than as parked tasks.
    let permits = Arc::new(Semaphore::new(config.jobs));
    let mut tasks = JoinSet::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let job = match entry {
            Entry::Job(job) => job,
            Entry::Rejected { shown, why } => {
                outcomes[index] = Some(rejected(shown, why));
                continue;
            }
            Entry::S3Prefix { .. } => unreachable!("prefixes were expanded"),
        };
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => Some(permit.expect("semaphore is never closed")),
            _ = stop.stopped() => None,
        };
        let Some(permit) = permit else {
            outcomes[index] = Some(Outcome::not_run(
                job.shown,
                Status::Failed,
                stop.error().to_string(),
            ));
            continue;
        };
        let source = match &job.remote {
            Remote::Http { url, basic_auth } => Source::Http(http::HttpSource::new(
                clients.http.clone(),
                url.clone(),
                basic_auth.clone(),
                config.idle_timeout,
            )),
            Remote::S3 { bucket, key } => Source::S3(S3Source::new(
                clients
                    .s3
                    .clone()
                    .expect("s3 clients exist when an s3 URL does"),
                bucket.clone(),
                key.clone(),
            )),
        };
        let job_progress = progress.job(job.shown.clone());
        let output_dir = config.output_dir.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            let result = transfer::download(
                &job,
                source,
                &output_dir,
                settings,
                job_progress.clone(),
                stop,
            )
            .await;
            drop(permit);
            let outcome = outcome_of(job, result, job_progress.elapsed());
            job_progress.finished(&outcome.line());
            (index, outcome)
        });
        while let Some(done) = tasks.try_join_next() {
            store(&mut outcomes, done);
        }
    }
    while let Some(done) = tasks.join_next().await {
        store(&mut outcomes, done);
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every entry has an outcome"))
        .collect()
}

fn store(
    outcomes: &mut [Option<Outcome>],
    done: std::result::Result<(usize, Outcome), tokio::task::JoinError>,
) {
    match done {
        Ok((index, outcome)) => outcomes[index] = Some(outcome),
        // A transfer task panicked: a bug, and its slot stays empty only until we say so loudly.
        Err(e) => panic!("a transfer task failed: {e}"),
    }
}

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

fn outcome_of(
    job: Job,
    result: Result<transfer::Delivered>,
    elapsed: std::time::Duration,
) -> Outcome {
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
            resumed_bytes: done.resumed_from,
            retries: done.retries,
        },
        Err(err) => Outcome {
            elapsed,
            ..Outcome::not_run(job.shown, Status::Failed, err.to_string())
        },
    }
}
