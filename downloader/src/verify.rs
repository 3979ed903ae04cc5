//! Checks of a finished file against a checksum known before its bytes arrived: the `#sha256=` of
//! its URL, or the full-object checksum S3 stored with the object. Both read the file once more
//! after its last part landed, so the order in which parts arrived, their retries and an earlier
//! interrupted run all count the same: what is checked is what will be renamed into place.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use aws_smithy_checksums::ChecksumAlgorithm;
use aws_smithy_types::base64;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A checksum S3 stored with an object, of the object's bytes as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChecksum {
    /// How it is computed.
    pub algorithm: ChecksumAlgorithm,
    /// Its value, base64 as S3 shows it.
    pub expected: String,
    /// The ETag of the object version it belongs to: a file downloaded from another version (the
    /// object was replaced between the HEAD and the first GET) is not checked against it.
    pub etag: Option<String>,
}

impl StoredChecksum {
    /// The algorithm's name as S3 writes it (`crc32`, `crc64nvme`, `sha256`, ...).
    pub fn name(&self) -> &'static str {
        self.algorithm.as_str()
    }

    /// Whether it describes the version whose bytes were downloaded (`validator` is that
    /// download's ETag).
    pub fn belongs_to(&self, validator: Option<&str>) -> bool {
        self.etag.is_some() && self.etag.as_deref() == validator
    }

    /// Compares the file at `path` with the stored checksum.
    pub fn check(&self, path: &Path) -> Result<()> {
        let mut checksum = self.algorithm.into_impl();
        read_through(path, |bytes| checksum.update(bytes))?;
        let actual = base64::encode(checksum.finalize());
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

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    read_through(path, |bytes| hasher.update(bytes))?;
    Ok(hex::encode(hasher.finalize()))
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
        stored("crc32", "DUoRhQ==").check(&path).unwrap();
        stored("sha256", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
            .check(&path)
            .unwrap();
        let err = stored("crc32", "AAAAAA==").check(&path).unwrap_err();
        assert!(
            matches!(&err, Error::StoredChecksumMismatch { expected, actual }
                if expected == "AAAAAA==" && actual == "DUoRhQ=="),
            "{err:?}"
        );
        assert_eq!(
            sha256_file(&path).unwrap(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
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
