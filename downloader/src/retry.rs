//! When to try again: exponential backoff with jitter between attempts, and a wait that a stop
//! cuts short.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::error::Result;
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

/// Sleeps, unless the run is stopped first.
pub(crate) async fn pause(stop: &Stop, delay: Duration) -> Result<()> {
    tokio::select! {
        _ = stop.stopped() => Err(stop.error()),
        _ = tokio::time::sleep(delay) => Ok(()),
    }
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

    #[tokio::test]
    async fn a_stop_cuts_a_pause_short() {
        let stop = Stop::new();
        stop.stop(crate::stop::StopReason::Deadline);
        let waited = pause(&stop, Duration::from_secs(3600)).await;
        assert!(matches!(waited, Err(crate::error::Error::DeadlineReached)));
    }
}
