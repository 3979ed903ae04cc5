//! How one file is divided: its parts, how large they grow, how many are in flight at once, how
//! far each has come (with the CRC of its bytes so far, when the file is checked against one), and
//! the `.NAME.fetch-state` record of them from which a later run resumes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::config::{DEFAULT_CONNECTIONS_PER_FILE, RUN_CONNECTIONS};
use crate::transfer::verify::RunningCrc;

/// How many parts each connection of a split file gets at least, so that one slow part does not
/// leave the others idle at the end.
const PARTS_PER_CONNECTION: u64 = 4;

/// The largest automatic part size: bounds how much a failed part must be fetched again.
const MAX_PART_SIZE: u64 = 64 * 1024 * 1024;

/// The most parts a file is split into (S3's limit for an upload's parts), whatever size the
/// server claims: past 625 GiB parts grow beyond [`MAX_PART_SIZE`] instead, so that an absurd
/// `Content-Range` total costs an error when the file is sized, not all memory for part records.
const MAX_PARTS: u64 = 10_000;

/// How many connections one split file may use.
///
/// Parallel parts pay off when one connection cannot fill the path: a long round trip limits what
/// a TCP window carries, and S3, CDNs and proxies cap each connection. When the server's CPU is
/// the limit (one on this machine shares our cores), more connections only add work. Which is the
/// case is measured while the file arrives (see [`crate::transfer::ramp`]), unless `-x` fixes it.
/// The split files being transferred at once share [`RUN_CONNECTIONS`] (or `-j`, when more) in
/// proportion to their sizes: a run ends with its last file, and the biggest is the one that
/// would end it late. A file's share grows as the others finish.
#[derive(Debug, Clone)]
pub struct Connections {
    /// The connections the run's split files share.
    budget: usize,
    /// `-x`, within the first files' share of the budget.
    fixed: Option<usize>,
    /// The split files being transferred now.
    split: Arc<Mutex<Split>>,
}

/// The split files being transferred now: how many, their sizes added up, and their parts in
/// flight.
#[derive(Debug, Default)]
struct Split {
    files: usize,
    bytes: u64,
    parts: usize,
}

impl Connections {
    /// `-x` when given, or up to [`DEFAULT_CONNECTIONS_PER_FILE`] found by measuring; never more
    /// than a file's part of the budget, [`RUN_CONNECTIONS`] or `jobs` if more (`-x` an equal part
    /// among the `files` that start at once, a measured number a part by size among the split
    /// files transferring at each moment).
    pub fn new(explicit: Option<usize>, jobs: usize, files: usize) -> Connections {
        let budget = jobs.max(RUN_CONNECTIONS);
        Connections {
            budget,
            fixed: explicit.map(|x| x.min(budget / files.max(1)).max(1)),
            split: Arc::default(),
        }
    }

    /// Counts a split file of `size` bytes as transferring until the guard is dropped.
    pub fn splitting(&self, size: u64) -> Splitting {
        let mut split = self.split.lock().expect("split files lock");
        split.files += 1;
        split.bytes += size;
        Splitting {
            split: self.split.clone(),
            size,
            parts: 0,
        }
    }

    /// What the split files share now, as a file of `size` bytes sees it, in one look.
    pub fn share(&self, size: u64) -> Share {
        let split = self.split.lock().expect("split files lock");
        let most = self.fixed.unwrap_or_else(|| {
            let all = split.bytes.max(size).max(1);
            let share = self.budget as u128 * u128::from(size) / u128::from(all);
            DEFAULT_CONNECTIONS_PER_FILE.min(share as usize).max(1)
        });
        Share {
            files: split.files.max(1),
            parts: split.parts,
            most,
        }
    }

    /// The ramp a split file of `size` bytes follows, starting from its part of
    /// [`crate::transfer::ramp::START`].
    pub fn ramp(&self, size: u64) -> crate::transfer::ramp::Ramp {
        match self.fixed {
            Some(x) => crate::transfer::ramp::Ramp::fixed(x),
            None => {
                let share = self.share(size);
                crate::transfer::ramp::Ramp::adaptive(
                    (crate::transfer::ramp::START / share.files).max(1),
                    share.most,
                )
            }
        }
    }
}

/// What the split files of a run share at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Split files being transferred (at least 1).
    pub files: usize,
    /// Their parts in flight, as each last told its [`Splitting`].
    pub parts: usize,
    /// The most parts the file asking may have in flight.
    pub most: usize,
}

/// A split file counted by [`Connections::splitting`].
#[derive(Debug)]
pub struct Splitting {
    split: Arc<Mutex<Split>>,
    size: u64,
    parts: usize,
}

impl Splitting {
    /// Counts `parts` in flight for this file from now on.
    pub fn set_parts(&mut self, parts: usize) {
        if parts != self.parts {
            let mut split = self.split.lock().expect("split files lock");
            split.parts = split.parts - self.parts + parts;
            self.parts = parts;
        }
    }
}

