//! S3 transfers with aws-sdk-s3: credentials, regions, listing prefixes, ranged GETs. SDK errors are
//! classified once, here.
//!
//! Object requests are retried by the transfer layer alone, as an http GET is (`--retries`,
//! counted in the report, cut short by a stop): their clients make one attempt, as the SDK's own
//! retries would multiply with fetch's. The SDK retries what fetch does not, the listing of a
//! prefix (standard mode, `--retries` + 1 attempts).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_s3::config::ResponseChecksumValidation;
use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType, RequestPayer};
use aws_smithy_checksums::ChecksumAlgorithm;
use aws_smithy_checksums::body::validate::Error as ChecksumError;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{TlsContext, TrustStore};
use aws_smithy_http_client::{ConnectorBuilder, tls};
use aws_smithy_types::base64;
use futures::StreamExt;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::lanes;

use crate::source::cause::Failure;
use crate::source::credentials;
use crate::source::reply::{
    ByteRange, Extent, Head, Reply, StoredChecksum, parse_content_range, range_header,
};

/// Region used when neither the flags, the environment nor the profile name one. Requests to a
/// bucket elsewhere are redirected by S3, and [`S3Clients`] follows.
const FALLBACK_REGION: &str = "us-east-1";

/// The S3 clients of one run: one per lane (see [`crate::lanes`]) and region, created on first
/// use, plus what was learnt about which bucket lives where.
pub struct S3Clients {
    base: SdkConfig,
    endpoint_url: Option<String>,
    /// The server in an error's sentence: "S3", or "S3 at HOST:PORT" for another endpoint.
    endpoint: String,
    idle_timeout: Duration,
    trust: TrustStore,
    clients: Mutex<HashMap<(Option<usize>, String), aws_sdk_s3::Client>>,
    bucket_regions: Mutex<HashMap<String, String>>,
    /// Why no credentials were found, when none were: every request fails with it at once
    /// (see [`credentials::check`]).
    credentials_failed: Option<String>,
    /// `--request-payer`: the caller pays for requests to a Requester Pays bucket.
    request_payer: Option<RequestPayer>,
}

