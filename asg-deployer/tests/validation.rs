//! Every validation error of the settings table: one clear line each, exit 2, and no AWS call
//! (the endpoint points at a closed port, so any call would fail differently). Also `render`.

mod common;

use common::{Run, asg_deploy, asg_deploy_alone, linux_executable};

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
        // An image with fetch in it: stock Ubuntu would need FETCH_URL.
        ("AMIID", "ami-0123456789abcdef0".into()),
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
    env.retain(|(k, _)| *k != "AMIID");
    env.push(("BUILD_NUMBER", "42".into()));
    let run = asg_deploy(&["render"], &env);
    run.expect_code(0)
        .expect_output("\"AWS::AutoScaling::AutoScalingGroup\"")
        .expect_output("echo custom-boot-marker")
        .expect_output("\"BuildNumber\": \"42\"")
        .expect_output("resolved from SSM at deploy time");
}

#[test]
fn stock_images_get_the_fetch_beside_asg_deploy_or_fetch_binary() {
    let mut stock = good();
    stock.retain(|(k, _)| *k != "AMIID");
    let refused_alone = |env: &[(&str, String)], message: &str| {
        let run = asg_deploy_alone(&["create"], env);
        run.expect_code(2).expect_output(message);
        assert!(
            !run.stderr.contains("127.0.0.1:9"),
            "no AWS call may happen\n{run}"
        );
    };
    refused_alone(
        &stock,
        "Stock images have no fetch for the boot script, and ",
    );
    refused_alone(
        &stock,
        "/fetch does not exist: set FETCH_BINARY to a Linux fetch for x86_64 instances (cargo build --release -p downloader --target x86_64-unknown-linux-musl), FETCH_URL and FETCH_SHA256 to one you host, or AMIID to an image with /usr/local/bin/fetch.",
    );

    let dir = tempfile::tempdir().unwrap();
    let x86 = linux_executable(dir.path(), "x86_64").display().to_string();
    let arm = linux_executable(dir.path(), "arm64").display().to_string();
    let mut given = stock.clone();
    given.push(("FETCH_BINARY", x86.clone()));
    // Past validation, the first AWS call fails on the closed port instead: exit 1.
    asg_deploy_alone(&["create"], &given).expect_code(1);
    given.push(("INSTANCETYPE", "t4g.small".into()));
    refused(
        &given,
        &format!(
            "FETCH_BINARY {x86} is an x86_64 build, but the instance type runs arm64: point it at a Linux fetch for arm64 instances (a static build: cargo build --release -p downloader --target aarch64-unknown-linux-musl)."
        ),
    );
    given.retain(|(k, _)| *k != "FETCH_BINARY");
    given.push(("FETCH_BINARY", arm));
    asg_deploy(&["create"], &given).expect_code(1);
    let mut script = stock.clone();
    script.push(("FETCH_BINARY", "Cargo.toml".into()));
    refused(
        &script,
        "FETCH_BINARY Cargo.toml is not a 64-bit Linux executable for x86_64 or arm64: point it at",
    );
    script.push(("FETCH_URL", "https://example.com/fetch".into()));
    script.push(("FETCH_SHA256", "a".repeat(64)));
    refused(&script, "FETCH_BINARY and FETCH_URL are both set");

    let mut with_url = stock.clone();
    with_url.push(("FETCH_URL", "https://example.com/fetch".into()));
    with_url.push(("FETCH_SHA256", "a".repeat(64)));
    for env in [&with_url, &good()] {
        asg_deploy_alone(&["create"], env).expect_code(1);
    }
}

#[test]
fn base_image_is_one_of_the_stock_images() {
    refused(
        &with("BASE_IMAGE", "debian-12"),
        "BASE_IMAGE \"debian-12\" is not a stock image asg-deploy knows: use ubuntu-24.04 or debian-13, or AMIID for any other image.",
    );
    let mut debian = with("BASE_IMAGE", "debian-13");
    debian.retain(|(k, _)| *k != "AMIID");
    let dir = tempfile::tempdir().unwrap();
    debian.push((
        "FETCH_BINARY",
        linux_executable(dir.path(), "x86_64").display().to_string(),
    ));
    asg_deploy(&["render"], &debian)
        .expect_code(0)
        .expect_output("<Debian 13 AMI, resolved from SSM at deploy time>")
        .expect_output("\"FetchUrl\": \"\"");
}

#[test]
fn switches_from_the_environment_take_the_usual_spellings() {
    for value in ["true", "yes", "1", "on", "false", "no", "0", "off"] {
        asg_deploy(&["render"], &with("WAIT_FOR_IDLE", value)).expect_code(0);
    }
    let run = asg_deploy(&["render"], &with("WAIT_FOR_IDLE", "maybe"));
    run.expect_code(2);
    assert!(run.stderr.contains("maybe"), "{run}");
}

