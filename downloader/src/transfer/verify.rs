//! Checks of a finished file against a checksum known before its bytes arrived: the `#sha256=` of
//! its URL, or the full-object checksum S3 stored with the object.
//!
//! A CRC (S3's CRC32, CRC32C and CRC64NVME) is computed as each part is written and the parts'
//! CRCs are combined in file order at the end, so a file in parts is checked without being read
//! again. A SHA cannot be combined that way, and bytes kept by an earlier run were never seen by
//! this one: such files are read once more after their last part landed.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use aws_smithy_checksums::ChecksumAlgorithm;
use aws_smithy_types::base64;
use crc_fast::{CrcAlgorithm, Digest as CrcDigest};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::source::reply::StoredChecksum;

impl StoredChecksum {
    /// A CRC of this checksum's algorithm over no bytes yet; `None` for SHA-1 and SHA-256.
    pub fn running_crc(&self) -> Option<RunningCrc> {
        let (algorithm, width) = match self.algorithm {
            ChecksumAlgorithm::Crc32 => (CrcAlgorithm::Crc32IsoHdlc, 4),
            ChecksumAlgorithm::Crc32c => (CrcAlgorithm::Crc32Iscsi, 4),
            ChecksumAlgorithm::Crc64Nvme => (CrcAlgorithm::Crc64Nvme, 8),
            _ => return None,
        };
        Some(RunningCrc {
            digest: CrcDigest::new(algorithm),
            width,
        })
    }

    /// Compares the CRC of the file's bytes, computed as they were written, with the stored one.
    pub fn check_crc(&self, crc: &RunningCrc) -> Result<()> {
        self.compare(crc.base64())
    }

    fn compare(&self, actual: String) -> Result<()> {
        if actual == self.expected {
            Ok(())
        } else {
            Err(Error::StoredChecksumMismatch {
                expected: self.expected.clone(),
                actual,
            })
        }
    }
}

/// The CRC of some bytes, fed as they are written; the CRCs of consecutive ranges combine into
/// the CRC of the whole.
#[derive(Debug, Clone, Copy)]
pub struct RunningCrc {
    digest: CrcDigest,
    /// Bytes in the value: 4 for the CRC32s, 8 for CRC64NVME.
    width: usize,
}

impl RunningCrc {
    /// Adds `bytes`, which follow those added before.
    pub fn update(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
    }

    /// Back to no bytes.
    pub fn reset(&mut self) {
        self.digest.reset();
    }

    /// The CRC of these bytes followed by `next`'s.
    pub fn then(mut self, next: &RunningCrc) -> RunningCrc {
        self.digest.combine(&next.digest);
        self
    }

    /// The value as S3 shows it: its big-endian bytes in base64.
    fn base64(&self) -> String {
        let bytes = self.digest.finalize().to_be_bytes();
        base64::encode(&bytes[bytes.len() - self.width..])
    }
}

/// Reads the file at `path` once and checks it against the `#sha256=` of its URL (lower-case hex)
/// and the checksum S3 stored with it, whichever are given.
pub fn check_file(
    path: &Path,
    sha256: Option<String>,
    stored: Option<&StoredChecksum>,
) -> Result<()> {
    if sha256.is_none() && stored.is_none() {
        return Ok(());
    }
    let mut hasher = sha256.as_ref().map(|_| Sha256::new());
    let mut checksum = stored.map(|s| s.algorithm.into_impl());
    read_through(path, |bytes| {
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(bytes);
        }
        if let Some(checksum) = checksum.as_mut() {
            checksum.update(bytes);
        }
    })?;
    if let (Some(expected), Some(hasher)) = (sha256, hasher) {
        let actual = hex::encode(hasher.finalize());
        if actual != expected {
            return Err(Error::ChecksumMismatch { expected, actual });
        }
    }
    match (stored, checksum) {
        (Some(stored), Some(checksum)) => stored.compare(base64::encode(checksum.finalize())),
        _ => Ok(()),
    }
}

/// Whether the file at `path` has the MD5 `expected` (lower-case hex).
pub fn file_has_md5(path: &Path, expected: &str) -> Result<bool> {
    let mut hasher = md5::Md5::new();
    read_through(path, |bytes| hasher.update(bytes))?;
    Ok(hex::encode(hasher.finalize()) == expected)
}

/// Feeds the whole file to `consume`, in large reads.
fn read_through(path: &Path, mut consume: impl FnMut(&[u8])) -> Result<()> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        consume(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(algorithm: &str, expected: &str) -> StoredChecksum {
        StoredChecksum {
            algorithm: algorithm.parse().unwrap(),
            expected: expected.into(),
            etag: Some("\"v1\"".into()),
        }
    }

    #[test]
    fn files_are_compared_with_what_s3_would_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").unwrap();
        // The values S3 returns for "hello world" (x-amz-checksum-crc32 and -sha256).
        let sha256 =
            || Some("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9".into());
        check_file(&path, None, Some(&stored("crc32", "DUoRhQ=="))).unwrap();
        let s3_sha256 = stored("sha256", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
        check_file(&path, None, Some(&s3_sha256)).unwrap();
        let err = check_file(&path, None, Some(&stored("crc32", "AAAAAA=="))).unwrap_err();
        assert!(
            matches!(&err, Error::StoredChecksumMismatch { expected, actual }
                if expected == "AAAAAA==" && actual == "DUoRhQ=="),
            "{err:?}"
        );
        check_file(&path, sha256(), None).unwrap();
        // Both in one read; each is still checked.
        check_file(&path, sha256(), Some(&s3_sha256)).unwrap();
        let err = check_file(&path, Some("0".repeat(64)), Some(&s3_sha256)).unwrap_err();
        assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err:?}");
        let err = check_file(&path, sha256(), Some(&stored("crc32", "AAAAAA=="))).unwrap_err();
        assert!(
            matches!(err, Error::StoredChecksumMismatch { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn crcs_of_consecutive_ranges_combine_into_the_stored_value() {
        let bytes = b"hello world";
        for (algorithm, expected) in [
            ("crc32", "DUoRhQ=="),
            ("crc32c", "yZRlqg=="),
            ("crc64nvme", "jSnVw/bqjr4="),
        ] {
            let checksum = stored(algorithm, expected);
            let mut parts = [0..0, 0..4, 4..5, 5..11].map(|range| {
                let mut crc = checksum.running_crc().unwrap();
                crc.update(&bytes[range]);
                crc
            });
            let whole = parts
                .iter()
                .fold(checksum.running_crc().unwrap(), |w, p| w.then(p));
            checksum.check_crc(&whole).unwrap();
            parts[1].reset();
            parts[1].update(b"HELL");
            let wrong = parts
                .iter()
                .fold(checksum.running_crc().unwrap(), |w, p| w.then(p));
            assert!(checksum.check_crc(&wrong).is_err(), "{algorithm}");
        }
        assert!(stored("sha256", "x").running_crc().is_none());
    }

    #[test]
    fn a_checksum_belongs_only_to_the_version_it_came_with() {
        let checksum = stored("crc32", "DUoRhQ==");
        assert!(checksum.belongs_to(Some("\"v1\"")));
        assert!(!checksum.belongs_to(Some("\"v2\"")));
        assert!(!checksum.belongs_to(None));
        let unversioned = StoredChecksum {
            etag: None,
            ..checksum
        };
        assert!(!unversioned.belongs_to(None));
    }
}
