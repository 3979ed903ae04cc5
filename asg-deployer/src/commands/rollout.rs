//! The rollout rules: create, update and delete the application stack, refusing what would
//! hurt (existing, missing or busy stacks, an older build), and following each change to its end.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudformation::types::{Capability, Parameter};
use tokio::time::Instant;

use crate::aws::stack::{self, StackInfo};
use crate::commands::config_bucket;
use crate::commands::record::{self, Deployed};
use crate::config::image::{Arch, BaseImage};
use crate::config::{Deploy, Notify};
use crate::error::{Error, humanize};
use crate::session::Session;
use crate::template::{self, Resolved};
use crate::watch::events::{WatchEnd, Watcher, newest_event_id};
use crate::watch::health;
use crate::watch::window::{self, Window};

/// The stack as it is now; waits for it when busy and `--wait-for-idle` is set, refuses otherwise.
pub async fn current_idle(session: &Session<'_>) -> Result<Option<StackInfo>, Error> {
    let name = &session.target.stack_name;
    let Some(info) = stack::describe(&session.clients.cfn, name).await? else {
        return Ok(None);
    };
    if !stack::is_in_progress(&info.status) {
        return Ok(Some(info));
    }
    if !session.target.wait_for_idle {
        return Err(Error::Refused(format!(
            "stack {name} is busy ({}): wait for it to finish, or pass --wait-for-idle",
            info.status
        )));
    }
    session.display.line(format!(
        "Stack {name} is busy ({}); waiting for it to finish",
        info.status
    ));
    let last_seen = newest_event_id(&session.clients.cfn, &info.id).await?;
    match watch(session, &info.id, last_seen, None).await? {
        WatchEnd::Finished { .. } => stack::describe(&session.clients.cfn, name).await,
        WatchEnd::TimedOut { .. } => Err(Error::Refused(format!(
            "stack {name} stayed busy for {}: try again later",
            humanize(session.target.timeout)
        ))),
        WatchEnd::Interrupted => Err(session.interrupted()),
    }
}

fn watch<'s>(
    session: &'s Session<'_>,
    stack: &str,
    last_seen: Option<String>,
    window: Option<&'s Window>,
) -> impl Future<Output = Result<WatchEnd, Error>> + 's {
    Watcher {
        cfn: &session.clients.cfn,
        stack: stack.to_string(),
        last_seen,
        deadline: session.deadline(),
        shutdown: session.shutdown.clone(),
        display: session.display,
        poll: session.poll,
        window,
    }
    .run()
}

/// `create`: refuses an existing stack, replaces one left in ROLLBACK_COMPLETE.
pub async fn create(session: &Session<'_>, deploy: &Deploy) -> Result<(), Error> {
    let name = &session.target.stack_name;
    if let Some(info) = current_idle(session).await? {
        if info.status != "ROLLBACK_COMPLETE" {
            return Err(Error::Refused(format!(
                "stack {name} already exists ({}, build {}): use `asg-deploy update` to roll out a build",
                info.status,
                info.build_number()
                    .map_or_else(|| "unknown".to_string(), |b| b.to_string())
            )));
        }
        session.display.line(format!(
            "Stack {name} is in ROLLBACK_COMPLETE after a failed first create; deleting it and creating it again"
        ));
        delete_stack(session, &info).await?;
    }
    let resolved = resolve(session, deploy, None).await?;
    let bucket = config_bucket::ensure(session, deploy).await?;
    let files = config_bucket::upload(
        session.clients,
        &bucket,
        deploy.build_number,
        &deploy.app_name,
        &resolved.fetch,
        session.display,
    )
    .await?;
    let resolved = Resolved {
        config_bucket: bucket.clone(),
        ..resolved
    };
    let body = template::compact(&template::app_template(&deploy.boot_script)?);
    let params = template::parameters(deploy, &resolved);
    session.display.line(format!(
        "Creating stack {name} with build {}",
        deploy.build_number
    ));
    let out = session
        .clients
        .cfn
        .create_stack()
        .stack_name(name)
        .template_body(&body)
        .set_parameters(Some(sdk_parameters(&params)))
        .set_notification_arns(resolved.notify_topic.clone().map(|t| vec![t]))
        .set_role_arn(session.target.stack_role_arn.clone())
        .capabilities(Capability::CapabilityIam)
        .timeout_in_minutes(session.target.timeout.as_secs().div_ceil(60).max(1) as i32)
        .send()
        .await
        .map_err(|e| crate::error::aws("CreateStack", e))?;
    let id = out.stack_id().unwrap_or(name).to_string();
    follow(session, &id, None, false, None).await?;
    let record = Deployed {
        build: deploy.build_number,
        action: "create",
        previous_build: None,
        template_body: &body,
        parameters: &params,
        boot_script: &deploy.boot_script,
        files,
    };
    finish(session, &bucket, record).await
}