impl S3Clients {
    /// Loads the AWS configuration: profile, region, credentials chain, endpoint, timeouts.
    pub async fn load(config: &Config) -> S3Clients {
        let settings = &config.s3;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.idle_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(config.retries + 1))
            // A body that stops is fetch's to time out, after `--timeout` as for http; the SDK's
            // own stall check would cut it after its 20 s grace period whatever `--timeout` says.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .identity_cache(
                IdentityCache::lazy()
                    .load_timeout(credentials::CREDENTIALS_LOAD_TIMEOUT)
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if settings.no_sign_request {
            loader = loader.no_credentials();
        } else if keys_in_environment() {
            // What the default chain would find first anyway, without building the chain's other
            // providers (one makes an STS client, which reads the system's trusted roots).
            loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
        } else {
            let chain =
                credentials::default_chain(settings.profile.as_deref(), settings.region.as_deref())
                    .await;
            loader = loader.credentials_provider(chain);
        }
        let base = loader.load().await;
        let credentials_failed = match base.credentials_provider() {
            Some(provider) => credentials::check(&provider).await.err(),
            None => None,
        };
        // The endpoint the SDK settled on, which may come from the environment or a profile.
        let endpoint = base
            .endpoint_url()
            .and_then(|endpoint| url::Url::parse(endpoint).ok());
        let endpoint = match endpoint
            .as_ref()
            .and_then(|url| Some((url.host_str()?, url.port_or_known_default()?)))
        {
            Some((host, port)) => format!("S3 at {host}:{port}"),
            None => "S3".to_string(),
        };
        S3Clients {
            base,
            endpoint_url: settings.endpoint_url.clone(),
            endpoint,
            idle_timeout: config.idle_timeout,
            trust: trust_store(config),
            clients: Mutex::new(HashMap::new()),
            bucket_regions: Mutex::new(HashMap::new()),
            credentials_failed: credentials_failed.map(|err| err.to_string()),
            request_payer: settings.request_payer.then_some(RequestPayer::Requester),
        }
    }

    fn client_for(&self, bucket: &str) -> aws_sdk_s3::Client {
        let region = self
            .bucket_regions
            .lock()
            .expect("region map lock")
            .get(bucket)
            .cloned()
            .or_else(|| self.base.region().map(|r| r.to_string()))
            .unwrap_or_else(|| FALLBACK_REGION.to_string());
        let lane = lanes::current();
        let mut clients = self.clients.lock().expect("client map lock");
        clients
            .entry((lane, region.clone()))
            .or_insert_with(|| {
                let config = aws_sdk_s3::config::Builder::from(&self.base)
                    .region(Region::new(region))
                    // S3-compatible servers rarely serve virtual-hosted buckets.
                    .force_path_style(self.endpoint_url.is_some())
                    // A connection pool per lane: a connection is driven by the lane that opened it.
                    .http_client(http_client(self.trust.clone()))
                    // One attempt: fetch retries, see the module's doc.
                    .retry_config(RetryConfig::disabled())
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            })
            .clone()
    }

    fn learn_region(&self, bucket: &str, region: String) {
        self.bucket_regions
            .lock()
            .expect("region map lock")
            .insert(bucket.to_string(), region);
    }

    /// Runs `request` with a client for `bucket`'s region; when S3 answers that the bucket lives
    /// in another, learns that region and runs it once more there.
    async fn in_region<T, F, Fut>(&self, bucket: &str, request: F) -> Result<T>
    where
        F: Fn(aws_sdk_s3::Client) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if let Some(why) = &self.credentials_failed {
            return Err(Error::Credentials(why.clone()));
        }
        match request(self.client_for(bucket)).await {
            Err(Error::WrongRegion(region)) => {
                self.learn_region(bucket, region);
                request(self.client_for(bucket)).await
            }
            other => other,
        }
    }

    /// Every object under `prefix`, in listing order; "folder" marker keys are left out.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>> {
        self.in_region(bucket, |client| self.list_with(client, bucket, prefix))
            .await
    }

    async fn list_with(
        &self,
        client: aws_sdk_s3::Client,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<Listed>> {
        // The same client (and connections), with the SDK's retries: fetch does not retry listings.
        let mut config = client.config().to_builder();
        config.set_retry_config(self.base.retry_config().cloned());
        let client = aws_sdk_s3::Client::from_conf(config.build());
        let mut pages = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_request_payer(self.request_payer.clone())
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(&e, bucket, &self.endpoint, self.idle_timeout))?;
            objects.extend(page.contents().iter().filter_map(|object| {
                let key = object.key().filter(|key| !key.ends_with('/'))?;
                Some(Listed {
                    key: key.to_string(),
                    size: object.size().and_then(|size| u64::try_from(size).ok()),
                })
            }));
        }
        Ok(objects)
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The object's key.
    pub key: String,
    /// Its size, as the listing reported it.
    pub size: Option<u64>,
}

/// Whether the environment holds an access key pair, which the default credentials chain takes
/// before any other source.
fn keys_in_environment() -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|var| std::env::var(var).is_ok_and(|value| !value.trim().is_empty()))
}

/// What S3 connections trust: the system's roots and `--ca-cert`. The system roots are left out
/// when the endpoint is plain http and so is the way to it, since reading them is most of the cost
/// of making a client (measured on 200 small objects: 4 % of the run's CPU time).
fn trust_store(config: &Config) -> TrustStore {
    let proxies = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .collect::<Vec<_>>();
    let plain = plain_http_all_the_way(config.s3.endpoint_url.as_deref(), &proxies);
    let store = TrustStore::default().with_native_roots(!plain);
    match &config.ca_cert {
        Some(ca) => store.with_pem_certificate(ca.pem.clone()),
        None => store,
    }
}

/// Whether an `http://` endpoint is reached without TLS: no proxy (of `proxies`, the values of the
/// variables that apply to http URLs) that is not itself plain http.
fn plain_http_all_the_way(endpoint: Option<&str>, proxies: &[String]) -> bool {
    let plain = |url: &str| {
        url.get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
    };
    endpoint.is_some_and(plain) && proxies.iter().all(|url| url.is_empty() || plain(url))
}