impl Drop for Splitting {
    fn drop(&mut self) {
        let mut split = self.split.lock().expect("split files lock");
        split.files -= 1;
        split.bytes -= self.size;
        split.parts -= self.parts;
    }
}

/// How far one range of the file has come.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) start: u64,
    /// Inclusive; `None` for a stream of unknown length.
    pub(crate) end: Option<u64>,
    pub(crate) done: AtomicU64,
    /// The CRC of the bytes written so far, when the file is checked against one.
    crc: Mutex<Option<RunningCrc>>,
}

impl Part {
    fn new(start: u64, end: Option<u64>, done: u64) -> Part {
        Part {
            start,
            end,
            done: AtomicU64::new(done),
            crc: Mutex::new(None),
        }
    }

    /// Counts `chunks`, just written at the part's end, as done; returns how many bytes they hold.
    pub(crate) fn wrote(&self, chunks: &[Bytes]) -> u64 {
        if let Some(crc) = self.crc.lock().expect("part CRC lock").as_mut() {
            chunks.iter().for_each(|chunk| crc.update(chunk));
        }
        let written = chunks.iter().map(|chunk| chunk.len() as u64).sum();
        self.done.fetch_add(written, Ordering::AcqRel);
        written
    }

    /// Forgets what was written, for a part read again from its start; returns how much that was.
    pub(crate) fn restart(&self) -> u64 {
        if let Some(crc) = self.crc.lock().expect("part CRC lock").as_mut() {
            crc.reset();
        }
        self.done.swap(0, Ordering::AcqRel)
    }

    /// The CRC of the part's bytes, when it was tracked.
    fn crc(&self) -> Option<RunningCrc> {
        *self.crc.lock().expect("part CRC lock")
    }

    pub(crate) fn len(&self) -> Option<u64> {
        self.end.map(|end| end - self.start + 1)
    }

    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }

    pub(crate) fn complete(&self) -> bool {
        self.len() == Some(self.done())
    }
}

/// The file as a set of parts, plus what makes a later range request safe.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) total: Option<u64>,
    pub(crate) validator: Option<String>,
    /// Ranges of this file can be requested: parts and retries continue where they stopped
    /// instead of starting over (resuming across runs also needs the validator).
    pub(crate) ranged: bool,
    pub(crate) parts: Vec<Part>,
}

impl Layout {
    /// Nothing known yet: a download whose first request failed.
    pub(crate) fn unknown() -> Layout {
        Layout {
            total: None,
            validator: None,
            ranged: false,
            parts: Vec::new(),
        }
    }

    /// A file that came whole in answer to the first request: one part (none when empty).
    pub(crate) fn whole(
        len: Option<u64>,
        accepts_ranges: bool,
        validator: Option<String>,
    ) -> Layout {
        Layout {
            total: len,
            ranged: accepts_ranges && validator.is_some() && len.is_some(),
            validator,
            parts: match len {
                Some(0) => Vec::new(),
                Some(len) => vec![Part::new(0, Some(len - 1), 0)],
                None => vec![Part::new(0, None, 0)],
            },
        }
    }

    /// A file of `total` bytes whose first range, `[0, first_end]`, came in answer to the first
    /// request. The parts after it are at least `part_size` and grow with the file, so that each
    /// of the `connections` makes a few large requests rather than many small ones (s5cmd uses
    /// 50 MB parts): fewer requests cost the server and the client less CPU per byte.
    pub(crate) fn ranged(
        total: u64,
        first_end: u64,
        part_size: u64,
        connections: usize,
        validator: Option<String>,
    ) -> Layout {
        let rest = total.saturating_sub(first_end + 1);
        let grown = rest.div_ceil(PARTS_PER_CONNECTION * connections as u64);
        let size = part_size
            .max(grown)
            .min(MAX_PART_SIZE)
            .max(rest.div_ceil(MAX_PARTS - 1));
        Layout::split(total, first_end, size, validator)
    }

    /// Parts of `part_size` after a first part `[0, first_end]`.
    fn split(total: u64, first_end: u64, part_size: u64, validator: Option<String>) -> Layout {
        let mut parts = vec![Part::new(0, Some(first_end), 0)];
        let mut start = first_end + 1;
        while start < total {
            let end = start.saturating_add(part_size).min(total) - 1;
            parts.push(Part::new(start, Some(end), 0));
            start = end + 1;
        }
        // The server answered a range request, so ranges work; but without a validator a retried
        // range cannot prove the file unchanged: such a file (one part, see
        // `Transfer::fresh`) is asked for whole again, and not resumed across runs.
        Layout {
            total: Some(total),
            ranged: validator.is_some(),
            validator,
            parts,
        }
    }

