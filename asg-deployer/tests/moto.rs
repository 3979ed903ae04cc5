//! The rollout against a real moto server: create, a higher build replacing the group, the
//! refusals, in-place changes, "nothing to update", the config bucket, plan, status, delete.

mod common;

use common::{
    Moto, Network, asg_deploy, asg_deploy_alone, deploy_env, linux_executable, subnet, with,
};

/// Name, build tag, launch template version and desired size of the stack's current group.
async fn group(moto: &Moto, stack: &str) -> (String, String, String, i32) {
    let clients = moto.clients();
    let info = asg_deployer::aws::stack::describe(&clients.cfn, stack)
        .await
        .unwrap()
        .expect("the stack exists");
    let name = info.outputs["GroupName"].clone();
    let out = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&name)
        .send()
        .await
        .unwrap();
    let g = &out.auto_scaling_groups()[0];
    let tag = g
        .tags()
        .iter()
        .find(|t| t.key() == Some("BuildNumber"))
        .and_then(|t| t.value())
        .unwrap_or_default()
        .to_string();
    let version = g
        .launch_template()
        .and_then(|lt| lt.version())
        .unwrap_or_default()
        .to_string();
    (name, tag, version, g.desired_capacity().unwrap_or_default())
}

/// The `deletion_protection.enabled` attribute of the stack's load balancer.
async fn load_balancer_protection(moto: &Moto, stack: &str) -> String {
    let clients = moto.clients();
    let arn = clients
        .cfn
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .unwrap()
        .stack_resources()
        .iter()
        .find(|r| r.logical_resource_id() == Some("LoadBalancer"))
        .and_then(|r| r.physical_resource_id())
        .unwrap()
        .to_string();
    let out = clients
        .elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .unwrap();
    out.attributes()
        .iter()
        .find(|a| a.key() == Some("deletion_protection.enabled"))
        .and_then(|a| a.value())
        .unwrap_or_default()
        .to_string()
}