/// `update`: refuses a missing stack or a lower build; "nothing to update" is a success.
pub async fn update(session: &Session<'_>, deploy: &Deploy) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let Some(info) = current_idle(session).await? else {
        return Err(Error::Refused(format!(
            "stack {name} does not exist: use `asg-deploy create` first"
        )));
    };
    if !stack::is_updatable(&info.status) {
        let hint = if info.status == "ROLLBACK_COMPLETE" {
            "its first create failed; run `asg-deploy create` to replace it"
        } else {
            "fix it in the CloudFormation console first"
        };
        return Err(Error::Refused(format!(
            "stack {name} is in {} and cannot be updated: {hint}",
            info.status
        )));
    }
    let running = info.build_number().unwrap_or(0);
    let build = deploy.build_number;
    if build < running {
        return Err(Error::Refused(format!(
            "BUILD_NUMBER {build} is lower than the running build {running}: deploy {running} or higher, or return to an earlier build with `asg-deploy rollback --to {build}`"
        )));
    }
    let resolved = resolve(session, deploy, Some(&info)).await?;
    let bucket = info
        .parameters
        .get("ConfigBucket")
        .cloned()
        .filter(|b| !b.is_empty());
    let bucket = match bucket {
        Some(b) => b,
        None => config_bucket::ensure(session, deploy).await?,
    };
    let resolved = Resolved {
        config_bucket: bucket.clone(),
        ..resolved
    };
    let template = template::app_template(&deploy.boot_script)?;
    let params = template::parameters(deploy, &resolved);
    let stored = stack::template(&session.clients.cfn, &info.id).await?;
    let changed = changed_parameters(&info.parameters, &params);
    if changed.is_empty() && stored.as_ref() == Some(&template) {
        session.display.line(format!(
            "Nothing to update: stack {name} already runs build {build} with these settings."
        ));
        return Ok(());
    }
    let replaced_by = template::group_replaced_by(&changed, stored.as_ref(), &template);
    let new_group = build > running || replaced_by.is_some();
    session.display.line(match replaced_by {
        _ if build > running => format!(
            "Rolling out build {build} (running {running}): a new group replaces the old one once healthy"
        ),
        Some(by) => format!(
            "Same build {build}: {by} change what its instances are made from, so a new group replaces the old one once healthy"
        ),
        None if changed.is_empty() => {
            format!("Same build {build}: changing the template in place (no new fleet)")
        }
        None => format!(
            "Same build {build}: changing {} in place (no new fleet)",
            changed.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
    });
    let files = config_bucket::upload(
        session.clients,
        &bucket,
        build,
        &deploy.app_name,
        &resolved.fetch,
        session.display,
    )
    .await?;
    let body = template::compact(&template);
    let change = Change {
        info: &info,
        template_body: &body,
        parameters: sdk_parameters(&params),
        notification_arns: notification_arns(&deploy.notify),
        new_group,
        bucket: &bucket,
        record: Deployed {
            build,
            action: "update",
            previous_build: Some(running),
            template_body: &body,
            parameters: &params,
            boot_script: &deploy.boot_script,
            files,
        },
    };
    apply(session, change).await
}

