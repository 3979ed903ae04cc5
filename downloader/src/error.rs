//! The crate's one error type: every way a download or the run itself can fail, as sentences a
//! user can act on, plus the classification the retry logic branches on.

use std::path::PathBuf;
use std::time::Duration;

/// Why something failed. Per-URL failures end up in the report; usage errors end the run with code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or input file cannot be used.
    #[error("{0}")]
    Usage(String),

    /// The server answered that the resource does not exist.
    #[error("the server answered {status}: the file does not exist there; check the URL")]
    NotFound {
        /// HTTP status code (404 or 410).
        status: u16,
    },

    /// The server refused access.
    #[error("the server answered {status}: access denied; check the URL and credentials")]
    AccessDenied {
        /// HTTP status code (401 or 403).
        status: u16,
    },

    /// Any other answer that retrying will not change.
    #[error("the server answered {status}{}", reason_suffix(.reason))]
    HttpStatus {
        /// HTTP status code.
        status: u16,
        /// The server's reason phrase or S3 error code, if it gave one.
        reason: Option<String>,
    },

    /// The server answered with an error that may go away (408, 429, 5xx, S3 throttling).
    #[error("the server answered {status}{}", reason_suffix(.reason))]
    Transient {
        /// HTTP status code.
        status: u16,
        /// The server's reason phrase or S3 error code, if it gave one.
        reason: Option<String>,
        /// How long the server asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },

    /// The connection could not be made or broke (refused, reset, DNS, TLS handshake).
    #[error("{0}")]
    Connection(String),

    /// The TLS certificate of the server could not be verified.
    #[error("the server's TLS certificate could not be verified ({0}); pass its CA with --ca-cert")]
    Tls(String),

    /// No byte arrived for the idle timeout.
    #[error("no data arrived for {} s; the transfer stalled", .0.as_secs_f64())]
    Stalled(Duration),

    /// The body ended before all announced bytes arrived.
    #[error("the transfer ended after {got} of {expected} bytes")]
    Truncated {
        /// Bytes the server announced.
        expected: u64,
        /// Bytes that arrived.
        got: u64,
    },

    /// The resource changed on the server while it was being downloaded in pieces.
    #[error("the file changed on the server during the download")]
    Changed,

    /// The server's answer does not fit the request (a wrong range, say).
    #[error("the server sent an answer that does not match the request: {0}")]
    Protocol(String),

    /// The data does not match the `#sha256=` given with the URL.
    #[error("SHA-256 mismatch: expected {expected}, got {actual}; the file was not saved")]
    ChecksumMismatch {
        /// The digest given in the URL fragment.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },

    /// The object's bytes do not match the checksum S3 stored with it: checked by the SDK when a
    /// GET without a range brings it, and by [`crate::transfer::verify`] for a file in parts.
    #[error(
        "the object does not match the checksum S3 stored with it (expected {expected}, got {actual}); the file was not saved"
    )]
    StoredChecksumMismatch {
        /// The stored checksum, base64 as S3 shows it.
        expected: String,
        /// The checksum of what arrived.
        actual: String,
    },

    /// A redirect went from https to http.
    #[error("refused a redirect from https to http ({0}); downloads never downgrade to plain http")]
    RedirectDowngrade(String),

    /// Too many redirects in a row.
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(usize),

    /// S3 rejected the credentials or found none.
    #[error("{0}")]
    Credentials(String),

    /// The bucket lives in another region; carries that region.
    #[error("the bucket is in region {0}")]
    WrongRegion(String),

    /// Reading or writing a local file failed.
    #[error("cannot write {}: {source}{}", path.display(), io_advice(source))]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The file is larger than `--max-filesize` allows.
    #[error("the file is {size} bytes, more than --max-filesize {max}; nothing of it was kept")]
    TooLarge {
        /// Its announced size.
        size: u64,
        /// The limit.
        max: u64,
    },

    /// The file grew past `--max-filesize` while arriving.
    #[error("the file grew past --max-filesize {0} bytes while arriving; nothing of it was kept")]
    GrewTooLarge(u64),

    /// `--no-clobber`: the target appeared while the file downloaded, and was kept.
    #[error("{} exists already, and --no-clobber keeps it", .0.display())]
    Exists(PathBuf),

    /// The name the URL would be saved under is not a safe file name.
    #[error("{0}")]
    UnsafeName(String),

    /// Ctrl-C or SIGTERM stopped the run.
    #[error("interrupted{0}")]
    Interrupted(Leftover),

    /// `--deadline` passed.
    #[error("the --deadline passed{0}")]
    DeadlineReached(Leftover),

    /// `-o -`: a failure after some of the file's bytes had gone to standard output, which
    /// cannot take them back; the message says how many.
    #[error("{}", streamed_message(*.written, .cause))]
    Streamed {
        /// Bytes written to standard output before the failure.
        written: u64,
        /// What went wrong.
        cause: Box<Error>,
    },

    /// Anything else the SDK reported, already phrased.
    #[error("{0}")]
    Other(String),
}

