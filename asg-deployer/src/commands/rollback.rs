//! `rollback [--to N]`: deploys a recorded build again, as a new rollout with the same live
//! events, monitoring window and health check as `update`, from the template, settings and boot
//! files that build was deployed with. It is the one way to a lower build number.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::Parameter;
use serde_json::Value;

use crate::aws::stack;
use crate::commands::config_bucket::key;
use crate::commands::record::{self, Deployed, RECORD_FILE, Record, TEMPLATE_FILE};
use crate::commands::rollout::{self, Change};
use crate::error::Error;
use crate::session::Session;
use crate::template;

/// Parameters that say where the fleet runs and who reaches it rather than what it runs: a
/// rollback keeps the stack's current values, so it neither reopens SSH nor brings back an old
/// certificate, subnet or topic.
const KEPT_FROM_NOW: [&str; 10] = [
    "VpcId",
    "Subnets",
    "ExtraSecurityGroups",
    "KeyName",
    "SshCidr",
    "CertificateArn",
    "DnsRecord",
    "HostedZoneName",
    "ConfigBucket",
    "AlarmTopicArn",
];

/// Rolls the stack back (or forward) to build `to`, by default the last recorded build below
/// the live one.
pub async fn rollback(session: &Session<'_>, to: Option<u64>) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let Some(info) = rollout::current_idle(session).await? else {
        return Err(Error::Refused(format!(
            "stack {name} does not exist: there is nothing to roll back"
        )));
    };
    if !stack::is_updatable(&info.status) {
        return Err(Error::Refused(format!(
            "stack {name} is in {} and cannot be updated: fix it in the CloudFormation console first",
            info.status
        )));
    }
    let live = info.build_number().unwrap_or(0);
    let bucket = record::bucket_of(&info)?;
    let records = record::list(session.clients, &bucket).await?;
    let wanted = match to {
        Some(n) => n,
        None => records
            .iter()
            .map(|r| r.build)
            .filter(|b| *b < live)
            .max()
            .ok_or_else(|| {
                Error::Refused(format!(
                    "no build before the live build {live} is recorded in s3://{bucket}/builds/: see `asg-deploy history`, or name a build with --to"
                ))
            })?,
    };
    if wanted == live {
        return Err(Error::Refused(format!(
            "build {live} is live already: name another build with --to (see `asg-deploy history`)"
        )));
    }
    let Some(record) = records.into_iter().find(|r| r.build == wanted) else {
        return Err(Error::Refused(format!(
            "build {wanted} cannot be deployed again: its record s3://{bucket}/{} is missing; `asg-deploy history` lists the recorded builds",
            key(wanted, RECORD_FILE)
        )));
    };
    let (body, template) = recorded_template(session, &bucket, &record).await?;
    let boot_script = template::boot_script_of(&template)
        .ok_or_else(|| {
            Error::Template(format!("the template of build {wanted} has no boot script"))
        })?
        .to_string();
    let (parameters, effective) = parameters(&template, &record, &info.parameters);
    session.display.line(if wanted < live {
        format!(
            "Rolling back to build {wanted} (running {live}) as deployed at {}: a new group replaces the old one once healthy (rollback is the one way to a lower build)",
            record.deployed_at
        )
    } else {
        format!(
            "Redeploying build {wanted} (running {live}) as deployed at {}: a new group replaces the old one once healthy",
            record.deployed_at
        )
    });
    let change = Change {
        info: &info,
        template_body: &body,
        parameters,
        notification_arns: None,
        new_group: true,
        bucket: &bucket,
        record: Deployed {
            build: wanted,
            action: "rollback",
            previous_build: Some(live),
            template_body: &body,
            parameters: &effective,
            boot_script: &boot_script,
            files: record.files.clone(),
        },
    };
    rollout::apply(session, change).await
}

