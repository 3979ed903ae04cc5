//! The crate's one error type: every failure a caller may branch on, with messages a user can act on.

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};

/// Everything that can stop `asg-deploy`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings failed validation; one sentence per problem.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// No credentials could be found in the standard chain.
    #[error(
        "no AWS credentials found ({0}); set PROFILE or AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an instance role"
    )]
    MissingCredentials(String),
    /// No region from the flag, REGION, AWS_REGION or the profile.
    #[error("no AWS region: set REGION (or AWS_REGION), or a region in the profile")]
    MissingRegion,
    /// The stack's state refuses the command (exists, missing, busy, newer build).
    #[error("{0}")]
    Refused(String),
    /// AWS refused the credentials or the permission.
    #[error("{action} was denied: {message}; check the credentials and their permissions")]
    AccessDenied { action: String, message: String },
    /// AWS kept throttling even after the SDK's own retries.
    #[error("{action} was throttled by AWS after retries; try again in a minute")]
    Throttled { action: String },
    /// Any other AWS error, with the service's code and message.
    #[error("{action} failed: {message}")]
    Aws { action: String, message: String },
    /// The stack ended in a failed or rolled-back state.
    #[error("stack {stack} ended in {status}{}", format_reasons(.reasons))]
    StackFailed {
        stack: String,
        status: String,
        reasons: Vec<String>,
    },
    /// A monitoring window's alarm fired and CloudFormation rolled the update back.
    #[error(
        "stack {stack}: alarm {alarm} fired at {at}: rolled back to build {build} ({status}); see the alarm's graph in CloudWatch, fix the build and deploy it under a new BUILD_NUMBER"
    )]
    AlarmRolledBack {
        stack: String,
        alarm: String,
        at: String,
        build: u64,
        status: String,
    },
    /// The wait went past `--timeout`.
    #[error("stack {stack} did not finish within {}{}", humanize(*.after), if *.cancelled { "; the update was cancelled and CloudFormation rolled it back" } else { "" })]
    TimedOut {
        stack: String,
        after: Duration,
        cancelled: bool,
    },
    /// The stack succeeded but the new fleet is not serving the new build.
    #[error("health check failed: {0}")]
    Unhealthy(String),
    /// Ctrl-C stopped the watching; the deployment goes on.
    #[error("stopped watching; the deployment goes on. Keep watching with: {resume}")]
    Interrupted { resume: String },
    /// A file named in the settings could not be read.
    #[error("cannot read {path}: {source}; check {setting}")]
    ReadFile {
        setting: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// An embedded template is broken; a bug in this build of asg-deploy.
    #[error("embedded template is invalid: {0}")]
    Template(String),
}

fn format_reasons(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(": {}", reasons.join("; "))
    }
}

/// "90s", "15m", "1h 5m": durations as an operator writes them.
pub fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, (secs % 3600) / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// What an SDK error means to us; the one place SDK errors are classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The stack (or other named thing) does not exist.
    NotFound,
    /// "No updates are to be performed."
    NoUpdates,
    /// Throttling that outlived the SDK's retries.
    Throttled,
    /// Bad or missing credentials, or no permission.
    AccessDenied,
    /// The credential chain found nothing.
    NoCredentials,
    /// Anything else.
    Other,
}

/// A classified SDK error: its kind plus a one-line message.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// What the error means.
    pub kind: AwsErrorKind,
    /// The service's code and message, or the transport's reason.
    pub message: String,
}

impl AwsError {
    /// Turns the classified error into the crate error for `action`.
    pub fn into_error(self, action: &str) -> Error {
        let action = action.to_string();
        match self.kind {
            AwsErrorKind::AccessDenied => Error::AccessDenied {
                action,
                message: self.message,
            },
            AwsErrorKind::NoCredentials => Error::MissingCredentials(self.message),
            AwsErrorKind::Throttled => Error::Throttled { action },
            _ => Error::Aws {
                action,
                message: self.message,
            },
        }
    }
}

/// Classifies any SDK error by its error code and message.
pub fn classify<E, R>(err: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or_default();
            let message = e.message().unwrap_or_default();
            let kind = match code {
                _ if message.contains("does not exist") => AwsErrorKind::NotFound,
                _ if message.contains("No updates are to be performed") => AwsErrorKind::NoUpdates,
                "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "SlowDown" => AwsErrorKind::Throttled,
                "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "InvalidClientTokenId"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "SignatureDoesNotMatch"
                | "InvalidAccessKeyId" => AwsErrorKind::AccessDenied,
                "NoSuchKey" | "NoSuchBucket" | "ParameterNotFound" | "NotFound" => {
                    AwsErrorKind::NotFound
                }
                _ => AwsErrorKind::Other,
            };
            let message = match (code, message) {
                ("", "") => format!("{e}"),
                ("", m) => m.to_string(),
                (c, "") => c.to_string(),
                (c, m) => format!("{c}: {m}"),
            };
            AwsError { kind, message }
        }
        other => {
            let message = one_line(other);
            let kind = if message.contains("credentials") && message.contains("provider") {
                AwsErrorKind::NoCredentials
            } else {
                AwsErrorKind::Other
            };
            AwsError { kind, message }
        }
    }
}

/// The error and its sources on one line, white space folded: the SDK's errors span several
/// lines, and every message here is one.
pub(crate) fn one_line(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shorthand for `classify(err).into_error(action)`.
pub fn aws<E, R>(action: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    classify(&err).into_error(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_an_operator_writes_them() {
        assert_eq!(humanize(Duration::from_secs(42)), "42s");
        assert_eq!(humanize(Duration::from_secs(900)), "15m");
        assert_eq!(humanize(Duration::from_secs(95)), "1m 35s");
        assert_eq!(humanize(Duration::from_secs(3900)), "1h 5m");
    }

    #[test]
    fn stack_failure_lists_reasons_in_one_line() {
        let e = Error::StackFailed {
            stack: "web".into(),
            status: "UPDATE_ROLLBACK_COMPLETE".into(),
            reasons: vec!["AppGroup: timed out".into(), "x: y".into()],
        };
        assert_eq!(
            e.to_string(),
            "stack web ended in UPDATE_ROLLBACK_COMPLETE: AppGroup: timed out; x: y"
        );
    }
}
