//! How many parts of one split file are in flight, found by measuring rather than guessed from
//! where the server is. A file starts with a few parts and steps them up while that raises the
//! run's rate by a meaningful step: half of what each of the file's parts carried before, for each
//! part the run added (the split files ramp together). The first step quadruples, and so does one
//! after a step that brought nearly whole shares; otherwise it doubles, and a quadrupling that
//! does not pay is tried as a doubling. It stops at the file's most (its share of the run's
//! connections, which grows as the files beside it finish); the first step that does not pay is
//! given back and the number holds until fewer files are transferring. Measuring the run, not the
//! file, keeps a file from growing by taking a share from its siblings on a busy server. This
//! finds many connections for a server that caps each one (S3, a CDN, nginx's `limit_rate`, a
//! proxy) and few for one whose CPU is the limit (a server on this machine).

use std::time::Duration;

/// The parts a run's split files start with in all when `-x` does not fix the number (at least
/// one each).
pub const START: usize = 2;

/// How long each number of parts is measured before the next decision. Long enough to average
/// out a part's request round trip and TCP's start; short enough that a file of a few hundred
/// megabytes at a capped rate still reaches its number while it runs.
pub const WINDOW: Duration = Duration::from_millis(250);

/// The time after a change that is not measured: the new connection's request and first bytes.
pub const SETTLE: Duration = Duration::from_millis(100);

/// The share of one part's rate (the file's rate over its parts) that an added part must bring
/// to be kept: a capped connection brings a whole share, one to a busy server next to nothing.
const STEP: f64 = 0.5;

/// The share an added part brought for the next step to quadruple rather than double: a server
/// that caps each connection gives nearly whole shares, and a file then reaches 16 parts from one
/// in two windows instead of four.
const FULL: f64 = 0.8;

/// Where the ramp is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Measuring the current number; `before` is the number before the last addition, measured.
    Measuring { before: Option<Before> },
    /// The number holds; `by_most` when it stopped at the file's most, which may rise later (as
    /// the files beside it finish) and let it grow again. `files` were transferring when it
    /// settled: when fewer are, what they used is free, and the ramp measures again.
    Settled { by_most: bool, files: usize },
}

/// A number of parts as it was measured.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Before {
    parts: usize,
    /// The file's rate then, bytes a second.
    file_rate: f64,
    /// The run's rate then.
    run_rate: f64,
    /// The files transferring then: a comparison with a run of other files would be meaningless.
    files: usize,
    /// The parts the run's split files had in flight then.
    run_parts: usize,
}

/// What a split file reads at each tick.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// The file's bytes received so far.
    pub file: u64,
    /// The whole run's bytes so far: an added part must make the run faster, not only take a
    /// share from the files beside it.
    pub run: u64,
    /// Split files being transferred now; a measurement across a change of it is dropped.
    pub files: usize,
    /// The parts all split files of the run have in flight now: what the run's gain is for.
    pub run_parts: usize,
    /// The most parts this file may have now (its share of the run's connections).
    pub most: usize,
}

/// The window being measured: its start, and the reading then.
#[derive(Debug, Clone, Copy)]
struct Since {
    at: Duration,
    file: u64,
    run: u64,
    files: usize,
    run_parts: usize,
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
    /// Whether the last part added brought nearly a whole share ([`FULL`]): the next step
    /// quadruples.
    paid_fully: bool,
    /// A number of parts measured not to pay since the files transferring last fell: the ramp
    /// stays below it.
    ceiling: Option<usize>,
}

