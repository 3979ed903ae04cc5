//! Validated settings: every check of the command line happens here, before any AWS call, and each
//! problem becomes one sentence saying what was wrong and what to do.

pub mod fetch_binary;
pub mod image;
pub mod shapes;

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Command, HealthCheck, Settings};
use crate::config::fetch_binary::FetchSource;
use crate::config::image::{Arch, BASE_IMAGES, BaseImage};
use crate::config::shapes::{
    check_https_url, is_acm_arn, is_aws_id, is_bucket_name, is_dns_name, is_iam_role_arn,
    is_instance_type, is_ipv4_cidr, is_sha256, is_sns_topic_arn, is_sqs_queue_arn,
    is_sqs_queue_name,
};
use crate::error::Error;
use crate::template::user_data::{self, USER_DATA_LIMIT};

/// What every command needs: where the stack is and how to reach AWS.
#[derive(Debug, Clone)]
pub struct Target {
    /// CloudFormation stack name.
    pub stack_name: String,
    /// AWS profile, if not the default chain.
    pub profile: Option<String>,
    /// Region, if given; otherwise the SDK's chain decides.
    pub region: Option<String>,
    /// AWS-compatible endpoint (moto, LocalStack), if any.
    pub endpoint_url: Option<String>,
    /// Longest wait for the stack.
    pub timeout: Duration,
    /// Wait for a busy stack instead of refusing.
    pub wait_for_idle: bool,
    /// Checks after a successful rollout.
    pub health_check: HealthCheck,
    /// URL the health check requests instead of the stack's Url output.
    pub health_url: Option<String>,
    /// URL `check` reads the server's time from (JSON `{"now": ...}`), instead of the Date header.
    pub health_time_url: Option<String>,
    /// Extra CA certificates (PEM) the health check trusts, already checked to hold one or more.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Role CloudFormation acts with (STACK_ROLE_ARN), when given; a stack keeps the role it has
    /// otherwise.
    pub stack_role_arn: Option<String>,
    /// Minutes CloudFormation watches the alarms after an update or a rollback before it removes
    /// the old group.
    pub monitor_minutes: u32,
}

impl Target {
    /// Name of the small stack that owns the config bucket.
    pub fn bucket_stack_name(&self) -> String {
        format!("{}-config", self.stack_name)
    }
}

/// What `create`, `update`, `plan` and `render` need on top of [`Target`].
#[derive(Debug, Clone)]
pub struct Deploy {
    /// Version of the fleet, at least 1.
    pub build_number: u64,
    /// Subnet ids (two zones or more, checked against EC2 at deploy time).
    pub subnets: Vec<String>,
    /// ACM certificate ARN.
    pub certificate_arn: String,
    /// https URL of the application jar.
    pub artifact_url: String,
    /// Extra security groups for the instances.
    pub security_groups: Vec<String>,
    /// AMI id; `None` resolves the base image (create) or keeps the pinned one (update).
    pub ami: Option<String>,
    /// The stock image resolved when AMIID is not set; `None`: Ubuntu 24.04 LTS on create, the
    /// pinned AMI on update.
    pub base_image: Option<BaseImage>,
    /// EC2 instance type.
    pub instance_type: String,
    /// EC2 key pair, if SSH is wanted.
    pub key_pair: Option<String>,
    /// CIDR allowed to SSH.
    pub ssh_cidr: Option<String>,
    /// Group sizes, min <= desired <= max.
    pub min_size: u32,
    /// See `min_size`.
    pub desired_capacity: u32,
    /// See `min_size`.
    pub max_size: u32,
    /// DNS name and its hosted zone (with the trailing dot), when an alias is wanted.
    pub dns: Option<(String, String)>,
    /// Config bucket name, when the operator chose it.
    pub config_bucket: Option<String>,
    /// The boot script text.
    pub boot_script: String,
    /// Where the boot script came from, for messages.
    pub boot_script_source: String,
    /// Where the instances' fetch comes from when the image has none.
    pub fetch: FetchSource,
    /// Application name.
    pub app_name: String,
    /// SNS topic for the operator alarms.
    pub alarm_topic_arn: Option<String>,
    /// When the group grows and shrinks.
    pub scaling: Scaling,
    /// The SNS topic told of the stack's events.
    pub notify: Notify,
    /// DELETION_PROTECTION; `None`: on for a new stack, the stack's own on update.
    pub deletion_protection: Option<bool>,
}

/// NOTIFY_TOPIC_ARN: the stack's notification topic as the operator set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notify {
    /// Not set: a new stack has none, an update keeps the stack's.
    Keep,
    /// This topic.
    Topic(String),
    /// `none`: the stack stops notifying.
    Remove,
}

impl Notify {
    /// The topic the stack notifies after the change, given the ones it notifies now.
    pub fn resolve(&self, current: &[String]) -> Option<String> {
        match self {
            Notify::Keep => current.first().cloned(),
            Notify::Topic(arn) => Some(arn.clone()),
            Notify::Remove => None,
        }
    }
}

/// The longest monitoring window CloudFormation allows, in minutes.
pub const MAX_MONITOR_MINUTES: u32 = 180;

