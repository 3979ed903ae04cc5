//! The embedded CloudFormation templates and boot assets, and the parameters sent with them.
//! `render` prints exactly what `create` and `update` would send.

pub mod dashboard;
pub mod deploy_role;
pub mod diagram;
pub mod queue_scaling;
pub mod user_data;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::config::fetch_binary::Install;
use crate::config::{Deploy, ScaleOn};
use crate::error::Error;
#[cfg(test)]
use crate::template::user_data::{
    DEFAULT_BOOT_SCRIPT, GROUP_RESOURCE, default_boot_script, settings_block_upper_bound,
};

/// The application stack: load balancer, launch template, the group of one build, alarms.
pub const APP_TEMPLATE: &str = include_str!("../../templates/app.json");
/// The config bucket stack: one locked-down, versioned, encrypted bucket.
pub const BUCKET_TEMPLATE: &str = include_str!("../../templates/config-bucket.json");
/// The nginx site uploaded to `builds/<BUILD_NUMBER>/app.conf`.
pub const NGINX_SITE: &str = include_str!("../../../nginx/app.conf");
/// The systemd unit uploaded to `builds/<BUILD_NUMBER>/app.service`.
pub const SYSTEMD_UNIT: &str = include_str!("../../../systemd/app.service");

/// What the group's instances are made from: the group's `AutoScalingReplacingUpdate` replaces
/// the whole group when one of these changes, as for a new build.
const INSTANCE_MAKERS: [&str; 3] = [
    "/Resources/LaunchTemplate",
    "/Resources/InstanceSecurityGroup",
    "/Resources/AppGroup/Properties/VPCZoneIdentifier",
];

/// What makes an update from the `stored` template to `wanted`, with the `changed` parameters,
/// replace the group (a new fleet, healthy before the old one goes) rather than change it in
/// place: the changed parameters instances are made from, else "the template" when its part
/// that makes them changed (or the stored one could not be read); `None` for an in-place update.
pub fn group_replaced_by(
    changed: &BTreeSet<String>,
    stored: Option<&Value>,
    wanted: &Value,
) -> Option<String> {
    let makers = |t: &Value| INSTANCE_MAKERS.map(|at| t.pointer(at).cloned());
    let mut referenced = BTreeSet::new();
    for maker in makers(wanted).iter().flatten() {
        parameters_in(maker, &mut referenced);
    }
    let by: Vec<&str> = changed
        .intersection(&referenced)
        .map(String::as_str)
        .collect();
    if !by.is_empty() {
        Some(by.join(", "))
    } else if stored.map(makers) != Some(makers(wanted)) {
        Some("the template".to_string())
    } else {
        None
    }
}

/// Adds to `found` every name `value` refers to with `Ref` or `${...}` in a `Fn::Sub`: the
/// template's parameters among them.
fn parameters_in(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Ref") {
                found.insert(name.clone());
            }
            if let Some(sub) = map.get("Fn::Sub") {
                let text = sub.as_str().or_else(|| sub.get(0).and_then(Value::as_str));
                for piece in text.unwrap_or("").split("${").skip(1) {
                    if let Some((name, _)) = piece.split_once('}') {
                        found.insert(name.to_string());
                    }
                }
            }
            map.values().for_each(|v| parameters_in(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| parameters_in(v, found)),
        _ => {}
    }
}

/// Where the user data's parts are in the application template.
const USER_DATA_PARTS: &str =
    "/Resources/LaunchTemplate/Properties/LaunchTemplateData/UserData/Fn::Base64/Fn::Join/1";

/// The boot script a template made by [`app_template`] carries: the user data's last part.
pub fn boot_script_of(template: &Value) -> Option<&str> {
    template
        .pointer(USER_DATA_PARTS)?
        .as_array()?
        .last()?
        .as_str()
}

/// The application template with `boot_script` placed as the last part of the user data, and
/// its dashboard's body.
pub fn app_template(boot_script: &str) -> Result<Value, Error> {
    let mut t: Value =
        serde_json::from_str(APP_TEMPLATE).map_err(|e| Error::Template(e.to_string()))?;
    dashboard::fill(&mut t)?;
    let parts = t
        .pointer_mut(USER_DATA_PARTS)
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::Template("the launch template has no Fn::Join user data".into()))?;
    match parts.last_mut() {
        Some(slot) if slot.as_str() == Some("") => *slot = Value::String(boot_script.to_string()),
        _ => {
            return Err(Error::Template(
                "the user data does not end in the boot script slot".into(),
            ));
        }
    }
    Ok(t)
}