impl Ramp {
    /// A number fixed by `-x`: never changes.
    pub fn fixed(parts: usize) -> Ramp {
        Ramp {
            target: parts.max(1),
            most: parts.max(1),
            fixed: true,
            state: State::Settled {
                by_most: false,
                files: 0,
            },
            since: None,
            changed: Duration::ZERO,
            paid_fully: false,
            ceiling: None,
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
                State::Settled {
                    by_most: true,
                    files: 0,
                }
            } else {
                State::Measuring { before: None }
            },
            since: None,
            changed: Duration::ZERO,
            // The first step quadruples: one window tells a capped server (four times the rate)
            // from a busy one, and a quadrupling that does not pay is tried as a doubling.
            paid_fully: true,
            ceiling: None,
        }
    }

    /// The parts to keep in flight now.
    pub fn target(&self) -> usize {
        self.target
    }

    /// Whether the number holds until the files transferring change.
    pub fn settled(&self) -> bool {
        matches!(self.state, State::Settled { .. })
    }

    /// Whether `-x` fixed the number: then readings change nothing and need not be taken.
    pub fn is_fixed(&self) -> bool {
        self.fixed
    }

    /// Takes a reading at `now` (time since the parts started) and returns the parts to keep in
    /// flight from here.
    pub fn observe(&mut self, now: Duration, reading: Reading) -> usize {
        if self.fixed {
            return self.target;
        }
        self.most = reading.most.max(1);
        if self.target > self.most {
            // More files share the connections now: give parts back, and measure afresh.
            self.target = self.most;
            self.restart(now);
            self.state = State::Settled {
                by_most: true,
                files: reading.files,
            };
            return self.target;
        }
        let before = match self.state {
            State::Settled { by_most, files }
                if self.most > self.target && (by_most || reading.files < files) =>
            {
                // Files beside this one finished: their connections and their share of the
                // server are free, so the number is measured again and may grow.
                self.state = State::Measuring { before: None };
                self.ceiling = None;
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
                    run_parts: reading.run_parts,
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
        let measured = Before {
            parts: self.target,
            file_rate,
            run_rate,
            files: reading.files,
            run_parts: since.run_parts,
        };
        match before {
            // The first number measured, or the first since the files beside it changed: grow
            // from it, if allowed.
            None => self.grow(now, measured),
            Some(before) if before.files != reading.files => {
                if reading.files < before.files {
                    self.ceiling = None;
                }
                self.grow(now, measured)
            }
            // The run gained at least half of what each of this file's parts carried before, for
            // each part the run added: the files beside it ramp in the same windows, and the
            // run's gain is theirs too.
            Some(before) => {
                let from = before.parts;
                let added =
                    (self.target - from).max(since.run_parts.saturating_sub(before.run_parts));
                let share = before.file_rate / from as f64 * added as f64;
                let gain = run_rate - before.run_rate;
                if gain >= STEP * share {
                    self.paid_fully = gain >= FULL * share;
                    self.grow(now, measured)
                } else if self.target > from * 2 {
                    // A quadrupling that did not pay: a doubling from the same number may.
                    self.ceiling = Some(self.target);
                    self.target = from * 2;
                    self.paid_fully = false;
                    self.restart(now);
                } else {
                    // No step: back to the number that was as fast with fewer parts.
                    self.target = from;
                    self.paid_fully = false;
                    self.state = State::Settled {
                        by_most: false,
                        files: reading.files,
                    };
                }
            }
        }
        self.target
    }

    fn restart(&mut self, now: Duration) {
        self.since = None;
        self.changed = now;
    }

    /// Steps up from the number just `measured`, or settles when it may not.
    fn grow(&mut self, now: Duration, measured: Before) {
        let from = self.target;
        let factor = if self.paid_fully { 4 } else { 2 };
        let next = (from * factor).min(self.most);
        if next == from || self.ceiling.is_some_and(|ceiling| next >= ceiling) {
            self.state = State::Settled {
                by_most: next == from,
                files: measured.files,
            };
            return;
        }
        // Doubling, as TCP's slow start does, and quadrupling after a part that paid in full: a
        // capped server's file goes 2, 4, 16.
        self.target = next;
        self.state = State::Measuring {
            before: Some(measured),
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
    /// The others ramp alike: the run has `n` parts in flight for each file.
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
                run_parts: ramp.target() * count,
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
        // The first step quadruples, and brings six whole shares: the next reaches the most.
        assert_eq!(seen, [2, 8, 16]);
        assert!(ramp.settled());
    }

    #[test]
    fn a_server_limited_by_its_cpu_keeps_few_parts() {
        // 1 GB/s whatever the number of connections: the first addition brings nothing.
        let mut ramp = Ramp::adaptive(START, 16);
        // The quadrupling brings nothing, nor does the doubling tried instead.
        assert_eq!(drive(&mut ramp, |_| 1e9, 5), [2, 8, 4, 2]);
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
        assert_eq!(drive_beside(&mut ramp, rates, |_| (4, 4), 5), [1, 4, 2, 1]);
        assert!(ramp.settled());
    }

    #[test]
    fn a_file_left_alone_grows_into_the_share_its_siblings_leave() {
        // Capped connections; five files share the run's connections (3 each here), ramping
        // alike, until the four others finish at 2 s; then this one may have 16.
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
        assert_eq!(seen, [1, 3, 12, 16]);
    }

    /// Five files ramping alike on a server that caps each connection at 25 MB/s and can send
    /// 800 MB/s in all (12 parts each bring too little over 4, 8 enough), until the four others
    /// finish at `alone`: then this file's 8 parts carry 200 MB/s, and 16 would carry 400. Returns
    /// the targets it went through, and whether it settled.
    fn five_files_then_alone(alone: Duration) -> (Vec<usize>, bool) {
        let mut ramp = Ramp::adaptive(1, 12);
        let files = |t: Duration| if t < alone { (5, 12) } else { (1, 16) };
        let rates = |n: usize, t: Duration| {
            let files = if t < alone { 5.0 } else { 1.0 };
            let run = (25e6 * n as f64 * files).min(800e6);
            (run / files, run - run / files)
        };
        let seen = drive_beside(&mut ramp, rates, files, 10);
        (seen, ramp.settled())
    }

    #[test]
    fn a_number_that_did_not_pay_beside_others_is_measured_again_when_they_finish() {
        let (seen, settled) = five_files_then_alone(Duration::from_secs(4));
        assert_eq!(seen, [1, 4, 12, 8, 16]);
        assert!(settled);
    }

    #[test]
    fn a_step_is_not_judged_against_a_run_of_other_files() {
        // The others finish while this file measures its step to 12 (midway through the third
        // number's window): the run without them is slower than it was with them, which says
        // nothing of the 12 parts.
        let step = SETTLE + WINDOW + Duration::from_millis(50);
        let (seen, settled) = five_files_then_alone(step * 2 + step / 2);
        assert_eq!(seen, [1, 4, 12, 16]);
        assert!(settled);
    }

    #[test]
    fn files_that_ramp_together_on_a_busy_server_all_stay_at_one() {
        // Four files, each adding parts in the same windows: the run gains 10 %, far from half
        // a part's share for each part added.
        let mut ramp = Ramp::adaptive(1, 4);
        let rates = |n: usize, _| {
            let run = if n > 1 { 1.1e9 } else { 1e9 };
            (run / 4.0, run * 3.0 / 4.0)
        };
        assert_eq!(drive_beside(&mut ramp, rates, |_| (4, 4), 5), [1, 4, 2, 1]);
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
        assert_eq!(drive(&mut ramp, rate, 5), [2, 8, 4, 2]);
        assert!(ramp.settled());
    }

    #[test]
    fn parts_that_bring_less_than_half_a_share_each_are_given_back() {
        // Each part carries 40 MB/s until 4, then each one more brings 8 MB/s: a fifth of a
        // share. 2 to 8 brings less than half a share each, 2 to 4 whole ones; 8 is not tried
        // again.
        let mut ramp = Ramp::adaptive(START, 16);
        let rate = |n: usize| 40e6 * n.min(4) as f64 + 8e6 * n.saturating_sub(4) as f64;
        assert_eq!(drive(&mut ramp, rate, 10), [2, 8, 4]);
        assert!(ramp.settled());
    }

    #[test]
    fn the_ramp_stops_where_the_rate_stops_rising() {
        // 25 MB/s per connection until a 150 MB/s link is full: from 2 parts to 8 brings two
        // thirds of a share each (kept), from 8 to 16 nothing (given back).
        let mut ramp = Ramp::adaptive(START, 16);
        let seen = drive(&mut ramp, |n| (25e6 * n as f64).min(150e6), 20);
        assert_eq!(seen, [2, 8, 16, 8]);
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
                run_parts: 2,
                most: 16,
            };
            (Duration::from_millis(ms), reading)
        };
        // Readings within the settle time and the first window change nothing.
        let ms = |d: Duration| d.as_millis() as u64;
        let (settled, judged) = (ms(SETTLE), ms(SETTLE + WINDOW));
        for (at_ms, bytes) in [(settled / 2, 1_000), (settled, 2_000), (judged - 1, 50_000)] {
            let (now, reading) = at(at_ms, bytes);
            assert_eq!(ramp.observe(now, reading), 2);
        }
        // A full window after the first reading past the settle time.
        let (now, reading) = at(judged, 60_000);
        assert_eq!(ramp.observe(now, reading), 8);
    }
}