/// The body of dashboard `name`, read through boto3: moto does not answer the Rust SDK's
/// CloudWatch protocol.
fn dashboard_body(moto: &Moto, name: &str) -> serde_json::Value {
    let script = "import boto3, sys\n\
        cw = boto3.client('cloudwatch', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
            aws_access_key_id='test', aws_secret_access_key='test')\n\
        print(cw.get_dashboard(DashboardName=sys.argv[2])['DashboardBody'])\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, &moto.endpoint, name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn rollout_lifecycle() {
    let moto = Moto::start();
    let net = moto.network().await;
    let env1 = deploy_env(&moto, &net, "web", 1);

    let created = asg_deploy(&["create"], &env1);
    created
        .expect_code(0)
        .expect_output("Creating the config bucket stack web-config")
        .expect_output("CREATE_COMPLETE")
        .expect_output("LoadBalancerDnsName")
        .expect_output("Url                  https://")
        .expect_output("DashboardUrl         https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=")
        .expect_output("healthy in the target group");
    let (group1, tag1, version1, _) = group(&moto, "web").await;
    assert_eq!(tag1, "1");
    // The dashboard graphs this build's group and the stack's target group (moto leaves the
    // load balancer's LoadBalancerFullName and the alarms' names unresolved in it).
    let dashboard = dashboard_body(&moto, "web").to_string();
    assert!(
        dashboard.contains(&format!("\"AutoScalingGroupName\",\"{group1}\"")),
        "{dashboard}"
    );
    assert!(
        dashboard.contains("\"TargetGroup\",\"targetgroup/web-TargetGroup-"),
        "{dashboard}"
    );

    // Create over an existing stack is refused and names the right command.
    asg_deploy(&["create"], &env1)
        .expect_code(2)
        .expect_output("already exists")
        .expect_output("asg-deploy update");

    // A higher build brings up a new group from a new launch template version.
    let env2 = deploy_env(&moto, &net, "web", 2);
    asg_deploy(&["update"], &env2)
        .expect_code(0)
        .expect_output("Rolling out build 2 (running 1)")
        .expect_output("UPDATE_COMPLETE");
    let (group2, tag2, version2, desired2) = group(&moto, "web").await;
    assert_ne!(group2, group1, "build 2 must run in a new group");
    assert_eq!(tag2, "2");
    assert_ne!(
        version2, version1,
        "the new group must use a new launch template version"
    );
    assert_eq!(desired2, 2);

    // The same settings again: nothing to update, success.
    asg_deploy(&["update"], &env2)
        .expect_code(0)
        .expect_output("Nothing to update");

    // A lower build is refused.
    asg_deploy(&["update"], &env1)
        .expect_code(2)
        .expect_output("BUILD_NUMBER 1 is lower than the running build 2");

    // The same build with another size changes it in place: still build 2, new size.
    asg_deploy(&["update"], &with(env2.clone(), "DESIREDCAPACITY", "3"))
        .expect_code(0)
        .expect_output("Same build 2: changing DesiredCapacity in place");
    let (_, tag3, _, desired3) = group(&moto, "web").await;
    assert_eq!((tag3.as_str(), desired3), ("2", 3));

    // Another instance type is a new launch template version: not in place, and said so.
    let resized = with(
        with(env2.clone(), "DESIREDCAPACITY", "3"),
        "INSTANCETYPE",
        "t3.small",
    );
    asg_deploy(&["update"], &resized)
        .expect_code(0)
        .expect_output("Same build 2: InstanceType change what its instances are made from, so a new group replaces the old one");
    // (moto keeps the group on its launch template version here, so only the message is checked.)

    // The scaling alarms' settings change in place.
    let scaled = with(
        with(resized.clone(), "SCALE_UP_CPU", "80"),
        "SCALING_PERIOD",
        "600",
    );
    asg_deploy(&["update"], &scaled)
        .expect_code(0)
        .expect_output("Same build 2: changing ScaleUpThreshold, ScalingPeriodSeconds in place");
    let stored = asg_deployer::aws::stack::describe(&moto.clients().cfn, "web")
        .await
        .unwrap()
        .unwrap()
        .parameters;
    assert_eq!(
        (
            stored["ScaleUpThreshold"].as_str(),
            stored["ScaleDownThreshold"].as_str(),
            stored["ScalingPeriodSeconds"].as_str()
        ),
        ("80", "70", "600")
    );

    // Status shows the build, the group and its instances, the outputs and the events.
    let status = asg_deploy(&["status"], &env2);
    status
        .expect_code(0)
        .expect_output("Build     2")
        .expect_output("build tag 2, 3 instance(s)")
        .expect_output("InService")
        .expect_output("GroupName")
        .expect_output("Recent events");

    // The load balancer is protected from deletion (moto neither applies the template's
    // attribute nor enforces it, so the parameter is what shows here), and `delete` turns the
    // protection off before it deletes: moto takes the call, which AWS needs.
    let stored = asg_deployer::aws::stack::describe(&moto.clients().cfn, "web")
        .await
        .unwrap()
        .unwrap()
        .parameters;
    assert_eq!(stored["DeletionProtection"], "true");
    assert!(
        ["false", "true"].contains(&load_balancer_protection(&moto, "web").await.as_str()),
        "the load balancer reports its deletion protection"
    );
    // Delete removes the stack and keeps the config bucket.
    asg_deploy(&["delete"], &env2)
        .expect_code(0)
        .expect_output("Turned off the deletion protection of load balancer arn:")
        .expect_output("Deleted stack web");
    let clients = moto.clients();
    assert!(
        asg_deployer::aws::stack::describe(&clients.cfn, "web")
            .await
            .unwrap()
            .is_none_or(|s| s.status == "DELETE_COMPLETE")
    );
    assert!(
        asg_deployer::aws::stack::describe(&clients.cfn, "web-config")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn update_and_status_of_a_missing_stack_are_refused() {
    let moto = Moto::start();
    let net = moto.network().await;
    let env = deploy_env(&moto, &net, "absent", 1);
    asg_deploy(&["update"], &env)
        .expect_code(2)
        .expect_output("stack absent does not exist: use `asg-deploy create` first");
    asg_deploy(&["status"], &env)
        .expect_code(2)
        .expect_output("does not exist");
    asg_deploy(&["delete"], &env)
        .expect_code(2)
        .expect_output("nothing to delete");
}

#[tokio::test]
async fn config_bucket_is_locked_down_and_holds_each_builds_files() {
    let moto = Moto::start();
    let net = moto.network().await;
    asg_deploy(&["create"], &deploy_env(&moto, &net, "shop", 4)).expect_code(0);
    asg_deploy(&["update"], &deploy_env(&moto, &net, "shop", 5)).expect_code(0);

    let clients = moto.clients();
    let bucket = asg_deployer::commands::config_bucket::existing(
        &clients,
        &asg_deployer::config::Config::from_settings(
            asg_deployer::cli::Command::Status { watch: false },
            &asg_deployer::cli::Settings {
                stack_name: Some("shop".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .target,
    )
    .await
    .unwrap()
    .expect("the config bucket stack has its bucket");

    // moto applies encryption and tags of the bucket template (the rest is checked on the
    // template itself in src/template/mod.rs).
    let enc = clients
        .s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket is encrypted");
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );

    let tags = clients
        .s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket is tagged");
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "asg-deploy" && t.value() == "config"),
        "{tags:?}"
    );

    // Each build has its own copy of exactly the embedded files and its record, nothing else.
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "builds/4/app.conf",
            "builds/4/app.service",
            "builds/4/deployment.json",
            "builds/4/template.json",
            "builds/5/app.conf",
            "builds/5/app.service",
            "builds/5/deployment.json",
            "builds/5/template.json"
        ]
    );
    for (file, body) in asg_deployer::commands::config_bucket::build_files("app") {
        let got = clients
            .s3
            .get_object()
            .bucket(&bucket)
            .key(format!("builds/5/{file}"))
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(got.as_ref(), body.as_bytes(), "{file}");
    }
    // The stack's instance role may read only its own build's prefix.
    let info = asg_deployer::aws::stack::describe(&clients.cfn, "shop")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.parameters["ConfigBucket"], bucket);
}