/// An update of the application stack to a fleet: what [`apply`] sends and records.
pub struct Change<'a> {
    /// The stack as it was before.
    pub info: &'a StackInfo,
    /// The template body to send.
    pub template_body: &'a str,
    /// The parameters to send.
    pub parameters: Vec<Parameter>,
    /// The stack's topics after the change; `None` keeps them.
    pub notification_arns: Option<Vec<String>>,
    /// Whether a new group replaces the old one (the window then removes it at its end).
    pub new_group: bool,
    /// The config bucket, which gets the build's record.
    pub bucket: &'a str,
    /// The build's record once the stack took it.
    pub record: Deployed<'a>,
}

/// Sends `change` with the stack's alarms as rollback triggers, follows it through its
/// monitoring window to its end, records the build and checks the fleet's health.
pub async fn apply(session: &Session<'_>, change: Change<'_>) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let info = change.info;
    let running = info.build_number().unwrap_or(0);
    let (window, missing) =
        Window::of_stack(session.clients, &info.id, session.target.monitor_minutes).await?;
    if let Some(warning) = window::missing_warning(name, &missing) {
        session.display.line(warning);
    }
    if window.minutes > 0 {
        session.display.line(format!(
            "Monitoring window: {} after the new group is in service, watching {}",
            humanize(window.length()),
            window.watched()
        ));
    }
    let last_seen = newest_event_id(&session.clients.cfn, &info.id).await?;
    let sent = session
        .clients
        .cfn
        .update_stack()
        .stack_name(&info.id)
        .template_body(change.template_body)
        .set_parameters(Some(change.parameters))
        .set_notification_arns(change.notification_arns)
        .set_role_arn(session.target.stack_role_arn.clone())
        .rollback_configuration(window.configuration())
        .capabilities(Capability::CapabilityIam)
        .send()
        .await;
    if let Err(e) = sent {
        let c = crate::error::classify(&e);
        if c.kind == crate::error::AwsErrorKind::NoUpdates {
            session.display.line(format!(
                "Nothing to update: CloudFormation found no change for stack {name}."
            ));
            return Ok(());
        }
        return Err(c.into_error("UpdateStack"));
    }
    match follow(session, &info.id, last_seen, true, Some(&window)).await {
        Err(Error::StackFailed {
            stack,
            status,
            reasons,
        }) if status.starts_with("UPDATE_ROLLBACK") => {
            match window.fired(session.clients).await.ok().flatten() {
                Some((alarm, at)) => Err(Error::AlarmRolledBack {
                    stack,
                    alarm: alarm.logical_id,
                    at: stack::format_time(&at),
                    build: running,
                    status,
                }),
                None => Err(Error::StackFailed {
                    stack,
                    status,
                    reasons,
                }),
            }
        }
        Err(e) => Err(e),
        Ok(()) => {
            if window.minutes > 0 {
                session.display.line(match change.new_group {
                    true => format!(
                        "Monitoring window of {} passed with no alarm: old group removed",
                        humanize(window.length())
                    ),
                    false => format!(
                        "Monitoring window of {} passed with no alarm",
                        humanize(window.length())
                    ),
                });
            }
            finish(session, change.bucket, change.record).await
        }
    }
}

/// The topics UpdateStack sends: none keeps the stack's, an empty list removes them.
fn notification_arns(notify: &Notify) -> Option<Vec<String>> {
    match notify {
        Notify::Keep => None,
        Notify::Topic(arn) => Some(vec![arn.clone()]),
        Notify::Remove => Some(Vec::new()),
    }
}

/// `delete`: removes the application stack; the config bucket is kept.
pub async fn delete(session: &Session<'_>) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let Some(info) = current_idle(session).await? else {
        return Err(Error::Refused(format!(
            "stack {name} does not exist: nothing to delete"
        )));
    };
    delete_stack(session, &info).await?;
    session.display.line(format!(
        "Deleted stack {name} in {}. The config bucket stack {} is kept (its bucket is retained even when that stack is deleted).",
        humanize(session.started.elapsed()),
        session.target.bucket_stack_name()
    ));
    Ok(())
}

