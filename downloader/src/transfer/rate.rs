//! `--limit-rate`: one cap on the whole run's download rate, shared by every file and part on
//! every lane.
//!
//! A token bucket of bytes, over tokio's clock, behind a std mutex (lanes are threads with
//! runtimes of their own, and the lock is held for a few arithmetic operations, never across an
//! await). It is written here rather than taken from `governor`: governor counts cells of a
//! fixed size and refuses a request larger than its burst, whereas a body arrives in chunks of
//! any size; here a chunk of any size is taken at once and the taker waits until the bucket's
//! debt is paid. The bucket holds at most [`BURST`] of the rate, so the rate stays smooth at the
//! one-second scale, and starts empty, so that a run's first second does not exceed the cap.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How much of a second's worth the bucket holds after a pause: what may go out at once.
const BURST: f64 = 0.1;

/// A byte rate shared by all transfers of a run.
#[derive(Debug)]
pub struct RateLimit {
    /// Bytes a second.
    rate: f64,
    /// The most tokens the bucket holds.
    burst: f64,
    /// Tokens now (negative: a debt that takers wait off), as of the instant beside them.
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// A cap of `bytes_per_second` (at least 1).
    pub fn new(bytes_per_second: u64) -> RateLimit {
        let rate = bytes_per_second.max(1) as f64;
        RateLimit {
            rate,
            burst: (rate * BURST).max(1.0),
            bucket: Mutex::new((0.0, Instant::now())),
        }
    }

    /// How long the caller must wait, at `now`, before `bytes` more may be counted as received;
    /// counts them.
    fn charge(&self, bytes: u64, now: Instant) -> Duration {
        let mut bucket = self
            .bucket
            .lock()
            .expect("no thread panics holding the bucket");
        let (tokens, then) = *bucket;
        let elapsed = now.saturating_duration_since(then).as_secs_f64();
        let refilled = (tokens + elapsed * self.rate).min(self.burst);
        let left = refilled - bytes as f64;
        *bucket = (left, now.max(then));
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.rate)
        }
    }

    /// Counts `bytes` as received and waits until the rate allows them: later bytes of this
    /// transfer and of every other wait their turn behind them.
    pub async fn take(&self, bytes: u64) {
        let wait = self.charge(bytes, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn it_starts_empty_and_saves_up_a_tenth_of_a_second_at_most() {
        let limit = RateLimit::new(100_000);
        let start = *limit.bucket.lock().unwrap();
        assert_eq!(limit.charge(10_000, start.1), ms(100));
        let later = start.1 + Duration::from_secs(10);
        // 10 s idle paid the debt and filled the bucket, to 0.1 s worth.
        assert_eq!(limit.charge(10_000, later), Duration::ZERO);
        assert_eq!(limit.charge(10_000, later), ms(100));
    }

    #[test]
    fn takers_together_share_one_rate() {
        let limit = RateLimit::new(100_000);
        let t0 = limit.bucket.lock().unwrap().1;
        // Four transfers each take 10 kB at once: the last waits for all 40 kB.
        let waits: Vec<Duration> = (0..4).map(|_| limit.charge(10_000, t0)).collect();
        assert_eq!(waits, vec![ms(100), ms(200), ms(300), ms(400)]);
        // Taking exactly the rate, step by step, never waits longer than the debt there is.
        let limit = RateLimit::new(100_000);
        let t0 = limit.bucket.lock().unwrap().1;
        for step in 1..=50u32 {
            let wait = limit.charge(10_000, t0 + ms(100) * step);
            assert_eq!(wait, Duration::ZERO, "step {step}");
        }
        // Twice the rate: the debt grows by 0.1 s each 0.1 s.
        let wait = (1..=10u32)
            .map(|step| limit.charge(20_000, t0 + ms(5000) + ms(100) * step))
            .last()
            .unwrap();
        assert!((wait.as_secs_f64() - 1.0).abs() < 0.01, "{wait:?}");
    }
}
