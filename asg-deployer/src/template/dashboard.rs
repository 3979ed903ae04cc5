//! The stack's CloudWatch dashboard, generated here and nowhere else: the widgets are a table of
//! metrics, each dimension naming the template resource it is read from, and the body is written
//! into the `Dashboard` resource's `Fn::Sub` slot of the app template. A unit test holds every
//! metric to what CloudWatch publishes for the resource it points at.

use serde_json::{Value, json};

use crate::error::Error;

/// Where the bodies go in the app template: the body is an `Fn::If` on `ScaleOnQueue`, with
/// the queue's graphs and alarms on its true side.
const BODY: &str = "/Resources/Dashboard/Properties/DashboardBody/Fn::If";
/// What marks the slot in the template file (a valid, empty body there, so that the file lints
/// on its own).
const SLOT_MARK: &str = "filled in by asg-deploy";

/// The template resource a dimension's value comes from, and how it is referenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `${LoadBalancer.LoadBalancerFullName}`: `app/NAME/ID`, as CloudWatch names the ALB.
    LoadBalancer,
    /// `${TargetGroupFullName}`: `targetgroup/NAME/ID`, the end of the target group's ARN (a
    /// variable the template defines from `Ref TargetGroup`: moto has no `TargetGroupFullName`
    /// attribute).
    TargetGroup,
    /// `${AppGroup}`: the Auto Scaling group's name (a new one per build; the dashboard follows).
    Group,
    /// `${QueueName}`: the queue a queue-scaled group follows (a template parameter).
    Queue,
}

impl Source {
    /// The logical id of the resource in the app template.
    pub fn resource(self) -> &'static str {
        match self {
            Source::LoadBalancer => "LoadBalancer",
            Source::TargetGroup => "TargetGroup",
            Source::Group => "AppGroup",
            Source::Queue => "QueueName",
        }
    }

    /// The `Fn::Sub` reference to the value CloudWatch uses as the dimension.
    fn reference(self) -> &'static str {
        match self {
            Source::LoadBalancer => "${LoadBalancer.LoadBalancerFullName}",
            Source::TargetGroup => "${TargetGroupFullName}",
            Source::Group => "${AppGroup}",
            Source::Queue => "${QueueName}",
        }
    }
}

/// One line of a graph.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub namespace: &'static str,
    pub name: &'static str,
    pub dimensions: &'static [(&'static str, Source)],
    /// `Sum`, `Average`, `Maximum`, a percentile such as `p99`.
    pub stat: &'static str,
    pub label: &'static str,
}

/// One graph.
#[derive(Debug, Clone, Copy)]
pub struct Graph {
    pub title: &'static str,
    pub metrics: &'static [Metric],
}

const ALB: &str = "AWS/ApplicationELB";
const LB: &[(&str, Source)] = &[("LoadBalancer", Source::LoadBalancer)];
const TG: &[(&str, Source)] = &[
    ("TargetGroup", Source::TargetGroup),
    ("LoadBalancer", Source::LoadBalancer),
];
const GROUP: &[(&str, Source)] = &[("AutoScalingGroupName", Source::Group)];
const QUEUE: &[(&str, Source)] = &[("QueueName", Source::Queue)];