async fn delete_stack(session: &Session<'_>, info: &StackInfo) -> Result<(), Error> {
    if info
        .parameters
        .get("DeletionProtection")
        .map(String::as_str)
        == Some("true")
    {
        unprotect_load_balancer(session, info).await?;
    }
    let last_seen = newest_event_id(&session.clients.cfn, &info.id).await?;
    session
        .clients
        .cfn
        .delete_stack()
        .stack_name(&info.id)
        .set_role_arn(session.target.stack_role_arn.clone())
        .send()
        .await
        .map_err(|e| crate::error::aws("DeleteStack", e))?;
    follow(session, &info.id, last_seen, false, None).await
}

/// Turns off the deletion protection of the stack's load balancer, which would otherwise fail
/// the stack's deletion; says so, as the load balancer stays unprotected if the deletion fails.
async fn unprotect_load_balancer(session: &Session<'_>, info: &StackInfo) -> Result<(), Error> {
    let found = session
        .clients
        .cfn
        .describe_stack_resources()
        .stack_name(&info.id)
        .send()
        .await;
    let arn = match found {
        Ok(out) => out
            .stack_resources()
            .iter()
            .find(|r| r.logical_resource_id() == Some("LoadBalancer"))
            .and_then(|r| r.physical_resource_id())
            .filter(|arn| arn.starts_with("arn:"))
            .map(str::to_string),
        Err(e) if crate::error::classify(&e).kind == crate::error::AwsErrorKind::NotFound => None,
        Err(e) => return Err(crate::error::aws("DescribeStackResources LoadBalancer", e)),
    };
    let Some(arn) = arn else { return Ok(()) };
    session
        .clients
        .elb
        .modify_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                .key("deletion_protection.enabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .map_err(|e| crate::error::aws("ModifyLoadBalancerAttributes (deletion protection)", e))?;
    session.display.line(format!(
        "Turned off the deletion protection of load balancer {arn} to delete the stack"
    ));
    Ok(())
}

/// Follows a stack change to its end. Past the deadline an update still in progress is
/// cancelled, so CloudFormation rolls it back, and the rollback is followed too.
pub async fn follow(
    session: &Session<'_>,
    stack_id: &str,
    last_seen: Option<String>,
    cancel_on_timeout: bool,
    window: Option<&Window>,
) -> Result<(), Error> {
    let name = session.target.stack_name.clone();
    match watch(session, stack_id, last_seen, window).await? {
        WatchEnd::Finished { status, .. } if stack::is_success(&status) => Ok(()),
        WatchEnd::Finished { status, reasons } => Err(Error::StackFailed {
            stack: name,
            status,
            reasons,
        }),
        WatchEnd::Interrupted => Err(session.interrupted()),
        WatchEnd::TimedOut { status } => match on_timeout(&status, cancel_on_timeout) {
            OnTimeout::Done => {
                session.display.line(format!(
                    "Timed out after {} while CloudFormation removes the old resources of {name}; the update itself is complete and the removal goes on",
                    humanize(session.target.timeout)
                ));
                Ok(())
            }
            OnTimeout::Report => Err(Error::TimedOut {
                stack: name,
                after: session.target.timeout,
                cancelled: false,
            }),
            OnTimeout::Cancel => cancel_and_follow(session, stack_id, name).await,
        },
    }
}

/// What a timed-out watch does, by the status the stack was last seen in.
#[derive(Debug, PartialEq)]
enum OnTimeout {
    /// Cancel the update, so that CloudFormation rolls it back.
    Cancel,
    /// The update succeeded; only the replaced resources are still being deleted, and an update
    /// can no longer be cancelled then.
    Done,
    /// Report the timeout and leave the stack as it is.
    Report,
}

fn on_timeout(status: &str, cancel_on_timeout: bool) -> OnTimeout {
    match status {
        "UPDATE_IN_PROGRESS" if cancel_on_timeout => OnTimeout::Cancel,
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" if cancel_on_timeout => OnTimeout::Done,
        _ => OnTimeout::Report,
    }
}

/// Cancels the update after a timeout and follows the rollback.
async fn cancel_and_follow(
    session: &Session<'_>,
    stack_id: &str,
    name: String,
) -> Result<(), Error> {
    session.display.line(format!(
        "Timed out after {}: cancelling the update of {name}; CloudFormation rolls it back",
        humanize(session.target.timeout)
    ));
    let last_seen = newest_event_id(&session.clients.cfn, stack_id).await?;
    session
        .clients
        .cfn
        .cancel_update_stack()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(|e| crate::error::aws("CancelUpdateStack", e))?;
    // The rollback gets as long again; a stuck rollback is reported, not waited for forever.
    let rollback = Session {
        started: Instant::now(),
        clients: session.clients,
        target: session.target,
        display: session.display,
        shutdown: session.shutdown.clone(),
        poll: session.poll,
    };
    match watch(&rollback, stack_id, last_seen, None).await? {
        WatchEnd::Interrupted => Err(session.interrupted()),
        WatchEnd::Finished { status, .. } => {
            session.display.line(format!("Rollback ended in {status}"));
            Err(Error::TimedOut {
                stack: name,
                after: session.target.timeout,
                cancelled: true,
            })
        }
        WatchEnd::TimedOut { .. } => Err(Error::TimedOut {
            stack: name,
            after: session.target.timeout,
            cancelled: true,
        }),
    }
}

/// After a successful create, update or rollback: outputs, time taken, the build's record, then
/// the health check. A record that cannot be written is a warning: the build is live either way.
async fn finish(session: &Session<'_>, bucket: &str, deployed: Deployed<'_>) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let build = deployed.build;
    let info = stack::describe(&session.clients.cfn, name)
        .await?
        .ok_or_else(|| Error::Refused(format!("stack {name} disappeared")))?;
    session.display.finish();
    session.display.line(format!(
        "Stack {name} is {} with build {build} after {}",
        info.status,
        humanize(session.started.elapsed())
    ));
    for (key, value) in &info.outputs {
        session.display.line(format!("  {key:<20} {value}"));
    }
    let at = info.updated.clone().unwrap_or_default();
    match record::save(session.clients, name, bucket, deployed, at).await {
        Ok(_) => session.display.line(format!(
            "Recorded build {build} in s3://{bucket}/{}",
            config_bucket::key(build, record::RECORD_FILE)
        )),
        Err(e) => session.display.line(format!(
            "Warning: build {build} is live but its record could not be written ({e}); `asg-deploy rollback` cannot return to it"
        )),
    }
    health::check(session, &info, build).await
}

