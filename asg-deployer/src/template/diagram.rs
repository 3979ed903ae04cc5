//! A Graphviz `dot` picture of the two stacks, read from the embedded templates themselves so
//! the picture cannot drift from what is deployed: resources grouped by their type, and an edge
//! for each `Ref`, `Fn::GetAtt` and `Fn::Sub` reference between them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::error::Error;
use crate::template::{APP_TEMPLATE, BUCKET_TEMPLATE};

/// The clusters, in the order they are drawn.
const GROUPS: [&str; 5] = ["network", "load balancer", "fleet", "alarms", "bucket"];

/// App parameters that name a resource of the bucket stack: drawn as an edge into that stack.
const BUCKET_PARAMETERS: [(&str, &str); 1] = [("ConfigBucket", "ConfigBucket")];

/// Prefix of the bucket stack's node names, which could otherwise clash with the app's.
const BUCKET_PREFIX: &str = "config/";

/// The cluster a resource of `kind` (its `Type`) is drawn in; `None` for a type not placed yet.
pub fn group_of(kind: &str) -> Option<&'static str> {
    let service = kind.strip_prefix("AWS::")?.split("::").next()?;
    match service {
        _ if kind.starts_with("AWS::EC2::SecurityGroup") => Some("network"),
        "ElasticLoadBalancingV2" | "Route53" => Some("load balancer"),
        "AutoScaling" | "IAM" => Some("fleet"),
        _ if kind == "AWS::EC2::LaunchTemplate" => Some("fleet"),
        "CloudWatch" => Some("alarms"),
        "S3" => Some("bucket"),
        _ => None,
    }
}

/// The `dot` text of both stacks; sorted, so the same templates give the same bytes.
pub fn diagram() -> Result<String, Error> {
    let mut app = parse(APP_TEMPLATE, "app")?;
    crate::template::dashboard::fill(&mut app)?;
    let bucket = parse(BUCKET_TEMPLATE, "config-bucket")?;
    let mut nodes: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut edges = BTreeSet::new();
    for (prefix, template) in [("", &app), (BUCKET_PREFIX, &bucket)] {
        let resources = resources(template);
        for (name, resource) in &resources {
            let kind = resource["Type"].as_str().unwrap_or_default();
            let group = group_of(kind).ok_or_else(|| {
                Error::Invalid(vec![format!(
                    "resource {name} has type {kind}, which the diagram has no group for: add it to template::diagram::group_of."
                )])
            })?;
            nodes
                .entry(group)
                .or_default()
                .insert((format!("{prefix}{name}"), kind.to_string()));
            let mut referred = BTreeSet::new();
            references(resource, &mut referred);
            for to in &referred {
                if resources.contains_key(to.as_str()) && to != name {
                    edges.insert((format!("{prefix}{name}"), format!("{prefix}{to}"), None));
                } else if prefix.is_empty()
                    && let Some((_, target)) = BUCKET_PARAMETERS.iter().find(|(p, _)| p == to)
                {
                    edges.insert((
                        name.to_string(),
                        format!("{BUCKET_PREFIX}{target}"),
                        Some(to.clone()),
                    ));
                }
            }
        }
    }
    let mut out = String::from(
        "digraph stack {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
    );
    for group in GROUPS {
        let Some(members) = nodes.get(group) else {
            continue;
        };
        let id = group.replace(' ', "_");
        let label = if group == "bucket" {
            "bucket (stack <STACK_NAME>-config)"
        } else {
            group
        };
        let _ = writeln!(out, "  subgraph cluster_{id} {{\n    label=\"{label}\";");
        for (node, kind) in members {
            let short = node.strip_prefix(BUCKET_PREFIX).unwrap_or(node);
            let _ = writeln!(out, "    \"{node}\" [label=\"{short}\\n{kind}\"];");
        }
        out.push_str("  }\n");
    }
    for (from, to, parameter) in &edges {
        match parameter {
            None => {
                let _ = writeln!(out, "  \"{from}\" -> \"{to}\";");
            }
            Some(p) => {
                let _ = writeln!(
                    out,
                    "  \"{from}\" -> \"{to}\" [style=dashed, label=\"parameter {p}\"];"
                );
            }
        }
    }
    out.push_str("}\n");
    Ok(out)
}