#[tokio::test]
async fn plan_lists_changes_and_leaves_nothing_behind() {
    let moto = Moto::start();
    let net = moto.network().await;
    asg_deploy(&["create"], &deploy_env(&moto, &net, "api", 1)).expect_code(0);
    let plan = asg_deploy(&["plan"], &deploy_env(&moto, &net, "api", 2));
    plan.expect_code(0)
        .expect_output("Parameter BuildNumber: 1 -> 2");
    let clients = moto.clients();
    let info = asg_deployer::aws::stack::describe(&clients.cfn, "api")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.build_number(), Some(1), "plan must not deploy");
    let sets = clients
        .cfn
        .list_change_sets()
        .stack_name("api")
        .send()
        .await
        .unwrap();
    assert!(
        sets.summaries().is_empty(),
        "plan must delete its change set"
    );
    asg_deploy(&["plan"], &deploy_env(&moto, &net, "api", 1))
        .expect_code(0)
        .expect_output("Nothing to update");
}

#[tokio::test]
async fn subnets_without_a_way_out_are_warned_about() {
    let moto = Moto::start();
    let mut net = moto.network().await;
    let env = |net: &Network| {
        with(
            deploy_env(&moto, net, "web", 1),
            "CONFIG_BUCKET",
            "web-config-files",
        )
    };
    let public = asg_deploy(&["plan"], &env(&net));
    public.expect_code(0);
    assert!(!public.stdout.contains("Warning"), "{public}");
    assert!(!public.stderr.contains("Warning"), "{public}");

    // Private subnets: a route table of their own that leads nowhere outside the VPC.
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config());
    let table = ec2
        .create_route_table()
        .vpc_id(&net.vpc)
        .send()
        .await
        .unwrap()
        .route_table()
        .and_then(|t| t.route_table_id())
        .unwrap()
        .to_string();
    for (i, zone) in ["a", "b"].iter().enumerate() {
        let subnet = subnet(&ec2, &net.vpc, &format!("10.0.{}.0/24", 10 + i), zone).await;
        ec2.associate_route_table()
            .route_table_id(&table)
            .subnet_id(&subnet)
            .send()
            .await
            .unwrap();
        net.subnets[i] = subnet;
    }
    let private = asg_deploy(&["plan"], &env(&net));
    private.expect_code(0);
    for subnet in &net.subnets {
        private.expect_output(&format!(
            "Warning: subnet {subnet} has no route to the internet (0.0.0.0/0)"
        ));
    }
}

#[tokio::test]
async fn subnets_in_one_zone_are_refused_before_any_change() {
    let moto = Moto::start();
    let mut net = moto.network().await;
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config());
    net.subnets[1] = subnet(&ec2, &net.vpc, "10.0.9.0/24", "a").await;
    asg_deploy(&["create"], &deploy_env(&moto, &net, "web", 1))
        .expect_code(2)
        .expect_output("SUBNETS are all in us-east-1a");
    let clients = moto.clients();
    assert!(
        asg_deployer::aws::stack::describe(&clients.cfn, "web-config")
            .await
            .unwrap()
            .is_none(),
        "nothing may be created before the settings are known good"
    );
}