/// The AMI, the fetch its instances get, and the VPC: AMIID (an image with fetch baked in), else
/// the AMI pinned in the stack (unless BASE_IMAGE asks for a stock one again), else the base
/// image's current AMI from SSM.
pub async fn resolve(
    session: &Session<'_>,
    deploy: &Deploy,
    current: Option<&StackInfo>,
) -> Result<Resolved, Error> {
    let pinned = current.and_then(|s| s.parameters.get("AmiId").cloned());
    let (ami, has_fetch) = match (&deploy.ami, pinned, deploy.base_image) {
        (Some(ami), _, _) => {
            session.display.line(format!("AMI {ami} (from AMIID)"));
            (ami.clone(), true)
        }
        (None, Some(ami), None) => {
            session.display.line(format!(
                "AMI {ami} (pinned in the stack; set AMIID or BASE_IMAGE to change it)"
            ));
            // A stack whose instances install fetch at boot pinned an image without one.
            let installs_fetch = current
                .and_then(|s| s.parameters.get("FetchSha256"))
                .is_some_and(|sha| !sha.is_empty());
            (ami, !installs_fetch)
        }
        (None, _, base) => {
            let image = base.unwrap_or(BaseImage::Ubuntu2404);
            (
                stock_ami(session, image, &deploy.instance_type).await?,
                false,
            )
        }
    };
    // The stock image pinned in a stack is as bare as a new one.
    let fetch = deploy
        .fetch
        .install(has_fetch)
        .map_err(|why| Error::Invalid(vec![why]))?;
    let root_device = root_device_of(session, &ami).await?;
    let vpc_id = vpc_of(session, &deploy.subnets).await?;
    if let Some(queue) = deploy.scaling.on.queue() {
        queue_exists(session, queue).await?;
    }
    Ok(Resolved {
        ami,
        root_device,
        vpc_id,
        config_bucket: String::new(),
        fetch,
        notify_topic: deploy
            .notify
            .resolve(current.map_or(&[], |s| &s.notification_arns)),
        deletion_protection: deploy.deletion_protection.unwrap_or_else(|| {
            current
                .and_then(|s| s.parameters.get("DeletionProtection"))
                .is_none_or(|v| v != "false")
        }),
    })
}

