//! How many parts of one split file are in flight, found by measuring rather than guessed from
//! where the server is. A file starts with a few parts and doubles them while that raises the
//! run's rate by a meaningful step: half of what each of the file's parts carried before, for each
//! part added and each file transferring (they ramp together). It stops at the file's most (its
//! share of `-j`, which grows as the files beside it finish); the first doubling that does not pay
//! is given back and the number holds. Measuring the run, not the file, keeps a file from growing
//! by taking a share from its siblings on a busy server. This finds many connections for a server
//! that caps each one (S3, a CDN, nginx's `limit_rate`, a proxy) and few for one whose CPU is the
//! limit (a server on this machine).

use std::time::Duration;

/// The parts a run's split files start with in all when `-x` does not fix the number (at least
/// one each).
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
    /// Measuring the current number; `before` is the number before the last addition, with the
    /// file's and the run's rate then, if measured.
    Measuring { before: Option<(usize, f64, f64)> },
    /// The number holds; `by_most` when it stopped at the file's most, which may rise later (as
    /// the files beside it finish) and let it grow again.
    Settled { by_most: bool },
}

/// What a split file reads at each tick.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// The file's bytes received so far.
    pub file: u64,
    /// The whole run's bytes so far: an added part must make the run faster, not only take a
    /// share from the files beside it.
    pub run: u64,
    /// Files being transferred now; a measurement across a change of it is dropped.
    pub files: usize,
    /// The most parts this file may have now (its share of `-j`).
    pub most: usize,
}

/// The window being measured: its start, and the reading then.
#[derive(Debug, Clone, Copy)]
struct Since {
    at: Duration,
    file: u64,
    run: u64,
    files: usize,
}

/// The number of parts one file keeps in flight.
#[derive(Debug, Clone)]
pub struct Ramp {
    target: usize,
    most: usize,
    fixed: bool,
    state: State,
    since: Option<Since>,
    /// When the target last changed.
    changed: Duration,
}

impl Ramp {
    /// A number fixed by `-x`: never changes.
    pub fn fixed(parts: usize) -> Ramp {
        Ramp {
            target: parts.max(1),
            most: parts.max(1),
            fixed: true,
            state: State::Settled { by_most: false },
            since: None,
            changed: Duration::ZERO,
        }
    }