#[test]
fn where_to_deploy_is_checked() {
    refused(
        &with("STACK_NAME", "9-web"),
        "STACK_NAME \"9-web\" is not a valid stack name",
    );
    refused(
        &with("REGION", "Ireland"),
        "REGION \"Ireland\" is not an AWS region name",
    );
    refused(
        &with("AWS_ENDPOINT_URL", "localhost:5000"),
        "AWS_ENDPOINT_URL \"localhost:5000\" is not an http(s) URL",
    );
    let mut env = good();
    env.retain(|(k, _)| *k != "AWS_REGION");
    refused(&env, "no AWS region: set REGION (or AWS_REGION)");
}

#[test]
fn access_settings_are_checked() {
    refused(
        &with("KP", "it's-mine"),
        "KP \"it's-mine\" is not a key pair name",
    );
    let mut env = with("KP", "ops");
    env.push(("SSH_CIDR", "10.0.0.0/33".into()));
    refused(&env, "SSH_CIDR \"10.0.0.0/33\" is not an IPv4 CIDR");
    refused(
        &with("HOSTED_ZONE", "example.com"),
        "HOSTED_ZONE is set but DNSRECORD is not",
    );
    let mut env = with("DNSRECORD", "app.example.org");
    env.push(("HOSTED_ZONE", "example.com".into()));
    refused(
        &env,
        "DNSRECORD \"app.example.org\" is not inside HOSTED_ZONE \"example.com\"",
    );
    let mut env = with("DNSRECORD", "app");
    env.push(("HOSTED_ZONE", "example.com".into()));
    refused(&env, "DNSRECORD \"app\" is not a DNS name");
}

#[test]
fn sizes_have_bounds() {
    refused(
        &with("MAXSIZE", "10001"),
        "MAXSIZE \"10001\" is not a group size",
    );
    let mut env = with("MINSIZE", "0");
    env.push(("DESIREDCAPACITY", "0".into()));
    refused(&env, "DESIREDCAPACITY must be at least 1");
}

#[test]
fn names_urls_and_checksums_are_checked() {
    refused(
        &with("CONFIG_BUCKET", "My_Bucket"),
        "CONFIG_BUCKET \"My_Bucket\" is not a valid bucket name",
    );
    refused(
        &with("APP_NAME", "My App"),
        "APP_NAME \"My App\" is not a valid name",
    );
    refused(
        &with("ALARM_TOPIC_ARN", "alerts"),
        "ALARM_TOPIC_ARN \"alerts\" is not an SNS topic ARN",
    );
    refused(
        &with("ARTIFACT_URL", "https://example.com/app.jar#md5=abc"),
        "has a fragment other than #sha256=<64 hex digits>",
    );
    let mut env = with("FETCH_URL", "https://example.com/fetch");
    env.push(("FETCH_SHA256", "abc".into()));
    refused(&env, "FETCH_SHA256 \"abc\" is not a SHA-256");
    refused(
        &with("FETCH_SHA256", &"a".repeat(64)),
        "FETCH_SHA256 is set but FETCH_URL is not",
    );
}

#[test]
fn boot_script_must_be_text() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("boot.bin");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    refused(
        &with("CLOUD_INIT_PATH", binary.to_str().unwrap()),
        "is not UTF-8 text",
    );
}

#[test]
fn health_check_settings_are_checked() {
    refused(
        &with("HEALTH_CHECK_URL", "http://app.example.com/"),
        "HEALTH_CHECK_URL \"http://app.example.com/\" is not an https URL",
    );
    refused(
        &with("HEALTH_CHECK_CA_CERT", "/nonexistent/ca.pem"),
        "HEALTH_CHECK_CA_CERT /nonexistent/ca.pem cannot be read",
    );
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    refused(
        &with("HEALTH_CHECK_CA_CERT", not_pem.to_str().unwrap()),
        "holds no PEM certificate",
    );
    let run = asg_deploy(&["create"], &with("HEALTH_CHECK", "sometimes"));
    run.expect_code(2)
        .expect_output("invalid value 'sometimes' for '--health-check <HEALTH_CHECK>'");
}

#[test]
fn an_unknown_profile_is_refused_before_any_call() {
    let mut env = with("PROFILE", "nowhere");
    env.retain(|(k, _)| !matches!(*k, "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY"));
    refused(
        &env,
        "PROFILE \"nowhere\" is not in ~/.aws/config or ~/.aws/credentials (there is none)",
    );
}

#[test]
fn credential_errors_stay_on_one_line() {
    let mut env = good();
    env.retain(|(k, _)| !matches!(*k, "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY"));
    let run = refused(&env, "no AWS credentials found");
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
}
