//! The names one download uses beside its target: the partial file and the state file, which
//! resumes and [`crate::transfer::leftovers`] find again by these names.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The three names one download uses.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The file as it appears when complete.
    pub target: PathBuf,
    /// `.NAME.fetch-part`: the bytes while they arrive.
    pub partial: PathBuf,
    /// `.NAME.fetch-state`: how far an interrupted download got.
    pub state: PathBuf,
}

impl Paths {
    /// The names for `target`, a path relative to `output_dir`.
    pub fn new(output_dir: &Path, target: &Path) -> Paths {
        let target = output_dir.join(target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Keep the helper names within the usual 255-byte limit however long the target is.
        let stem = if name.len() > 200 {
            hex::encode(&Sha256::digest(name.as_bytes())[..16])
        } else {
            name
        };
        let dir = target.parent().unwrap_or(output_dir).to_path_buf();
        Paths {
            partial: dir.join(format!(".{stem}.fetch-part")),
            state: dir.join(format!(".{stem}.fetch-state")),
            target,
        }
    }
}
