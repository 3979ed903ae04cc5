//! What earlier, interrupted runs left in the output directory: `.NAME.fetch-state` files that a
//! transfer resumes from.
//!
//! Asking for each file's state file costs one failed `open` per download, which for thousands of
//! small files is a measurable part of the run. A directory that many jobs write into is therefore
//! read once up front; a job whose directory was read looks its state file up in memory.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::transfer::paths::Paths;

/// Below this many jobs in one directory, probing each state file costs less than listing a
/// directory that may hold many unrelated files.
const SCAN_FROM_JOBS: usize = 32;

/// Names of the state files found in the directories that were read.
#[derive(Debug, Default)]
pub struct Leftovers {
    scanned: HashMap<PathBuf, HashSet<OsString>>,
}

impl Leftovers {
    /// Reads every directory that at least `SCAN_FROM_JOBS` (32) of `targets` (paths relative to
    /// `output_dir`) will be written into.
    pub fn scan<'a>(output_dir: &Path, targets: impl Iterator<Item = &'a Path>) -> Leftovers {
        let mut jobs_per_dir: HashMap<PathBuf, usize> = HashMap::new();
        for target in targets {
            let dir = output_dir.join(target.parent().unwrap_or(Path::new("")));
            *jobs_per_dir.entry(dir).or_default() += 1;
        }
        let scanned = jobs_per_dir
            .into_iter()
            .filter(|&(_, jobs)| jobs >= SCAN_FROM_JOBS)
            .map(|(dir, _)| {
                let states = state_files_in(&dir);
                (dir, states)
            })
            .collect();
        Leftovers { scanned }
    }

    /// Whether the download into `paths` may have a state file to resume from: `false` only when
    /// its directory was read and held none.
    pub fn may_have_state(&self, paths: &Paths) -> bool {
        let (Some(dir), Some(name)) = (paths.state.parent(), paths.state.file_name()) else {
            return true;
        };
        self.scanned
            .get(dir)
            .is_none_or(|states| states.contains(name))
    }
}

/// The state files in `dir`; none when it cannot be read (it may not exist yet).
fn state_files_in(dir: &Path) -> HashSet<OsString> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashSet::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name())
        .filter(|name| name.as_encoded_bytes().ends_with(b".fetch-state"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enough targets under `dir` for it to be read.
    fn targets(dir: &str) -> Vec<PathBuf> {
        (0..SCAN_FROM_JOBS)
            .map(|i| Path::new(dir).join(format!("f{i}")))
            .collect()
    }

    #[test]
    fn a_read_directory_answers_from_memory() {
        let out = tempfile::tempdir().unwrap();
        let names = targets("");
        std::fs::write(out.path().join(".f3.fetch-state"), "{}").unwrap();
        let leftovers = Leftovers::scan(out.path(), names.iter().map(PathBuf::as_path));
        assert!(leftovers.may_have_state(&Paths::new(out.path(), Path::new("f3"))));
        assert!(!leftovers.may_have_state(&Paths::new(out.path(), Path::new("f4"))));
    }

    #[test]
    fn a_directory_with_few_jobs_is_probed_per_file() {
        let out = tempfile::tempdir().unwrap();
        let leftovers = Leftovers::scan(out.path(), [Path::new("a"), Path::new("b")].into_iter());
        assert!(leftovers.may_have_state(&Paths::new(out.path(), Path::new("a"))));
    }

    #[test]
    fn a_missing_directory_has_no_state() {
        let out = tempfile::tempdir().unwrap();
        let names = targets("sub");
        let leftovers = Leftovers::scan(out.path(), names.iter().map(PathBuf::as_path));
        assert!(!leftovers.may_have_state(&Paths::new(out.path(), Path::new("sub/f1"))));
    }
}
