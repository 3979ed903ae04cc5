//! Every validation error of the settings table: one clear line each, exit 2, and no AWS call
//! (the endpoint points at a closed port, so any call would fail differently). Also `render`.

mod common;

use common::{Run, asg_deploy};

/// Settings that pass validation; each test breaks one of them.
fn good() -> Vec<(&'static str, String)> {
    vec![
        ("STACK_NAME", "web".into()),
        (
            "SUBNETS",
            "subnet-0123456789abcdef0,subnet-0fedcba9876543210".into(),
        ),
        (
            "AWSCERTIFICATE",
            "arn:aws:acm:eu-west-1:123456789012:certificate/1a2b3c4d-0000-1111-2222-333344445555"
                .into(),
        ),
        (
            "ARTIFACT_URL",
            "https://artifacts.example.com/app-7.jar".into(),
        ),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "eu-west-1".into()),
        // A closed port: validation must stop the command before anything is sent here.
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".into()),
    ]
}

fn with(key: &'static str, value: &str) -> Vec<(&'static str, String)> {
    let mut env = good();
    env.retain(|(k, _)| *k != key);
    env.push((key, value.to_string()));
    env
}

/// Runs `create` and checks it is refused with `message` as one `asg-deploy: error:` line.
fn refused(env: &[(&str, String)], message: &str) -> Run {
    let run = asg_deploy(&["create"], env);
    run.expect_code(2);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("asg-deploy: error: ") && l.contains(message)),
        "expected one error line containing {message:?}\n{run}"
    );
    assert!(
        !run.stderr.contains("127.0.0.1:9"),
        "no AWS call may happen\n{run}"
    );
    run
}

#[test]
fn ids_must_have_their_form() {
    refused(
        &with("SUBNETS", "subnet-0123456789abcdef0,net-2"),
        "SUBNETS entry \"net-2\" is not a subnet id",
    );
    refused(
        &with("SUBNETS", "subnet-0123456789abcdef0"),
        "fewer than two subnets",
    );
    refused(
        &with("SG_VALUE", "sg-12345678,group1"),
        "SG_VALUE entry \"group1\" is not a security group id",
    );
    refused(
        &with("AMIID", "ubuntu"),
        "AMIID \"ubuntu\" is not an AMI id",
    );
    refused(
        &with(
            "AWSCERTIFICATE",
            "arn:aws:iam::123456789012:server-certificate/web",
        ),
        "is not an ACM certificate ARN",
    );
}

#[test]
fn required_settings_are_named() {
    let mut env = good();
    env.retain(|(k, _)| !matches!(*k, "SUBNETS" | "AWSCERTIFICATE" | "STACK_NAME"));
    let run = refused(&env, "SUBNETS is required");
    run.expect_output("AWSCERTIFICATE is required")
        .expect_output("STACK_NAME is required");
}

#[test]
fn sizes_must_be_ordered_and_numbers() {
    let mut env = with("MINSIZE", "3");
    env.push(("MAXSIZE", "2".into()));
    refused(
        &env,
        "MINSIZE <= DESIREDCAPACITY <= MAXSIZE, got 3 <= 2 <= 2",
    );
    refused(
        &with("DESIREDCAPACITY", "two"),
        "DESIREDCAPACITY \"two\" is not a group size",
    );
}

#[test]
fn build_number_must_be_a_positive_integer() {
    refused(
        &with("BUILD_NUMBER", "0"),
        "BUILD_NUMBER \"0\" is not a positive integer",
    );
    refused(
        &with("BUILD_NUMBER", "-3"),
        "BUILD_NUMBER \"-3\" is not a positive integer",
    );
    refused(
        &with("BUILD_NUMBER", "1.5"),
        "BUILD_NUMBER \"1.5\" is not a positive integer",
    );
}

#[test]
fn boot_script_must_be_readable_and_fit_user_data() {
    refused(
        &with("CLOUD_INIT_PATH", "/nonexistent/boot.sh"),
        "CLOUD_INIT_PATH /nonexistent/boot.sh cannot be read",
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.sh");
    std::fs::write(
        &big,
        format!("#!/bin/bash\n{}\n", "echo padding\n".repeat(1300)),
    )
    .unwrap();
    refused(
        &with("CLOUD_INIT_PATH", big.to_str().unwrap()),
        "over EC2's 16384-byte limit",
    );
}

#[test]
fn other_settings_are_checked_too() {
    refused(
        &with("ARTIFACT_URL", "http://example.com/app.jar"),
        "ARTIFACT_URL \"http://example.com/app.jar\" is not an https URL",
    );
    refused(
        &with("DNSRECORD", "app.example.com"),
        "DNSRECORD is set but HOSTED_ZONE is not",
    );
    refused(
        &with("SSH_CIDR", "10.0.0.0/8"),
        "SSH_CIDR is set but KP is not",
    );
    refused(
        &with("INSTANCETYPE", "large"),
        "INSTANCETYPE \"large\" is not an EC2 instance type",
    );
    refused(
        &with("TIMEOUT", "soon"),
        "TIMEOUT \"soon\" is not a duration",
    );
    refused(
        &with("FETCH_URL", "https://example.com/fetch"),
        "FETCH_URL is set but FETCH_SHA256 is not",
    );
}

#[test]
fn render_prints_template_and_parameters_without_aws() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("boot.sh");
    std::fs::write(&script, "#!/bin/bash\necho custom-boot-marker\n").unwrap();
    let mut env = with("CLOUD_INIT_PATH", script.to_str().unwrap());
    env.push(("BUILD_NUMBER", "42".into()));
    let run = asg_deploy(&["render"], &env);
    run.expect_code(0)
        .expect_output("\"AWS::AutoScaling::AutoScalingGroup\"")
        .expect_output("echo custom-boot-marker")
        .expect_output("\"BuildNumber\": \"42\"")
        .expect_output("resolved from SSM at deploy time");
}