/// What a stop left of a download, so that its report line says what the next run will find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftover {
    /// The download had not started.
    NotStarted,
    /// It had started, but no byte had arrived.
    NothingArrived,
    /// This many bytes were kept, with the state a later run resumes from.
    Kept(u64),
    /// Bytes had arrived, but were removed: the server gives no way to resume this file.
    Dropped,
    /// Bytes had arrived, but were removed: the state to resume them could not be written.
    Unsaved,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leftover::NotStarted => write!(f, " before the download started"),
            Leftover::NothingArrived => write!(f, " before any byte arrived"),
            Leftover::Kept(bytes) => write!(
                f,
                "; the {} that arrived were kept, and the same command resumes from there",
                indicatif::HumanBytes(*bytes)
            ),
            Leftover::Dropped => write!(
                f,
                "; what arrived was not kept, as the server gives no way to resume this file"
            ),
            Leftover::Unsaved => write!(
                f,
                "; what arrived was removed, as the state to resume it could not be written beside it"
            ),
        }
    }
}

fn reason_suffix(reason: &Option<String>) -> String {
    match reason {
        Some(reason) if !reason.is_empty() => format!(" ({reason})"),
        _ => String::new(),
    }
}

/// [`Error::Streamed`]'s sentence: the cause, phrased for bytes that were not kept in a file.
fn streamed_message(written: u64, cause: &Error) -> String {
    let sent = format!("{written} bytes had been written to standard output");
    match cause {
        Error::ChecksumMismatch { expected, actual } => format!(
            "SHA-256 mismatch: expected {expected}, got {actual}; the {written} bytes written to standard output are not the file asked for"
        ),
        Error::StoredChecksumMismatch { expected, actual } => format!(
            "the object does not match the checksum S3 stored with it (expected {expected}, got {actual}); the {written} bytes written to standard output are not the object"
        ),
        Error::GrewTooLarge(max) => {
            format!("the file grew past --max-filesize {max} bytes while arriving, after {sent}")
        }
        Error::Interrupted(_) => format!("interrupted after {sent}"),
        Error::DeadlineReached(_) => format!("the --deadline passed after {sent}"),
        cause => format!("{cause}, after {sent}"),
    }
}

impl Error {
    /// Whether trying the same request again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Transient { .. }
                | Error::Connection(_)
                | Error::Stalled(_)
                | Error::Truncated { .. }
        )
    }

    /// Whether the bytes that arrived are known to be wrong, so that they must not be kept for a
    /// later run to resume.
    pub fn is_corrupt_data(&self) -> bool {
        matches!(
            self,
            Error::ChecksumMismatch { .. }
                | Error::StoredChecksumMismatch { .. }
                | Error::TooLarge { .. }
                | Error::GrewTooLarge(_)
        )
    }

    /// The wait the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A stop's error ([`Error::Interrupted`], [`Error::DeadlineReached`]) saying what it left of
    /// the download; any other error as it is.
    pub fn leaving(self, leftover: Leftover) -> Error {
        match self {
            Error::Interrupted(_) => Error::Interrupted(leftover),
            Error::DeadlineReached(_) => Error::DeadlineReached(leftover),
            other => other,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The HTTP status code for a server-side error answer.
    pub fn from_status(status: u16, reason: Option<String>, retry_after: Option<Duration>) -> Self {
        match status {
            404 | 410 => Error::NotFound { status },
            401 | 403 => Error::AccessDenied { status },
            408 | 429 | 500..=599 => Error::Transient {
                status,
                reason,
                retry_after,
            },
            _ => Error::HttpStatus { status, reason },
        }
    }
}

/// What to do about a local file error, for the kinds a user can fix; empty for the others.
pub fn io_advice(err: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            "; free some space there or choose another --output-dir"
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "; check that this user may write there, or choose another --output-dir"
        }
        _ => "",
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert!(matches!(
            Error::from_status(404, None, None),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            Error::from_status(403, None, None),
            Error::AccessDenied { .. }
        ));
        assert!(Error::from_status(503, None, None).is_transient());
        assert!(Error::from_status(429, None, None).is_transient());
        assert!(Error::from_status(408, None, None).is_transient());
        assert!(!Error::from_status(404, None, None).is_transient());
        assert!(!Error::from_status(400, None, None).is_transient());
    }

    #[test]
    fn local_file_errors_say_what_to_do_when_the_user_can_act() {
        let full = Error::io("out/.a.fetch-part", std::io::Error::from_raw_os_error(28));
        assert!(
            full.to_string()
                .starts_with("cannot write out/.a.fetch-part: No space left on device"),
            "{full}"
        );
        assert!(
            full.to_string().ends_with("choose another --output-dir"),
            "{full}"
        );
        let denied = Error::io("out/a", std::io::Error::from_raw_os_error(13));
        assert!(
            denied.to_string().contains("this user may write there"),
            "{denied}"
        );
        let other = Error::io("out/a", std::io::Error::other("odd"));
        assert_eq!(other.to_string(), "cannot write out/a: odd");
    }

    #[test]
    fn messages_are_sentences() {
        let err = Error::from_status(503, Some("Service Unavailable".into()), None);
        assert_eq!(
            err.to_string(),
            "the server answered 503 (Service Unavailable)"
        );
        let err = Error::from_status(404, None, None);
        assert_eq!(
            err.to_string(),
            "the server answered 404: the file does not exist there; check the URL"
        );
    }
}