/// An HTTP client as the SDK makes by default (rustls with aws-lc, proxies from the environment),
/// with a connection pool of its own and the given trust store.
fn http_client(trust: TrustStore) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let tls_context = TlsContext::builder()
            .with_trust_store(trust.clone())
            .build()
            .expect("a TLS context from a trust store always builds");
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(tls_context);
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// One S3 object.
#[derive(Clone)]
pub struct S3Source {
    clients: Arc<S3Clients>,
    bucket: String,
    key: String,
    /// The version asked for; `None` is the object's current version.
    version_id: Option<String>,
}

impl S3Source {
    /// A source for `s3://bucket/key`, or for one version of it.
    pub fn new(
        clients: Arc<S3Clients>,
        bucket: String,
        key: String,
        version_id: Option<String>,
    ) -> Self {
        S3Source {
            clients,
            bucket,
            key,
            version_id,
        }
    }

    /// What a HeadObject tells before a download, as s5cmd and the AWS CLI ask it: the object's
    /// size and the full-object checksum S3 stored with it. When S3 answers with an error that
    /// retrying will not change, the GET that follows reports it with S3's reasons (a HEAD's
    /// answer has no body to give them): `None`. Any other failure (a stall, a refused
    /// connection, a 503, no credentials, a TLS handshake that fails) would meet that GET too:
    /// it is the download's, retried as a transient failure or final. A bucket in another region
    /// is asked again there, or its object would come without the checksum.
    ///
    /// The checksum is asked for unless the SDK's own check of responses is limited to what an
    /// operation requires (`AWS_RESPONSE_CHECKSUM_VALIDATION=when_required`, or the profile's
    /// `response_checksum_validation`): the setting people turn to for an S3-compatible store that
    /// answers with wrong checksums, which then holds for fetch's check too.
    pub async fn head(&self) -> Result<Option<Head>> {
        let checks = self.clients.base.response_checksum_validation()
            != Some(ResponseChecksumValidation::WhenRequired);
        let head = self
            .clients
            .in_region(&self.bucket, |client| async move {
                let mut head = client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .set_version_id(self.version_id.clone())
                    .set_request_payer(self.clients.request_payer.clone());
                if checks {
                    head = head.checksum_mode(ChecksumMode::Enabled);
                }
                head.send().await.map_err(|err| self.classify(&err))
            })
            .await;
        let head = match head {
            Ok(head) => head,
            Err(err @ (Error::Credentials(_) | Error::Tls(_))) => return Err(err),
            Err(err) if err.is_transient() => return Err(err),
            Err(_) => return Ok(None),
        };
        Ok(Some(Head {
            size: head
                .content_length()
                .and_then(|len| u64::try_from(len).ok()),
            checksum: full_object_checksum(&head).filter(|_| checks),
            etag_md5: head.e_tag().and_then(etag_md5),
        }))
    }

    /// See [`crate::source::Source::get`]: a ranged GetObject, validated with `If-Match`.
    pub async fn get(&self, range: Option<ByteRange>, validator: Option<&str>) -> Result<Reply> {
        let output = self
            .clients
            .in_region(&self.bucket, |client| async move {
                match self.get_object(&client, range, validator).await {
                    Err(err)
                        if err.as_service_error().and_then(|e| e.code())
                            == Some("InvalidRange")
                            && range.is_some_and(|r| r.start == 0) =>
                    {
                        // Only an empty object has no byte 0: ask for it whole.
                        self.get_object(&client, None, None).await
                    }
                    sent => sent,
                }
                .map_err(|err| self.classify(&err))
            })
            .await?;
        Ok(self.reply(output))
    }

    /// One GetObject of `range`, on condition that the object's ETag is still `validator`.
    async fn get_object(
        &self,
        client: &aws_sdk_s3::Client,
        range: Option<ByteRange>,
        validator: Option<&str>,
    ) -> std::result::Result<GetObjectOutput, SdkError<GetObjectError, HttpResponse>> {
        let mut request = client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(self.version_id.clone())
            .set_request_payer(self.clients.request_payer.clone());
        if let Some(r) = range {
            request = request.range(range_header(r));
            if let Some(etag) = validator {
                request = request.if_match(etag);
            }
        }
        request.send().await
    }