#[tokio::test]
async fn missing_credentials_are_refused_with_exit_2() {
    let moto = Moto::start();
    let net = moto.network().await;
    let env: Vec<_> = deploy_env(&moto, &net, "web", 1)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .collect();
    asg_deploy(&["create"], &env)
        .expect_code(2)
        .expect_output("no AWS credentials found");
}

/// Where Canonical publishes the current Ubuntu 24.04 LTS AMI for x86_64.
const UBUNTU_PARAMETER: &str =
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id";

/// The AMI id pinned in the stack, and the launch template version the stack's group runs.
async fn group_launch_data(
    moto: &Moto,
    stack: &str,
) -> (String, aws_sdk_ec2::types::ResponseLaunchTemplateData) {
    let clients = moto.clients();
    let info = asg_deployer::aws::stack::describe(&clients.cfn, stack)
        .await
        .unwrap()
        .unwrap();
    let (_, _, version, _) = group(moto, stack).await;
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config());
    let out = ec2
        .describe_launch_template_versions()
        .launch_template_id(
            clients
                .autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(&info.outputs["GroupName"])
                .send()
                .await
                .unwrap()
                .auto_scaling_groups()[0]
                .launch_template()
                .and_then(|lt| lt.launch_template_id())
                .unwrap(),
        )
        .versions(version)
        .send()
        .await
        .unwrap();
    let data = out.launch_template_versions()[0]
        .launch_template_data()
        .unwrap()
        .clone();
    (info.parameters["AmiId"].clone(), data)
}

/// The AMI id pinned in the stack, and the image and root device of the launch template version
/// the stack's group runs.
async fn group_image(moto: &Moto, stack: &str) -> (String, String, String) {
    let (pinned, data) = group_launch_data(moto, stack).await;
    let image = data.image_id().unwrap_or_default().to_string();
    let root = data.block_device_mappings()[0]
        .device_name()
        .unwrap_or_default()
        .to_string();
    (pinned, image, root)
}

/// The user data of the launch template version the stack's group runs, as instances get it.
async fn group_user_data(moto: &Moto, stack: &str) -> String {
    let (_, data) = group_launch_data(moto, stack).await;
    let encoded = data.user_data().expect("the launch template has user data");
    String::from_utf8(aws_smithy_types::base64::decode(encoded).unwrap()).unwrap()
}

/// One of moto's images whose root device is `device`.
async fn image_with_root_device(moto: &Moto, device: &str) -> String {
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config());
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    images
        .images()
        .iter()
        .find(|image| image.root_device_name() == Some(device))
        .and_then(|image| image.image_id())
        .unwrap_or_else(|| panic!("moto has no image with root device {device}"))
        .to_string()
}