/// The CPU alarms that add and remove instances.
#[derive(Debug, Clone)]
pub struct Scaling {
    /// What the group follows.
    pub on: ScaleOn,
    /// Visible messages per instance in service above which an instance is added (queue only).
    pub up_messages: u32,
    /// Visible messages per instance in service below which one is removed; below `up_messages`.
    pub down_messages: u32,
    /// Average CPU percent above which an instance is added.
    pub up_cpu: u32,
    /// Average CPU percent below which an instance is removed; below `up_cpu`.
    pub down_cpu: u32,
    /// Seconds the CPU must stay past a threshold.
    pub period_seconds: u32,
}

/// What a group scales on (SCALE_ON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleOn {
    /// The group's average CPU.
    Cpu,
    /// The depth of this SQS queue (its name) per instance in service.
    Queue(String),
}

impl ScaleOn {
    /// The queue, for a queue-scaled group.
    pub fn queue(&self) -> Option<&str> {
        match self {
            ScaleOn::Cpu => None,
            ScaleOn::Queue(name) => Some(name),
        }
    }
}

/// The highest SCALE_UP_MESSAGES the template allows; the scale-up alarm's expression answers
/// 1,000,000 for "messages and no instance in service", which must stay above it.
const MAX_SCALE_UP_MESSAGES: u32 = 100_000;

/// The scaling periods the template allows (its `AllowedValues`), in seconds: EC2's basic
/// monitoring, which the instances have, reports CPU every five minutes, so a shorter period
/// would often find no data.
const SCALING_PERIODS: [u32; 3] = [300, 600, 900];

/// The checked configuration of one invocation.
#[derive(Debug, Clone)]
pub struct Config {
    /// The command to run.
    pub command: Command,
    /// Where and how.
    pub target: Target,
    /// Deployment settings; present for create, update, plan and render.
    pub deploy: Option<Deploy>,
}

/// Accumulates one sentence per problem so the operator sees all of them at once.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, msg: impl Into<String>) {
        self.0.push(msg.into());
    }

    /// A setting that must be given: `missing` when it is not, `check`'s sentence when it is wrong.
    fn required(
        &mut self,
        raw: &Option<String>,
        missing: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> String {
        let Some(value) = non_empty(raw) else {
            self.add(missing);
            return String::new();
        };
        if let Err(why) = check(value) {
            self.add(why);
        }
        value.to_string()
    }

    /// A setting that may be left out; when given, `fits` checks it and `advice` says what to do.
    fn optional(
        &mut self,
        raw: &Option<String>,
        fits: impl Fn(&str) -> bool,
        advice: impl Fn(&str) -> String,
    ) -> Option<String> {
        let value = non_empty(raw)?;
        if !fits(value) {
            self.add(advice(value));
        }
        Some(value.to_string())
    }

    /// A whole-number setting: `default` when unset, or when it is no number or `fits` refuses
    /// it, which adds `advice`.
    fn number(
        &mut self,
        raw: &Option<String>,
        default: u32,
        fits: impl Fn(u32) -> bool,
        advice: impl Fn(&str) -> String,
    ) -> u32 {
        let Some(value) = non_empty(raw) else {
            return default;
        };
        match value.parse::<u32>() {
            Ok(n) if fits(n) => n,
            _ => {
                self.add(advice(value));
                default
            }
        }
    }
}

