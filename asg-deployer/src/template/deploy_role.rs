//! The deploy-role stack (`render --deploy-role`): created once per app stack, it holds the role a
//! CI system assumes through GitHub's OIDC to run asg-deploy, and the role CloudFormation assumes
//! to build the stacks' resources. The CI role may call exactly what this crate calls; a unit test
//! reads the crate's own source to keep the two lists equal.

/// The template, as `render --deploy-role` prints it.
pub const DEPLOY_ROLE_TEMPLATE: &str = include_str!("../../templates/deploy-role.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use serde_json::Value;

    use super::DEPLOY_ROLE_TEMPLATE;

    /// The fields of `aws::Clients` and the IAM prefix of their service.
    const SERVICES: [(&str, &str); 9] = [
        ("cfn", "cloudformation"),
        ("s3", "s3"),
        ("ec2", "ec2"),
        ("ssm", "ssm"),
        ("autoscaling", "autoscaling"),
        ("elb", "elasticloadbalancing"),
        ("cloudwatch", "cloudwatch"),
        ("sts", "sts"),
        ("sqs", "sqs"),
    ];

    /// Operations whose IAM action is not the operation's own name, and the ones IAM does not
    /// check at all.
    fn iam_action(prefix: &str, operation: &str) -> Option<String> {
        let action = match (prefix, operation) {
            ("sts", "GetCallerIdentity") => return None,
            ("s3", "ListObjectsV2") => "ListBucket",
            ("s3", "HeadObject") => "GetObject",
            (_, op) => op,
        };
        Some(format!("{prefix}:{action}"))
    }

    fn pascal(snake: &str) -> String {
        snake
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Only the code that runs: a file's unit tests (at its end) call mocks.
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                // One space between words, none around a `.`: a call chain on one line.
                let squeezed = code
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .replace(" .", ".")
                    .replace(". ", ".");
                out.push((path.display().to_string(), squeezed));
            }
        }
    }

    /// Every SDK call in the crate. `.send()` ends each one, and the call it ends starts with a
    /// client followed by the operation: a field of `Clients` (or a binding of that name), or
    /// `client` in the files that import CloudFormation's `Client`. The other `.send()`s are the
    /// health check's HTTPS GETs (`client.get(url)` on a `reqwest::Client`); any other `.send()`
    /// fails the test, so a call made through a new name cannot slip past it.
    fn calls() -> BTreeSet<String> {
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut actions = BTreeSet::new();
        for (path, code) in &files {
            let mut receivers: Vec<(String, &str)> = SERVICES
                .iter()
                .map(|(field, prefix)| (format!("{field}."), *prefix))
                .collect();
            if code.contains("use aws_sdk_cloudformation::Client;") {
                receivers.push(("client.".into(), "cloudformation"));
            } else {
                receivers.push(("client.".into(), "http"));
            }
            for (i, _) in code.match_indices(".send()") {
                let before = &code[..i];
                let (prefix, operation) = receivers
                    .iter()
                    .filter_map(|(r, prefix)| {
                        let at = before.rfind(r.as_str()).filter(|at| {
                            *at == 0
                                || !before.as_bytes()[at - 1].is_ascii_alphanumeric()
                                    && before.as_bytes()[at - 1] != b'_'
                        })? + r.len();
                        let op: String = before[at..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        Some((at, *prefix, op))
                    })
                    .max_by_key(|(at, _, _)| *at)
                    .map(|(_, prefix, op)| (prefix, op))
                    .unwrap_or_else(|| panic!("a .send() in {path} follows no known client"));
                if prefix == "http" {
                    assert_eq!(operation, "get", "an HTTP call in {path} that is not a GET");
                    continue;
                }
                if let Some(action) = iam_action(prefix, &pascal(&operation)) {
                    actions.insert(action);
                }
            }
        }
        actions
    }

    fn allowed() -> BTreeSet<String> {
        let template: Value = serde_json::from_str(DEPLOY_ROLE_TEMPLATE).unwrap();
        let statements = template["Resources"]["DeployRole"]["Properties"]["Policies"][0]
            ["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone();
        statements
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                other => panic!("{other}"),
            })
            .filter(|a| a != "iam:PassRole")
            .collect()
    }

    #[test]
    fn the_deploy_role_allows_exactly_the_calls_the_crate_makes() {
        let calls = calls();
        let allowed = allowed();
        assert!(
            calls.contains("cloudformation:UpdateStack") && calls.contains("s3:PutObject"),
            "{calls:#?}"
        );
        let missing: Vec<_> = calls.difference(&allowed).collect();
        let unused: Vec<_> = allowed.difference(&calls).collect();
        assert!(
            missing.is_empty() && unused.is_empty(),
            "the deploy role lacks {missing:?} and allows unused {unused:?}"
        );
    }

    #[test]
    fn the_stack_writes_require_the_stack_role() {
        let template: Value = serde_json::from_str(DEPLOY_ROLE_TEMPLATE).unwrap();
        let statements = &template["Resources"]["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"]
            ["Statement"];
        let writes = statements
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["Action"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == "cloudformation:UpdateStack"))
            })
            .unwrap();
        assert_eq!(
            writes["Condition"]["StringEquals"]["cloudformation:RoleArn"]["Fn::GetAtt"],
            serde_json::json!(["StackRole", "Arn"])
        );
    }
}