    /// Starts at `start` (at most `most`) and may grow to `most`, or to a later, higher most.
    pub fn adaptive(start: usize, most: usize) -> Ramp {
        let most = most.max(1);
        let target = start.clamp(1, most);
        Ramp {
            target,
            most,
            fixed: false,
            state: if target == most {
                State::Settled { by_most: true }
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

    /// Whether the number can change only through a change of the file's most.
    pub fn settled(&self) -> bool {
        matches!(self.state, State::Settled { .. })
    }

    /// Takes a reading at `now` (time since the parts started) and returns the parts to keep in
    /// flight from here.
    pub fn observe(&mut self, now: Duration, reading: Reading) -> usize {
        if self.fixed {
            return self.target;
        }
        self.most = reading.most.max(1);
        if self.target > self.most {
            // More files share -j now: give parts back, and measure afresh.
            self.target = self.most;
            self.restart(now);
            self.state = State::Settled { by_most: true };
            return self.target;
        }
        let before = match self.state {
            State::Settled { by_most: true } if self.most > self.target => {
                // Files beside this one finished: room to grow again, from a fresh measurement.
                self.state = State::Measuring { before: None };
                self.restart(now);
                return self.target;
            }
            State::Settled { .. } => return self.target,
            State::Measuring { before } => before,
        };
        if now < self.changed + SETTLE {
            return self.target;
        }
        let since = match self.since {
            Some(since) if since.files == reading.files => since,
            // The first reading of a window, or one across a change of the files transferring.
            _ => {
                self.since = Some(Since {
                    at: now,
                    file: reading.file,
                    run: reading.run,
                    files: reading.files,
                });
                return self.target;
            }
        };
        let span = now.saturating_sub(since.at);
        if span < WINDOW {
            return self.target;
        }
        let rate = |to: u64, from: u64| to.saturating_sub(from) as f64 / span.as_secs_f64();
        let (file_rate, run_rate) = (rate(reading.file, since.file), rate(reading.run, since.run));
        match before {
            // The first number measured: double it, if allowed.
            None => self.grow(now, file_rate, run_rate),
            // The run gained at least half of what each of this file's parts carried before, for
            // each part added and each file transferring: the files beside it ramp in the same
            // windows, and the run's gain is theirs too.
            Some((from, file_before, run_before))
                if run_rate - run_before
                    >= STEP * file_before / from as f64
                        * (self.target - from) as f64
                        * reading.files as f64 =>
            {
                self.grow(now, file_rate, run_rate)
            }
            // No step: back to the number that was as fast with fewer parts.
            Some((from, _, _)) => {
                self.target = from;
                self.state = State::Settled { by_most: false };
            }
        }
        self.target
    }

    fn restart(&mut self, now: Duration) {
        self.since = None;
        self.changed = now;
    }

    fn grow(&mut self, now: Duration, file_rate: f64, run_rate: f64) {
        if self.target >= self.most {
            self.state = State::Settled { by_most: true };
            return;
        }
        // Doubling, as TCP's slow start does: a file alone reaches 16 parts in four steps.
        let from = self.target;
        self.target = (from * 2).min(self.most);
        self.state = State::Measuring {
            before: Some((from, file_rate, run_rate)),
        };
        self.restart(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives `ramp` as the only file of a run, against a server whose rate for `n` parts is
    /// `rate(n)` bytes a second, read every 50 ms for `seconds`; returns the targets it went
    /// through.
    fn drive(ramp: &mut Ramp, rate: impl Fn(usize) -> f64, seconds: u64) -> Vec<usize> {
        let most = ramp.most;
        drive_beside(ramp, |n, _| (rate(n), 0.0), |_| (1, most), seconds)
    }

    /// As [`drive`], with files beside this one: `rates(n, t)` is this file's rate and the
    /// others' together at time `t`, `files(t)` the files transferring and this file's most.
    fn drive_beside(
        ramp: &mut Ramp,
        rates: impl Fn(usize, Duration) -> (f64, f64),
        files: impl Fn(Duration) -> (usize, usize),
        seconds: u64,
    ) -> Vec<usize> {
        let tick = Duration::from_millis(50);
        let (mut now, mut file, mut run) = (Duration::ZERO, 0.0, 0.0);
        let mut seen = vec![ramp.target()];
        while now < Duration::from_secs(seconds) {
            now += tick;
            let (mine, others) = rates(ramp.target(), now);
            file += mine * tick.as_secs_f64();
            run += (mine + others) * tick.as_secs_f64();
            let (count, most) = files(now);
            let reading = Reading {
                file: file as u64,
                run: run as u64,
                files: count,
                most,
            };
            let target = ramp.observe(now, reading);
            if seen.last() != Some(&target) {
                seen.push(target);
            }
        }
        seen
    }

    #[test]
    fn a_server_that_caps_each_connection_gets_every_part_allowed() {
        // 30 MB/s per connection, no other limit.
        let mut ramp = Ramp::adaptive(START, 16);
        let seen = drive(&mut ramp, |n| 30e6 * n as f64, 20);
        assert_eq!(seen, [2, 4, 8, 16]);
        assert!(ramp.settled());
    }

    #[test]
    fn a_server_limited_by_its_cpu_keeps_few_parts() {
        // 1 GB/s whatever the number of connections: the first addition brings nothing.
        let mut ramp = Ramp::adaptive(START, 16);
        assert_eq!(drive(&mut ramp, |_| 1e9, 5), [2, 4, 2]);
        assert!(ramp.settled());
    }

    #[test]
    fn a_part_that_only_takes_from_the_files_beside_is_given_back() {
        // Four files share a busy server's 1 GB/s by their parts: this one's share grows with
        // each part it adds, the run's rate does not.
        let mut ramp = Ramp::adaptive(1, 4);
        let rates = |n: usize, _| {
            let mine = 1e9 * n as f64 / (n + 3) as f64;
            (mine, 1e9 - mine)
        };
        assert_eq!(drive_beside(&mut ramp, rates, |_| (4, 4), 5), [1, 2, 1]);
        assert!(ramp.settled());
    }

    #[test]
    fn a_file_left_alone_grows_into_the_share_its_siblings_leave() {
        // Capped connections; five files share -j 16 (3 each), ramping alike, until the four
        // small ones finish at 2 s; then this one may have 16.
        let mut ramp = Ramp::adaptive(1, 3);
        let alone = Duration::from_secs(2);
        let files = |t: Duration| if t < alone { (5, 3) } else { (1, 16) };
        let rates = |n: usize, t: Duration| {
            let others = if t < alone {
                4.0 * 25e6 * n as f64
            } else {
                0.0
            };
            (25e6 * n as f64, others)
        };
        let seen = drive_beside(&mut ramp, rates, files, 20);
        assert_eq!(seen, [1, 2, 3, 6, 12, 16]);
    }

    #[test]
    fn files_that_ramp_together_on_a_busy_server_all_stay_at_one() {
        // Four files, each adding a part in the same windows: the run gains 10 %, far from half
        // a part's share for each of the four.
        let mut ramp = Ramp::adaptive(1, 4);
        let rates = |n: usize, _| {
            let run = if n > 1 { 1.1e9 } else { 1e9 };
            (run / 4.0, run * 3.0 / 4.0)
        };
        assert_eq!(drive_beside(&mut ramp, rates, |_| (4, 4), 5), [1, 2, 1]);
    }

    #[test]
    fn more_files_take_parts_back() {
        let mut ramp = Ramp::adaptive(4, 8);
        let files = |t: Duration| {
            if t < Duration::from_secs(1) {
                (1, 8)
            } else {
                (4, 2)
            }
        };
        let seen = drive_beside(&mut ramp, |_, _| (1e9, 0.0), files, 3);
        assert_eq!(seen.last(), Some(&2), "{seen:?}");
    }

    #[test]
    fn an_addition_that_slows_the_file_is_given_back() {
        // Two parts share a link best; each one more costs 10 %.
        let mut ramp = Ramp::adaptive(START, 16);
        let rate = |n: usize| {
            if n <= 2 {
                200e6
            } else {
                200e6 * 0.9f64.powi(n as i32 - 2)
            }
        };
        assert_eq!(drive(&mut ramp, rate, 5), [2, 4, 2]);
        assert!(ramp.settled());
    }

    #[test]
    fn parts_that_bring_less_than_half_a_share_each_are_given_back() {
        // Each part carries 40 MB/s until 4, then each one more brings 10 MB/s: a quarter share.
        let mut ramp = Ramp::adaptive(START, 16);
        let rate = |n: usize| 40e6 * n.min(4) as f64 + 10e6 * n.saturating_sub(4) as f64;
        assert_eq!(drive(&mut ramp, rate, 10), [2, 4, 8, 4]);
    }

    #[test]
    fn the_ramp_stops_where_the_rate_stops_rising() {
        // 25 MB/s per connection until a 150 MB/s link is full: from 4 parts to 8 brings two
        // shares of four (kept), to 16 nothing (given back).
        let mut ramp = Ramp::adaptive(START, 16);
        let seen = drive(&mut ramp, |n| (25e6 * n as f64).min(150e6), 20);
        assert_eq!(seen, [2, 4, 8, 16, 8]);
        assert!(ramp.settled());
    }

    #[test]
    fn a_fixed_number_and_a_small_most_never_move() {
        let mut fixed = Ramp::fixed(5);
        assert_eq!(drive(&mut fixed, |n| 30e6 * n as f64, 5), [5]);
        let mut one = Ramp::adaptive(START, 1);
        assert_eq!(drive(&mut one, |n| 30e6 * n as f64, 5), [1]);
        assert!(one.settled());
        let mut three = Ramp::adaptive(START, 3);
        assert_eq!(drive(&mut three, |n| 30e6 * n as f64, 5), [2, 3]);
    }

    #[test]
    fn nothing_is_decided_before_a_full_window_after_a_change() {
        let mut ramp = Ramp::adaptive(START, 16);
        let at = |ms: u64, bytes: u64| {
            let reading = Reading {
                file: bytes,
                run: bytes,
                files: 1,
                most: 16,
            };
            (Duration::from_millis(ms), reading)
        };
        // Readings within the settle time and the first window change nothing.
        for (ms, bytes) in [(100, 1_000), (200, 2_000), (600, 50_000)] {
            let (now, reading) = at(ms, bytes);
            assert_eq!(ramp.observe(now, reading), 2);
        }
        // A full window after the first reading past the settle time.
        let (now, reading) = at(700, 60_000);
        assert_eq!(ramp.observe(now, reading), 4);
    }
}