impl Config {
    /// Checks the raw settings for `command`; reports every problem found.
    pub fn from_settings(command: Command, s: &Settings) -> Result<Config, Error> {
        let mut p = Problems::default();
        let target = target(s, &mut p);
        let deploy = match command {
            Command::Create
            | Command::Update
            | Command::Plan
            | Command::Render {
                diagram: false,
                deploy_role: false,
            } => Some(deploy(s, &target.stack_name, &mut p)),
            Command::Status { .. }
            | Command::Check { .. }
            | Command::History { .. }
            | Command::Rollback { .. }
            | Command::Delete
            | Command::Render { .. } => None,
        };
        // A new stack boots a stock image, which has no fetch; an update may keep a pinned
        // image that has one, which only the stack tells.
        if let Some(Deploy {
            fetch: FetchSource::Beside(Err(why)),
            ..
        }) = &deploy
            && matches!(command, Command::Create | Command::Render { .. })
        {
            p.add(why.clone());
        }
        if p.0.is_empty() {
            Ok(Config {
                command,
                target,
                deploy,
            })
        } else {
            Err(Error::Invalid(p.0))
        }
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn target(s: &Settings, p: &mut Problems) -> Target {
    let stack_name = match non_empty(&s.stack_name) {
        None => {
            p.add("STACK_NAME is required: set STACK_NAME or --stack-name to the CloudFormation stack name.");
            String::new()
        }
        Some(name) => {
            // 128 is CloudFormation's limit; "-config" is appended for the bucket stack.
            let ok = name.len() <= 121
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                p.add(format!("STACK_NAME {name:?} is not a valid stack name: use a letter, then letters, digits and hyphens, at most 121 characters."));
            }
            name.to_string()
        }
    };
    let region = non_empty(&s.region).map(str::to_string);
    if let Some(r) = &region {
        let ok = r.split('-').count() >= 3
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            p.add(format!(
                "REGION {r:?} is not an AWS region name: use a name such as eu-west-1."
            ));
        }
    }
    let endpoint_url = non_empty(&s.endpoint_url).map(str::to_string);
    if let Some(e) = &endpoint_url {
        match url::Url::parse(e) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => p.add(format!(
                "AWS_ENDPOINT_URL {e:?} is not an http(s) URL: use e.g. http://127.0.0.1:5000."
            )),
        }
    }
    let timeout = match non_empty(&s.timeout) {
        None => Duration::from_secs(30 * 60),
        Some(t) => match parse_duration(t) {
            Some(d) if !d.is_zero() => d,
            _ => {
                p.add(format!("TIMEOUT {t:?} is not a duration: use seconds (900) or a number with s, m or h (15m)."));
                Duration::from_secs(30 * 60)
            }
        },
    };
    let health_url = non_empty(&s.health_url).map(str::to_string);
    if let Some(u) = &health_url {
        match url::Url::parse(u) {
            Ok(parsed) if parsed.scheme() == "https" && parsed.host().is_some() => {}
            _ => p.add(format!(
                "HEALTH_CHECK_URL {u:?} is not an https URL: use e.g. https://app.example.com/, or unset it to check the stack's Url output."
            )),
        }
    }
    let health_time_url = non_empty(&s.health_time_url).map(str::to_string);
    if let Some(u) = &health_time_url {
        match url::Url::parse(u) {
            Ok(parsed) if matches!(parsed.scheme(), "https" | "http") && parsed.host().is_some() => {}
            _ => p.add(format!(
                "HEALTH_CHECK_TIME_URL {u:?} is not an http(s) URL: use e.g. https://app.example.com/now, or unset it to read the time from the Date header."
            )),
        }
    }
    let ca_cert_pem = s
        .ca_cert
        .as_ref()
        .and_then(|path| match read_ca_cert(path) {
            Ok(pem) => Some(pem),
            Err(why) => {
                p.add(format!("HEALTH_CHECK_CA_CERT {} {why}.", path.display()));
                None
            }
        });
    let monitor_minutes = p.number(
        &s.monitor_minutes,
        10,
        |n| n <= MAX_MONITOR_MINUTES,
        |v| format!("MONITOR_MINUTES {v:?} is not a number of minutes CloudFormation allows: use a whole number from 0 (no window) to {MAX_MONITOR_MINUTES}."),
    );
    let stack_role_arn = non_empty(&s.stack_role_arn).map(str::to_string);
    if let Some(arn) = stack_role_arn.as_deref().filter(|a| !is_iam_role_arn(a)) {
        p.add(format!("STACK_ROLE_ARN {arn:?} is not an IAM role ARN: use arn:aws:iam::ACCOUNT:role/NAME (the StackRoleArn output of the deploy-role stack), or unset it to deploy with your own rights."));
    }
    Target {
        stack_name,
        profile: non_empty(&s.profile).map(str::to_string),
        region,
        endpoint_url,
        timeout,
        wait_for_idle: s.wait_for_idle,
        health_check: s.health_check,
        health_url,
        health_time_url,
        ca_cert_pem,
        stack_role_arn,
        monitor_minutes,
    }
}

/// The PEM bundle at `path`, if it holds at least one certificate; the reason otherwise.
fn read_ca_cert(path: &PathBuf) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot be read ({e}): point it at a PEM file of CA certificates"))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        _ => Err(
            "holds no PEM certificate: give a file with -----BEGIN CERTIFICATE----- blocks".into(),
        ),
    }
}

/// "900", "900s", "15m", "1h".
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

