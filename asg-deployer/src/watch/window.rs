//! The monitoring window of an update: CloudFormation's rollback triggers set on the stack's own
//! alarms, so that a build which boots and then fails under traffic rolls back to the old group,
//! which CloudFormation keeps running until the window ends.
//!
//! The alarms are keyed on the load balancer and the target group, which outlive builds, so they
//! exist before the update that uses them: from `create` on. A trigger naming a missing alarm
//! would fail the whole update, so only the alarms the stack has are passed.

use std::time::Duration;

use aws_sdk_cloudformation::types::{RollbackConfiguration, RollbackTrigger};
use aws_sdk_cloudwatch::types::StateValue;
use aws_smithy_types::DateTime;

use crate::aws::Clients;
use crate::aws::stack::format_time;
use crate::error::{Error, humanize};

/// The template's alarms that judge a build by its traffic, by logical id. The CPU alarms scale
/// the group and say nothing about the build.
pub const ROLLBACK_ALARMS: [&str; 4] = [
    "LoadBalancer5xxAlarm",
    "Target5xxAlarm",
    "ResponseTimeAlarm",
    "UnhealthyHostsAlarm",
];

/// CloudFormation's type name for an alarm trigger.
const ALARM_TRIGGER: &str = "AWS::CloudWatch::Alarm";

/// One alarm the window watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    /// Its logical id in the template.
    pub logical_id: String,
    /// Its name in CloudWatch (the resource's physical id).
    pub name: String,
    /// Its ARN, as the trigger names it.
    pub arn: String,
}

/// What an update asks CloudFormation to watch, and for how long after the new group is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Minutes after every resource is in place; 0 means the old group goes at once (the alarms
    /// are still watched while the update runs).
    pub minutes: u32,
    /// The alarms; empty for a stack made by a template without them.
    pub alarms: Vec<Alarm>,
}

impl Window {
    /// The alarms the stack `stack_id` has among [`ROLLBACK_ALARMS`], and the ones it lacks.
    pub async fn of_stack(
        clients: &Clients,
        stack_id: &str,
        minutes: u32,
    ) -> Result<(Window, Vec<&'static str>), Error> {
        let out = clients
            .cfn
            .describe_stack_resources()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| crate::error::aws("DescribeStackResources", e))?;
        let mut alarms = Vec::new();
        let mut missing = Vec::new();
        for id in ROLLBACK_ALARMS {
            let name = out
                .stack_resources()
                .iter()
                .find(|r| {
                    r.logical_resource_id() == Some(id)
                        && r.resource_type() == Some(ALARM_TRIGGER)
                        && r.resource_status().is_some_and(|s| {
                            matches!(s.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE")
                        })
                })
                .and_then(|r| r.physical_resource_id())
                .filter(|name| !name.is_empty());
            match name.and_then(|name| alarm_arn(stack_id, name).map(|arn| (name, arn))) {
                Some((name, arn)) => alarms.push(Alarm {
                    logical_id: id.to_string(),
                    name: name.to_string(),
                    arn,
                }),
                None => missing.push(id),
            }
        }
        Ok((Window { minutes, alarms }, missing))
    }

    /// The configuration sent with UpdateStack. It is always sent, also when empty: without
    /// one, CloudFormation would reuse whatever triggers the stack was given last.
    pub fn configuration(&self) -> RollbackConfiguration {
        let triggers = self
            .alarms
            .iter()
            .map(|a| {
                RollbackTrigger::builder()
                    .arn(&a.arn)
                    .r#type(ALARM_TRIGGER)
                    .build()
            })
            .collect();
        RollbackConfiguration::builder()
            .set_rollback_triggers(Some(triggers))
            .monitoring_time_in_minutes(self.minutes as i32)
            .build()
    }

    /// The window's length.
    pub fn length(&self) -> Duration {
        Duration::from_secs(u64::from(self.minutes) * 60)
    }

