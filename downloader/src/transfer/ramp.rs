//! How many parts of one split file are in flight, found by measuring rather than guessed from
//! where the server is. A file starts with a few parts; while each part added raises the file's
//! rate by a meaningful step (half of what each part carried before), another is added, up to
//! the file's most; the first addition that does not is given back and the number holds. This
//! finds many connections for a server that caps each one (S3, a CDN, nginx's `limit_rate`, a
//! proxy) and few for one whose CPU is the limit (a server on this machine).

use std::time::Duration;

/// The parts a file starts with when `-x` does not fix the number.
pub const START: usize = 2;

/// How long each number of parts is measured before the next decision. Long enough to average
/// out a part's request round trip and TCP's start; short enough that a file of a few hundred
/// megabytes at a capped rate still reaches its number while it runs.
pub const WINDOW: Duration = Duration::from_millis(500);

/// The time after a change that is not measured: the new connection's request and first bytes.
pub const SETTLE: Duration = Duration::from_millis(150);

/// The share of one part's rate (the file's rate over its parts) that an added part must bring
/// to be kept: a capped connection brings a whole share, one to a busy server next to nothing.
const STEP: f64 = 0.5;

/// Where the ramp is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Measuring the current number; `before` is the rate with one part fewer, if measured.
    Measuring { before: Option<f64> },
    /// Done: the number holds for the rest of the file.
    Settled,
}

/// The number of parts one file keeps in flight.
#[derive(Debug, Clone)]
pub struct Ramp {
    target: usize,
    most: usize,
    state: State,
    /// When the current measurement began (after its settle time), and the bytes then.
    since: Option<(Duration, u64)>,
    /// When the target last changed.
    changed: Duration,
}

impl Ramp {
    /// A number fixed by `-x`: never changes.
    pub fn fixed(parts: usize) -> Ramp {
        Ramp {
            target: parts.max(1),
            most: parts.max(1),
            state: State::Settled,
            since: None,
            changed: Duration::ZERO,
        }
    }

    /// Starts at [`START`] (or `most`, when lower) and may grow to `most`.
    pub fn adaptive(most: usize) -> Ramp {
        let most = most.max(1);
        let target = START.min(most);
        Ramp {
            target,
            most,
            state: if target == most {
                State::Settled
            } else {
                State::Measuring { before: None }
            },
            since: None,
            changed: Duration::ZERO,
        }
    }

    /// The parts to keep in flight now.
    pub fn target(&self) -> usize {
        self.target
    }

    /// Whether the number can still change.
    pub fn settled(&self) -> bool {
        self.state == State::Settled
    }

    /// Takes a reading, `bytes` of the file received by `now` (time since the parts started),
    /// and returns the parts to keep in flight from here.
    pub fn observe(&mut self, now: Duration, bytes: u64) -> usize {
        let State::Measuring { before } = self.state else {
            return self.target;
        };
        if now < self.changed + SETTLE {
            return self.target;
        }
        let Some((from, from_bytes)) = self.since else {
            self.since = Some((now, bytes));
            return self.target;
        };
        let span = now.saturating_sub(from);
        if span < WINDOW {
            return self.target;
        }
        let rate = bytes.saturating_sub(from_bytes) as f64 / span.as_secs_f64();
        match before {
            // The first number measured, or one that paid off: one more, if allowed.
            None => self.grow(now, rate),
            Some(before) if rate - before >= STEP * before / (self.target - 1) as f64 => {
                self.grow(now, rate)
            }
            // No step: back to the number that was as fast with one part fewer.
            Some(_) => {
                self.target -= 1;
                self.state = State::Settled;
            }
        }
        self.target
    }