fn deploy(s: &Settings, stack_name: &str, p: &mut Problems) -> Deploy {
    let build_number = build_number(s, p);
    let subnets = subnets(s, p);
    let certificate_arn = p.required(
        &s.certificate,
        "AWSCERTIFICATE is required: set it to the ARN of an ACM certificate for the HTTPS listener.",
        |c| {
            is_acm_arn(c).then_some(()).ok_or_else(|| {
                format!("AWSCERTIFICATE {c:?} is not an ACM certificate ARN: use arn:aws:acm:REGION:ACCOUNT:certificate/ID.")
            })
        },
    );
    let artifact_url = p.required(
        &s.artifact_url,
        "ARTIFACT_URL is required: set it to the https URL of the application jar (optionally ending in #sha256=<hex>).",
        |a| check_https_url(a, true).map_err(|why| format!("ARTIFACT_URL {a:?} {why}.")),
    );
    let security_groups = security_groups(s, p);
    let ami = p.optional(
        &s.ami,
        |a| is_aws_id(a, "ami"),
        |a| format!("AMIID {a:?} is not an AMI id: use the form ami-0123456789abcdef0, or leave it unset for a stock image (BASE_IMAGE)."),
    );
    let base_image = base_image(s, p);
    let instance_type = non_empty(&s.instance_type)
        .unwrap_or("t3.micro")
        .to_string();
    if !is_instance_type(&instance_type) {
        p.add(format!(
            "INSTANCETYPE {instance_type:?} is not an EC2 instance type: use the form t3.micro."
        ));
    }
    let key_pair = p.optional(
        &s.key_pair,
        |k| k.len() <= 255 && !k.contains('\'') && k.is_ascii(),
        |k| format!("KP {k:?} is not a key pair name: use the ASCII name shown by EC2, at most 255 characters."),
    );
    let ssh_cidr = ssh_cidr(s, key_pair.is_some(), p);
    let queue_scaled = non_empty(&s.scale_on).is_some_and(|v| v.starts_with("sqs:"));
    let (min_size, desired_capacity, max_size) = group_sizes(s, queue_scaled, p);
    let dns = dns(s, p);
    let config_bucket = p.optional(
        &s.config_bucket,
        is_bucket_name,
        |b| format!("CONFIG_BUCKET {b:?} is not a valid bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens."),
    );
    let fetch = fetch_source(s, &instance_type, ami.is_some(), p);
    let app_name = app_name(s, p);
    let alarm_topic_arn = p.optional(&s.alarm_topic_arn, is_sns_topic_arn, |t| {
        format!(
            "ALARM_TOPIC_ARN {t:?} is not an SNS topic ARN: use arn:aws:sns:REGION:ACCOUNT:NAME."
        )
    });
    let notify = notify(s, p);
    let deletion_protection = non_empty(&s.deletion_protection).and_then(|v| {
        match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => {
                p.add(format!("DELETION_PROTECTION {v:?} is not true or false: use true to keep the load balancer from being deleted outside asg-deploy delete, false to allow it."));
                None
            }
        }
    });
    let scaling = scaling(s, p);
    let (boot_script, boot_script_source) = boot_script(s, p);
    let settings_len = user_data::settings_block_upper_bound(
        stack_name,
        build_number,
        &artifact_url,
        fetch.longest_parameters(),
        &app_name,
    );
    let user_data_len = settings_len + boot_script.len();
    if user_data_len > USER_DATA_LIMIT {
        let script = match &s.cloud_init_path {
            Some(path) => format!("CLOUD_INIT_PATH {}", path.display()),
            None => "The built-in boot script".to_string(),
        };
        p.add(format!("{script} makes the user data {user_data_len} bytes, over EC2's {USER_DATA_LIMIT}-byte limit: shorten the script (move work into files it downloads) or point CLOUD_INIT_PATH at a shorter one."));
    }

    Deploy {
        build_number,
        subnets,
        certificate_arn,
        artifact_url,
        security_groups,
        ami,
        base_image,
        instance_type,
        key_pair,
        ssh_cidr,
        min_size,
        desired_capacity,
        max_size,
        dns,
        config_bucket,
        boot_script,
        boot_script_source,
        fetch,
        app_name,
        alarm_topic_arn,
        scaling,
        notify,
        deletion_protection,
    }
}

/// NOTIFY_TOPIC_ARN: an SNS topic ARN, or `none`.
fn notify(s: &Settings, p: &mut Problems) -> Notify {
    match non_empty(&s.notify_topic_arn) {
        None => Notify::Keep,
        Some(none) if none.eq_ignore_ascii_case("none") => Notify::Remove,
        Some(arn) if is_sns_topic_arn(arn) => Notify::Topic(arn.to_string()),
        Some(other) => {
            p.add(format!("NOTIFY_TOPIC_ARN {other:?} is not an SNS topic ARN: use arn:aws:sns:REGION:ACCOUNT:NAME, or none to stop the stack's notifications."));
            Notify::Keep
        }
    }
}

fn build_number(s: &Settings, p: &mut Problems) -> u64 {
    match non_empty(&s.build_number) {
        None => 1,
        Some(b) => match b.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                p.add(format!("BUILD_NUMBER {b:?} is not a positive integer: use 1, 2, 3, ... (higher for every new build)."));
                1
            }
        },
    }
}