/// The template build `record` was deployed with, checked against the record, after checking
/// that every file its instances download is still in the bucket; refuses naming what is missing.
async fn recorded_template(
    session: &Session<'_>,
    bucket: &str,
    record: &Record,
) -> Result<(String, Value), Error> {
    let build = record.build;
    let template_key = key(build, TEMPLATE_FILE);
    let body = record::get(session.clients, bucket, &template_key).await?;
    let mut missing = Vec::new();
    if body.is_none() {
        missing.push(template_key.clone());
    }
    for file in &record.files {
        if !record::exists(session.clients, bucket, file).await? {
            missing.push(file.clone());
        }
    }
    let Some(body) = body.filter(|_| missing.is_empty()) else {
        let missing: Vec<String> = missing
            .iter()
            .map(|k| format!("s3://{bucket}/{k}"))
            .collect();
        return Err(Error::Refused(format!(
            "build {build} cannot be deployed again: {} missing from its files; restore them from the bucket's object versions, or deploy that build under a new BUILD_NUMBER",
            missing.join(", ")
        )));
    };
    let changed = || {
        Error::Refused(format!(
            "s3://{bucket}/{template_key} is not the template build {build} was deployed with (its SHA-256 differs from the record): restore it from the bucket's object versions"
        ))
    };
    if record::sha256(&body) != record.template_sha256 {
        return Err(changed());
    }
    let text = String::from_utf8(body).map_err(|_| changed())?;
    let template = serde_json::from_str(&text).map_err(|_| changed())?;
    Ok((text, template))
}

/// The parameters sent for the template's declared ones: the record's, except [`KEPT_FROM_NOW`]
/// where the stack has them; and their values, for the new record.
fn parameters(
    template: &Value,
    record: &Record,
    current: &BTreeMap<String, String>,
) -> (Vec<Parameter>, BTreeMap<String, String>) {
    let declared = template
        .get("Parameters")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let mut sent = Vec::new();
    let mut values = BTreeMap::new();
    for name in declared {
        let now = current
            .get(&name)
            .filter(|_| KEPT_FROM_NOW.contains(&name.as_str()));
        if let Some(now) = now {
            sent.push(
                Parameter::builder()
                    .parameter_key(&name)
                    .use_previous_value(true)
                    .build(),
            );
            values.insert(name, rollout::list_items(now).join(","));
        } else if let Some(value) = record.parameters.get(&name) {
            sent.push(
                Parameter::builder()
                    .parameter_key(&name)
                    .parameter_value(value)
                    .build(),
            );
            values.insert(name, value.clone());
        }
    }
    (sent, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_comes_from_the_record_and_the_access_from_the_stack() {
        let template = serde_json::json!({"Parameters": {
            "BuildNumber": {}, "InstanceType": {}, "SshCidr": {}, "Subnets": {}, "NewInLater": {}
        }});
        let record = Record {
            build: 1,
            stack: "web".into(),
            action: "create".into(),
            previous_build: None,
            deployed_at: String::new(),
            deployed_by: None,
            parameters: [
                ("BuildNumber", "1"),
                ("InstanceType", "t3.micro"),
                ("SshCidr", "0.0.0.0/0"),
                ("Subnets", "subnet-a,subnet-b"),
                ("Gone", "x"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            template_sha256: String::new(),
            user_data_sha256: String::new(),
            files: Vec::new(),
        };
        let current: BTreeMap<String, String> = [
            ("BuildNumber", "2"),
            ("InstanceType", "t3.small"),
            ("SshCidr", ""),
            ("Subnets", "['subnet-c', 'subnet-d']"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (sent, values) = parameters(&template, &record, &current);
        let shown: Vec<String> = sent
            .iter()
            .map(|p| match p.use_previous_value() {
                Some(true) => format!("{}=previous", p.parameter_key().unwrap()),
                _ => format!(
                    "{}={}",
                    p.parameter_key().unwrap(),
                    p.parameter_value().unwrap()
                ),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "BuildNumber=1",
                "InstanceType=t3.micro",
                "SshCidr=previous",
                "Subnets=previous"
            ]
        );
        assert_eq!(values["Subnets"], "subnet-c,subnet-d");
        assert_eq!(values["SshCidr"], "");
        assert!(!values.contains_key("Gone") && !values.contains_key("NewInLater"));
    }
}
