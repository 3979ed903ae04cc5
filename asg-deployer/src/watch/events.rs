//! Watching a stack: its events stream live, one line each, until CloudFormation is done, the
//! deadline passes, or Ctrl-C stops the watching (never the deployment).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::StackEvent;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::aws::stack;
use crate::error::{AwsErrorKind, Error, classify};
use crate::progress::Display;
use crate::template::user_data::GROUP_RESOURCE;
use crate::watch::window::Window;

/// How often the stack is polled. CloudFormation's own console polls about this often; faster
/// polling only spends the account's DescribeStackEvents rate limit.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The slowest polling falls back to while AWS keeps throttling.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Failure reasons shown at the end: the first few explain a failure, the rest are cascades.
const MAX_REASONS: usize = 3;
/// Pages of events read per poll; a stack busy enough to need more is caught up over polls.
const MAX_PAGES: usize = 10;

/// How a watch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEnd {
    /// CloudFormation finished; the final status and the first failure reasons.
    Finished {
        /// Final stack status.
        status: String,
        /// "Resource: reason" of the first failed events, in order.
        reasons: Vec<String>,
    },
    /// The deadline passed while the stack was still busy, in `status` when last seen (empty if
    /// it was never seen).
    TimedOut { status: String },
    /// Ctrl-C.
    Interrupted,
}

/// Where a watch starts and what it prints.
pub struct Watcher<'a> {
    /// The CloudFormation client.
    pub cfn: &'a Client,
    /// Stack id (survives deletion) or name.
    pub stack: String,
    /// The newest event before the operation began; older ones are not shown.
    pub last_seen: Option<String>,
    /// Stop waiting at this instant.
    pub deadline: Instant,
    /// Cancelled by Ctrl-C.
    pub shutdown: CancellationToken,
    /// Output.
    pub display: &'a Display,
    /// Polling period (tests shorten it).
    pub poll: Duration,
    /// The monitoring window the update runs with, shown while it runs.
    pub window: Option<&'a Window>,
}

/// Polls in a row that must find every resource done before the window is taken as begun: one
/// alone may fall between a resource's end and the start of the next that depends on it.
const QUIET_POLLS: u32 = 2;

/// What the events tell of the update's progress, to see its monitoring window begin.
#[derive(Default)]
struct Progress {
    /// Resources with a change under way.
    busy: BTreeSet<String>,
    /// The new group is in service (it completed after its boot signals).
    group_done: bool,
    /// When the last resource finished.
    last_done: Option<aws_smithy_types::DateTime>,
    /// Polls in a row with nothing busy after the group was done.
    quiet: u32,
    /// When the window began, once it has.
    window_start: Option<aws_smithy_types::DateTime>,
}

impl Progress {
    fn record(&mut self, e: &StackEvent) {
        let (Some(id), Some(status)) = (e.logical_resource_id(), e.resource_status()) else {
            return;
        };
        if Some(id) == e.stack_name() {
            return;
        }
        let status = status.as_str();
        if status.ends_with("_IN_PROGRESS") {
            self.busy.insert(id.to_string());
        } else {
            self.busy.remove(id);
            self.last_done = e.timestamp().copied().or(self.last_done);
        }
        if id == GROUP_RESOURCE && matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE") {
            self.group_done = true;
        }
    }

    /// After a poll that found the stack in `status`: the window's start, the first time it is seen.
    fn window_begins(&mut self, status: &str) -> Option<aws_smithy_types::DateTime> {
        if self.window_start.is_some() || status != "UPDATE_IN_PROGRESS" || !self.group_done {
            return None;
        }
        if !self.busy.is_empty() {
            self.quiet = 0;
            return None;
        }
        self.quiet += 1;
        if self.quiet < QUIET_POLLS {
            return None;
        }
        self.window_start = self.last_done;
        self.window_start
    }
}

/// One event as a line: time, resource, status, reason.
pub fn format_event(e: &StackEvent) -> String {
    let time = e.timestamp().map(stack::format_time).unwrap_or_default();
    let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
    let reason = e.resource_status_reason().unwrap_or_default();
    format!(
        "{time}  {:<28} {:<36} {reason}",
        e.logical_resource_id().unwrap_or_default(),
        status
    )
    .trim_end()
    .to_string()
}

/// The id of the stack's newest event, so a following watch shows only what comes after.
pub async fn newest_event_id(cfn: &Client, stack: &str) -> Result<Option<String>, Error> {
    let out = cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| crate::error::aws("DescribeStackEvents", e))?;
    Ok(out
        .stack_events()
        .first()
        .and_then(|e| e.event_id())
        .map(str::to_string))
}

