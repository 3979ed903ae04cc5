//! The raw command line: clap's view of flags and environment variables, checked later by `config`.
// The doc comments here are clap's help text, written for a terminal: `<hex>` is a placeholder
// there, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Blue/green rollout of an EC2 Auto Scaling group behind HTTPS, through CloudFormation.
///
/// Every setting can come from a flag or an environment variable; a flag wins.
#[derive(Debug, Parser)]
#[command(name = "asg-deploy", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// The settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
}

/// The commands.
#[derive(Debug, Subcommand, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Create the stack (refused when it exists; a stack left in ROLLBACK_COMPLETE is replaced).
    Create,
    /// Roll out BUILD_NUMBER: a higher build brings up a new group, the same build changes settings in place.
    Update,
    /// Show what an update would add, modify and replace, through a change set that is then deleted.
    Plan,
    /// Show the stack, its build, the group's instances and their health, the outputs and recent events.
    Status {
        /// Keep streaming events while the stack is busy (what to run after Ctrl-C).
        #[arg(long)]
        watch: bool,
    },
    /// Check the live stack from anywhere (cron, CI, a monitoring agent): its instances' health
    /// in the target group, an HTTPS GET answered 200 by the live build, the TLS certificate's
    /// days left and the server's clock. Exit 0 when every check passes, 1 when one fails.
    Check {
        /// The largest clock difference accepted, in seconds. A Date header tells the server's time
        /// to the second, so from it only a difference past about 1 s shows: name a JSON time
        /// endpoint with HEALTH_CHECK_TIME_URL for a finer one.
        #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_seconds)]
        max_drift: Duration,
        /// The fewest days the TLS certificate may have left.
        #[arg(long, value_name = "DAYS", default_value_t = 14)]
        cert_days: u32,
        /// Print one JSON document on standard output instead of a line per check.
        #[arg(long)]
        json: bool,
    },
    /// List the stack's recorded builds, newest first, marking the live one.
    History {
        /// Print one JSON document on standard output instead of a line per build.
        #[arg(long)]
        json: bool,
    },
    /// Deploy a recorded build again from its record (template, settings, boot files), as a
    /// rollout with the same monitoring window and health check; the one way to a lower build.
    Rollback {
        /// The build to return to [default: the last recorded build before the live one].
        #[arg(long, value_name = "BUILD")]
        to: Option<u64>,
    },
    /// Delete the stack (the config bucket is kept).
    Delete,
    /// Print the template and the parameters that would be sent, without calling AWS.
    Render {
        /// Print a Graphviz `dot` graph of the stacks' resources instead (needs no deployment
        /// settings).
        #[arg(long, conflicts_with = "deploy_role")]
        diagram: bool,
        /// Print the template of the deploy-role stack instead: the role CI assumes through
        /// GitHub's OIDC to run asg-deploy, and the stack role (STACK_ROLE_ARN) CloudFormation
        /// builds with (needs no deployment settings).
        #[arg(long)]
        deploy_role: bool,
    },
}

/// How much checking follows a successful deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum HealthCheck {
    /// Every new instance healthy in the target group and an HTTPS request served by the new build.
    #[default]
    Full,
    /// Only the target-group health of the new instances.
    Targets,
    /// No check.
    Off,
}

