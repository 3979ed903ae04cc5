//! AWS itself: the clients (here) and the reading of stacks ([`stack`]).
//!
//! The AWS clients `run` works with, built once from the target's profile, region and endpoint.
//! Tests build them against a local moto server or the SDK's mock layer instead.

pub mod stack;

use aws_config::BehaviorVersion;
use aws_sdk_cloudformation::config::ProvideCredentials;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::config::Target;
use crate::error::{Error, one_line};

/// One client per service the tool talks to.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Stacks, events, change sets.
    pub cfn: aws_sdk_cloudformation::Client,
    /// Config bucket uploads.
    pub s3: aws_sdk_s3::Client,
    /// Subnet lookups (VPC and zones).
    pub ec2: aws_sdk_ec2::Client,
    /// The public Ubuntu AMI parameter.
    pub ssm: aws_sdk_ssm::Client,
    /// Group and instance state.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// Target health.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// The state of the alarms a monitoring window watches.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Who deploys, for the build history.
    pub sts: aws_sdk_sts::Client,
    /// That the queue a group scales on exists.
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    /// Loads the standard configuration chain, checks that a region and credentials exist (so a
    /// missing one is a clear refusal, not a failed first call), and builds the clients.
    pub async fn connect(target: &Target) -> Result<Clients, Error> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &target.profile {
            check_profile(profile).await?;
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &target.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &target.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let conf = loader.load().await;
        if conf.region().is_none() {
            return Err(Error::MissingRegion);
        }
        let provider = conf
            .credentials_provider()
            .ok_or_else(|| Error::MissingCredentials("no credential provider".into()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| Error::MissingCredentials(one_line(&e)))?;
        Ok(Clients::from_conf(&conf, target.endpoint_url.is_some()))
    }

    /// Clients sharing `conf`; `path_style` for S3-compatible endpoints that have no
    /// per-bucket host names.
    pub fn from_conf(conf: &SdkConfig, path_style: bool) -> Clients {
        let s3 = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(path_style)
            .build();
        Clients {
            cfn: aws_sdk_cloudformation::Client::new(conf),
            s3: aws_sdk_s3::Client::from_conf(s3),
            ec2: aws_sdk_ec2::Client::new(conf),
            ssm: aws_sdk_ssm::Client::new(conf),
            autoscaling: aws_sdk_autoscaling::Client::new(conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(conf),
            cloudwatch: aws_sdk_cloudwatch::Client::new(conf),
            sts: aws_sdk_sts::Client::new(conf),
            sqs: aws_sdk_sqs::Client::new(conf),
        }
    }
}

/// A named profile must exist: for a missing one the SDK only reports, over several lines, that
/// no credential provider was enabled, without naming the profile.
async fn check_profile(name: &str) -> Result<(), Error> {
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let set = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &files,
        None,
    )
    .await
    .map_err(|e| {
        Error::MissingCredentials(format!(
            "the AWS config files cannot be read: {}",
            one_line(&e)
        ))
    })?;
    if set.get_profile(name).is_some() {
        return Ok(());
    }
    let mut known: Vec<&str> = set.profiles().collect();
    known.sort_unstable();
    let known = if known.is_empty() {
        "there is none".to_string()
    } else {
        format!("known: {}", known.join(", "))
    };
    Err(Error::Invalid(vec![format!(
        "PROFILE {name:?} is not in ~/.aws/config or ~/.aws/credentials ({known}): set PROFILE to one of them, or unset it for the default chain."
    )]))
}