    fn grow(&mut self, now: Duration, rate: f64) {
        if self.target >= self.most {
            self.state = State::Settled;
            return;
        }
        self.target += 1;
        self.state = State::Measuring { before: Some(rate) };
        self.since = None;
        self.changed = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives `ramp` with a server whose rate for `n` parts is `rate(n)` bytes a second, read every
    /// 50 ms for `seconds`; returns the targets it went through.
    fn drive(ramp: &mut Ramp, rate: impl Fn(usize) -> f64, seconds: u64) -> Vec<usize> {
        let tick = Duration::from_millis(50);
        let (mut now, mut bytes, mut seen) = (Duration::ZERO, 0.0, vec![ramp.target()]);
        while now < Duration::from_secs(seconds) {
            now += tick;
            bytes += rate(ramp.target()) * tick.as_secs_f64();
            let target = ramp.observe(now, bytes as u64);
            if seen.last() != Some(&target) {
                seen.push(target);
            }
        }
        seen
    }

    #[test]
    fn a_server_that_caps_each_connection_gets_every_part_allowed() {
        // 30 MB/s per connection, no other limit.
        let mut ramp = Ramp::adaptive(16);
        let seen = drive(&mut ramp, |n| 30e6 * n as f64, 20);
        assert_eq!(seen, (2..=16).collect::<Vec<_>>());
        assert!(ramp.settled());
    }

    #[test]
    fn a_server_limited_by_its_cpu_keeps_few_parts() {
        // 1 GB/s whatever the number of connections: the first addition brings nothing.
        let mut ramp = Ramp::adaptive(16);
        assert_eq!(drive(&mut ramp, |_| 1e9, 5), [2, 3, 2]);
        assert!(ramp.settled());
    }

    #[test]
    fn an_addition_that_slows_the_file_is_given_back() {
        // Two parts share a link best; each one more costs 10 %.
        let mut ramp = Ramp::adaptive(16);
        let rate = |n: usize| {
            if n <= 2 {
                200e6
            } else {
                200e6 * 0.9f64.powi(n as i32 - 2)
            }
        };
        assert_eq!(drive(&mut ramp, rate, 5), [2, 3, 2]);
        assert!(ramp.settled());
    }

    #[test]
    fn a_part_that_brings_less_than_half_a_share_is_given_back() {
        // Each part carries 40 MB/s until 4, then each one more brings 10 MB/s: a quarter share.
        let mut ramp = Ramp::adaptive(16);
        let rate = |n: usize| 40e6 * n.min(4) as f64 + 10e6 * n.saturating_sub(4) as f64;
        assert_eq!(drive(&mut ramp, rate, 10), [2, 3, 4, 5, 4]);
    }

    #[test]
    fn the_ramp_stops_where_the_rate_stops_rising() {
        // 25 MB/s per connection until a 150 MB/s link is full: 6 parts fill it, a 7th adds nothing.
        let mut ramp = Ramp::adaptive(16);
        let seen = drive(&mut ramp, |n| (25e6 * n as f64).min(150e6), 20);
        assert_eq!(seen, [2, 3, 4, 5, 6, 7, 6]);
        assert!(ramp.settled());
    }

    #[test]
    fn a_fixed_number_and_a_small_most_never_move() {
        let mut fixed = Ramp::fixed(5);
        assert_eq!(drive(&mut fixed, |n| 30e6 * n as f64, 5), [5]);
        let mut one = Ramp::adaptive(1);
        assert_eq!(drive(&mut one, |n| 30e6 * n as f64, 5), [1]);
        assert!(one.settled());
        let mut three = Ramp::adaptive(3);
        assert_eq!(drive(&mut three, |n| 30e6 * n as f64, 5), [2, 3]);
    }

    #[test]
    fn nothing_is_decided_before_a_full_window_after_a_change() {
        let mut ramp = Ramp::adaptive(16);
        // Readings within the settle time and the first window change nothing.
        assert_eq!(ramp.observe(Duration::from_millis(100), 1_000), 2);
        assert_eq!(ramp.observe(Duration::from_millis(200), 2_000), 2);
        assert_eq!(ramp.observe(Duration::from_millis(600), 50_000), 2);
        // A full window after the first reading past the settle time.
        assert_eq!(ramp.observe(Duration::from_millis(700), 60_000), 3);
    }
}