/// A queue-scaled group's queue must exist in the stack's account and region: the alarms read its
/// metrics and the instances consume it by name.
async fn queue_exists(session: &Session<'_>, queue: &str) -> Result<(), Error> {
    let out = session
        .clients
        .sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await;
    match out {
        Ok(found) => {
            session.display.line(format!(
                "Scaling on the depth of queue {}",
                found.queue_url().unwrap_or(queue)
            ));
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            Err(Error::Refused(format!(
                "SCALE_ON names queue {queue}, which does not exist in this account and region: create it first, or correct SCALE_ON"
            )))
        }
        Err(e) => Err(crate::error::aws("GetQueueUrl", e)),
    }
}

/// The current AMI of `image` for the instance type's architecture, from its SSM parameter.
async fn stock_ami(
    session: &Session<'_>,
    image: BaseImage,
    instance_type: &str,
) -> Result<String, Error> {
    let parameter = image.parameter(Arch::of_instance_type(instance_type));
    let out = session
        .clients
        .ssm
        .get_parameter()
        .name(parameter)
        .send()
        .await
        .map_err(|e| {
            let c = crate::error::classify(&e);
            if c.kind == crate::error::AwsErrorKind::NotFound {
                Error::Refused(format!(
                    "SSM parameter {parameter} ({image}) was not found in this region: set AMIID to an AMI id"
                ))
            } else {
                c.into_error(&format!("GetParameter {parameter}"))
            }
        })?;
    let ami = out
        .parameter()
        .and_then(|p| p.value())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::Refused(format!("SSM parameter {parameter} has no value: set AMIID"))
        })?;
    session.display.line(format!(
        "AMI {ami} ({image} from {parameter}; pinned in the stack)"
    ));
    Ok(ami)
}

/// The image's root device: its name differs between images (`/dev/sda1` on Ubuntu, `/dev/xvda`
/// on Amazon Linux), and a block device mapping under another name adds a disk instead.
async fn root_device_of(session: &Session<'_>, ami: &str) -> Result<String, Error> {
    let not_found = || {
        Error::Refused(format!(
            "image {ami} was not found in this region: set AMIID to an AMI id of this region that this account may launch"
        ))
    };
    let out = session
        .clients
        .ec2
        .describe_images()
        .image_ids(ami)
        .send()
        .await
        .map_err(|e| {
            let c = crate::error::classify(&e);
            if c.message.contains("InvalidAMIID") || c.kind == crate::error::AwsErrorKind::NotFound
            {
                not_found()
            } else {
                c.into_error("DescribeImages")
            }
        })?;
    let image = out
        .images()
        .iter()
        .find(|image| image.image_id() == Some(ami))
        .ok_or_else(not_found)?;
    image
        .root_device_name()
        .map(str::to_string)
        .ok_or_else(|| Error::Refused(format!("image {ami} names no root device: set AMIID")))
}