    /// "LoadBalancer5xxAlarm, Target5xxAlarm, ...", for the live display.
    pub fn watched(&self) -> String {
        if self.alarms.is_empty() {
            return "no alarms".to_string();
        }
        self.alarms
            .iter()
            .map(|a| a.logical_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The line printed when every resource is in place and the window begins at `start`.
    pub fn opening_line(&self, start: &DateTime) -> String {
        let end = DateTime::from_secs(start.secs() + self.length().as_secs() as i64);
        format!(
            "New group in service; CloudFormation watches {} for {} (until {}) and keeps the old group until then",
            self.watched(),
            humanize(self.length()),
            format_time(&end)
        )
    }

    /// The live status while the window runs.
    pub fn status_line(&self, left: Duration) -> String {
        format!(
            "monitoring {}: {} left",
            self.watched(),
            humanize(Duration::from_secs(left.as_secs()))
        )
    }

    /// The watched alarm in ALARM that went there first, with the time it did: what rolled the
    /// update back, as CloudWatch tells it.
    pub async fn fired(&self, clients: &Clients) -> Result<Option<(Alarm, DateTime)>, Error> {
        if self.alarms.is_empty() {
            return Ok(None);
        }
        let out = clients
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(self.alarms.iter().map(|a| a.name.clone()).collect()))
            .state_value(StateValue::Alarm)
            .send()
            .await
            .map_err(|e| crate::error::aws("DescribeAlarms", e))?;
        let mut fired: Vec<(Alarm, DateTime)> = out
            .metric_alarms()
            .iter()
            .filter_map(|m| {
                let at = *m.state_updated_timestamp()?;
                let alarm = self
                    .alarms
                    .iter()
                    .find(|a| Some(a.name.as_str()) == m.alarm_name())?;
                Some((alarm.clone(), at))
            })
            .collect();
        fired.sort_by_key(|(_, at)| at.secs());
        Ok(fired.into_iter().next())
    }
}

/// arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME, from the stack's own ARN, which names the
/// partition, region and account the alarm lives in.
fn alarm_arn(stack_id: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = stack_id.splitn(6, ':').collect();
    let [_, partition, "cloudformation", region, account, _] = parts[..] else {
        return None;
    };
    Some(format!(
        "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"
    ))
}

/// The warning for a stack without some of the alarms: it was made by an older template, and
/// this update creates them, so the next update is watched by them.
pub fn missing_warning(stack: &str, missing: &[&str]) -> Option<String> {
    (!missing.is_empty()).then(|| {
        format!(
            "Warning: stack {stack} has no {} (made by an older template): this update adds them, and rolls back on them from the next update on.",
            missing.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_lives_where_its_stack_does() {
        assert_eq!(
            alarm_arn(
                "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/web/0a1b",
                "web-Target5xxAlarm-ABC"
            )
            .as_deref(),
            Some("arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:web-Target5xxAlarm-ABC")
        );
        assert_eq!(alarm_arn("web", "x"), None);
    }

    #[test]
    fn the_configuration_names_every_alarm_and_the_window() {
        let window = Window {
            minutes: 15,
            alarms: vec![Alarm {
                logical_id: "Target5xxAlarm".into(),
                name: "web-Target5xxAlarm-ABC".into(),
                arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-Target5xxAlarm-ABC"
                    .into(),
            }],
        };
        let c = window.configuration();
        assert_eq!(c.monitoring_time_in_minutes(), Some(15));
        let arns: Vec<&str> = c
            .rollback_triggers()
            .iter()
            .filter_map(|t| t.arn())
            .collect();
        assert_eq!(
            arns,
            ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-Target5xxAlarm-ABC"]
        );
        assert_eq!(
            c.rollback_triggers()[0].r#type(),
            Some("AWS::CloudWatch::Alarm")
        );
        // An empty list, not none: CloudFormation would otherwise reuse the last triggers.
        let none = Window {
            minutes: 0,
            alarms: vec![],
        }
        .configuration();
        assert_eq!(none.rollback_triggers(), &[] as &[RollbackTrigger]);
        assert!(none.rollback_triggers.is_some());
        assert_eq!(
            window.opening_line(&DateTime::from_secs(1_800_000_000)),
            "New group in service; CloudFormation watches Target5xxAlarm for 15m (until 2027-01-15T08:15:00Z) and keeps the old group until then"
        );
    }

    #[test]
    fn only_missing_alarms_warn() {
        assert_eq!(missing_warning("web", &[]), None);
        assert_eq!(
            missing_warning("web", &["Target5xxAlarm", "ResponseTimeAlarm"]).as_deref(),
            Some(
                "Warning: stack web has no Target5xxAlarm, ResponseTimeAlarm (made by an older template): this update adds them, and rolls back on them from the next update on."
            )
        );
    }
}