/// The graphs, in reading order, two to a row.
pub const GRAPHS: &[Graph] = &[
    Graph {
        title: "Requests",
        metrics: &[Metric {
            namespace: ALB,
            name: "RequestCount",
            dimensions: LB,
            stat: "Sum",
            label: "requests",
        }],
    },
    Graph {
        title: "5xx responses",
        metrics: &[
            Metric {
                namespace: ALB,
                name: "HTTPCode_ELB_5XX_Count",
                dimensions: LB,
                stat: "Sum",
                label: "load balancer 5xx",
            },
            Metric {
                namespace: ALB,
                name: "HTTPCode_Target_5XX_Count",
                dimensions: TG,
                stat: "Sum",
                label: "target 5xx",
            },
        ],
    },
    Graph {
        title: "Target response time (seconds)",
        metrics: &[
            Metric {
                namespace: ALB,
                name: "TargetResponseTime",
                dimensions: TG,
                stat: "p50",
                label: "p50",
            },
            Metric {
                namespace: ALB,
                name: "TargetResponseTime",
                dimensions: TG,
                stat: "p99",
                label: "p99",
            },
        ],
    },
    Graph {
        title: "Hosts in the target group",
        metrics: &[
            Metric {
                namespace: ALB,
                name: "HealthyHostCount",
                dimensions: TG,
                stat: "Minimum",
                label: "healthy",
            },
            Metric {
                namespace: ALB,
                name: "UnHealthyHostCount",
                dimensions: TG,
                stat: "Maximum",
                label: "unhealthy",
            },
        ],
    },
    Graph {
        title: "Group CPU (percent)",
        metrics: &[Metric {
            namespace: "AWS/EC2",
            name: "CPUUtilization",
            dimensions: GROUP,
            stat: "Average",
            label: "average CPU",
        }],
    },
    Graph {
        title: "Instances in service",
        metrics: &[Metric {
            namespace: "AWS/AutoScaling",
            name: "GroupInServiceInstances",
            dimensions: GROUP,
            stat: "Average",
            label: "in service",
        }],
    },
];

/// The graphs a queue-scaled stack adds: the work waiting, and how long the oldest has waited.
pub const QUEUE_GRAPHS: &[Graph] = &[
    Graph {
        title: "Queue: visible messages",
        metrics: &[Metric {
            namespace: "AWS/SQS",
            name: "ApproximateNumberOfMessagesVisible",
            dimensions: QUEUE,
            stat: "Maximum",
            label: "visible",
        }],
    },
    Graph {
        title: "Queue: age of the oldest message (seconds)",
        metrics: &[Metric {
            namespace: "AWS/SQS",
            name: "ApproximateAgeOfOldestMessage",
            dimensions: QUEUE,
            stat: "Maximum",
            label: "oldest",
        }],
    },
];

/// The alarms every stack has (logical ids in the app template).
pub const ALARMS: [&str; 4] = [
    "LoadBalancer5xxAlarm",
    "Target5xxAlarm",
    "ResponseTimeAlarm",
    "UnhealthyHostsAlarm",
];
/// The scaling alarms of a CPU-scaled stack.
pub const CPU_ALARMS: [&str; 2] = ["CpuHighAlarm", "CpuLowAlarm"];
/// The scaling alarms of a queue-scaled stack.
pub const QUEUE_ALARMS: [&str; 2] = ["QueueHighAlarm", "QueueLowAlarm"];

const WIDTH: u32 = 12;
const HEIGHT: u32 = 6;

/// The dashboard body, as the `Fn::Sub` string CloudFormation fills in; `queue` for a
/// queue-scaled stack.
pub fn body(queue: bool) -> String {
    let graphs: Vec<&Graph> = if queue {
        GRAPHS.iter().chain(QUEUE_GRAPHS).collect()
    } else {
        GRAPHS.iter().collect()
    };
    let scaling = if queue { QUEUE_ALARMS } else { CPU_ALARMS };
    let mut widgets: Vec<Value> = graphs
        .iter()
        .enumerate()
        .map(|(i, graph)| {
            let metrics: Vec<Value> = graph
                .metrics
                .iter()
                .map(|m| {
                    let mut line = vec![json!(m.namespace), json!(m.name)];
                    for (dimension, source) in m.dimensions {
                        line.push(json!(dimension));
                        line.push(json!(source.reference()));
                    }
                    line.push(json!({ "stat": m.stat, "label": m.label }));
                    Value::Array(line)
                })
                .collect();
            json!({
                "type": "metric",
                "x": (i as u32 % 2) * WIDTH,
                "y": (i as u32 / 2) * HEIGHT,
                "width": WIDTH,
                "height": HEIGHT,
                "properties": {
                    "title": graph.title,
                    "region": "${AWS::Region}",
                    "view": "timeSeries",
                    "period": 60,
                    "metrics": metrics,
                }
            })
        })
        .collect();
    let rows = (graphs.len() as u32).div_ceil(2);
    widgets.push(json!({
        "type": "alarm",
        "x": 0,
        "y": rows * HEIGHT,
        "width": 2 * WIDTH,
        "height": 4,
        "properties": {
            "title": "Alarms",
            // From the alarm's name (its Ref) rather than its Arn attribute, which moto lacks.
            "alarms": ALARMS
                .iter()
                .chain(&scaling)
                .map(|a| format!("arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:${{{a}}}"))
                .collect::<Vec<_>>(),
        }
    }));
    json!({ "widgets": widgets }).to_string()
}