#[tokio::test]
async fn ubuntu_ami_is_resolved_from_ssm_printed_and_pinned() {
    let ubuntu = "ami-0a1b2c3d4e5f60718";
    let moto = Moto::start_with_public_parameters(&[(UBUNTU_PARAMETER, ubuntu)]);
    let net = moto.network().await;
    // Stock Ubuntu has no fetch: the boot script installs the one at FETCH_URL.
    let without_ami = |build| -> Vec<_> {
        let mut env: Vec<_> = deploy_env(&moto, &net, "web", build)
            .into_iter()
            .filter(|(k, _)| *k != "AMIID")
            .collect();
        env.push(("FETCH_URL", "https://downloads.example.com/fetch".into()));
        env.push(("FETCH_SHA256", "b".repeat(64)));
        env
    };

    // create: looked up, printed with where it came from, pinned as a stack parameter.
    asg_deploy(&["create"], &without_ami(1))
        .expect_code(0)
        .expect_output(&format!(
            "AMI {ubuntu} (Ubuntu 24.04 LTS from {UBUNTU_PARAMETER}; pinned in the stack)"
        ));
    assert_eq!(
        group_image(&moto, "web").await,
        (ubuntu.into(), ubuntu.into(), "/dev/sda1".into())
    );

    // update: the pinned AMI is kept, SSM is not asked again.
    let updated = asg_deploy(&["update"], &without_ami(2));
    updated.expect_code(0).expect_output(&format!(
        "AMI {ubuntu} (pinned in the stack; set AMIID or BASE_IMAGE to change it)"
    ));
    assert!(!updated.stdout.contains(UBUNTU_PARAMETER), "{updated}");
    assert_eq!(
        group_image(&moto, "web").await,
        (ubuntu.into(), ubuntu.into(), "/dev/sda1".into())
    );

    // That image still has no fetch: without FETCH_URL, one must be uploaded with the build,
    // and an asg-deploy with none beside it and no FETCH_BINARY is refused.
    let no_url: Vec<_> = without_ami(3)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("FETCH_"))
        .collect();
    asg_deploy_alone(&["update"], &no_url)
        .expect_code(2)
        .expect_output("Stock images have no fetch for the boot script, and ");
    let dir = tempfile::tempdir().unwrap();
    let fetch = linux_executable(dir.path(), "x86_64");
    asg_deploy(
        &["update"],
        &with(no_url, "FETCH_BINARY", &fetch.display().to_string()),
    )
    .expect_code(0)
    .expect_output("/builds/3/fetch (x86_64 fetch, 0.0 MB, sha256 ");
    let (url, sha256, uploaded) = shipped_fetch(&moto, "web", 3).await;
    assert_eq!((url.as_str(), sha256.len()), ("", 64));
    assert_eq!(uploaded, std::fs::read(&fetch).unwrap());

    // AMIID replaces the pinned AMI; an Amazon Linux image's root volume is /dev/xvda.
    let amazon_linux = image_with_root_device(&moto, "/dev/xvda").await;
    asg_deploy(&["update"], &with(without_ami(4), "AMIID", &amazon_linux))
        .expect_code(0)
        .expect_output(&format!("AMI {amazon_linux} (from AMIID)"));
    assert_eq!(
        group_image(&moto, "web").await,
        (
            amazon_linux.clone(),
            amazon_linux.clone(),
            "/dev/xvda".into()
        )
    );

    // An image this region does not have is refused before anything changes.
    asg_deploy(
        &["update"],
        &with(without_ami(5), "AMIID", "ami-0123456789abcdef0"),
    )
    .expect_code(2)
    .expect_output("image ami-0123456789abcdef0 was not found in this region");
    assert_eq!(group_image(&moto, "web").await.0, amazon_linux);
}

/// The stack's FetchUrl and FetchSha256 and the bytes of `builds/<build>/fetch` in its bucket.
async fn shipped_fetch(moto: &Moto, stack: &str, build: u64) -> (String, String, Vec<u8>) {
    let clients = moto.clients();
    let info = asg_deployer::aws::stack::describe(&clients.cfn, stack)
        .await
        .unwrap()
        .unwrap();
    let object = clients
        .s3
        .get_object()
        .bucket(&info.parameters["ConfigBucket"])
        .key(format!("builds/{build}/fetch"))
        .send()
        .await
        .expect("the build's fetch is in the config bucket");
    let bytes = object.body.collect().await.unwrap().into_bytes().to_vec();
    (
        info.parameters["FetchUrl"].clone(),
        info.parameters["FetchSha256"].clone(),
        bytes,
    )
}

#[tokio::test]
async fn debian_13_for_graviton_is_resolved_and_gets_an_arm64_fetch_uploaded() {
    let debian = "ami-0d1e2b3a4c5d6e7f8";
    let parameter = "/aws/service/debian/release/13/latest/arm64";
    let moto = Moto::start_with_public_parameters(&[(parameter, debian)]);
    let net = moto.network().await;
    let dir = tempfile::tempdir().unwrap();
    let fetch = linux_executable(dir.path(), "arm64");
    let mut env: Vec<_> = deploy_env(&moto, &net, "arm", 1)
        .into_iter()
        .filter(|(k, _)| *k != "AMIID")
        .collect();
    env.extend([
        ("BASE_IMAGE", "debian-13".to_string()),
        ("INSTANCETYPE", "t4g.small".into()),
        ("FETCH_BINARY", fetch.display().to_string()),
    ]);
    asg_deploy(&["create"], &env)
        .expect_code(0)
        .expect_output(&format!(
            "AMI {debian} (Debian 13 from {parameter}; pinned in the stack)"
        ))
        .expect_output("/builds/1/fetch (arm64 fetch, ");
    let (url, sha256, uploaded) = shipped_fetch(&moto, "arm", 1).await;
    assert_eq!(uploaded, std::fs::read(&fetch).unwrap());
    assert_eq!(url, "");
    let user_data = group_user_data(&moto, "arm").await;
    assert!(
        user_data.contains(&format!("\nFETCH_URL=''\nFETCH_SHA256='{sha256}'\n")),
        "{user_data}"
    );
}

