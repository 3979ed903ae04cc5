//! `plan`: what an update (or a create) would add, modify and replace, read from a change set
//! that is deleted afterwards, plus the parameters that change.

use std::time::Duration;

use aws_sdk_cloudformation::types::{
    Capability, Change, ChangeSetStatus, ChangeSetType, ExecutionStatus, Parameter,
};

use crate::aws::stack;
use crate::commands::config_bucket;
use crate::commands::rollout::{changed_parameters, current_idle, resolve};
use crate::config::Deploy;
use crate::error::Error;
use crate::session::Session;
use crate::template::{self, Resolved};

/// Creates a change set for the settings, prints it, and deletes it again.
pub async fn plan(session: &Session<'_>, deploy: &Deploy) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let cfn = &session.clients.cfn;
    let d = session.display;
    let current = current_idle(session).await?;
    if let Some(info) = &current
        && let Some(running) = info.build_number()
        && deploy.build_number < running
    {
        return Err(Error::Refused(format!(
            "BUILD_NUMBER {} is lower than the running build {running}: `update` would refuse it",
            deploy.build_number
        )));
    }
    let resolved = resolve(session, deploy, current.as_ref()).await?;
    let bucket = match current
        .as_ref()
        .and_then(|s| s.parameters.get("ConfigBucket").cloned())
    {
        Some(b) => b,
        None => match config_bucket::existing(session.clients, session.target).await? {
            Some(b) => b,
            None => deploy.config_bucket.clone().ok_or_else(|| {
                Error::Refused(format!(
                    "the config bucket stack {} does not exist yet: `asg-deploy create` makes it (or set CONFIG_BUCKET to plan with a chosen name)",
                    session.target.bucket_stack_name()
                ))
            })?,
        },
    };
    let resolved = Resolved {
        config_bucket: bucket,
        ..resolved
    };
    let params = template::parameters(deploy, &resolved);
    let template = template::app_template(&deploy.boot_script)?;
    let kind = if current.is_some() {
        ChangeSetType::Update
    } else {
        ChangeSetType::Create
    };
    if let Some(info) = &current {
        let changed = changed_parameters(&info.parameters, &params);
        let same_template = stack::template(cfn, &info.id).await?.as_ref() == Some(&template);
        if changed.is_empty() && same_template {
            d.line(format!(
                "Nothing to update: stack {name} already runs build {} with these settings.",
                deploy.build_number
            ));
            return Ok(());
        }
        for key in &changed {
            d.line(format!(
                "Parameter {key}: {} -> {}",
                show(info.parameters.get(key).map(String::as_str).unwrap_or("")),
                show(&params[key])
            ));
        }
        if !same_template {
            d.line("Template: changed");
        }
    }
    let change_set = format!(
        "asg-deploy-plan-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    );
    let created = cfn
        .create_change_set()
        .stack_name(name)
        .set_role_arn(session.target.stack_role_arn.clone())
        .change_set_name(&change_set)
        .change_set_type(kind.clone())
        .template_body(template::compact(&template))
        .set_parameters(Some(
            params
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .map_err(|e| crate::error::aws("CreateChangeSet", e))?;
    let id = created.id().unwrap_or(&change_set).to_string();
    let result = describe_until_ready(session, &id).await;
    // The change set is only for reading; a CREATE plan also leaves an empty stack behind.
    let _ = cfn.delete_change_set().change_set_name(&id).send().await;
    if kind == ChangeSetType::Create {
        let _ = cfn
            .delete_stack()
            .stack_name(name)
            .set_role_arn(session.target.stack_role_arn.clone())
            .send()
            .await;
    }
    let changes = result?;
    if changes.is_empty() {
        d.line("Resources: no change");
    }
    for c in &changes {
        d.line(c);
    }
    Ok(())
}

fn show(v: &str) -> &str {
    if v.is_empty() { "(empty)" } else { v }
}

/// Waits for the change set to be computed and lists its changes.
async fn describe_until_ready(session: &Session<'_>, id: &str) -> Result<Vec<String>, Error> {
    let cfn = &session.clients.cfn;
    loop {
        let out = cfn
            .describe_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|e| crate::error::aws("DescribeChangeSet", e))?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                return Ok(out.changes().iter().filter_map(change_line).collect());
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or_default();
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    return Ok(Vec::new());
                }
                return Err(Error::Aws {
                    action: "CreateChangeSet".into(),
                    message: reason.to_string(),
                });
            }
            _ if matches!(out.execution_status(), Some(ExecutionStatus::Available)) => {
                return Ok(out.changes().iter().filter_map(change_line).collect());
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= session.deadline() {
            return Err(Error::Aws {
                action: "CreateChangeSet".into(),
                message: "the change set was not ready in time".into(),
            });
        }
        tokio::select! {
            _ = session.shutdown.cancelled() => return Err(session.interrupted()),
            _ = tokio::time::sleep(session.poll.min(Duration::from_secs(2))) => {}
        }
    }
}

/// "Modify  AppGroup  AWS::AutoScaling::AutoScalingGroup  REPLACED"
fn change_line(c: &Change) -> Option<String> {
    let r = c.resource_change()?;
    let action = r.action().map(|a| a.as_str()).unwrap_or("?");
    let replaced = match r.replacement().map(|x| x.as_str()) {
        Some("True") => "  REPLACED",
        Some("Conditional") => "  may be replaced",
        _ => "",
    };
    Some(format!(
        "{action:<8} {:<28} {}{replaced}",
        r.logical_resource_id().unwrap_or("?"),
        r.resource_type().unwrap_or("?")
    ))
}