    /// [`classify`] for this object's bucket.
    fn classify<E>(&self, err: &SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        classify(
            err,
            &self.bucket,
            &self.clients.endpoint,
            self.clients.idle_timeout,
        )
    }

    fn reply(&self, output: GetObjectOutput) -> Reply {
        let extent = output
            .content_range()
            .and_then(parse_content_range)
            .unwrap_or(Extent::Whole {
                len: output.content_length().and_then(|n| u64::try_from(n).ok()),
                accepts_ranges: true,
            });
        let validator = output.e_tag().map(String::from);
        let body = futures::stream::unfold(output.body, move |mut body: ByteStream| async move {
            body.next()
                .await
                .map(|chunk| (chunk.map_err(|e| body_error(&e)), body))
        })
        .boxed();
        Reply {
            extent,
            validator,
            body,
        }
    }
}

/// The checksum of the object's bytes as a whole, when S3 stored one that fetch can compute. A
/// multipart upload's composite checksum (a checksum of the parts' checksums, shown with a `-N`
/// suffix) says nothing about the bytes without the part boundaries, so it is left out.
fn full_object_checksum(head: &HeadObjectOutput) -> Option<StoredChecksum> {
    if head.checksum_type() == Some(&ChecksumType::Composite) {
        return None;
    }
    let (algorithm, value) = [
        (ChecksumAlgorithm::Crc64Nvme, head.checksum_crc64_nvme()),
        (ChecksumAlgorithm::Crc32c, head.checksum_crc32_c()),
        (ChecksumAlgorithm::Crc32, head.checksum_crc32()),
        (ChecksumAlgorithm::Sha1, head.checksum_sha1()),
        (ChecksumAlgorithm::Sha256, head.checksum_sha256()),
    ]
    .into_iter()
    .find_map(|(algorithm, value)| value.map(|value| (algorithm, value)))?;
    (!value.contains('-')).then(|| StoredChecksum {
        algorithm,
        expected: value.to_owned(),
        etag: head.e_tag().map(String::from),
    })
}