/// The one VPC of the subnets, checking they exist and span two zones or more.
async fn vpc_of(session: &Session<'_>, subnets: &[String]) -> Result<String, Error> {
    let out = session
        .clients
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnets.to_vec()))
        .send()
        .await
        .map_err(|e| {
            let c = crate::error::classify(&e);
            if c.message.contains("InvalidSubnetID") {
                Error::Refused(format!(
                    "SUBNETS: {}; use subnets of this account and region",
                    c.message
                ))
            } else {
                c.into_error("DescribeSubnets")
            }
        })?;
    let found: Vec<_> = out.subnets().to_vec();
    let missing: Vec<&String> = subnets
        .iter()
        .filter(|id| !found.iter().any(|s| s.subnet_id() == Some(id.as_str())))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Refused(format!(
            "SUBNETS: {} not found; use subnets of this account and region",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let vpcs: BTreeSet<&str> = found.iter().filter_map(|s| s.vpc_id()).collect();
    let zones: BTreeSet<&str> = found.iter().filter_map(|s| s.availability_zone()).collect();
    if vpcs.len() != 1 {
        return Err(Error::Refused(format!(
            "SUBNETS span {} VPCs ({}): give subnets of one VPC",
            vpcs.len(),
            vpcs.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    if zones.len() < 2 {
        return Err(Error::Refused(format!(
            "SUBNETS are all in {}: give subnets in two availability zones or more",
            zones.into_iter().next().unwrap_or("one zone")
        )));
    }
    let vpc = vpcs.into_iter().next().unwrap_or_default().to_string();
    for warning in crate::commands::egress::warnings(session, &vpc, &found).await {
        session.display.line(format!("Warning: {warning}"));
    }
    Ok(vpc)
}

/// Names of parameters whose value would change.
pub fn changed_parameters(
    stored: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    wanted
        .iter()
        .filter(|(k, v)| stored.get(*k).map(|s| list_items(s)) != Some(list_items(v)))
        .map(|(k, _)| k.clone())
        .collect()
}

/// A stored value as its items: CloudFormation keeps list parameters as "a,b", some emulators
/// as "['a', 'b']"; both mean the same list.
pub(crate) fn list_items(value: &str) -> Vec<&str> {
    value
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|item| item.trim().trim_matches(|c| c == '\'' || c == '"'))
        .collect()
}

pub(crate) fn sdk_parameters(params: &BTreeMap<String, String>) -> Vec<Parameter> {
    params
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_cancels_only_an_update_that_can_still_be_cancelled() {
        assert_eq!(on_timeout("UPDATE_IN_PROGRESS", true), OnTimeout::Cancel);
        // The new group is in service; CancelUpdateStack would fail here.
        assert_eq!(
            on_timeout("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", true),
            OnTimeout::Done
        );
        for status in [
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "CREATE_IN_PROGRESS",
            "",
        ] {
            assert_eq!(on_timeout(status, true), OnTimeout::Report, "{status}");
        }
        assert_eq!(on_timeout("UPDATE_IN_PROGRESS", false), OnTimeout::Report);
    }

    #[test]
    fn only_differing_parameters_count_as_changes() {
        let stored: BTreeMap<String, String> =
            [("A".into(), "1".into()), ("B".into(), "2".into())].into();
        let wanted: BTreeMap<String, String> = [
            ("A".into(), "1".into()),
            ("B".into(), "3".into()),
            ("C".into(), "".into()),
        ]
        .into();
        let changed = changed_parameters(&stored, &wanted);
        assert_eq!(changed.into_iter().collect::<Vec<_>>(), ["B", "C"]);
        let stored: BTreeMap<String, String> =
            [("Subnets".into(), "['subnet-1', 'subnet-2']".into())].into();
        let wanted: BTreeMap<String, String> =
            [("Subnets".into(), "subnet-1,subnet-2".into())].into();
        assert!(changed_parameters(&stored, &wanted).is_empty());
    }
}