#[tokio::test]
async fn a_missing_ubuntu_parameter_asks_for_amiid() {
    let moto = Moto::start();
    let net = moto.network().await;
    let mut env: Vec<_> = deploy_env(&moto, &net, "web", 1)
        .into_iter()
        .filter(|(k, _)| *k != "AMIID")
        .collect();
    env.push(("FETCH_URL", "https://downloads.example.com/fetch".into()));
    env.push(("FETCH_SHA256", "b".repeat(64)));
    asg_deploy(&["create"], &env)
        .expect_code(2)
        .expect_output(&format!(
            "SSM parameter {UBUNTU_PARAMETER} (Ubuntu 24.04 LTS) was not found in this region: set AMIID to an AMI id"
        ));
}

#[tokio::test]
async fn extra_security_groups_and_ssh_reach_the_instances() {
    let moto = Moto::start();
    let net = moto.network().await;
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config());
    let extra = ec2
        .create_security_group()
        .group_name("monitoring")
        .description("monitoring agents")
        .vpc_id(&net.vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    ec2.create_key_pair().key_name("ops").send().await.unwrap();
    let env = with(deploy_env(&moto, &net, "web", 1), "SG_VALUE", &extra);
    let env = with(env, "KP", "ops");
    let env = with(env, "SSH_CIDR", "203.0.113.7/32");
    asg_deploy(&["create"], &env).expect_code(0);

    let clients = moto.clients();
    let info = asg_deployer::aws::stack::describe(&clients.cfn, "web")
        .await
        .unwrap()
        .unwrap();
    let group = &clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&info.outputs["GroupName"])
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()[0]
        .clone();
    let lt = group.launch_template().unwrap();
    let data = ec2
        .describe_launch_template_versions()
        .launch_template_id(lt.launch_template_id().unwrap())
        .versions(lt.version().unwrap())
        .send()
        .await
        .unwrap()
        .launch_template_versions()[0]
        .launch_template_data()
        .unwrap()
        .clone();
    assert_eq!(data.key_name(), Some("ops"));
    let groups = data.security_group_ids();
    assert_eq!(
        groups.len(),
        2,
        "the stack's group and SG_VALUE: {groups:?}"
    );
    assert!(groups.contains(&extra), "{groups:?}");
    let own = groups.iter().find(|g| **g != extra).unwrap();
    let rules = ec2
        .describe_security_groups()
        .group_ids(own)
        .send()
        .await
        .unwrap();
    let ssh: Vec<_> = rules.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter(|p| p.from_port() == Some(22))
        .flat_map(|p| p.ip_ranges().iter().filter_map(|r| r.cidr_ip()))
        .collect();
    assert_eq!(ssh, ["203.0.113.7/32"], "SSH from the operator's CIDR only");
}

/// The config bucket of `stack`, from its parameter.
async fn config_bucket(moto: &Moto, stack: &str) -> String {
    asg_deployer::aws::stack::describe(&moto.clients().cfn, stack)
        .await
        .unwrap()
        .unwrap()
        .parameters["ConfigBucket"]
        .clone()
}