/// A body stream's failure: the SDK's check against the checksum S3 stored with the object
/// (final), or a broken connection (worth a retry).
fn body_error(err: &(dyn std::error::Error + 'static)) -> Error {
    let mut cause = Some(err);
    while let Some(current) = cause {
        if let Some(ChecksumError::ChecksumMismatch { expected, actual }) = current.downcast_ref() {
            return Error::StoredChecksumMismatch {
                expected: base64::encode(expected),
                actual: base64::encode(actual),
            };
        }
        cause = current.source();
    }
    Error::Connection(format!(
        "the connection broke during the transfer: {}",
        Failure::of(err)
    ))
}

/// Maps an SDK error to our kinds: one table for every S3 operation.
/// `endpoint` names the server in a sentence ("S3", or "S3 at HOST:PORT" for `--endpoint-url`).
fn classify<E>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    bucket: &str,
    endpoint: &str,
    idle: Duration,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.as_service_error().and_then(|e| e.code()).unwrap_or("");
    if let Some(raw) = err.raw_response() {
        let status = raw.status().as_u16();
        let region = raw.headers().get("x-amz-bucket-region").map(String::from);
        // A HEAD's answer has no body, so no code either: its region header says it all.
        let head_elsewhere = code.is_empty() && matches!(status, 400 | 403);
        if let Some(region) = region
            && (status == 301
                || head_elsewhere
                || matches!(
                    code,
                    "PermanentRedirect"
                        | "AuthorizationHeaderMalformed"
                        | "IllegalLocationConstraintException"
                ))
        {
            return Error::WrongRegion(region);
        }
        if let SdkError::ServiceError(_) = err {
            let message = err
                .as_service_error()
                .and_then(|e| e.message())
                .map(String::from);
            return match code {
                "NoSuchBucket" => Error::Other(format!("the bucket {bucket} does not exist")),
                "NoSuchKey" | "NotFound" => Error::NotFound { status: 404 },
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken"
                | "TokenRefreshRequired" => Error::Credentials(format!(
                    "S3 rejected the credentials ({code}); check --profile, the AWS_* variables or the instance role"
                )),
                "PreconditionFailed" => Error::Changed,
                // What the SDK's standard retries would have retried, whatever the status.
                _ if THROTTLING_ERRORS.contains(&code)
                    || TRANSIENT_ERRORS.contains(&code)
                    || matches!(code, "InternalError" | "ServiceUnavailable") =>
                {
                    Error::Transient {
                        status,
                        reason: Some(code.to_string()),
                        retry_after: None,
                    }
                }
                _ if status == 412 => Error::Changed,
                _ => {
                    let reason = match (code, message) {
                        ("", None) => None,
                        ("", Some(m)) => Some(m),
                        (c, None) => Some(c.to_string()),
                        (c, Some(m)) => Some(format!("{c}: {m}")),
                    };
                    match Error::from_status(status, reason.clone(), None) {
                        Error::AccessDenied { .. } => Error::Other(format!(
                            "S3 answered {status}: access denied{}; check that these credentials may read s3://{bucket}",
                            reason.map(|r| format!(" ({r})")).unwrap_or_default()
                        )),
                        other => other,
                    }
                }
            };
        }
    }
    if let Some(lookup) = credentials::lookup_in(err) {
        return credentials::failure(lookup);
    }
    match (err, Failure::of(err)) {
        (SdkError::TimeoutError(_), _) | (_, Failure::Stalled) => Error::Stalled(idle),
        (
            _,
            Failure::Tls {
                certificate: true,
                reason,
            },
        ) => Error::Tls(reason),
        (_, Failure::ConnectTimeout) => {
            Error::Connection(format!("connecting to {endpoint} timed out"))
        }
        (SdkError::ResponseError(_), failure) => {
            Error::Connection(format!("the answer of {endpoint} broke off: {failure}"))
        }
        (SdkError::DispatchFailure(_), failure) => {
            Error::Connection(format!("could not reach {endpoint}: {failure}"))
        }
        (_, failure) => Error::Other(format!("the S3 request could not be made: {failure}")),
    }
}