fn parse(text: &str, which: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| {
        Error::Invalid(vec![format!(
            "the embedded {which} template is not JSON ({e}): rebuild asg-deploy from a clean checkout."
        )])
    })
}

fn resources(template: &Value) -> BTreeMap<&str, &Value> {
    template["Resources"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

/// Adds to `found` the names `value` refers to with `Ref`, `Fn::GetAtt` or `${...}` in `Fn::Sub`
/// (resources and parameters alike; the caller keeps the ones it draws).
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Ref") {
                found.insert(name.clone());
            }
            match map.get("Fn::GetAtt") {
                Some(Value::Array(parts)) => {
                    if let Some(Value::String(name)) = parts.first() {
                        found.insert(name.clone());
                    }
                }
                Some(Value::String(dotted)) => {
                    found.insert(dotted.split('.').next().unwrap_or_default().to_string());
                }
                _ => {}
            }
            if let Some(sub) = map.get("Fn::Sub") {
                let text = sub.as_str().or_else(|| sub.get(0).and_then(Value::as_str));
                for piece in text.unwrap_or("").split("${").skip(1) {
                    if let Some((name, _)) = piece.split_once('}')
                        && !name.starts_with('!')
                    {
                        found.insert(name.split('.').next().unwrap_or_default().to_string());
                    }
                }
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed picture, which `scripts/diagram` regenerates.
    const COMMITTED: &str = include_str!("../../../docs/stack.dot");

    #[test]
    fn every_resource_of_both_templates_has_a_group() {
        for text in [APP_TEMPLATE, BUCKET_TEMPLATE] {
            let template: Value = serde_json::from_str(text).unwrap();
            for (name, resource) in resources(&template) {
                let kind = resource["Type"].as_str().unwrap();
                let group = group_of(kind);
                assert!(
                    group.is_some_and(|g| GROUPS.contains(&g)),
                    "{name} ({kind}) has no group in template::diagram::group_of"
                );
            }
        }
    }

    #[test]
    fn committed_diagram_matches_the_templates() {
        assert!(
            diagram().unwrap() == COMMITTED,
            "docs/stack.dot no longer matches the templates: run scripts/diagram and commit docs/stack.dot and docs/stack.svg"
        );
    }

    #[test]
    fn references_are_edges_and_the_bucket_parameter_links_the_stacks() {
        let dot = diagram().unwrap();
        assert!(dot.contains("  \"AppGroup\" -> \"LaunchTemplate\";\n"));
        assert!(dot.contains("  \"AppGroup\" -> \"TargetGroup\";\n"));
        assert!(dot.contains("  \"config/ConfigBucketPolicy\" -> \"config/ConfigBucket\";\n"));
        assert!(dot.contains(
            "  \"InstanceRole\" -> \"config/ConfigBucket\" [style=dashed, label=\"parameter ConfigBucket\"];\n"
        ));
        // Parameters and pseudo parameters are not nodes.
        assert!(!dot.contains("\"BuildNumber\""));
        assert!(!dot.contains("AWS::StackName"));
    }

    #[test]
    fn references_reads_every_form() {
        let v = serde_json::json!({
            "a": {"Ref": "One"},
            "b": {"Fn::GetAtt": ["Two", "Arn"]},
            "c": {"Fn::GetAtt": "Three.Arn"},
            "d": {"Fn::Sub": ["${Four.Name}-${!Literal}", {"X": 1}]},
        });
        let mut found = BTreeSet::new();
        references(&v, &mut found);
        let want: BTreeSet<String> = ["One", "Two", "Three", "Four"].map(String::from).into();
        assert_eq!(found, want);
    }
}