/// The `Fn::Sub` string of the body for a queue-scaled stack (`queue`) or a CPU-scaled one.
fn slot(queue: bool) -> String {
    format!("{BODY}/{}/Fn::Sub/0", if queue { 1 } else { 2 })
}

/// Writes both bodies into the template's `Dashboard` slots.
pub fn fill(template: &mut Value) -> Result<(), Error> {
    if template.pointer(&format!("{BODY}/0")) != Some(&json!("ScaleOnQueue")) {
        return Err(Error::Template(
            "the Dashboard body is not an Fn::If on ScaleOnQueue".into(),
        ));
    }
    for queue in [true, false] {
        match template.pointer_mut(&slot(queue)) {
            Some(s) if s.as_str().is_some_and(|s| s.contains(SLOT_MARK)) => {
                *s = Value::String(body(queue));
            }
            _ => {
                return Err(Error::Template(
                    "the Dashboard resource has no Fn::Sub DashboardBody slot to fill".into(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::template::APP_TEMPLATE;

    /// The `Fn::Sub` variables the template defines beside each body.
    fn variables(queue: bool) -> String {
        slot(queue).replace("Fn::Sub/0", "Fn::Sub/1")
    }

    /// What CloudWatch publishes, per namespace: each metric with the dimension sets it is
    /// published under (the ALB, EC2 and Auto Scaling user guides' metric tables).
    fn published(namespace: &str, name: &str) -> Vec<Vec<&'static str>> {
        let lb = vec!["LoadBalancer"];
        let tg = vec!["TargetGroup", "LoadBalancer"];
        match (namespace, name) {
            ("AWS/ApplicationELB", "RequestCount" | "HTTPCode_ELB_5XX_Count") => vec![lb],
            (
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count" | "TargetResponseTime" | "RequestCountPerTarget",
            ) => vec![lb, tg],
            ("AWS/ApplicationELB", "HealthyHostCount" | "UnHealthyHostCount") => vec![tg],
            ("AWS/EC2", "CPUUtilization") => vec![vec!["AutoScalingGroupName"]],
            ("AWS/AutoScaling", "GroupInServiceInstances") => vec![vec!["AutoScalingGroupName"]],
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible" | "ApproximateAgeOfOldestMessage") => {
                vec![vec!["QueueName"]]
            }
            _ => vec![],
        }
    }

    /// The template resource type each dimension's source must be.
    fn source_type(source: Source) -> &'static str {
        match source {
            Source::LoadBalancer => "AWS::ElasticLoadBalancingV2::LoadBalancer",
            Source::TargetGroup => "AWS::ElasticLoadBalancingV2::TargetGroup",
            Source::Group => "AWS::AutoScaling::AutoScalingGroup",
            Source::Queue => "String",
        }
    }

    #[test]
    fn every_metric_exists_on_the_resource_it_points_at() {
        let template: Value = serde_json::from_str(APP_TEMPLATE).unwrap();
        let resources = &template["Resources"];
        let parameters = &template["Parameters"];
        for graph in GRAPHS.iter().chain(QUEUE_GRAPHS) {
            for m in graph.metrics {
                let names: Vec<&str> = m.dimensions.iter().map(|(d, _)| *d).collect();
                assert!(
                    published(m.namespace, m.name).contains(&names),
                    "{} {} is not published with dimensions {names:?}",
                    m.namespace,
                    m.name
                );
                for (dimension, source) in m.dimensions {
                    let declared = if *source == Source::Queue {
                        &parameters[source.resource()]
                    } else {
                        &resources[source.resource()]
                    };
                    assert_eq!(
                        declared["Type"],
                        source_type(*source),
                        "{} of {} reads {}",
                        dimension,
                        m.name,
                        source.resource()
                    );
                }
                let stat_ok = matches!(m.stat, "Sum" | "Average" | "Minimum" | "Maximum")
                    || m.stat
                        .strip_prefix('p')
                        .and_then(|p| p.parse::<f64>().ok())
                        .is_some_and(|p| (0.0..=100.0).contains(&p));
                assert!(stat_ok, "{} has no statistic {}", m.name, m.stat);
            }
        }
        // The group publishes its GroupInServiceInstances only with metrics collection on.
        assert_eq!(
            resources["AppGroup"]["Properties"]["MetricsCollection"][0]["Granularity"],
            "1Minute"
        );
        assert!(
            resources["AppGroup"]["Properties"]["MetricsCollection"][0]
                .get("Metrics")
                .is_none(),
            "every group metric is collected"
        );
    }

    #[test]
    fn every_reference_names_a_template_resource_and_every_alarm_is_shown() {
        let template: Value = serde_json::from_str(APP_TEMPLATE).unwrap();
        let resources = template["Resources"].as_object().unwrap();
        let parameters = template["Parameters"].as_object().unwrap();
        for queue in [true, false] {
            let variables = template.pointer(&variables(queue)).unwrap();
            assert_eq!(
                variables["TargetGroupFullName"],
                json!({ "Fn::Select": [5, { "Fn::Split": [":", { "Ref": "TargetGroup" }] }] }),
                "arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID ends in the full name"
            );
            let body = body(queue);
            let refs: BTreeSet<&str> = body
                .split("${")
                .skip(1)
                .map(|r| r.split('}').next().unwrap())
                .collect();
            for r in &refs {
                let (resource, attribute) = r.split_once('.').unwrap_or((r, ""));
                if matches!(
                    resource,
                    "AWS::Region" | "AWS::Partition" | "AWS::AccountId"
                ) || variables.get(resource).is_some()
                {
                    continue;
                }
                if resource == "QueueName" {
                    assert!(queue, "only a queue-scaled body names the queue");
                    assert!(parameters.contains_key(resource));
                    continue;
                }
                assert!(
                    resources.contains_key(resource),
                    "${{{r}}} names no resource"
                );
                let resource = &resources[resource];
                let kind = resource["Type"].as_str().unwrap();
                let ok = match attribute {
                    "" => matches!(
                        kind,
                        "AWS::AutoScaling::AutoScalingGroup" | "AWS::CloudWatch::Alarm"
                    ),
                    "LoadBalancerFullName" => kind == "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    _ => false,
                };
                assert!(ok, "${{{r}}} is not an attribute of a {kind}");
                // A body may name only what exists in its mode.
                let wanted = if queue { "ScaleOnCpu" } else { "ScaleOnQueue" };
                assert_ne!(resource["Condition"], wanted, "${{{r}}}");
            }
            let parsed: Value = serde_json::from_str(&body).unwrap();
            let graphs = GRAPHS.len() + if queue { QUEUE_GRAPHS.len() } else { 0 };
            assert_eq!(parsed["widgets"].as_array().unwrap().len(), graphs + 1);
        }
        let alarms: BTreeSet<&str> = resources
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
            .map(|(id, _)| id.as_str())
            .collect();
        let shown: BTreeSet<&str> = ALARMS
            .into_iter()
            .chain(CPU_ALARMS)
            .chain(QUEUE_ALARMS)
            .collect();
        assert_eq!(alarms, shown);
    }

    #[test]
    fn the_bodies_fill_the_templates_slots_once() {
        let mut template: Value = serde_json::from_str(APP_TEMPLATE).unwrap();
        fill(&mut template).unwrap();
        for queue in [true, false] {
            assert_eq!(
                template.pointer(&slot(queue)).unwrap(),
                &Value::String(body(queue))
            );
        }
        assert!(body(true).contains("ApproximateAgeOfOldestMessage"));
        assert!(!body(false).contains("AWS/SQS"));
        assert!(fill(&mut template).is_err());
    }
}
