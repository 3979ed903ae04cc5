//! The arithmetic of a queue-scaled group (SCALE_ON=sqs:QUEUE), as the template's two alarms
//! compute it with CloudWatch metric math: the queue's visible messages per instance in service,
//! with "messages and no instance" counted as far above any threshold, so that a group at 0 starts
//! an instance as soon as work arrives. Written out here so that unit tests can say what the
//! group does for a given queue and fleet.

/// The alarms' expression: `m1` is the queue's ApproximateNumberOfMessagesVisible, `m2` the
/// group's GroupInServiceInstances (each missing point read as 0).
pub const BACKLOG_EXPRESSION: &str =
    "IF(FILL(m2, 0) > 0, FILL(m1, 0) / FILL(m2, 0), IF(FILL(m1, 0) > 0, 1000000, 0))";

/// What the expression answers for messages waiting on a group with no instance in service.
pub const NO_INSTANCE_BACKLOG: f64 = 1_000_000.0;

/// The expression, evaluated: visible messages per instance in service.
pub fn backlog(visible: f64, in_service: f64) -> f64 {
    if in_service > 0.0 {
        visible / in_service
    } else if visible > 0.0 {
        NO_INSTANCE_BACKLOG
    } else {
        0.0
    }
}

/// The change the step policies make to the group's desired capacity while the backlog stays
/// where it is (each alarm needs two minutes past its threshold): +1 above `up`, -1 below
/// `down`, never under `min` or over `max`.
pub fn adjustment(visible: f64, in_service: u32, up: u32, down: u32, min: u32, max: u32) -> i32 {
    let backlog = backlog(visible, f64::from(in_service));
    if backlog > f64::from(up) && in_service < max {
        1
    } else if backlog < f64::from(down) && in_service > min {
        -1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::template::APP_TEMPLATE;

    #[test]
    fn both_alarms_compute_the_expression_on_the_queue_and_the_group() {
        let t: Value = serde_json::from_str(APP_TEMPLATE).unwrap();
        for (alarm, threshold, op, policy, step) in [
            (
                "QueueHighAlarm",
                "ScaleUpMessages",
                "GreaterThanThreshold",
                "QueueScaleUpPolicy",
                ("MetricIntervalLowerBound", 1),
            ),
            (
                "QueueLowAlarm",
                "ScaleDownMessages",
                "LessThanThreshold",
                "QueueScaleDownPolicy",
                ("MetricIntervalUpperBound", -1),
            ),
        ] {
            let a = &t["Resources"][alarm];
            assert_eq!(a["Condition"], "ScaleOnQueue");
            let p = &a["Properties"];
            let metrics = p["Metrics"].as_array().unwrap();
            let by_id = |id: &str| metrics.iter().find(|m| m["Id"] == id).unwrap();
            assert_eq!(by_id("backlog")["Expression"], BACKLOG_EXPRESSION);
            assert_eq!(by_id("backlog")["ReturnData"], true);
            let m1 = &by_id("m1")["MetricStat"]["Metric"];
            assert_eq!(
                (&m1["Namespace"], &m1["MetricName"]),
                (
                    &"AWS/SQS".into(),
                    &"ApproximateNumberOfMessagesVisible".into()
                )
            );
            assert_eq!(m1["Dimensions"][0]["Value"]["Ref"], "QueueName");
            let m2 = &by_id("m2")["MetricStat"]["Metric"];
            assert_eq!(m2["MetricName"], "GroupInServiceInstances");
            assert_eq!(m2["Dimensions"][0]["Value"]["Ref"], "AppGroup");
            assert_eq!(p["Threshold"]["Ref"], threshold);
            assert_eq!(p["ComparisonOperator"], op);
            assert_eq!(p["AlarmActions"][0]["Ref"], policy);
            let policy = &t["Resources"][policy];
            assert_eq!(policy["Condition"], "ScaleOnQueue");
            assert_eq!(policy["Properties"]["PolicyType"], "StepScaling");
            let adjustment = &policy["Properties"]["StepAdjustments"][0];
            assert_eq!(adjustment[step.0], 0);
            assert_eq!(adjustment["ScalingAdjustment"], step.1);
        }
        // A CPU-scaled stack keeps its CPU alarms and nothing of the queue's.
        for cpu in [
            "CpuHighAlarm",
            "CpuLowAlarm",
            "ScaleUpPolicy",
            "ScaleDownPolicy",
        ] {
            assert_eq!(t["Resources"][cpu]["Condition"], "ScaleOnCpu", "{cpu}");
        }
        let most = t["Parameters"]["ScaleUpMessages"]["MaxValue"]
            .as_f64()
            .unwrap();
        assert!(
            most < NO_INSTANCE_BACKLOG,
            "messages with no instance must always scale up"
        );
    }

    #[test]
    fn the_group_follows_the_backlog_per_instance() {
        // 450 messages on 3 instances is 150 each: above 100, one more.
        assert_eq!(adjustment(450.0, 3, 100, 10, 0, 10), 1);
        // 20 on 3 is under 7 each: below 10, one fewer.
        assert_eq!(adjustment(20.0, 3, 100, 10, 0, 10), -1);
        // 150 on 3 is 50 each: between the thresholds, no change.
        assert_eq!(adjustment(150.0, 3, 100, 10, 0, 10), 0);
        // Exactly at a threshold is not past it.
        assert_eq!(adjustment(300.0, 3, 100, 10, 0, 10), 0);
        assert_eq!(adjustment(30.0, 3, 100, 10, 0, 10), 0);
        // At MAXSIZE or MINSIZE the policy has nowhere to go.
        assert_eq!(adjustment(5000.0, 10, 100, 10, 0, 10), 0);
        assert_eq!(adjustment(0.0, 1, 100, 10, 1, 10), 0);
    }

    #[test]
    fn an_empty_group_starts_when_work_arrives_and_an_empty_queue_empties_it() {
        assert_eq!(backlog(1.0, 0.0), NO_INSTANCE_BACKLOG);
        assert_eq!(adjustment(1.0, 0, 100_000, 10, 0, 3), 1);
        assert_eq!(backlog(0.0, 0.0), 0.0);
        assert_eq!(adjustment(0.0, 0, 100, 10, 0, 3), 0);
        // The queue drained: the last instance goes.
        assert_eq!(adjustment(0.0, 1, 100, 10, 0, 3), -1);
        // SCALE_DOWN_MESSAGES 0 never removes an instance below MAXSIZE by backlog alone.
        assert_eq!(adjustment(0.0, 2, 100, 0, 0, 3), 0);
    }
}