/// The MD5 an S3 ETag names (lower-case hex), when it has the form of one: 32 hex digits in
/// quotes. A multipart upload's ETag (`"<hex>-<parts>"`) names no digest of the bytes. An object
/// encrypted with KMS or a customer's key has an ETag of this form that is no MD5 of its bytes;
/// a file compared with it differs, and is downloaded again.
pub fn etag_md5(etag: &str) -> Option<String> {
    let hex = etag.trim_matches('"');
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_single_part_etag_names_an_md5() {
        assert_eq!(
            etag_md5("\"9E107D9D372BB6826BD81D3542A419D6\"").as_deref(),
            Some("9e107d9d372bb6826bd81d3542a419d6")
        );
        assert_eq!(etag_md5("\"9e107d9d372bb6826bd81d3542a419d6-3\""), None);
        assert_eq!(etag_md5("W/\"abc\""), None);
    }

    #[test]
    fn only_a_checksum_of_the_whole_object_is_kept() {
        let head = |build: fn(
            aws_sdk_s3::operation::head_object::builders::HeadObjectOutputBuilder,
        ) -> aws_sdk_s3::operation::head_object::builders::HeadObjectOutputBuilder| {
            full_object_checksum(&build(HeadObjectOutput::builder().e_tag("\"v1\"")).build())
        };
        let whole = head(|h| {
            h.checksum_crc32("DUoRhQ==")
                .checksum_crc64_nvme("jSnVw/bqjr4=")
                .checksum_type(ChecksumType::FullObject)
        })
        .unwrap();
        assert_eq!(whole.algorithm, ChecksumAlgorithm::Crc64Nvme);
        assert_eq!(whole.expected, "jSnVw/bqjr4=");
        assert_eq!(whole.etag.as_deref(), Some("\"v1\""));
        // s3s-fs and older S3 answers name no type; a single upload's checksum is of the bytes.
        assert_eq!(
            head(|h| h.checksum_sha256("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="))
                .unwrap()
                .algorithm,
            ChecksumAlgorithm::Sha256
        );
        assert_eq!(
            head(|h| h
                .checksum_crc32("DUoRhQ==")
                .checksum_type(ChecksumType::Composite)),
            None
        );
        assert_eq!(head(|h| h.checksum_crc32_c("yZRlqg==-3")), None);
        assert_eq!(head(|h| h), None);
    }

    #[tokio::test]
    async fn a_stalled_body_is_left_to_fetchs_own_timeout() {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "fetch",
            "-u",
            "s3://bucket/key",
            "--no-sign-request",
            "--region",
            "eu-west-1",
            "--timeout",
            "90",
        ])
        .unwrap();
        let clients = S3Clients::load(&crate::config::Config::from_cli(cli).unwrap()).await;
        let stalls = clients.base.stalled_stream_protection();
        assert!(
            stalls.as_ref().is_some_and(|s| !s.is_enabled()),
            "the SDK's 20 s stall check would override --timeout: {stalls:?}"
        );
        let timeouts = clients.base.timeout_config().unwrap();
        assert_eq!(timeouts.read_timeout(), Some(Duration::from_secs(90)));
    }

    #[test]
    fn system_roots_are_skipped_only_when_no_hop_uses_tls() {
        let none: &[String] = &[];
        assert!(plain_http_all_the_way(Some("http://127.0.0.1:9000"), none));
        assert!(plain_http_all_the_way(
            Some("HTTP://minio:9000"),
            &["".into()]
        ));
        assert!(plain_http_all_the_way(
            Some("http://minio"),
            &["http://proxy:3128".into()]
        ));
        assert!(!plain_http_all_the_way(
            Some("http://minio"),
            &["https://proxy".into()]
        ));
        assert!(!plain_http_all_the_way(
            Some("http://minio"),
            &["proxy:3128".into()]
        ));
        assert!(!plain_http_all_the_way(Some("https://minio"), none));
        assert!(!plain_http_all_the_way(None, none));
    }
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_smithy_types::body::SdkBody;

    fn service_error(
        status: u16,
        code: &str,
        region: Option<&str>,
    ) -> SdkError<GetObjectError, HttpResponse> {
        let mut raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        if let Some(region) = region {
            raw.headers_mut()
                .insert("x-amz-bucket-region", region.to_string());
        }
        let err = GetObjectError::generic(ErrorMetadata::builder().code(code).build());
        SdkError::service_error(err, raw)
    }

    const IDLE: Duration = Duration::from_secs(30);

    #[test]
    fn a_bucket_elsewhere_names_its_region() {
        let err = service_error(301, "PermanentRedirect", Some("eu-west-1"));
        assert!(
            matches!(classify(&err, "b", "S3", IDLE), Error::WrongRegion(r) if r == "eu-west-1")
        );
        let err = service_error(400, "AuthorizationHeaderMalformed", Some("ap-south-1"));
        assert!(
            matches!(classify(&err, "b", "S3", IDLE), Error::WrongRegion(r) if r == "ap-south-1")
        );
    }

    #[test]
    fn service_errors_are_classified() {
        assert!(matches!(
            classify(&service_error(404, "NoSuchKey", None), "b", "S3", IDLE),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            classify(
                &service_error(403, "SignatureDoesNotMatch", None),
                "b",
                "S3",
                IDLE
            ),
            Error::Credentials(_)
        ));
        assert!(matches!(
            classify(
                &service_error(412, "PreconditionFailed", None),
                "b",
                "S3",
                IDLE
            ),
            Error::Changed
        ));
        assert!(classify(&service_error(503, "SlowDown", None), "b", "S3", IDLE).is_transient());
        let denied =
            classify(&service_error(403, "AccessDenied", None), "b", "S3", IDLE).to_string();
        assert!(denied.contains("may read s3://b"), "{denied}");
        let bucket = classify(
            &service_error(404, "NoSuchBucket", None),
            "nope",
            "S3",
            IDLE,
        )
        .to_string();
        assert_eq!(bucket, "the bucket nope does not exist");
    }
}