fn failure_reason(e: &StackEvent) -> Option<String> {
    let status = e.resource_status()?.as_str();
    let reason = e.resource_status_reason()?;
    let cascade =
        reason.contains("cancelled") || reason.starts_with("The following resource(s) failed");
    (status.ends_with("_FAILED") && !cascade)
        .then(|| format!("{}: {reason}", e.logical_resource_id().unwrap_or("?")))
}

impl Watcher<'_> {
    /// Streams events until the stack leaves every *_IN_PROGRESS state, the deadline passes, or
    /// Ctrl-C. Throttling that outlives the SDK's retries slows the polling instead of failing.
    pub async fn run(mut self) -> Result<WatchEnd, Error> {
        let mut reasons = Vec::new();
        let mut progress = Progress::default();
        let mut interval = self.poll;
        let mut throttled = false;
        let mut last_status = String::new();
        loop {
            let round = self.poll_once(&mut reasons, &mut progress).await;
            match round {
                Ok(status) if !stack::is_in_progress(&status) => {
                    return Ok(WatchEnd::Finished { status, reasons });
                }
                Ok(status) => {
                    last_status = status;
                    interval = self.poll;
                    throttled = false;
                }
                Err(Poll::Throttled) => {
                    interval = (interval * 2).min(MAX_POLL_INTERVAL);
                    if !throttled {
                        self.display.line(format!(
                            "AWS is throttling the event polling; slowing down to every {}s.",
                            interval.as_secs()
                        ));
                    }
                    throttled = true;
                }
                Err(Poll::Failed(e)) => return Err(e),
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Ok(WatchEnd::TimedOut {
                    status: last_status,
                });
            }
            let wake = (now + interval).min(self.deadline);
            tokio::select! {
                _ = self.shutdown.cancelled() => return Ok(WatchEnd::Interrupted),
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Prints new events; returns the stack's status.
    async fn poll_once(
        &mut self,
        reasons: &mut Vec<String>,
        progress: &mut Progress,
    ) -> Result<String, Poll> {
        let events = self.new_events().await?;
        for e in &events {
            self.display.line(format_event(e));
            progress.record(e);
            if let Some(r) = failure_reason(e)
                && reasons.len() < MAX_REASONS
            {
                reasons.push(r);
            }
        }
        if let Some(last) = events.last().and_then(|e| e.event_id()) {
            self.last_seen = Some(last.to_string());
        }
        let status = match stack::describe(self.cfn, &self.stack).await {
            Ok(Some(s)) => {
                if reasons.is_empty()
                    && !stack::is_in_progress(&s.status)
                    && !stack::is_success(&s.status)
                    && let Some(r) = &s.reason
                {
                    reasons.push(r.clone());
                }
                s.status
            }
            // A deleted stack is only found by id; by name it is gone, which is what we waited for.
            Ok(None) => "DELETE_COMPLETE".to_string(),
            Err(Error::Throttled { .. }) => return Err(Poll::Throttled),
            Err(e) => return Err(Poll::Failed(e)),
        };
        let mut live = format!("{}  {status}", self.stack_label());
        if let Some(window) = self.window.filter(|w| w.minutes > 0) {
            if let Some(start) = progress.window_begins(&status) {
                self.display.line(window.opening_line(&start));
            }
            if let Some(start) = progress
                .window_start
                .filter(|_| status == "UPDATE_IN_PROGRESS")
            {
                let end = start.secs() + window.length().as_secs() as i64;
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let left = Duration::from_secs(end.saturating_sub(now).max(0) as u64);
                live = format!("{live}  {}", window.status_line(left));
            }
        }
        self.display.status(live);
        Ok(status)
    }

    fn stack_label(&self) -> &str {
        // "arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID" -> NAME
        self.stack.split('/').nth(1).unwrap_or(&self.stack)
    }

    /// Events after `last_seen`, oldest first.
    async fn new_events(&self) -> Result<Vec<StackEvent>, Poll> {
        let mut fresh = Vec::new();
        let mut token = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .cfn
                .describe_stack_events()
                .stack_name(&self.stack)
                .set_next_token(token)
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(e) => {
                    let c = classify(&e);
                    return Err(match c.kind {
                        AwsErrorKind::Throttled => Poll::Throttled,
                        // Deleted by name: nothing more to read.
                        AwsErrorKind::NotFound => break,
                        _ => Poll::Failed(c.into_error("DescribeStackEvents")),
                    });
                }
            };
            for e in out.stack_events() {
                if e.event_id().is_some() && e.event_id() == self.last_seen.as_deref() {
                    fresh.reverse();
                    return Ok(fresh);
                }
                fresh.push(e.clone());
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        fresh.reverse();
        Ok(fresh)
    }
}

enum Poll {
    Throttled,
    Failed(Error),
}
