//! One outcome per URL, and the two ways of showing them: the human table on stderr and the JSON
//! document on stdout (`--json`).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::HumanBytes;
use serde::Serialize;

use crate::exit_code::ExitCode;

/// What happened to one URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Downloaded, verified where possible, and in place.
    Ok,
    /// Not downloaded; see the error.
    Failed,
    /// Not downloaded: a later URL writes the same file, or `--no-clobber` kept the file there.
    Skipped,
    /// A scheme `fetch` does not download.
    Unsupported,
    /// `--dry-run`: would be downloaded to its path.
    Planned,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Unsupported => "unsupported",
            Status::Planned => "planned",
        }
    }
}

/// The outcome of one URL (or one object under an s3 prefix).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The URL, secrets redacted.
    pub url: String,
    /// What happened.
    pub status: Status,
    /// Where the file was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Bytes in the file (or received before a failure).
    pub bytes: u64,
    /// Time spent on this URL.
    #[serde(rename = "seconds", serialize_with = "as_seconds")]
    pub elapsed: Duration,
    /// Why it failed, was skipped or is unsupported: a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For skipped URLs: the URL that writes the same file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// Whether a `#sha256=` was verified.
    pub sha256_verified: bool,
    /// The checksum S3 stored with the object (`crc32`, `crc64nvme`, ...) that the whole file
    /// was checked against after arriving in parts or over several runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_checksum_verified: Option<&'static str>,
    /// Bytes taken over from an earlier, interrupted run.
    pub resumed_bytes: u64,
    /// The file was there already and shown to be this URL's (by its `#sha256=`, or by the
    /// checksum S3 stored with the object): nothing was downloaded.
    pub already_present: bool,
    /// Transient failures that were retried.
    pub retries: u32,
}

impl Outcome {
    /// An outcome for a URL that never started downloading.
    pub fn not_run(url: String, status: Status, error: String) -> Outcome {
        Outcome {
            url,
            status,
            path: None,
            bytes: 0,
            elapsed: Duration::ZERO,
            error: Some(error),
            superseded_by: None,
            sha256_verified: false,
            s3_checksum_verified: None,
            resumed_bytes: 0,
            already_present: false,
            retries: 0,
        }
    }

    /// The line the plain progress display and the report print for this outcome.
    pub fn line(&self) -> String {
        let detail = match (self.status, &self.path, &self.error) {
            (Status::Ok, Some(path), _) if self.already_present => {
                format!("-> {} (already present)", path.display())
            }
            (Status::Ok, Some(path), _) if self.resumed_bytes > 0 => format!(
                "-> {} (resumed after {})",
                path.display(),
                HumanBytes(self.resumed_bytes)
            ),
            (Status::Ok, Some(path), _) => format!("-> {}", path.display()),
            (Status::Ok, None, _) => "-> standard output".to_string(),
            (Status::Planned, Some(path), _) => format!("would be written to {}", path.display()),
            (Status::Skipped, Some(path), Some(error)) => format!("{} ({error})", path.display()),
            (Status::Skipped, _, _) => format!(
                "superseded by {} (same file name)",
                self.superseded_by.as_deref().unwrap_or("a later URL")
            ),
            (_, _, Some(error)) => error.clone(),
            _ => String::new(),
        };
        if self.status == Status::Planned {
            // Only a listing tells a size before the download; nothing has taken any time.
            let size = match self.bytes {
                0 => "-".to_string(),
                n => HumanBytes(n).to_string(),
            };
            return format!(
                "{:<11} {size:>11} {:>8}  {}  {detail}",
                self.status.label(),
                "",
                self.url
            );
        }
        format!(
            "{:<11} {:>11} {:>7.1}s  {}  {}",
            self.status.label(),
            HumanBytes(self.bytes).to_string(),
            self.elapsed.as_secs_f64(),
            self.url,
            detail
        )
    }
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// The outcomes of a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of this JSON document's shape.
    pub schema: u32,
    /// Files downloaded.
    pub succeeded: usize,
    /// URLs that failed or are unsupported.
    pub failed: usize,
    /// URLs skipped because a later one writes the same file.
    pub skipped: usize,
    /// Files `--dry-run` would download.
    pub planned: usize,
    /// Whether this run only planned (`--dry-run`): nothing was downloaded or written.
    pub dry_run: bool,
    /// Bytes of the files delivered (failed ones count only in their own line).
    pub bytes: u64,
    /// Wall time of the run.
    #[serde(rename = "seconds", serialize_with = "as_seconds")]
    pub elapsed: Duration,
    /// The process exit code this run ends with.
    pub exit_code: i32,
    /// One entry per URL, in the order given.
    pub items: Vec<Outcome>,
}