/// Settings; each has a flag and an environment variable. Values stay strings here so that
/// `config` can report every problem in its own words.
#[derive(Debug, Args, Clone, Default)]
pub struct Settings {
    /// Name of the CloudFormation stack.
    #[arg(long, env = "STACK_NAME", global = true)]
    pub stack_name: Option<String>,
    /// Version of the fleet; a higher number brings up a new group [default: 1].
    #[arg(long, env = "BUILD_NUMBER", global = true)]
    pub build_number: Option<String>,
    /// AWS profile [default: the standard credential chain].
    #[arg(long, env = "PROFILE", global = true)]
    pub profile: Option<String>,
    /// AWS region [default: AWS_REGION or the profile's].
    #[arg(long, env = "REGION", global = true)]
    pub region: Option<String>,
    /// AWS-compatible endpoint, e.g. a local moto server.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub endpoint_url: Option<String>,
    /// Comma-separated subnet ids in two availability zones or more.
    #[arg(long, env = "SUBNETS", global = true)]
    pub subnets: Option<String>,
    /// ACM certificate ARN for the HTTPS listener.
    #[arg(long = "certificate", env = "AWSCERTIFICATE", global = true)]
    pub certificate: Option<String>,
    /// https URL of the application jar, optionally ending in #sha256=<hex>.
    #[arg(long, env = "ARTIFACT_URL", global = true)]
    pub artifact_url: Option<String>,
    /// Comma-separated extra security group ids for the instances.
    #[arg(long = "security-groups", env = "SG_VALUE", global = true)]
    pub security_groups: Option<String>,
    /// AMI id; an image with /usr/local/bin/fetch baked in [default: BASE_IMAGE's current AMI,
    /// pinned in the stack].
    #[arg(long = "ami", env = "AMIID", global = true)]
    pub ami: Option<String>,
    /// Stock image resolved from its public SSM parameter when AMIID is not set: ubuntu-24.04 or
    /// debian-13 [default: ubuntu-24.04 on create; update keeps the pinned AMI unless this is set].
    #[arg(long, env = "BASE_IMAGE", global = true)]
    pub base_image: Option<String>,
    /// EC2 instance type [default: t3.micro].
    #[arg(long, env = "INSTANCETYPE", global = true)]
    pub instance_type: Option<String>,
    /// EC2 key pair for SSH [default: none, no SSH].
    #[arg(long = "key-pair", env = "KP", global = true)]
    pub key_pair: Option<String>,
    /// CIDR allowed to SSH to the instances; needs KP.
    #[arg(long, env = "SSH_CIDR", global = true)]
    pub ssh_cidr: Option<String>,
    /// Smallest group size [default: 1].
    #[arg(long, env = "MINSIZE", global = true)]
    pub min_size: Option<String>,
    /// Instances a new group starts with [default: 2].
    #[arg(long = "desired-capacity", env = "DESIREDCAPACITY", global = true)]
    pub desired_capacity: Option<String>,
    /// Largest group size [default: 3].
    #[arg(long, env = "MAXSIZE", global = true)]
    pub max_size: Option<String>,
    /// DNS name pointed at the load balancer with a Route 53 alias; needs HOSTED_ZONE.
    #[arg(long, env = "DNSRECORD", global = true)]
    pub dns_record: Option<String>,
    /// Route 53 hosted zone name holding DNSRECORD, e.g. example.com.
    #[arg(long, env = "HOSTED_ZONE", global = true)]
    pub hosted_zone: Option<String>,
    /// Name of the config bucket [default: chosen by CloudFormation in the <STACK_NAME>-config stack].
    #[arg(long, env = "CONFIG_BUCKET", global = true)]
    pub config_bucket: Option<String>,
    /// Boot script given to instances as user data [default: the project's cloud-init/boot.sh].
    #[arg(long, env = "CLOUD_INIT_PATH", global = true)]
    pub cloud_init_path: Option<PathBuf>,
    /// Linux fetch executable uploaded with each build for images without one [default: the
    /// fetch beside asg-deploy, when it fits the instance type's architecture].
    #[arg(long, env = "FETCH_BINARY", global = true)]
    pub fetch_binary: Option<PathBuf>,
    /// https URL of a fetch binary you host, instead of FETCH_BINARY, with FETCH_SHA256.
    #[arg(long, env = "FETCH_URL", global = true)]
    pub fetch_url: Option<String>,
    /// SHA-256 (hex) of the binary at FETCH_URL.
    #[arg(long, env = "FETCH_SHA256", global = true)]
    pub fetch_sha256: Option<String>,
    /// Application name: /var/www/<APP_NAME>/<APP_NAME>.jar [default: app].
    #[arg(long, env = "APP_NAME", global = true)]
    pub app_name: Option<String>,
    /// SNS topic ARN notified by the operator alarms [default: none].
    #[arg(long, env = "ALARM_TOPIC_ARN", global = true)]
    pub alarm_topic_arn: Option<String>,
    /// SNS topic ARN told of every stack event, and of the operator alarms when ALARM_TOPIC_ARN
    /// is not set; `none` removes it [default: none on create; update keeps the stack's].
    #[arg(long, env = "NOTIFY_TOPIC_ARN", global = true)]
    pub notify_topic_arn: Option<String>,
    /// IAM role CloudFormation assumes to create, change and delete the stacks' resources, so
    /// that the caller needs no rights on them (see `render --deploy-role`) [default: none on
    /// create: the caller's own rights; later commands keep the stack's].
    #[arg(long, env = "STACK_ROLE_ARN", global = true)]
    pub stack_role_arn: Option<String>,
    /// Minutes after an update's new group is in service during which CloudFormation watches the
    /// stack's alarms and rolls back to the old group, kept running, if one fires; 0 to 180, 0
    /// removes the old group at once [default: 10].
    #[arg(long, env = "MONITOR_MINUTES", global = true)]
    pub monitor_minutes: Option<String>,
    /// Whether the load balancer refuses deletion outside `asg-deploy delete`, which turns it off
    /// first (true/false) [default: true on create; update keeps the stack's].
    #[arg(long, env = "DELETION_PROTECTION", global = true)]
    pub deletion_protection: Option<String>,
    /// What the group scales on: `cpu` (SCALE_UP_CPU, SCALE_DOWN_CPU), or `sqs:QUEUE` (a queue
    /// name or ARN in the stack's account and region) for a worker fleet that follows the queue's
    /// depth per instance, from 0 when MINSIZE and DESIREDCAPACITY are 0 [default: cpu].
    #[arg(long, env = "SCALE_ON", global = true)]
    pub scale_on: Option<String>,
    /// With SCALE_ON=sqs: visible messages per instance in service above which an instance is
    /// added [default: 100].
    #[arg(long, env = "SCALE_UP_MESSAGES", global = true)]
    pub scale_up_messages: Option<String>,
    /// With SCALE_ON=sqs: visible messages per instance in service below which an instance is
    /// removed, down to MINSIZE; under SCALE_UP_MESSAGES [default: 10].
    #[arg(long, env = "SCALE_DOWN_MESSAGES", global = true)]
    pub scale_down_messages: Option<String>,
    /// Average CPU percent of the group above which an instance is added [default: 90].
    #[arg(long, env = "SCALE_UP_CPU", global = true)]
    pub scale_up_cpu: Option<String>,
    /// Average CPU percent below which an instance is removed; under SCALE_UP_CPU [default: 70].
    #[arg(long, env = "SCALE_DOWN_CPU", global = true)]
    pub scale_down_cpu: Option<String>,
    /// Seconds the CPU must stay past a threshold before scaling: 300, 600 or 900 [default: 300].
    #[arg(long, env = "SCALING_PERIOD", global = true)]
    pub scaling_period: Option<String>,
    /// Longest wait for the stack, e.g. 900, 900s, 30m, 1h; past it an update is cancelled [default: 30m].
    #[arg(long, env = "TIMEOUT", global = true)]
    pub timeout: Option<String>,
    /// Wait for a busy stack to become idle instead of refusing (WAIT_FOR_IDLE: true/false,
    /// yes/no, on/off or 1/0).
    #[arg(long, env = "WAIT_FOR_IDLE", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub wait_for_idle: bool,
    /// Check after a successful rollout.
    #[arg(long, env = "HEALTH_CHECK", value_enum, default_value_t = HealthCheck::Full, global = true)]
    pub health_check: HealthCheck,
    /// https URL the health check requests [default: the stack's Url output].
    #[arg(long, env = "HEALTH_CHECK_URL", global = true)]
    pub health_url: Option<String>,
    /// PEM file of CA certificates the health check trusts besides the system's (a private CA).
    #[arg(long, env = "HEALTH_CHECK_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// URL `check` reads the server's time from, answering JSON {"now": ...} (seconds since 1970,
    /// or an RFC 3339 time) [default: the Date header of the HTTPS GET, to the second].
    #[arg(long, env = "HEALTH_CHECK_TIME_URL", global = true)]
    pub health_time_url: Option<String>,
}

/// A non-negative, finite number of seconds, such as 1 or 0.25.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..1e9).contains(&secs) => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(format!(
            "{text:?} is not a number of seconds; write it like 1 or 0.5"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flag_wins_over_environment_default() {
        let cli = Cli::try_parse_from(["asg-deploy", "update", "--build-number", "7"]).unwrap();
        assert_eq!(cli.command, Command::Update);
        assert_eq!(cli.settings.build_number.as_deref(), Some("7"));
    }
}
