//! When to try again: which failures are retried, exponential backoff with jitter between
//! attempts, and a wait that a stop cuts short.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::error::{Error, Result};
use crate::stop::Stop;

/// Exponential backoff with jitter: 250 ms doubling up to 10 s, `retries` times.
pub(crate) fn backoff(retries: u32) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .with_max_times(retries as usize)
        .build()
}

/// The longest wait a server's `Retry-After` gets: a server that asks for an hour, or a day,
/// must not hold a run (at boot, say) that long. `--retries` such waits at most, then it fails.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait before another attempt after `err`, or `None` when `err` is final: not transient, or
/// `delays` used up. A longer wait that the server asked for (`Retry-After`) is honoured up to
/// [`MAX_RETRY_AFTER`], and the retry is counted in `retried`.
pub(crate) fn delay_before_retry(
    err: &Error,
    delays: &mut impl Iterator<Item = Duration>,
    retried: &AtomicU32,
) -> Option<Duration> {
    if !err.is_transient() {
        return None;
    }
    let delay = delays.next()?;
    retried.fetch_add(1, Ordering::Relaxed);
    let asked = err.retry_after().unwrap_or_default().min(MAX_RETRY_AFTER);
    Some(delay.max(asked))
}

/// Sleeps, unless the run is stopped first.
pub(crate) async fn pause(stop: &Stop, delay: Duration) -> Result<()> {
    stop.unless_stopped(async {
        tokio::time::sleep(delay).await;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let delays: Vec<_> = backoff(3).collect();
        assert_eq!(delays.len(), 3);
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(20)));
        assert_eq!(backoff(0).count(), 0);
    }

    #[test]
    fn only_transient_failures_are_retried_and_each_retry_counts() {
        let retried = AtomicU32::new(0);
        let mut delays = [Duration::from_millis(250)].into_iter();
        let final_error = Error::from_status(404, None, None);
        assert_eq!(
            delay_before_retry(&final_error, &mut delays, &retried),
            None
        );
        let busy = Error::from_status(503, None, Some(Duration::from_secs(2)));
        assert_eq!(
            delay_before_retry(&busy, &mut delays, &retried),
            Some(Duration::from_secs(2)),
            "the server's Retry-After, being longer than the backoff"
        );
        assert_eq!(delay_before_retry(&busy, &mut delays, &retried), None);
        assert_eq!(retried.load(Ordering::Relaxed), 1);
        let for_a_day = Error::from_status(503, None, Some(Duration::from_secs(86_400)));
        let mut delays = [Duration::from_millis(250)].into_iter();
        assert_eq!(
            delay_before_retry(&for_a_day, &mut delays, &retried),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[tokio::test]
    async fn a_stop_cuts_a_pause_short() {
        let stop = Stop::new();
        stop.stop(crate::stop::StopReason::Deadline);
        let waited = pause(&stop, Duration::from_secs(3600)).await;
        assert!(matches!(
            waited,
            Err(crate::error::Error::DeadlineReached(_))
        ));
    }
}