/// `history` as JSON: (build, live, action) of each record, newest first, and the records.
fn history_json(env: &[(&'static str, String)]) -> (Vec<(u64, bool, String)>, serde_json::Value) {
    let run = asg_deploy(&["history", "--json"], env);
    run.expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("history --json is JSON");
    let builds = doc["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["build"].as_u64().unwrap(),
                b["live"].as_bool().unwrap(),
                b["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (builds, doc)
}

#[tokio::test]
async fn history_lists_the_builds_and_rollback_returns_to_one_with_its_settings_and_files() {
    let moto = Moto::start();
    let net = moto.network().await;
    let env1 = deploy_env(&moto, &net, "shop", 1);
    asg_deploy(&["create"], &env1)
        .expect_code(0)
        .expect_output("Recorded build 1 in s3://");
    let env2 = with(
        with(
            deploy_env(&moto, &net, "shop", 2),
            "ARTIFACT_URL",
            "https://artifacts.example.com/app-2.jar",
        ),
        "INSTANCETYPE",
        "t3.small",
    );
    asg_deploy(&["update"], &env2)
        .expect_code(0)
        .expect_output("Recorded build 2 in s3://");

    // Both builds, newest first, 2 live; the record holds what shaped the fleet and who deployed.
    let (builds, doc) = history_json(&env2);
    assert_eq!(
        builds,
        [(2, true, "update".into()), (1, false, "create".into())]
    );
    let two = &doc["builds"][0];
    assert_eq!(
        two["parameters"]["ArtifactUrl"],
        "https://artifacts.example.com/app-2.jar"
    );
    assert_eq!(two["parameters"]["InstanceType"], "t3.small");
    assert_eq!(two["previous_build"], 1);
    assert!(
        two["deployed_by"].as_str().unwrap().starts_with("arn:aws:"),
        "{two}"
    );
    // The recorded user data is the one the running group's launch template holds.
    let user_data = group_user_data(&moto, "shop").await;
    assert_eq!(
        two["user_data_sha256"].as_str().unwrap(),
        asg_deployer::commands::record::sha256(user_data.as_bytes())
    );
    let text = asg_deploy(&["history"], &env2);
    text.expect_code(0)
        .expect_output("update from 1")
        .expect_output("app-2.jar  t3.small")
        .expect_output("(live)");
    let live_line = text.stdout.lines().find(|l| l.contains("(live)")).unwrap();
    assert!(live_line.trim_start().starts_with("2 "), "{live_line}");

    // A lower build through update is still refused, and the refusal names rollback.
    asg_deploy(&["update"], &env1)
        .expect_code(2)
        .expect_output("asg-deploy rollback --to 1");
    // Refusals before any change: an unrecorded build, the live one.
    asg_deploy(&["rollback", "--to", "7"], &env2)
        .expect_code(2)
        .expect_output("builds/7/deployment.json is missing");
    asg_deploy(&["rollback", "--to", "2"], &env2)
        .expect_code(2)
        .expect_output("build 2 is live already");

    // Rollback (to the build before the live one) brings build 1 back with its settings.
    asg_deploy(&["rollback"], &env2)
        .expect_code(0)
        .expect_output("Rolling back to build 1 (running 2)")
        .expect_output("UPDATE_COMPLETE")
        .expect_output("Recorded build 1 in s3://");
    let stored = asg_deployer::aws::stack::describe(&moto.clients().cfn, "shop")
        .await
        .unwrap()
        .unwrap()
        .parameters;
    assert_eq!(
        (
            stored["BuildNumber"].as_str(),
            stored["ArtifactUrl"].as_str(),
            stored["InstanceType"].as_str()
        ),
        ("1", "https://artifacts.example.com/app-1.jar", "t3.micro")
    );
    let (_, tag, _, _) = group(&moto, "shop").await;
    assert_eq!(tag, "1");
    let user_data = group_user_data(&moto, "shop").await;
    assert!(user_data.contains("BUILD_NUMBER='1'\n"), "{user_data}");
    assert!(user_data.contains("ARTIFACT_URL='https://artifacts.example.com/app-1.jar'\n"));
    let (builds, _) = history_json(&env2);
    assert_eq!(
        builds,
        [(2, false, "update".into()), (1, true, "rollback".into())]
    );

    // A build whose boot files are gone is refused, naming them, and nothing changes.
    let bucket = config_bucket(&moto, "shop").await;
    moto.clients()
        .s3
        .delete_object()
        .bucket(&bucket)
        .key("builds/2/app.service")
        .send()
        .await
        .unwrap();
    asg_deploy(&["rollback", "--to", "2"], &env2)
        .expect_code(2)
        .expect_output(&format!("s3://{bucket}/builds/2/app.service missing"));
    let (_, tag, _, _) = group(&moto, "shop").await;
    assert_eq!(tag, "1");
}

/// The role stack `stack` records for CloudFormation (its RoleARN), as DescribeStacks tells it.
async fn role_of(moto: &Moto, stack: &str) -> Option<String> {
    moto.clients()
        .cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .role_arn()
        .map(str::to_string)
}

#[tokio::test]
async fn the_deploy_role_stack_creates_and_its_stack_role_builds_both_stacks() {
    let moto = Moto::start();
    let net = moto.network().await;
    let env = deploy_env(&moto, &net, "web", 1);

    let rendered = asg_deploy(&["render", "--deploy-role"], &env);
    rendered.expect_code(0);
    let out = moto
        .clients()
        .cfn
        .create_stack()
        .stack_name("web-deploy")
        .template_body(rendered.stdout.clone())
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("StackName")
                .parameter_value("web")
                .build(),
        )
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("Repository")
                .parameter_value("example/web")
                .build(),
        )
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .send()
        .await;
    assert!(out.is_ok(), "{out:?}");
    let outputs = moto
        .clients()
        .cfn
        .describe_stacks()
        .stack_name("web-deploy")
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .outputs()
        .to_vec();
    let output = |key: &str| {
        outputs
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .unwrap_or_else(|| panic!("no {key} output in {outputs:?}"))
            .to_string()
    };
    let stack_role = output("StackRoleArn");
    assert!(stack_role.starts_with("arn:aws:iam::"), "{stack_role}");
    assert!(output("DeployRoleArn").starts_with("arn:aws:iam::"));

    let roled = with(env, "STACK_ROLE_ARN", &stack_role);
    asg_deploy(&["create"], &roled).expect_code(0);
    assert_eq!(role_of(&moto, "web").await.as_deref(), Some(&*stack_role));
    assert_eq!(
        role_of(&moto, "web-config").await.as_deref(),
        Some(&*stack_role)
    );

    asg_deploy(&["update"], &with(roled.clone(), "BUILD_NUMBER", "2")).expect_code(0);
    assert_eq!(role_of(&moto, "web").await.as_deref(), Some(&*stack_role));

    asg_deploy(
        &["create"],
        &with(roled, "STACK_ROLE_ARN", "arn:aws:iam::123456789012:user/ci"),
    )
    .expect_code(2)
    .expect_output("STACK_ROLE_ARN \"arn:aws:iam::123456789012:user/ci\" is not an IAM role ARN");
}

#[tokio::test]
async fn a_queue_scaled_group_starts_empty_and_scales_on_the_queue_depth() {
    let moto = Moto::start();
    let net = moto.network().await;
    let clients = moto.clients();
    let env = with(
        with(
            with(deploy_env(&moto, &net, "workers", 1), "MINSIZE", "0"),
            "DESIREDCAPACITY",
            "0",
        ),
        "SCALE_UP_MESSAGES",
        "50",
    );

    // A queue that does not exist is refused before anything is made.
    asg_deploy(&["create"], &with(env.clone(), "SCALE_ON", "sqs:absent"))
        .expect_code(2)
        .expect_output(
            "SCALE_ON names queue absent, which does not exist in this account and region",
        );
    let stacks = clients.cfn.describe_stacks().send().await.unwrap();
    assert!(stacks.stacks().is_empty(), "{stacks:?}");

    let queue = clients
        .sqs
        .create_queue()
        .queue_name("jobs")
        .send()
        .await
        .unwrap();
    let arn = "arn:aws:sqs:us-east-1:123456789012:jobs";
    asg_deploy(&["create"], &with(env, "SCALE_ON", &format!("sqs:{arn}")))
        .expect_code(0)
        .expect_output(&format!(
            "Scaling on the depth of queue {}",
            queue.queue_url().unwrap()
        ))
        .expect_output(
            "Health: no instances (queue-scaled, empty queue) in group workers-AppGroup-",
        );

    let info = asg_deployer::aws::stack::describe(&clients.cfn, "workers")
        .await
        .unwrap()
        .unwrap();
    let param = |k: &str| info.parameters.get(k).cloned().unwrap_or_default();
    assert_eq!(
        [
            param("ScaleOn"),
            param("QueueName"),
            param("ScaleUpMessages"),
            param("ScaleDownMessages")
        ],
        ["sqs", "jobs", "50", "10"]
    );
    assert!(info.queue_scaled());
    let (_, _, _, desired) = group(&moto, "workers").await;
    assert_eq!(desired, 0);

    // The alarms and the instance role as CloudFormation stores them.
    let stored = asg_deployer::aws::stack::template(&clients.cfn, "workers")
        .await
        .unwrap()
        .expect("a JSON template");
    let high = &stored["Resources"]["QueueHighAlarm"];
    assert_eq!(high["Condition"], "ScaleOnQueue");
    assert_eq!(high["Properties"]["Threshold"]["Ref"], "ScaleUpMessages");
    assert_eq!(
        high["Properties"]["Metrics"][2]["Expression"],
        asg_deployer::template::queue_scaling::BACKLOG_EXPRESSION
    );
    assert_eq!(
        stored["Resources"]["CpuHighAlarm"]["Condition"],
        "ScaleOnCpu"
    );
    let statements = &stored["Resources"]["InstanceRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    assert_eq!(statements[2]["Fn::If"][0], "ScaleOnQueue");
    assert_eq!(
        statements[2]["Fn::If"][1]["Resource"]["Fn::Sub"],
        "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}"
    );
    // The dashboard graphs the queue.
    let dashboard = dashboard_body(&moto, "workers").to_string();
    assert!(
        dashboard.contains("\"ApproximateAgeOfOldestMessage\",\"QueueName\",\"jobs\""),
        "{dashboard}"
    );
}