fn subnets(s: &Settings, p: &mut Problems) -> Vec<String> {
    let Some(list) = non_empty(&s.subnets) else {
        p.add("SUBNETS is required: set it to comma-separated subnet ids in two availability zones or more (subnet-0abc...,subnet-0def...).");
        return Vec::new();
    };
    let ids = split_list(list);
    for id in &ids {
        if !is_aws_id(id, "subnet") {
            p.add(format!(
                "SUBNETS entry {id:?} is not a subnet id: use ids of the form subnet-0123456789abcdef0."
            ));
        }
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    if unique.len() < 2 {
        p.add("SUBNETS lists fewer than two subnets: give subnets in two availability zones or more, so the load balancer and the group survive a zone failure.");
    }
    ids
}

fn security_groups(s: &Settings, p: &mut Problems) -> Vec<String> {
    let groups = non_empty(&s.security_groups)
        .map(split_list)
        .unwrap_or_default();
    for sg in &groups {
        if !is_aws_id(sg, "sg") {
            p.add(format!(
                "SG_VALUE entry {sg:?} is not a security group id: use ids of the form sg-0123456789abcdef0."
            ));
        }
    }
    groups
}

fn ssh_cidr(s: &Settings, has_key_pair: bool, p: &mut Problems) -> Option<String> {
    let cidr = non_empty(&s.ssh_cidr)?;
    if !has_key_pair {
        p.add("SSH_CIDR is set but KP is not: SSH is opened only with a key pair; set KP or unset SSH_CIDR.");
    }
    if !is_ipv4_cidr(cidr) {
        p.add(format!(
            "SSH_CIDR {cidr:?} is not an IPv4 CIDR: use the form 203.0.113.7/32."
        ));
    }
    Some(cidr.to_string())
}

/// MINSIZE, DESIREDCAPACITY and MAXSIZE, in that order.
fn group_sizes(s: &Settings, queue_scaled: bool, p: &mut Problems) -> (u32, u32, u32) {
    let min_size = size(&s.min_size, "MINSIZE", 1, p);
    let desired_capacity = size(&s.desired_capacity, "DESIREDCAPACITY", 2, p);
    let max_size = size(&s.max_size, "MAXSIZE", 3, p);
    if !(min_size <= desired_capacity && desired_capacity <= max_size) {
        p.add(format!("Group sizes must satisfy MINSIZE <= DESIREDCAPACITY <= MAXSIZE, got {min_size} <= {desired_capacity} <= {max_size}: adjust them."));
    }
    if desired_capacity == 0 && !queue_scaled {
        p.add("DESIREDCAPACITY must be at least 1: a new group waits for that many instances to signal a good boot (only a queue-scaled group, SCALE_ON=sqs:QUEUE, may start empty).");
    }
    (min_size, desired_capacity, max_size)
}

/// SCALE_UP_CPU, SCALE_DOWN_CPU (below it) and SCALING_PERIOD.
fn scaling(s: &Settings, p: &mut Problems) -> Scaling {
    let mut percent = |raw: &Option<String>, name: &str, default: u32| {
        p.number(
            raw,
            default,
            |n| (1..=99).contains(&n),
            |v| format!("{name} {v:?} is not a CPU percentage: use a whole number from 1 to 99."),
        )
    };
    let up_cpu = percent(&s.scale_up_cpu, "SCALE_UP_CPU", 90);
    let down_cpu = percent(&s.scale_down_cpu, "SCALE_DOWN_CPU", 70);
    if down_cpu >= up_cpu {
        p.add(format!("SCALE_DOWN_CPU ({down_cpu}) must be below SCALE_UP_CPU ({up_cpu}), or the group adds and removes instances in turn: lower SCALE_DOWN_CPU."));
    }
    let period_seconds = p.number(
        &s.scaling_period,
        300,
        |n| SCALING_PERIODS.contains(&n),
        |v| format!("SCALING_PERIOD {v:?} is not one of the scaling periods the stack allows: use 300, 600 or 900 (seconds; EC2 reports the instances' CPU every 5 minutes)."),
    );
    let on = scale_on(s, p);
    let up_messages = p.number(
        &s.scale_up_messages,
        100,
        |n| (1..=MAX_SCALE_UP_MESSAGES).contains(&n),
        |v| format!("SCALE_UP_MESSAGES {v:?} is not a number of messages per instance: use a whole number from 1 to {MAX_SCALE_UP_MESSAGES}."),
    );
    let down_messages = p.number(
        &s.scale_down_messages,
        10,
        |n| n < MAX_SCALE_UP_MESSAGES,
        |v| format!("SCALE_DOWN_MESSAGES {v:?} is not a number of messages per instance: use a whole number from 0 to {}.", MAX_SCALE_UP_MESSAGES - 1),
    );
    if down_messages >= up_messages {
        p.add(format!("SCALE_DOWN_MESSAGES ({down_messages}) must be below SCALE_UP_MESSAGES ({up_messages}), or the group adds and removes instances in turn: lower SCALE_DOWN_MESSAGES."));
    }
    Scaling {
        on,
        up_messages,
        down_messages,
        up_cpu,
        down_cpu,
        period_seconds,
    }
}

/// SCALE_ON: `cpu`, or `sqs:` and a queue name or ARN (whose name is kept).
fn scale_on(s: &Settings, p: &mut Problems) -> ScaleOn {
    let Some(raw) = non_empty(&s.scale_on) else {
        return ScaleOn::Cpu;
    };
    if raw.eq_ignore_ascii_case("cpu") {
        return ScaleOn::Cpu;
    }
    let queue = raw.strip_prefix("sqs:").map(|q| {
        if q.starts_with("arn:") {
            is_sqs_queue_arn(q).then(|| q.rsplit(':').next().unwrap_or_default())
        } else {
            is_sqs_queue_name(q).then_some(q)
        }
    });
    match queue {
        Some(Some(name)) => ScaleOn::Queue(name.to_string()),
        Some(None) => {
            p.add(format!("SCALE_ON {raw:?} does not name an SQS queue: use sqs:NAME (1 to 80 letters, digits, - and _, .fifo at the end of a FIFO queue) or sqs:arn:aws:sqs:REGION:ACCOUNT:NAME."));
            ScaleOn::Cpu
        }
        None => {
            p.add(format!("SCALE_ON {raw:?} is not cpu or sqs:QUEUE: use cpu to scale on the group's CPU, or sqs:NAME to scale on a queue's depth."));
            ScaleOn::Cpu
        }
    }
}

/// DNSRECORD and HOSTED_ZONE (with its trailing dot): both or neither.
fn dns(s: &Settings, p: &mut Problems) -> Option<(String, String)> {
    match (non_empty(&s.dns_record), non_empty(&s.hosted_zone)) {
        (None, None) => None,
        (Some(_), None) => {
            p.add("DNSRECORD is set but HOSTED_ZONE is not: set HOSTED_ZONE to the Route 53 zone name that holds it (e.g. example.com).");
            None
        }
        (None, Some(_)) => {
            p.add("HOSTED_ZONE is set but DNSRECORD is not: set DNSRECORD to the name to point at the load balancer, or unset HOSTED_ZONE.");
            None
        }
        (Some(record), Some(zone)) => {
            let record = record.trim_end_matches('.').to_ascii_lowercase();
            let zone = zone.trim_end_matches('.').to_ascii_lowercase();
            if !is_dns_name(&record) {
                p.add(format!(
                    "DNSRECORD {record:?} is not a DNS name: use the form app.example.com."
                ));
            }
            if !is_dns_name(&zone) {
                p.add(format!(
                    "HOSTED_ZONE {zone:?} is not a DNS zone name: use the form example.com."
                ));
            }
            if record != zone && !record.ends_with(&format!(".{zone}")) {
                p.add(format!("DNSRECORD {record:?} is not inside HOSTED_ZONE {zone:?}: use a name in that zone."));
            }
            Some((record, format!("{zone}.")))
        }
    }
}

/// BASE_IMAGE: one of the stock images.
fn base_image(s: &Settings, p: &mut Problems) -> Option<BaseImage> {
    let name = non_empty(&s.base_image)?;
    let image = BaseImage::parse(name);
    if image.is_none() {
        let names: Vec<_> = BASE_IMAGES.iter().map(|(n, _)| *n).collect();
        p.add(format!(
            "BASE_IMAGE {name:?} is not a stock image asg-deploy knows: use {}, or AMIID for any other image.",
            names.join(" or ")
        ));
    }
    image
}

/// FETCH_URL with FETCH_SHA256, else FETCH_BINARY, else the fetch beside asg-deploy for an image
/// without one (no AMIID, the built-in boot script).
fn fetch_source(s: &Settings, instance_type: &str, has_ami: bool, p: &mut Problems) -> FetchSource {
    let arch = Arch::of_instance_type(instance_type);
    if let Some((url, sha256)) = fetch_url(s, p) {
        if s.fetch_binary.is_some() {
            p.add("FETCH_BINARY and FETCH_URL are both set: set FETCH_BINARY to upload a fetch with each build, or FETCH_URL to one you host, not both.");
        }
        return FetchSource::Url { url, sha256 };
    }
    if let Some(path) = &s.fetch_binary {
        return match fetch_binary::given(path, arch) {
            Ok(binary) => FetchSource::Given(binary),
            Err(why) => {
                p.add(why);
                FetchSource::Image
            }
        };
    }
    if has_ami || s.cloud_init_path.is_some() || non_empty(&s.fetch_sha256).is_some() {
        return FetchSource::Image;
    }
    FetchSource::Beside(fetch_binary::beside_this_program(arch))
}

/// FETCH_URL and FETCH_SHA256: both or neither.
fn fetch_url(s: &Settings, p: &mut Problems) -> Option<(String, String)> {
    match (non_empty(&s.fetch_url), non_empty(&s.fetch_sha256)) {
        (None, None) => None,
        (Some(u), sha) => {
            if let Err(why) = check_https_url(u, false) {
                p.add(format!("FETCH_URL {u:?} {why}."));
            }
            match sha {
                Some(h) if is_sha256(h) => Some((u.to_string(), h.to_ascii_lowercase())),
                Some(h) => {
                    p.add(format!(
                        "FETCH_SHA256 {h:?} is not a SHA-256: use 64 hexadecimal digits."
                    ));
                    None
                }
                None => {
                    p.add("FETCH_URL is set but FETCH_SHA256 is not: give the binary's SHA-256 so instances verify what they run.");
                    None
                }
            }
        }
        (None, Some(_)) => {
            p.add("FETCH_SHA256 is set but FETCH_URL is not: set both or neither.");
            None
        }
    }
}

fn app_name(s: &Settings, p: &mut Problems) -> String {
    let name = non_empty(&s.app_name).unwrap_or("app").to_string();
    // At most 32, as the boot script checks: it becomes the app's Linux user name.
    let ok = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        p.add(format!("APP_NAME {name:?} is not a valid name: use a lowercase letter, then up to 31 lowercase letters, digits and hyphens."));
    }
    name
}

