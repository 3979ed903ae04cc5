//! `status`: the stack, its build, the group's instances and their health, the outputs, and the
//! latest events; `--watch` first follows a busy stack to its end.

use crate::aws::stack;
use crate::error::Error;
use crate::session::Session;
use crate::watch::events::{WatchEnd, Watcher, format_event};
use crate::watch::health;

/// Events shown at the end of `status`.
const RECENT_EVENTS: usize = 10;

/// Prints the status of the stack; with `watch`, follows it while it is busy.
pub async fn show(session: &Session<'_>, watch: bool) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let cfn = &session.clients.cfn;
    let Some(mut info) = stack::describe(cfn, name).await? else {
        return Err(Error::Refused(format!(
            "stack {name} does not exist: create it with `asg-deploy create`"
        )));
    };
    if watch && stack::is_in_progress(&info.status) {
        let end = Watcher {
            cfn,
            stack: info.id.clone(),
            last_seen: None,
            deadline: session.deadline(),
            shutdown: session.shutdown.clone(),
            display: session.display,
            poll: session.poll,
            window: None,
        }
        .run()
        .await?;
        match end {
            WatchEnd::Interrupted => return Err(session.interrupted()),
            WatchEnd::TimedOut { .. } | WatchEnd::Finished { .. } => {}
        }
        info = stack::describe(cfn, &info.id).await?.unwrap_or(info);
    }
    let d = session.display;
    d.finish();
    d.line(format!("Stack     {} ({})", info.name, info.status));
    if let Some(reason) = &info.reason {
        d.line(format!("Reason    {reason}"));
    }
    if let Some(updated) = &info.updated {
        d.line(format!("Updated   {updated}"));
    }
    d.line(format!(
        "Build     {}",
        info.build_number()
            .map_or_else(|| "unknown".to_string(), |b| b.to_string())
    ));
    if let Some(ami) = info.parameters.get("AmiId") {
        d.line(format!("AMI       {ami}"));
    }
    if let Some(group) = info.outputs.get("GroupName") {
        group_lines(session, group, info.outputs.get("TargetGroupArn")).await?;
    }
    if !info.outputs.is_empty() {
        d.line("Outputs");
        for (key, value) in &info.outputs {
            d.line(format!("  {key:<20} {value}"));
        }
    }
    let events = cfn
        .describe_stack_events()
        .stack_name(&info.id)
        .send()
        .await
        .map_err(|e| crate::error::aws("DescribeStackEvents", e))?;
    d.line("Recent events");
    for e in events.stack_events().iter().take(RECENT_EVENTS).rev() {
        d.line(format!("  {}", format_event(e)));
    }
    Ok(())
}

async fn group_lines(
    session: &Session<'_>,
    group: &str,
    target_group: Option<&String>,
) -> Result<(), Error> {
    let d = session.display;
    let out = session
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .map_err(|e| crate::error::aws("DescribeAutoScalingGroups", e))?;
    let Some(g) = out.auto_scaling_groups().first() else {
        d.line(format!("Group     {group} (not found)"));
        return Ok(());
    };
    let tag = |key: &str| {
        g.tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .unwrap_or("-")
            .to_string()
    };
    let template = g
        .launch_template()
        .map(|lt| {
            format!(
                ", launch template {} version {}",
                lt.launch_template_id().unwrap_or("?"),
                lt.version().unwrap_or("?")
            )
        })
        .unwrap_or_default();
    d.line(format!(
        "Group     {group}: build tag {}, {} instance(s), desired {} (min {}, max {}){template}",
        tag("BuildNumber"),
        g.instances().len(),
        g.desired_capacity().unwrap_or_default(),
        g.min_size().unwrap_or_default(),
        g.max_size().unwrap_or_default(),
    ));
    let targets = match target_group {
        Some(tg) => health::target_states(session, group, tg).await?,
        None => Default::default(),
    };
    for i in g.instances() {
        let id = i.instance_id().unwrap_or("?");
        d.line(format!(
            "  {id}  {:<12} {:<12} {:<10} target {}",
            i.availability_zone().unwrap_or("?"),
            i.lifecycle_state().map(|s| s.as_str()).unwrap_or("?"),
            i.health_status().unwrap_or("?"),
            targets.get(id).map(String::as_str).unwrap_or("unknown"),
        ));
    }
    Ok(())
}