    /// Starts a CRC of each part from `empty`, before any byte is written.
    pub(crate) fn track_crc(&self, empty: RunningCrc) {
        for part in &self.parts {
            *part.crc.lock().expect("part CRC lock") = Some(empty);
        }
    }

    /// The CRC of the whole file, when every part's was tracked: `empty` followed by each part's.
    pub(crate) fn crc(&self, empty: RunningCrc) -> Option<RunningCrc> {
        self.parts
            .iter()
            .try_fold(empty, |whole, part| Some(whole.then(&part.crc()?)))
    }

    /// Bytes on disk so far.
    pub(crate) fn done(&self) -> u64 {
        self.parts.iter().map(Part::done).sum()
    }

    /// What `.NAME.fetch-state` holds for `url` (redacted, as shown), when a later run can resume
    /// this file: some bytes arrived, ranges work and the file has a validator and a size.
    pub(crate) fn resume_state(&self, url: &str) -> Option<Vec<u8>> {
        let (Some(validator), Some(total)) = (&self.validator, self.total) else {
            return None;
        };
        if !self.ranged || self.done() == 0 {
            return None;
        }
        let state = ResumeState {
            url: url.to_string(),
            validator: validator.clone(),
            total,
            parts: self
                .parts
                .iter()
                .map(|p| [p.start, p.end.unwrap_or(total - 1), p.done()])
                .collect(),
        };
        serde_json::to_vec(&state).ok()
    }

    /// The layout an earlier run recorded in `state` for `url`, when it belongs to that URL and
    /// fits a partial file of `partial_len` bytes.
    pub(crate) fn resumed(state: &[u8], url: &str, partial_len: u64) -> Option<Layout> {
        let state: ResumeState = serde_json::from_slice(state).ok()?;
        // Every byte the state counts as done must be in the file (a split file was sized up
        // front; a single stream is as long as what it wrote).
        let consistent = state.url == url
            && partial_len <= state.total
            && state.parts.iter().all(|&[start, end, done]| {
                start <= end
                    && done <= end - start + 1
                    && (done == 0 || start + done <= partial_len)
            });
        consistent.then(|| Layout {
            total: Some(state.total),
            validator: Some(state.validator),
            ranged: true,
            parts: state
                .parts
                .iter()
                .map(|&[start, end, done]| Part::new(start, Some(end), done))
                .collect(),
        })
    }
}

/// What `.NAME.fetch-state` holds.
#[derive(Debug, Serialize, Deserialize)]
struct ResumeState {
    /// The (redacted) URL the partial file belongs to.
    url: String,
    validator: String,
    total: u64,
    /// `[start, end, done]` per part.
    parts: Vec<[u64; 3]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_files_share_the_connections_by_size_and_x_fixes_them() {
        const GIB: u64 = 1 << 30;
        // -j 16, one file: the default most, found by the ramp from START.
        let c = Connections::new(None, 16, 1);
        let big = c.splitting(GIB);
        assert_eq!(c.share(GIB).most, DEFAULT_CONNECTIONS_PER_FILE);
        assert_eq!(c.ramp(GIB).target(), crate::transfer::ramp::START);
        // Four files of a quarter its size beside it: it keeps its 16 (half the bytes, 32), they
        // get 8 each, and START is shared: one each to begin with.
        let small: Vec<_> = (0..4).map(|_| c.splitting(GIB / 4)).collect();
        assert_eq!(c.share(GIB).files, 5);
        assert_eq!(
            (c.share(GIB).most, c.share(GIB / 4).most),
            (16, RUN_CONNECTIONS / 8)
        );
        assert_eq!(c.ramp(GIB / 4).target(), 1);
        let mut counted = c.splitting(GIB);
        counted.set_parts(3);
        counted.set_parts(5);
        assert_eq!(c.share(GIB).parts, 5);
        drop(counted);
        assert_eq!(c.share(GIB).parts, 0);
        // Eight files of one size: an equal share.
        let more: Vec<_> = (0..3).map(|_| c.splitting(GIB / 4)).collect();
        drop(big);
        assert_eq!(c.share(GIB / 4).most, RUN_CONNECTIONS / 7);
        // As they finish, the last one's share grows back.
        drop(more);
        drop(small);
        let alone = c.share(GIB);
        assert_eq!((alone.files, alone.most), (1, DEFAULT_CONNECTIONS_PER_FILE));
        // Never fewer than one, however many share; -j above the run's connections raises them.
        let many = Connections::new(None, 16, 128);
        let all: Vec<_> = (0..128).map(|_| many.splitting(GIB)).collect();
        assert_eq!(many.share(GIB).most, 1);
        drop(all);
        let wide = Connections::new(None, 256, 64);
        let _all: Vec<_> = (0..64).map(|_| wide.splitting(GIB)).collect();
        assert_eq!(wide.share(GIB).most, 4);
        // An explicit -x holds from the start, within an equal share among the first files.
        let explicit = Connections::new(Some(6), 16, 1);
        assert_eq!(
            (explicit.share(GIB).most, explicit.ramp(GIB).target()),
            (6, 6)
        );
        assert!(explicit.ramp(GIB).settled() && explicit.ramp(GIB).is_fixed());
        assert_eq!(
            Connections::new(Some(16), 16, 5).share(GIB).most,
            RUN_CONNECTIONS / 5
        );
    }

