//! Where S3 credentials come from: the SDK's default chain, whose last step, the instance metadata
//! service (IMDSv2), is waited for while a machine boots; and what a failure to find any says.
//!
//! At boot the metadata service can refuse connections for a moment. The SDK's IMDS client
//! retries only answers (5xx, 401), so a refused connection ended the chain at once with "no
//! credentials". Here every failure to reach it (refused, reset, unreachable, no answer in time)
//! is retried with the SDK's backoff until [`IMDS_PATIENCE`] has passed.

use std::time::Duration;

use aws_config::Region;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::imds::client::ImdsResponseRetryClassifier;
use aws_config::imds::client::error::ImdsError;
use aws_sdk_s3::config::{IntoShared, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::error::ConnectorError;

use crate::error::Error;
use crate::source::cause::{self, Failure};

/// How long an instance metadata service that cannot be reached is asked again: long enough for
/// a booting instance's network to come up, short enough that a machine without one (where
/// nothing answers at its address) reports "no credentials" within half a minute.
pub const IMDS_PATIENCE: Duration = Duration::from_secs(30);

/// Attempts per metadata request, enough that [`IMDS_PATIENCE`], not the count, ends the retries:
/// the SDK waits a random part of 1 s, 2 s, 4 s ... up to 20 s between attempts.
const IMDS_ATTEMPTS: u32 = 20;

/// How long a whole credential lookup may take: the metadata service's [`IMDS_PATIENCE`], then
/// its last requests. The SDK's default (5 s) is too short for an instance still booting.
pub const CREDENTIALS_LOAD_TIMEOUT: Duration = Duration::from_secs(45);

/// The SDK's default chain (environment, profile files, web identity, container, instance
/// metadata), for `profile` and `region` when given.
pub async fn default_chain(profile: Option<&str>, region: Option<&str>) -> DefaultCredentialsChain {
    let imds = aws_config::imds::Client::builder()
        .max_attempts(IMDS_ATTEMPTS)
        // A booting instance's metadata service answers within a second once it is up.
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(2))
        .operation_timeout(IMDS_PATIENCE)
        // "Connect timeouts" in the SDK's words: every failure that brought no answer.
        .retry_classifier(
            ImdsResponseRetryClassifier::default()
                .with_retry_connect_timeouts(true)
                .into_shared(),
        )
        .build();
    let mut chain = DefaultCredentialsChain::builder().imds_client(imds);
    if let Some(profile) = profile {
        chain = chain.profile_name(profile);
    }
    if let Some(region) = region {
        chain = chain.region(Region::new(region.to_string()));
    }
    chain.build().await
}

/// The SDK's words for a credential lookup that failed: the credential errors' `Display`, and
/// the identity cache's when the lookup outlasts [`CREDENTIALS_LOAD_TIMEOUT`].
const LOOKUP_FAILED: [&str; 6] = [
    NOT_FOUND,
    "credentials provider timed out",
    "the credentials provider was not properly configured",
    "an error occurred while loading credentials",
    "unexpected credentials error",
    TIMED_OUT,
];

/// Every source of the chain was tried and none had credentials.
const NOT_FOUND: &str = "the credential provider was not enabled";

/// The whole lookup took longer than [`CREDENTIALS_LOAD_TIMEOUT`].
const TIMED_OUT: &str = "identity resolver timed out";

/// What to do when no source gave credentials.
const ADVICE: &str = "set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run with an \
                      instance role, or pass --no-sign-request for a public bucket";

/// What to do when the instance metadata service, the last source, could not be reached.
const IMDS_ADVICE: &str = "off EC2, set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                           (AWS_EC2_METADATA_DISABLED=true skips this wait), or pass \
                           --no-sign-request for a public bucket";

/// Looks the credentials up once, before any request, so that a lookup that fails (after the
/// metadata service's [`IMDS_PATIENCE`], say) is paid once per run: the SDK's cache keeps only
/// credentials, and every request, each waiting file among them, would look them up again.
/// Found ones are looked up again by the first request (the SDK's cache cannot be handed them),
/// which costs a read of the environment or a file, or three requests to the metadata service.
pub async fn check(provider: &SharedCredentialsProvider) -> Result<(), Error> {
    match tokio::time::timeout(CREDENTIALS_LOAD_TIMEOUT, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(failure(&err)),
        Err(_) => Err(timed_out()),
    }
}

/// The failed credential lookup in an S3 request's error, if that is why it failed: the SDK hands
/// it over as the cause of a connector error of kind "other".
pub fn lookup_in<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    let connector = cause::find::<ConnectorError>(err).filter(|e| e.is_other())?;
    let lookup = std::error::Error::source(connector)?;
    let text = lookup.to_string();
    LOOKUP_FAILED
        .iter()
        .any(|failed| text.starts_with(failed))
        .then_some(lookup)
}

/// The sentence for a credential lookup that failed with `lookup`.
pub fn failure(lookup: &(dyn std::error::Error + 'static)) -> Error {
    if let Some(imds) = cause::find::<ImdsError>(lookup) {
        return Error::Credentials(imds_failure(imds));
    }
    let text = lookup.to_string();
    if text.starts_with(NOT_FOUND) {
        Error::Credentials(format!("no AWS credentials were found; {ADVICE}"))
    } else if text.starts_with(TIMED_OUT) {
        timed_out()
    } else {
        Error::Credentials(format!(
            "the AWS credentials could not be loaded: {}",
            Failure::of(lookup)
        ))
    }
}

fn timed_out() -> Error {
    Error::Credentials(format!(
        "the AWS credentials did not arrive within {} s",
        CREDENTIALS_LOAD_TIMEOUT.as_secs()
    ))
}

/// The sentence for a failure of the instance metadata service, the chain's last source.
fn imds_failure(err: &ImdsError) -> String {
    match err {
        ImdsError::ErrorResponse(answer) => format!(
            "the instance metadata service answered {} when asked for credentials; check the instance's role",
            answer.response().status().as_u16()
        ),
        // Every failure to reach it was retried until the patience ran out: the operation's
        // timeout, with no connection failure of its own left to show.
        ImdsError::IoError(_) if cause::find::<ConnectorError>(err).is_none() => format!(
            "the instance metadata service could not be reached in {} s of trying; {IMDS_ADVICE}",
            IMDS_PATIENCE.as_secs()
        ),
        _ => format!(
            "the instance metadata service could not be reached: {}; {IMDS_ADVICE}",
            Failure::of(err)
        ),
    }
}