/// The boot script's text and where it came from (for messages).
fn boot_script(s: &Settings, p: &mut Problems) -> (String, String) {
    match &s.cloud_init_path {
        None => (
            user_data::default_boot_script(),
            "the built-in cloud-init/boot.sh".to_string(),
        ),
        Some(path) => match read_script(path) {
            Ok(text) => (text, path.display().to_string()),
            Err(why) => {
                p.add(format!("CLOUD_INIT_PATH {} {why}.", path.display()));
                (String::new(), path.display().to_string())
            }
        },
    }
}

fn read_script(path: &PathBuf) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!("cannot be read ({e}): point it at a readable boot script, or unset it for the built-in one")
    })?;
    String::from_utf8(bytes)
        .map_err(|_| "is not UTF-8 text: user data must be a text script".to_string())
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn size(raw: &Option<String>, name: &str, default: u32, p: &mut Problems) -> u32 {
    p.number(
        raw,
        default,
        |n| n <= 10_000,
        |v| format!("{name} {v:?} is not a group size: use a whole number from 0 to 10000."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Settings {
        Settings {
            stack_name: Some("web".into()),
            subnets: Some("subnet-0123456789abcdef0,subnet-11111111".into()),
            certificate: Some(
                "arn:aws:acm:eu-west-1:123456789012:certificate/1a2b3c4d-aaaa-bbbb-cccc-123456789012"
                    .into(),
            ),
            artifact_url: Some("https://example.com/app-7.jar".into()),
            ..Settings::default()
        }
    }

    fn problems(s: &Settings) -> Vec<String> {
        match Config::from_settings(Command::Update, s) {
            Ok(_) => Vec::new(),
            Err(Error::Invalid(p)) => p,
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn defaults_fill_in() {
        let c = Config::from_settings(Command::Update, &good()).unwrap();
        let d = c.deploy.unwrap();
        assert_eq!(d.build_number, 1);
        assert_eq!((d.min_size, d.desired_capacity, d.max_size), (1, 2, 3));
        assert_eq!(d.instance_type, "t3.micro");
        assert_eq!(d.app_name, "app");
        assert_eq!(c.target.timeout, Duration::from_secs(1800));
        assert!(!d.boot_script.is_empty());
    }

    #[test]
    fn the_monitoring_window_and_the_notification_topic_are_checked() {
        let c = Config::from_settings(Command::Update, &good()).unwrap();
        let d = c.deploy.unwrap();
        assert_eq!((c.target.monitor_minutes, &d.notify), (10, &Notify::Keep));
        let mut s = good();
        s.monitor_minutes = Some("0".into());
        s.notify_topic_arn = Some("None".into());
        let c = Config::from_settings(Command::Update, &s).unwrap();
        let d = c.deploy.unwrap();
        assert_eq!((c.target.monitor_minutes, &d.notify), (0, &Notify::Remove));
        assert_eq!(d.notify.resolve(&["arn:x".into()]), None);
        assert_eq!(
            Notify::Keep.resolve(&["arn:x".into()]).as_deref(),
            Some("arn:x")
        );
        s.monitor_minutes = Some("181".into());
        s.notify_topic_arn = Some("arn:aws:sqs:eu-west-1:123456789012:q".into());
        s.stack_role_arn = Some("arn:aws:iam::123456789012:user/ci".into());
        assert_eq!(
            problems(&s),
            [
                "MONITOR_MINUTES \"181\" is not a number of minutes CloudFormation allows: use a whole number from 0 (no window) to 180.",
                "STACK_ROLE_ARN \"arn:aws:iam::123456789012:user/ci\" is not an IAM role ARN: use arn:aws:iam::ACCOUNT:role/NAME (the StackRoleArn output of the deploy-role stack), or unset it to deploy with your own rights.",
                "NOTIFY_TOPIC_ARN \"arn:aws:sqs:eu-west-1:123456789012:q\" is not an SNS topic ARN: use arn:aws:sns:REGION:ACCOUNT:NAME, or none to stop the stack's notifications.",
            ]
        );
    }

    #[test]
    fn deletion_protection_is_a_yes_or_no() {
        let d = |v: &str| {
            let mut s = good();
            s.deletion_protection = Some(v.into());
            Config::from_settings(Command::Update, &s)
                .map(|c| c.deploy.unwrap().deletion_protection)
        };
        assert_eq!(d("").unwrap(), None);
        assert_eq!(d("off").unwrap(), Some(false));
        assert_eq!(d("True").unwrap(), Some(true));
        let mut s = good();
        s.deletion_protection = Some("maybe".into());
        assert_eq!(
            problems(&s),
            [
                "DELETION_PROTECTION \"maybe\" is not true or false: use true to keep the load balancer from being deleted outside asg-deploy delete, false to allow it."
            ]
        );
    }

    #[test]
    fn status_needs_only_the_stack_name() {
        let s = Settings {
            stack_name: Some("web".into()),
            ..Settings::default()
        };
        assert!(Config::from_settings(Command::Status { watch: false }, &s).is_ok());
        assert!(Config::from_settings(Command::Delete, &s).is_ok());
        let render = |diagram, deploy_role| Command::Render {
            diagram,
            deploy_role,
        };
        assert!(Config::from_settings(render(true, false), &s).is_ok());
        assert!(Config::from_settings(render(false, true), &s).is_ok());
        assert!(Config::from_settings(render(false, false), &s).is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let s = Settings {
            build_number: Some("0".into()),
            subnets: Some("subnet-zz".into()),
            ..Settings::default()
        };
        let p = problems(&s);
        assert!(p.iter().any(|m| m.starts_with("STACK_NAME is required")));
        assert!(p.iter().any(|m| m.starts_with("BUILD_NUMBER \"0\"")));
        assert!(
            p.iter()
                .any(|m| m.starts_with("SUBNETS entry \"subnet-zz\""))
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("AWSCERTIFICATE is required"))
        );
        assert!(p.iter().any(|m| m.starts_with("ARTIFACT_URL is required")));
        assert!(p.iter().all(|m| !m.contains('\n')));
    }

    #[test]
    fn scaling_defaults_to_90_and_70_percent_over_five_minutes_and_is_checked() {
        let scaling = |s: &Settings| {
            let d = Config::from_settings(Command::Update, s).unwrap().deploy;
            let d = d.unwrap().scaling;
            (d.up_cpu, d.down_cpu, d.period_seconds)
        };
        assert_eq!(scaling(&good()), (90, 70, 300));

        let mut s = good();
        s.scale_up_cpu = Some("80".into());
        s.scale_down_cpu = Some("40".into());
        s.scaling_period = Some("600".into());
        assert_eq!(scaling(&s), (80, 40, 600));

        let mut s = good();
        s.scale_up_cpu = Some("100".into());
        s.scaling_period = Some("60".into());
        let p = problems(&s);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("SCALE_UP_CPU \"100\" is not a CPU percentage"));
        assert!(p[1].contains("SCALING_PERIOD \"60\""));

        let mut s = good();
        s.scale_up_cpu = Some("60".into());
        let p = problems(&s);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("SCALE_DOWN_CPU (70) must be below SCALE_UP_CPU (60)"));
    }

    #[test]
    fn the_scaling_periods_are_the_templates() {
        let t = crate::template::app_template("#!/bin/bash\n").unwrap();
        let allowed: Vec<u64> = t["Parameters"]["ScalingPeriodSeconds"]["AllowedValues"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_u64())
            .collect();
        assert_eq!(allowed, SCALING_PERIODS.map(u64::from));
    }

    #[test]
    fn scale_on_names_a_queue_by_name_or_arn_and_lets_the_group_start_empty() {
        let scaling = |s: &Settings| {
            let d = Config::from_settings(Command::Update, s).unwrap().deploy;
            let d = d.unwrap();
            (
                d.scaling.on,
                d.scaling.up_messages,
                d.scaling.down_messages,
                d.desired_capacity,
            )
        };
        assert_eq!(scaling(&good()), (ScaleOn::Cpu, 100, 10, 2));
        let mut s = good();
        s.scale_on = Some("sqs:arn:aws:sqs:eu-west-1:123456789012:jobs.fifo".into());
        s.min_size = Some("0".into());
        s.desired_capacity = Some("0".into());
        s.scale_up_messages = Some("500".into());
        s.scale_down_messages = Some("0".into());
        assert_eq!(scaling(&s), (ScaleOn::Queue("jobs.fifo".into()), 500, 0, 0));
        s.scale_on = Some("sqs:jobs".into());
        assert_eq!(scaling(&s).0, ScaleOn::Queue("jobs".into()));

        // Only a queue-scaled group may start with no instance.
        let mut s = good();
        s.min_size = Some("0".into());
        s.desired_capacity = Some("0".into());
        assert!(problems(&s)[0].starts_with("DESIREDCAPACITY must be at least 1"));

        let mut s = good();
        s.scale_on = Some("queue".into());
        s.scale_up_messages = Some("100001".into());
        s.scale_down_messages = Some("100".into());
        assert_eq!(
            problems(&s),
            [
                "SCALE_ON \"queue\" is not cpu or sqs:QUEUE: use cpu to scale on the group's CPU, or sqs:NAME to scale on a queue's depth.",
                "SCALE_UP_MESSAGES \"100001\" is not a number of messages per instance: use a whole number from 1 to 100000.",
                "SCALE_DOWN_MESSAGES (100) must be below SCALE_UP_MESSAGES (100), or the group adds and removes instances in turn: lower SCALE_DOWN_MESSAGES.",
            ]
        );
        for bad in [
            "sqs:",
            "sqs:a b",
            "sqs:arn:aws:sns:eu-west-1:123456789012:jobs",
        ] {
            s = good();
            s.scale_on = Some(bad.into());
            assert!(
                problems(&s)[0].contains("does not name an SQS queue"),
                "{bad}: {:?}",
                problems(&s)
            );
        }
    }

    #[test]
    fn sizes_must_be_ordered() {
        let mut s = good();
        s.min_size = Some("3".into());
        s.desired_capacity = Some("2".into());
        let p = problems(&s);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("MINSIZE <= DESIREDCAPACITY <= MAXSIZE"));
    }

    #[test]
    fn urls_cannot_break_the_boot_script_quotes() {
        let mut s = good();
        s.artifact_url = Some("https://example.com/a'b.jar".into());
        assert!(problems(&s)[0].contains("quote"));
        s.artifact_url = Some("http://example.com/a.jar".into());
        assert!(problems(&s)[0].contains("not an https URL"));
        s.artifact_url = Some(format!(
            "https://example.com/a.jar#sha256={}",
            "a".repeat(64)
        ));
        assert!(problems(&s).is_empty());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn oversized_boot_script_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.sh");
        std::fs::write(&path, "#".repeat(USER_DATA_LIMIT)).unwrap();
        let mut s = good();
        s.cloud_init_path = Some(path.clone());
        let p = problems(&s);
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("over EC2's 16384-byte limit"), "{p:?}");
        assert!(
            p[0].starts_with(&format!("CLOUD_INIT_PATH {}", path.display())),
            "{p:?}"
        );
    }
}