    #[test]
    fn split_covers_the_file_exactly() {
        let layout = Layout::split(25, 9, 10, Some("\"e\"".into()));
        let spans: Vec<_> = layout.parts.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(spans, vec![(0, Some(9)), (10, Some(19)), (20, Some(24))]);
        assert!(layout.ranged);
        let single = Layout::split(5, 4, 10, None);
        assert_eq!(single.parts.len(), 1);
        assert!(single.validator.is_none());
        assert!(!single.ranged, "without a validator a retry starts over");
    }

    #[test]
    fn an_absurd_size_makes_few_large_parts_not_billions() {
        let huge = Layout::ranged(u64::MAX, 8 * 1024 * 1024 - 1, 8 * 1024 * 1024, 4, None);
        assert!(huge.parts.len() as u64 <= MAX_PARTS, "{}", huge.parts.len());
        assert_eq!(huge.parts.last().and_then(|p| p.end), Some(u64::MAX - 1));
        let at_limit = Layout::ranged(10_000 * MAX_PART_SIZE, 0, MAX_PART_SIZE, 8, None);
        assert!(at_limit.parts.len() as u64 <= MAX_PARTS);
    }

    #[test]
    fn parts_grow_to_about_four_per_connection_within_bounds() {
        const MIB: u64 = 1024 * 1024;
        // 1 GiB after an 8 MiB first part, 2 connections: (1016 MiB / 8) = 127 MiB, capped at 64.
        let big = Layout::ranged(1024 * MIB, 8 * MIB - 1, 8 * MIB, 2, None);
        assert_eq!(big.parts[1].len(), Some(MAX_PART_SIZE));
        // 100 MiB, 8 connections: 92 MiB / 32 is under the 8 MiB floor.
        let small = Layout::ranged(100 * MIB, 8 * MIB - 1, 8 * MIB, 8, None);
        assert_eq!(small.parts[1].len(), Some(8 * MIB));
        // 200 MiB, 2 connections: 192 MiB / 8 = 24 MiB.
        let mid = Layout::ranged(200 * MIB, 8 * MIB - 1, 8 * MIB, 2, None);
        assert_eq!(mid.parts[1].len(), Some(24 * MIB));
        assert_eq!(
            mid.parts.iter().filter_map(Part::len).sum::<u64>(),
            200 * MIB
        );
    }

    #[test]
    fn a_resume_state_comes_back_only_for_its_url_and_a_file_that_holds_it() {
        let layout = Layout::split(30, 9, 10, Some("\"v1\"".into()));
        assert!(
            layout.resume_state("http://h/f").is_none(),
            "nothing arrived yet"
        );
        layout.parts[0].done.store(10, Ordering::Release);
        layout.parts[2].done.store(4, Ordering::Release);
        let state = layout.resume_state("http://h/f").unwrap();

        let back = Layout::resumed(&state, "http://h/f", 30).unwrap();
        let parts: Vec<_> = back
            .parts
            .iter()
            .map(|p| (p.start, p.end, p.done()))
            .collect();
        assert_eq!(
            parts,
            vec![(0, Some(9), 10), (10, Some(19), 0), (20, Some(29), 4)]
        );
        assert_eq!(
            (back.total, back.validator.as_deref()),
            (Some(30), Some("\"v1\""))
        );
        assert_eq!(back.done(), 14);

        assert!(Layout::resumed(&state, "http://h/other", 30).is_none());
        assert!(
            Layout::resumed(&state, "http://h/f", 20).is_none(),
            "file too short"
        );
        assert!(
            Layout::resumed(&state, "http://h/f", 31).is_none(),
            "file too long"
        );
        assert!(Layout::resumed(b"{not json", "http://h/f", 30).is_none());
    }

    #[test]
    fn without_a_validator_or_ranges_nothing_is_kept_for_later() {
        let whole = Layout::whole(Some(5), true, None);
        whole.parts[0].done.store(3, Ordering::Release);
        assert!(!whole.ranged);
        assert!(whole.resume_state("http://h/f").is_none());
        let unranged = Layout::whole(Some(5), false, Some("\"v\"".into()));
        unranged.parts[0].done.store(3, Ordering::Release);
        assert!(unranged.resume_state("http://h/f").is_none());
        assert!(Layout::whole(Some(0), true, None).parts.is_empty());
    }
}