/// The config bucket template.
pub fn bucket_template() -> Result<Value, Error> {
    serde_json::from_str(BUCKET_TEMPLATE).map_err(|e| Error::Template(e.to_string()))
}

/// Values only AWS can tell: filled in at deploy time, shown as placeholders by `render`.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The AMI to pin.
    pub ami: String,
    /// The AMI's root device, whose volume the launch template sizes and encrypts.
    pub root_device: String,
    /// The VPC of the subnets.
    pub vpc_id: String,
    /// The config bucket's name.
    pub config_bucket: String,
    /// The fetch the instances get, as the image needs.
    pub fetch: Install,
    /// The SNS topic the stack notifies (NOTIFY_TOPIC_ARN, or the stack's own on update).
    pub notify_topic: Option<String>,
    /// Whether the load balancer refuses deletion (DELETION_PROTECTION, or the stack's own).
    pub deletion_protection: bool,
}

/// Every parameter of the application template, as sent to CloudFormation.
pub fn parameters(d: &Deploy, r: &Resolved) -> BTreeMap<String, String> {
    let (dns_record, zone) = d.dns.clone().unwrap_or_default();
    let (fetch_url, fetch_sha) = r.fetch.parameters();
    [
        ("BuildNumber", d.build_number.to_string()),
        ("AmiId", r.ami.clone()),
        ("RootDeviceName", r.root_device.clone()),
        ("InstanceType", d.instance_type.clone()),
        ("KeyName", d.key_pair.clone().unwrap_or_default()),
        ("SshCidr", d.ssh_cidr.clone().unwrap_or_default()),
        ("VpcId", r.vpc_id.clone()),
        ("Subnets", d.subnets.join(",")),
        ("ExtraSecurityGroups", d.security_groups.join(",")),
        ("MinSize", d.min_size.to_string()),
        ("DesiredCapacity", d.desired_capacity.to_string()),
        ("MaxSize", d.max_size.to_string()),
        ("CertificateArn", d.certificate_arn.clone()),
        ("DnsRecord", dns_record),
        ("HostedZoneName", zone),
        ("ConfigBucket", r.config_bucket.clone()),
        ("ArtifactUrl", d.artifact_url.clone()),
        ("FetchUrl", fetch_url),
        ("FetchSha256", fetch_sha),
        ("AppName", d.app_name.clone()),
        (
            "AlarmTopicArn",
            // The operator alarms reach whoever hears of the stack's events unless told otherwise.
            d.alarm_topic_arn
                .clone()
                .or_else(|| r.notify_topic.clone())
                .unwrap_or_default(),
        ),
        (
            "ScaleOn",
            match d.scaling.on {
                ScaleOn::Cpu => "cpu",
                ScaleOn::Queue(_) => "sqs",
            }
            .to_string(),
        ),
        (
            "QueueName",
            d.scaling.on.queue().unwrap_or_default().to_string(),
        ),
        ("ScaleUpMessages", d.scaling.up_messages.to_string()),
        ("ScaleDownMessages", d.scaling.down_messages.to_string()),
        ("ScaleUpThreshold", d.scaling.up_cpu.to_string()),
        ("ScaleDownThreshold", d.scaling.down_cpu.to_string()),
        ("ScalingPeriodSeconds", d.scaling.period_seconds.to_string()),
        ("DeletionProtection", r.deletion_protection.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// What `render` prints: the template, then the parameters as JSON.
pub fn render(d: &Deploy, r: &Resolved) -> Result<String, Error> {
    let template = app_template(&d.boot_script)?;
    let params = parameters(d, r);
    let pretty_template =
        serde_json::to_string_pretty(&template).map_err(|e| Error::Template(e.to_string()))?;
    let pretty_params =
        serde_json::to_string_pretty(&params).map_err(|e| Error::Template(e.to_string()))?;
    Ok(format!(
        "# Template ({} bytes as sent)\n{pretty_template}\n# Parameters\n{pretty_params}\n",
        compact(&template).len(),
    ))
}

/// The template as sent: compact JSON, well under CloudFormation's 51,200-byte body limit.
pub fn compact(template: &Value) -> String {
    template.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
        &t["Resources"][id]
    }

    #[test]
    fn the_built_in_script_loses_only_its_comments() {
        let script = default_boot_script();
        assert!(script.starts_with("#!/bin/bash\n"));
        assert_eq!(script.lines().count(), DEFAULT_BOOT_SCRIPT.lines().count());
        let code = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .map(str::to_string)
                .collect()
        };
        assert!(
            code(&script) == code(DEFAULT_BOOT_SCRIPT),
            "a line of code changed"
        );
        let heredoc = regex_lite::Regex::new(r"<<-?\s*['\x22]?\w").unwrap();
        assert!(
            !heredoc.is_match(DEFAULT_BOOT_SCRIPT),
            "boot.sh has a here-document"
        );
    }

    #[test]
    fn user_data_with_long_real_world_values_fits_in_ec2s_limit() {
        let url = format!(
            "https://artifacts.example-company.internal/releases/shop/backend/{}/app-20261121.1.jar#sha256={}",
            "x".repeat(120),
            "a".repeat(64)
        );
        let fetch_url = url.replace(".jar", "-fetch");
        let header = settings_block_upper_bound(
            &"s".repeat(128),
            20261121,
            &url,
            (&fetch_url, &"b".repeat(64)),
            &"a".repeat(32),
        );
        let size = header + default_boot_script().len();
        assert!(
            size <= crate::template::user_data::USER_DATA_LIMIT - 512,
            "user data is {size} bytes; keep at least 512 bytes below EC2's 16384"
        );
    }

    #[test]
    fn what_instances_are_made_from_decides_whether_the_group_is_replaced() {
        let t = app_template("#!/bin/bash\n").unwrap();
        let changed = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        let by = |names: &[&str], stored| group_replaced_by(&changed(names), stored, &t);
        for maker in [
            "AmiId",
            "InstanceType",
            "AppName",
            "FetchUrl",
            "Subnets",
            "VpcId",
        ] {
            assert_eq!(by(&[maker], Some(&t)).as_deref(), Some(maker));
        }
        for in_place in [
            "MinSize",
            "MaxSize",
            "DesiredCapacity",
            "CertificateArn",
            "SshCidr",
        ] {
            assert_eq!(by(&[in_place], Some(&t)), None, "{in_place}");
        }
        // Only what replaces the group is named.
        let both = by(&["MinSize", "InstanceType", "KeyName"], Some(&t));
        assert_eq!(both.as_deref(), Some("InstanceType, KeyName"));
        // The same parameters, another boot script: the launch template's user data changes.
        let other = app_template("#!/bin/bash\necho other\n").unwrap();
        let template = Some("the template");
        assert_eq!(by(&["MinSize"], Some(&other)).as_deref(), template);
        assert_eq!(by(&[], Some(&t)), None);
        assert_eq!(by(&[], None).as_deref(), template);
    }

    #[test]
    fn the_load_balancer_is_protected_from_deletion_by_a_parameter() {
        let t = app_template("").unwrap();
        let attrs = resource(&t, "LoadBalancer")["Properties"]["LoadBalancerAttributes"]
            .as_array()
            .unwrap();
        assert!(
            attrs
                .iter()
                .any(|a| a["Key"] == "deletion_protection.enabled"
                    && a["Value"]["Ref"] == "DeletionProtection"),
            "{attrs:?}"
        );
        assert_eq!(t["Parameters"]["DeletionProtection"]["Default"], "true");
    }

    #[test]
    fn the_recorded_user_data_is_what_cloudformation_makes_of_the_template() {
        let t = app_template("echo booted\n").unwrap();
        let parts = t
            .pointer("/Resources/LaunchTemplate/Properties/LaunchTemplateData/UserData/Fn::Base64/Fn::Join/1")
            .unwrap();
        let params: BTreeMap<String, String> = [
            ("ConfigBucket", "bucket-1"),
            ("BuildNumber", "7"),
            ("ArtifactUrl", "https://a.example/app.jar"),
            ("FetchUrl", "s3://bucket-1/builds/7/fetch"),
            ("FetchSha256", "ab"),
            ("AppName", "shop"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut sub = parts[1]["Fn::Sub"].as_str().unwrap().to_string();
        sub = sub
            .replace("${AWS::StackName}", "web")
            .replace("${AWS::Region}", "eu-west-1");
        for (k, v) in &params {
            sub = sub.replace(&format!("${{{k}}}"), v);
        }
        assert!(!sub.contains("${"), "every placeholder is known: {sub}");
        let by_cloudformation = format!("{}{sub}{}", parts[0].as_str().unwrap(), "echo booted\n");
        assert_eq!(
            user_data::rendered("web", "eu-west-1", &params, "echo booted\n"),
            by_cloudformation
        );
        assert_eq!(boot_script_of(&t), Some("echo booted\n"));
    }

    #[test]
    fn boot_script_lands_after_the_settings_block() {
        let t = app_template("#!/bin/bash\necho booted\n").unwrap();
        let parts = t
            .pointer("/Resources/LaunchTemplate/Properties/LaunchTemplateData/UserData/Fn::Base64/Fn::Join/1")
            .unwrap();
        assert_eq!(parts[0], "#!/bin/bash\n");
        let sub = parts[1]["Fn::Sub"].as_str().unwrap();
        for name in [
            "STACK_NAME",
            "REGION",
            "CONFIG_BUCKET",
            "BUILD_NUMBER",
            "ARTIFACT_URL",
            "FETCH_URL",
            "FETCH_SHA256",
            "APP_NAME",
            "SIGNAL_RESOURCE",
        ] {
            assert!(
                sub.contains(&format!("\n{name}='")) || sub.starts_with(&format!("{name}='")),
                "{name}"
            );
        }
        assert!(sub.contains("SIGNAL_RESOURCE='AppGroup'"));
        assert_eq!(parts[2], "#!/bin/bash\necho booted\n");
    }

    #[test]
    fn group_is_replaced_by_every_build() {
        let t = app_template("").unwrap();
        let g = resource(&t, GROUP_RESOURCE);
        assert_eq!(g["Type"], "AWS::AutoScaling::AutoScalingGroup");
        assert!(
            g["Properties"].get("AutoScalingGroupName").is_none(),
            "a fixed name blocks replacement"
        );
        let tags = g["Properties"]["Tags"].as_array().unwrap();
        assert!(tags.iter().any(|t| t["Key"] == "BuildNumber"
            && t["Value"]["Ref"] == "BuildNumber"
            && t["PropagateAtLaunch"] == true));
        assert_eq!(
            g["UpdatePolicy"]["AutoScalingReplacingUpdate"]["WillReplace"],
            true
        );
        assert_eq!(
            g["CreationPolicy"]["ResourceSignal"]["Count"]["Ref"],
            "DesiredCapacity"
        );
        assert_eq!(
            g["CreationPolicy"]["AutoScalingCreationPolicy"]["MinSuccessfulInstancesPercent"],
            100
        );
        assert_eq!(g["Properties"]["HealthCheckType"], "ELB");
    }

    #[test]
    fn instances_are_locked_down() {
        let t = app_template("").unwrap();
        let lt = &resource(&t, "LaunchTemplate")["Properties"]["LaunchTemplateData"];
        assert_eq!(lt["MetadataOptions"]["HttpTokens"], "required");
        assert_eq!(lt["MetadataOptions"]["HttpPutResponseHopLimit"], 1);
        assert_eq!(lt["BlockDeviceMappings"][0]["Ebs"]["Encrypted"], true);
        assert_eq!(lt["BlockDeviceMappings"][0]["Ebs"]["VolumeType"], "gp3");
        let policy = &resource(&t, "InstanceRole")["Properties"]["Policies"][0]["PolicyDocument"];
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(
            statements.len(),
            3,
            "the role may do two things, three on a queue"
        );
        assert_eq!(statements[0]["Action"], "s3:GetObject");
        assert!(
            statements[0]["Resource"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .ends_with("/builds/${BuildNumber}/*")
        );
        assert_eq!(statements[1]["Action"], "cloudformation:SignalResource");
        assert_eq!(statements[1]["Resource"]["Ref"], "AWS::StackId");
        let queue = &statements[2]["Fn::If"];
        assert_eq!(queue[0], "ScaleOnQueue");
        assert_eq!(queue[2]["Ref"], "AWS::NoValue");
        assert_eq!(
            queue[1]["Action"],
            serde_json::json!([
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage"
            ])
        );
        assert_eq!(
            queue[1]["Resource"]["Fn::Sub"],
            "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}",
            "that queue only"
        );
    }

    #[test]
    fn load_balancer_speaks_tls13_and_redirects() {
        let t = app_template("").unwrap();
        let https = &resource(&t, "HttpsListener")["Properties"];
        assert_eq!(https["Port"], 443);
        assert!(https["SslPolicy"].as_str().unwrap().contains("TLS13"));
        let http = &resource(&t, "HttpListener")["Properties"];
        assert_eq!(
            http["DefaultActions"][0]["RedirectConfig"]["StatusCode"],
            "HTTP_301"
        );
        let attrs = &resource(&t, "LoadBalancer")["Properties"]["LoadBalancerAttributes"];
        assert_eq!(
            attrs[0]["Key"],
            "routing.http.drop_invalid_header_fields.enabled"
        );
        assert_eq!(
            resource(&t, "TargetGroup")["Properties"]["HealthCheckPath"],
            "/healthz"
        );
    }

    #[test]
    fn config_bucket_is_locked_down() {
        let t = bucket_template().unwrap();
        let b = &t["Resources"]["ConfigBucket"]["Properties"];
        let block = &b["PublicAccessBlockConfiguration"];
        for key in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(block[key], true, "{key}");
        }
        assert_eq!(
            b["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
            "BucketOwnerEnforced"
        );
        assert_eq!(b["VersioningConfiguration"]["Status"], "Enabled");
        assert!(b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0].is_object());
        let deny =
            &t["Resources"]["ConfigBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    }

    #[test]
    fn egress_is_only_what_the_load_balancer_and_the_boot_use() {
        let t = app_template("").unwrap();
        let lb = resource(&t, "LoadBalancerSecurityGroup")["Properties"]["SecurityGroupEgress"]
            .as_array()
            .unwrap();
        assert_eq!(lb.len(), 1);
        assert_eq!(lb[0]["FromPort"], 80);
        assert_eq!(
            lb[0]["DestinationSecurityGroupId"]["Fn::GetAtt"][0],
            "InstanceSecurityGroup"
        );
        let instances = resource(&t, "InstanceSecurityGroup")["Properties"]["SecurityGroupEgress"]
            .as_array()
            .unwrap();
        let ports: Vec<_> = instances.iter().map(|r| r["FromPort"].clone()).collect();
        assert_eq!(ports, [443, 80]);
        assert!(instances.iter().all(|r| r["ToPort"] == r["FromPort"]));
    }

    #[test]
    fn every_security_group_rule_says_why_it_exists() {
        let t = app_template("").unwrap();
        let mut rules = Vec::new();
        for r in t["Resources"].as_object().unwrap().values() {
            match r["Type"].as_str() {
                Some("AWS::EC2::SecurityGroup") => {
                    for key in ["SecurityGroupIngress", "SecurityGroupEgress"] {
                        rules.extend(r["Properties"][key].as_array().into_iter().flatten());
                    }
                }
                Some("AWS::EC2::SecurityGroupIngress" | "AWS::EC2::SecurityGroupEgress") => {
                    rules.push(&r["Properties"]);
                }
                _ => {}
            }
        }
        assert!(rules.len() >= 8, "{rules:?}");
        for rule in rules {
            assert!(
                rule["Description"].as_str().is_some_and(|d| !d.is_empty()),
                "{rule}"
            );
        }
    }

    #[test]
    fn network_access_is_as_narrow_as_the_settings_allow() {
        let t = app_template("").unwrap();
        let lb = resource(&t, "LoadBalancerSecurityGroup")["Properties"]["SecurityGroupIngress"]
            .as_array()
            .unwrap();
        assert!(
            lb.iter()
                .all(|r| r["FromPort"] == 80 || r["FromPort"] == 443)
        );
        let ingress: Vec<&Value> = t["Resources"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["Type"] == "AWS::EC2::SecurityGroupIngress")
            .collect();
        let from_lb: Vec<_> = ingress
            .iter()
            .filter(|r| r.get("Condition").is_none())
            .collect();
        assert_eq!(
            from_lb.len(),
            1,
            "only the load balancer reaches the instances"
        );
        let from_lb = &from_lb[0]["Properties"];
        assert_eq!(from_lb["FromPort"], 80);
        assert_eq!(
            from_lb["SourceSecurityGroupId"]["Fn::GetAtt"][0],
            "LoadBalancerSecurityGroup"
        );
        assert!(
            resource(&t, "InstanceSecurityGroup")["Properties"]
                .get("SecurityGroupIngress")
                .is_none()
        );
        let ssh = resource(&t, "SshIngress");
        assert_eq!(ssh["Condition"], "HasSsh");
        assert_eq!(ssh["Properties"]["CidrIp"]["Ref"], "SshCidr");
        assert_eq!(
            t["Conditions"]["HasSsh"]["Fn::And"][0]["Condition"], "HasKeyName",
            "SSH needs a key pair"
        );
        assert_eq!(resource(&t, "DnsAlias")["Condition"], "HasDnsRecord");
    }

    #[test]
    fn scaling_and_operator_alarms_are_in_place() {
        let t = app_template("").unwrap();
        let p = &t["Parameters"];
        assert_eq!(p["ScaleUpThreshold"]["Default"], 90);
        assert_eq!(p["ScaleDownThreshold"]["Default"], 70);
        assert_eq!(p["ScalingPeriodSeconds"]["Default"], 300);
        for (alarm, operator, threshold) in [
            ("CpuHighAlarm", "GreaterThanThreshold", "ScaleUpThreshold"),
            ("CpuLowAlarm", "LessThanThreshold", "ScaleDownThreshold"),
        ] {
            let a = &resource(&t, alarm)["Properties"];
            assert_eq!(a["ComparisonOperator"], operator, "{alarm}");
            assert_eq!(a["Threshold"]["Ref"], threshold, "{alarm}");
            assert_eq!(a["Period"]["Ref"], "ScalingPeriodSeconds", "{alarm}");
        }
        for alarm in [
            "LoadBalancer5xxAlarm",
            "Target5xxAlarm",
            "ResponseTimeAlarm",
            "UnhealthyHostsAlarm",
        ] {
            assert_eq!(
                resource(&t, alarm)["Type"],
                "AWS::CloudWatch::Alarm",
                "{alarm}"
            );
        }
        let outputs = t["Outputs"].as_object().unwrap();
        for key in ["LoadBalancerDnsName", "Url", "GroupName", "BuildNumber"] {
            assert!(outputs.contains_key(key), "{key}");
        }
    }

    #[test]
    fn config_bucket_outlives_its_stack() {
        let t = bucket_template().unwrap();
        let b = &t["Resources"]["ConfigBucket"];
        assert_eq!(b["DeletionPolicy"], "Retain");
        assert_eq!(b["UpdateReplacePolicy"], "Retain");
        let deny =
            &t["Resources"]["ConfigBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
        assert_eq!(deny["Action"], "s3:*");
        assert_eq!(
            deny["Resource"][1]["Fn::Sub"], "${ConfigBucket.Arn}/*",
            "objects too, not only the bucket"
        );
    }

    #[test]
    fn every_template_parameter_is_sent() {
        let t = app_template("").unwrap();
        let declared: Vec<&String> = t["Parameters"].as_object().unwrap().keys().collect();
        let s = crate::cli::Settings {
            stack_name: Some("web".into()),
            subnets: Some("subnet-11111111,subnet-22222222".into()),
            certificate: Some("arn:aws:acm:us-east-1:123456789012:certificate/x".into()),
            artifact_url: Some("https://example.com/a.jar".into()),
            ami: Some("ami-11111111".into()),
            ..Default::default()
        };
        let c = crate::config::Config::from_settings(
            crate::cli::Command::Render {
                diagram: false,
                deploy_role: false,
            },
            &s,
        )
        .unwrap();
        let r = Resolved {
            ami: "ami-11111111".into(),
            root_device: "/dev/sda1".into(),
            vpc_id: "vpc-11111111".into(),
            config_bucket: "b".into(),
            fetch: Install::Baked,
            notify_topic: None,
            deletion_protection: true,
        };
        let p = parameters(c.deploy.as_ref().unwrap(), &r);
        for key in p.keys() {
            assert!(declared.contains(&key), "{key} is not a template parameter");
        }
        for key in declared {
            let has_default = t["Parameters"][key].get("Default").is_some();
            assert!(p.contains_key(key) || has_default, "{key} is never sent");
        }
    }
}
