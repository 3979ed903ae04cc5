//! Reading CloudFormation stacks: their state, parameters, outputs and stored template, and what
//! each status means for the rollout.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Stack, TemplateStage};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::Value;

use crate::error::{AwsErrorKind, Error, classify};

/// What the tool needs to know about a stack.
#[derive(Debug, Clone, Default)]
pub struct StackInfo {
    /// Stack id (ARN); stays valid after deletion, unlike the name.
    pub id: String,
    /// Stack name.
    pub name: String,
    /// CloudFormation status, e.g. UPDATE_COMPLETE.
    pub status: String,
    /// Why it is in that status, when CloudFormation says.
    pub reason: Option<String>,
    /// Parameters as stored.
    pub parameters: BTreeMap<String, String>,
    /// Outputs by key.
    pub outputs: BTreeMap<String, String>,
    /// When it last changed, RFC 3339.
    pub updated: Option<String>,
    /// The SNS topics told of its events.
    pub notification_arns: Vec<String>,
}

impl StackInfo {
    /// The build the stack runs, from its BuildNumber parameter.
    pub fn build_number(&self) -> Option<u64> {
        self.parameters.get("BuildNumber")?.parse().ok()
    }

    /// Whether the group scales on a queue (SCALE_ON=sqs), which lets it run no instance.
    pub fn queue_scaled(&self) -> bool {
        self.parameters.get("ScaleOn").is_some_and(|v| v == "sqs")
    }

    fn from_sdk(s: &Stack) -> StackInfo {
        StackInfo {
            id: s.stack_id().unwrap_or_default().to_string(),
            name: s.stack_name().unwrap_or_default().to_string(),
            status: s
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: s.stack_status_reason().map(str::to_string),
            parameters: s
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_string(),
                        p.parameter_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| {
                    Some((
                        o.output_key()?.to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            updated: s.last_updated_time().or(s.creation_time()).map(format_time),
            notification_arns: s.notification_arns().to_vec(),
        }
    }
}

/// The stack named (or with the id) `name`, or `None` when it does not exist.
pub async fn describe(cfn: &Client, name: &str) -> Result<Option<StackInfo>, Error> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().map(StackInfo::from_sdk)),
        Err(e) => {
            let c = classify(&e);
            if c.kind == AwsErrorKind::NotFound {
                Ok(None)
            } else {
                Err(c.into_error("DescribeStacks"))
            }
        }
    }
}

/// The template the stack was last deployed with, parsed, when it is JSON.
pub async fn template(cfn: &Client, name: &str) -> Result<Option<Value>, Error> {
    let out = cfn
        .get_template()
        .stack_name(name)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| crate::error::aws("GetTemplate", e))?;
    Ok(out
        .template_body()
        .and_then(|body| serde_json::from_str(body).ok()))
}

/// CloudFormation is still working on the stack.
pub fn is_in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS")
}

/// The stack's last operation succeeded.
pub fn is_success(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "DELETE_COMPLETE" | "IMPORT_COMPLETE"
    )
}

/// States from which `update` may start.
pub fn is_updatable(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE"
            | "UPDATE_COMPLETE"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "IMPORT_COMPLETE"
            | "IMPORT_ROLLBACK_COMPLETE"
    )
}

/// RFC 3339 to the second, as the CloudFormation console shows it.
pub fn format_time(t: &DateTime) -> String {
    let secs = DateTime::from_secs(t.secs());
    secs.fmt(Format::DateTime)
        .unwrap_or_else(|_| t.secs().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert!(is_in_progress("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(is_in_progress("REVIEW_IN_PROGRESS"));
        assert!(!is_in_progress("UPDATE_ROLLBACK_COMPLETE"));
        assert!(is_success("UPDATE_COMPLETE"));
        assert!(!is_success("UPDATE_ROLLBACK_COMPLETE"));
        assert!(is_updatable("UPDATE_ROLLBACK_COMPLETE"));
        assert!(!is_updatable("ROLLBACK_COMPLETE"));
        assert!(!is_updatable("UPDATE_ROLLBACK_FAILED"));
    }
}