impl Report {
    /// Tallies the outcomes; `interrupted` marks a run stopped by a signal.
    pub fn new(items: Vec<Outcome>, elapsed: Duration, interrupted: bool) -> Report {
        let count = |s: Status| items.iter().filter(|o| o.status == s).count();
        let failed = count(Status::Failed) + count(Status::Unsupported);
        let mut code = if failed > 0 {
            ExitCode::Failure
        } else {
            ExitCode::Success
        };
        if interrupted {
            code = code.merge(ExitCode::Interrupted);
        }
        Report {
            schema: 1,
            succeeded: count(Status::Ok),
            failed,
            skipped: count(Status::Skipped),
            planned: count(Status::Planned),
            dry_run: false,
            bytes: items
                .iter()
                .filter(|o| o.status == Status::Ok)
                .map(|o| o.bytes)
                .sum(),
            elapsed,
            exit_code: code.code(),
            items,
        }
    }

    /// Marks the report as `--dry-run`'s: a plan, not a record of downloads.
    pub fn of_dry_run(self) -> Report {
        Report {
            dry_run: true,
            ..self
        }
    }

    /// The exit code as a type.
    pub fn exit_code(&self) -> ExitCode {
        match self.exit_code {
            0 => ExitCode::Success,
            130 => ExitCode::Interrupted,
            _ => ExitCode::Failure,
        }
    }

    /// `N succeeded, M failed, K skipped`.
    pub fn summary(&self) -> String {
        format!(
            "{} succeeded, {} failed, {} skipped",
            self.succeeded, self.failed, self.skipped
        )
    }

    /// The human report: one line per URL, then the summary.
    pub fn write_human(&self, out: &mut impl Write) -> std::io::Result<()> {
        for item in &self.items {
            writeln!(out, "{}", item.line())?;
        }
        if self.dry_run {
            let listed: u64 = self
                .items
                .iter()
                .filter(|o| o.status == Status::Planned)
                .map(|o| o.bytes)
                .sum();
            let listed = match listed {
                0 => String::new(),
                n => format!(" ({} listed under s3 prefixes)", HumanBytes(n)),
            };
            return writeln!(
                out,
                "dry run: {} to download{listed}, {} failed, {} skipped; nothing was downloaded or written",
                self.planned, self.failed, self.skipped
            );
        }
        let rate = self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-3);
        writeln!(
            out,
            "{} ({} in {:.1}s, {}/s)",
            self.summary(),
            HumanBytes(self.bytes),
            self.elapsed.as_secs_f64(),
            HumanBytes(rate as u64)
        )
    }

    /// The JSON report, one document.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> Outcome {
        Outcome {
            status: Status::Ok,
            path: Some(PathBuf::from("out/a")),
            bytes: 2048,
            error: None,
            ..Outcome::not_run(url.into(), Status::Ok, String::new())
        }
    }

    #[test]
    fn tallies_and_exit_codes() {
        let report = Report::new(vec![ok("https://h/a")], Duration::from_secs(1), false);
        assert_eq!(report.exit_code(), ExitCode::Success);
        assert_eq!(report.summary(), "1 succeeded, 0 failed, 0 skipped");

        let items = vec![
            ok("https://h/a"),
            Outcome::not_run("ftp://h/b".into(), Status::Unsupported, "no".into()),
            Outcome::not_run("https://h/c".into(), Status::Skipped, "later".into()),
        ];
        let report = Report::new(items, Duration::from_secs(1), false);
        assert_eq!(report.exit_code(), ExitCode::Failure);
        assert_eq!(report.summary(), "1 succeeded, 1 failed, 1 skipped");

        let report = Report::new(vec![ok("https://h/a")], Duration::from_secs(1), true);
        assert_eq!(report.exit_code(), ExitCode::Interrupted);
    }

    #[test]
    fn json_shape() {
        let report = Report::new(vec![ok("https://h/a")], Duration::from_millis(1500), false);
        let doc: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(doc["schema"], 1);
        assert_eq!(doc["succeeded"], 1);
        assert_eq!(doc["seconds"], 1.5);
        assert_eq!(doc["items"][0]["status"], "ok");
        assert_eq!(doc["items"][0]["path"], "out/a");
        assert!(doc["items"][0].get("error").is_none());
    }

    #[test]
    fn lines_name_the_reason() {
        let failed = Outcome::not_run(
            "https://h/x".into(),
            Status::Failed,
            "the server answered 404".into(),
        );
        assert!(failed.line().starts_with("failed"));
        assert!(failed.line().ends_with("the server answered 404"));
    }
}
