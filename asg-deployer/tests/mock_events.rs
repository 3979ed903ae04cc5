//! What moto cannot produce, through the SDK's own mock layer and tokio's paused clock: stack
//! events arriving over time, a failed build rolling back, the timeout that cancels an update,
//! AWS throttling the polling, busy stacks (`--wait-for-idle`), and the re-create of a stack left
//! in ROLLBACK_COMPLETE (CloudFormation mocked, EC2 and S3 on a real moto server).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::operation::cancel_update_stack::CancelUpdateStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::{
    DescribeStackEventsError, DescribeStackEventsOutput,
};
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackEvent, StackStatus};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use asg_deployer::aws::Clients;
use asg_deployer::cli::{Command, Settings};
use asg_deployer::config::{Config, Target};
use asg_deployer::error::Error;
use asg_deployer::exit_code::ExitCode;
use asg_deployer::progress::Display;
use asg_deployer::session::Session;
use asg_deployer::watch::events::{POLL_INTERVAL, WatchEnd, Watcher};

const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/web/0a1b2c3d";

fn event(n: i64, resource: &str, status: &str, reason: Option<&str>) -> StackEvent {
    StackEvent::builder()
        .event_id(format!("event-{n}"))
        .stack_id(STACK_ID)
        .stack_name("web")
        .logical_resource_id(resource)
        .resource_status(ResourceStatus::from(status))
        .set_resource_status_reason(reason.map(str::to_string))
        .timestamp(DateTime::from_secs(1_800_000_000 + n * 30))
        .build()
}

/// DescribeStackEvents answers newest first.
fn events(list: &[StackEvent]) -> DescribeStackEventsOutput {
    let mut newest_first = list.to_vec();
    newest_first.reverse();
    DescribeStackEventsOutput::builder()
        .set_stack_events(Some(newest_first))
        .build()
}

fn stack(status: &str) -> DescribeStacksOutput {
    DescribeStacksOutput::builder()
        .stacks(
            Stack::builder()
                .stack_id(STACK_ID)
                .stack_name("web")
                .stack_status(StackStatus::from(status))
                .creation_time(DateTime::from_secs(1_800_000_000))
                .build(),
        )
        .build()
}

fn target(timeout: &str) -> Target {
    let settings = Settings {
        stack_name: Some("web".into()),
        timeout: Some(timeout.into()),
        ..Default::default()
    };
    Config::from_settings(Command::Status { watch: true }, &settings)
        .unwrap()
        .target
}

/// The tool's clients with `cfn` mocked; the others are never called by these tests.
fn clients(cfn: Client) -> Clients {
    let conf = aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    Clients {
        cfn,
        ..Clients::from_conf(&conf, true)
    }
}

/// The real half of a mixed test: moto's subnets and the config bucket `web-config-bucket`.
async fn network_and_config_bucket(moto: &common::Moto) -> (common::Network, Clients) {
    let net = moto.network().await;
    let real = moto.clients();
    real.s3
        .create_bucket()
        .bucket("web-config-bucket")
        .send()
        .await
        .unwrap();
    (net, real)
}

/// Fails, showing everything printed, unless `line` was printed exactly.
fn assert_printed(printed: &[String], line: &str) {
    assert!(
        printed.iter().any(|l| l == line),
        "{line:?} not in {printed:#?}"
    );
}

fn lines(captured: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
    captured.lock().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn events_stream_once_each_in_order_until_the_stack_is_done() {
    let e0 = event(0, "web", "UPDATE_COMPLETE", None);
    let e1 = event(1, "web", "UPDATE_IN_PROGRESS", Some("User Initiated"));
    let e2 = event(2, "LaunchTemplate", "UPDATE_COMPLETE", None);
    let e3 = event(
        3,
        "AppGroup",
        "CREATE_IN_PROGRESS",
        Some("Resource creation Initiated"),
    );
    let e4 = event(4, "web", "UPDATE_COMPLETE", None);
    let (a, b, c, d) = (
        vec![e0.clone(), e1.clone()],
        vec![e0.clone(), e1.clone(), e2.clone()],
        vec![e0.clone(), e1.clone(), e2.clone(), e3.clone()],
        vec![e0, e1, e2, e3, e4],
    );
    let events_rule = mock!(Client::describe_stack_events)
        .sequence()
        .output(move || events(&a))
        .output(move || events(&b))
        .output(move || events(&c))
        .output(move || events(&d))
        .repeatedly()
        .build();
    let stacks_rule = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack("UPDATE_IN_PROGRESS"))
        .times(3)
        .output(|| stack("UPDATE_COMPLETE"))
        .repeatedly()
        .build();
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&events_rule, &stacks_rule]
    );
    let (display, captured) = Display::capture();
    let started = Instant::now();
    let end = Watcher {
        cfn: &cfn,
        stack: STACK_ID.into(),
        last_seen: Some("event-0".into()),
        deadline: started + Duration::from_secs(600),
        shutdown: CancellationToken::new(),
        display: &display,
        poll: POLL_INTERVAL,
        window: None,
    }
    .run()
    .await
    .unwrap();
    assert_eq!(
        end,
        WatchEnd::Finished {
            status: "UPDATE_COMPLETE".into(),
            reasons: vec![]
        }
    );
    let printed = lines(&captured);
    let resources: Vec<&str> = printed
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        resources,
        ["web", "LaunchTemplate", "AppGroup", "web"],
        "{printed:#?}"
    );
    assert!(
        printed[0].starts_with("2027-01-15T08:00:30Z  web"),
        "{printed:#?}"
    );
    assert!(
        printed[2].contains("CREATE_IN_PROGRESS")
            && printed[2].ends_with("Resource creation Initiated")
    );
    // Four polls, three waits of one interval each on the paused clock.
    assert_eq!(started.elapsed(), POLL_INTERVAL * 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_build_rolls_back_and_names_the_first_failure() {
    let history = vec![
        event(1, "web", "UPDATE_IN_PROGRESS", Some("User Initiated")),
        event(
            2,
            "AppGroup",
            "CREATE_IN_PROGRESS",
            Some("Resource creation Initiated"),
        ),
        event(
            3,
            "AppGroup",
            "CREATE_FAILED",
            Some(
                "Received 1 FAILURE signal(s) out of 2. Unable to satisfy 100% MinSuccessfulInstancesPercent requirement",
            ),
        ),
        event(
            4,
            "web",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            Some("The following resource(s) failed to create: [AppGroup]. "),
        ),
        event(5, "AppGroup", "DELETE_COMPLETE", None),
        event(6, "web", "UPDATE_ROLLBACK_COMPLETE", None),
    ];
    let first = history[..3].to_vec();
    let events_rule = mock!(Client::describe_stack_events)
        .sequence()
        .output(move || events(&first))
        .output(move || events(&history))
        .repeatedly()
        .build();
    let stacks_rule = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack("UPDATE_ROLLBACK_IN_PROGRESS"))
        .output(|| stack("UPDATE_ROLLBACK_COMPLETE"))
        .repeatedly()
        .build();
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&events_rule, &stacks_rule]
    );
    let clients = clients(cfn);
    let target = target("30m");
    let (display, captured) = Display::capture();
    let session = Session::new(&clients, &target, &display, CancellationToken::new());
    let err = asg_deployer::commands::rollout::follow(&session, STACK_ID, None, true, None)
        .await
        .unwrap_err();
    match &err {
        Error::StackFailed {
            status, reasons, ..
        } => {
            assert_eq!(status, "UPDATE_ROLLBACK_COMPLETE");
            assert_eq!(
                reasons.len(),
                1,
                "cascading failures are not reasons: {reasons:?}"
            );
            assert!(reasons[0].starts_with("AppGroup: Received 1 FAILURE signal(s)"));
        }
        other => panic!("expected a rollback, got {other}"),
    }
    assert_eq!(ExitCode::from_error(&err).code(), 1);
    assert_eq!(lines(&captured).len(), 6, "every event once");
}

#[tokio::test(start_paused = true)]
async fn past_the_timeout_the_update_is_cancelled_and_rolled_back() {
    let cancelled = Arc::new(AtomicBool::new(false));
    let seen = cancelled.clone();
    let stacks_rule = mock!(Client::describe_stacks).then_compute_output(move |_| {
        if seen.load(Ordering::SeqCst) {
            stack("UPDATE_ROLLBACK_COMPLETE")
        } else {
            stack("UPDATE_IN_PROGRESS")
        }
    });
    let flag = cancelled.clone();
    let cancel_rule = mock!(Client::cancel_update_stack)
        .match_requests(|r| r.stack_name() == Some(STACK_ID))
        .then_compute_output(move |_| {
            flag.store(true, Ordering::SeqCst);
            CancelUpdateStackOutput::builder().build()
        });
    let events_rule = mock!(Client::describe_stack_events).then_output(|| events(&[]));
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&stacks_rule, &cancel_rule, &events_rule]
    );
    let clients = clients(cfn);
    let target = target("10m");
    let (display, captured) = Display::capture();
    let session = Session::new(&clients, &target, &display, CancellationToken::new());
    let started = Instant::now();
    let err = asg_deployer::commands::rollout::follow(&session, STACK_ID, None, true, None)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(
            err,
            Error::TimedOut {
                cancelled: true,
                ..
            }
        ),
        "expected a cancelled timeout, got {err}"
    );
    assert_eq!(ExitCode::from_error(&err).code(), 1);
    assert_eq!(cancel_rule.num_calls(), 1);
    assert!(
        waited >= Duration::from_secs(600) && waited < Duration::from_secs(620),
        "{waited:?}"
    );
    let printed = lines(&captured);
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("Timed out after 10m: cancelling the update")),
        "{printed:#?}"
    );
    assert!(
        printed
            .iter()
            .any(|l| l == "Rollback ended in UPDATE_ROLLBACK_COMPLETE"),
        "{printed:#?}"
    );
    assert!(
        err.to_string()
            .contains("the update was cancelled and CloudFormation rolled it back")
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_slows_the_polling_instead_of_failing() {
    let done = vec![
        event(1, "web", "UPDATE_IN_PROGRESS", Some("User Initiated")),
        event(2, "web", "UPDATE_COMPLETE", None),
    ];
    let throttled = || {
        DescribeStackEventsError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    };
    let events_rule = mock!(Client::describe_stack_events)
        .sequence()
        .error(throttled)
        .times(6)
        .output(move || events(&done))
        .repeatedly()
        .build();
    let stacks_rule = mock!(Client::describe_stacks).then_output(|| stack("UPDATE_COMPLETE"));
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&events_rule, &stacks_rule],
        |c| c.retry_config(RetryConfig::standard().with_max_attempts(2))
    );
    let (display, captured) = Display::capture();
    let started = Instant::now();
    let end = Watcher {
        cfn: &cfn,
        stack: STACK_ID.into(),
        last_seen: None,
        deadline: started + Duration::from_secs(3600),
        shutdown: CancellationToken::new(),
        display: &display,
        poll: POLL_INTERVAL,
        window: None,
    }
    .run()
    .await
    .unwrap();
    assert!(matches!(end, WatchEnd::Finished { ref status, .. } if status == "UPDATE_COMPLETE"));
    let printed = lines(&captured);
    let warnings = printed.iter().filter(|l| l.contains("throttling")).count();
    assert_eq!(warnings, 1, "one warning, not one per poll: {printed:#?}");
    assert_eq!(printed.iter().filter(|l| l.contains("UPDATE_")).count(), 2);
    // The polling backed off (10 s, 20 s, 40 s, ...) instead of hammering the API.
    assert!(
        started.elapsed() >= Duration::from_secs(70),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_stops_watching_and_says_how_to_resume() {
    let stacks_rule = mock!(Client::describe_stacks).then_output(|| stack("UPDATE_IN_PROGRESS"));
    let events_rule = mock!(Client::describe_stack_events).then_output(|| events(&[]));
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&stacks_rule, &events_rule]
    );
    let clients = clients(cfn);
    let target = target("30m");
    let (display, _) = Display::capture();
    let shutdown = CancellationToken::new();
    let session = Session::new(&clients, &target, &display, shutdown.clone());
    let press = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(12)).await;
        press.cancel();
    });
    let err = asg_deployer::commands::rollout::follow(&session, STACK_ID, None, true, None)
        .await
        .unwrap_err();
    assert_eq!(ExitCode::from_error(&err), ExitCode::Interrupted);
    assert!(
        err.to_string().contains(
            "the deployment goes on. Keep watching with: asg-deploy status --watch --stack-name web"
        ),
        "{err}"
    );
}

fn waiting_target(wait_for_idle: bool) -> Target {
    let settings = Settings {
        stack_name: Some("web".into()),
        wait_for_idle,
        ..Default::default()
    };
    Config::from_settings(Command::Status { watch: false }, &settings)
        .unwrap()
        .target
}

#[tokio::test(start_paused = true)]
async fn a_busy_stack_is_refused_with_its_state() {
    let stacks_rule = mock!(Client::describe_stacks).then_output(|| stack("UPDATE_IN_PROGRESS"));
    let cfn = mock_client!(aws_sdk_cloudformation, [&stacks_rule]);
    let clients = clients(cfn);
    let target = waiting_target(false);
    let (display, _) = Display::capture();
    let session = Session::new(&clients, &target, &display, CancellationToken::new());
    let err = asg_deployer::commands::rollout::current_idle(&session)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "stack web is busy (UPDATE_IN_PROGRESS): wait for it to finish, or pass --wait-for-idle"
    );
    assert_eq!(ExitCode::from_error(&err).code(), 2);
    assert_eq!(stacks_rule.num_calls(), 1, "no waiting without the flag");
}

#[tokio::test(start_paused = true)]
async fn wait_for_idle_follows_the_busy_stack_to_its_end() {
    let busy = vec![event(
        1,
        "web",
        "UPDATE_IN_PROGRESS",
        Some("User Initiated"),
    )];
    let done = vec![
        busy[0].clone(),
        event(2, "web", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None),
        event(3, "web", "UPDATE_COMPLETE", None),
    ];
    let events_rule = mock!(Client::describe_stack_events)
        .sequence()
        .output(move || events(&busy))
        .times(3)
        .output(move || events(&done))
        .repeatedly()
        .build();
    let stacks_rule = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack("UPDATE_IN_PROGRESS"))
        .times(3)
        .output(|| stack("UPDATE_COMPLETE"))
        .repeatedly()
        .build();
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&events_rule, &stacks_rule]
    );
    let clients = clients(cfn);
    let target = waiting_target(true);
    let (display, captured) = Display::capture();
    let session = Session::new(&clients, &target, &display, CancellationToken::new());
    let started = Instant::now();
    let info = asg_deployer::commands::rollout::current_idle(&session)
        .await
        .unwrap()
        .expect("the stack");
    assert_eq!(info.status, "UPDATE_COMPLETE");
    assert!(
        started.elapsed() >= POLL_INTERVAL * 2,
        "{:?}",
        started.elapsed()
    );
    let printed = lines(&captured);
    assert_eq!(
        printed[0],
        "Stack web is busy (UPDATE_IN_PROGRESS); waiting for it to finish"
    );
    // Only what happened after the wait began is streamed.
    assert_eq!(printed.len(), 3, "{printed:#?}");
    assert!(printed[2].contains("UPDATE_COMPLETE"), "{printed:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_stack_busy_past_the_timeout_is_refused() {
    let stacks_rule = mock!(Client::describe_stacks).then_output(|| stack("UPDATE_IN_PROGRESS"));
    let events_rule = mock!(Client::describe_stack_events).then_output(|| events(&[]));
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&stacks_rule, &events_rule]
    );
    let clients = clients(cfn);
    let mut target = waiting_target(true);
    target.timeout = Duration::from_secs(60);
    let (display, _) = Display::capture();
    let session = Session::new(&clients, &target, &display, CancellationToken::new());
    let err = asg_deployer::commands::rollout::current_idle(&session)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "stack web stayed busy for 1m: try again later"
    );
    assert_eq!(ExitCode::from_error(&err).code(), 2);
}

#[tokio::test]
async fn a_stack_left_in_rollback_complete_is_deleted_and_created_again() {
    use aws_sdk_cloudformation::operation::create_stack::CreateStackOutput;
    use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
    use aws_sdk_cloudformation::types::Output;
    use std::sync::atomic::AtomicU8;

    // EC2 (subnets) and S3 (the build's files) are real, on moto; CloudFormation, which moto
    // cannot leave in ROLLBACK_COMPLETE, is mocked.
    let moto = common::Moto::start();
    let (net, real) = network_and_config_bucket(&moto).await;

    // 0: left by the failed create, 1: deleted, 2: created again.
    let phase = Arc::new(AtomicU8::new(0));
    let config_stack_rule = mock!(Client::describe_stacks)
        .match_requests(|r| r.stack_name() == Some("web-config"))
        .then_output(|| {
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_id(
                            "arn:aws:cloudformation:us-east-1:123456789012:stack/web-config/1",
                        )
                        .stack_name("web-config")
                        .stack_status(StackStatus::CreateComplete)
                        .outputs(
                            Output::builder()
                                .output_key("BucketName")
                                .output_value("web-config-bucket")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let now = phase.clone();
    let app_stack_rule = mock!(Client::describe_stacks).then_compute_output(move |_| {
        stack(match now.load(Ordering::SeqCst) {
            0 => "ROLLBACK_COMPLETE",
            1 => "DELETE_COMPLETE",
            _ => "CREATE_COMPLETE",
        })
    });
    let deleting = phase.clone();
    let delete_rule = mock!(Client::delete_stack)
        .match_requests(|r| r.stack_name() == Some(STACK_ID))
        .then_compute_output(move |_| {
            deleting.store(1, Ordering::SeqCst);
            DeleteStackOutput::builder().build()
        });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let (creating, record) = (phase.clone(), sent.clone());
    let create_rule = mock!(Client::create_stack).then_compute_output(move |req| {
        assert_eq!(
            creating.swap(2, Ordering::SeqCst),
            1,
            "the old stack must be gone before the new one is created"
        );
        *record.lock().unwrap() = req
            .parameters()
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    p.parameter_key().unwrap_or_default(),
                    p.parameter_value().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>();
        CreateStackOutput::builder().stack_id(STACK_ID).build()
    });
    let events_rule = mock!(Client::describe_stack_events).then_output(|| events(&[]));
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [
            &config_stack_rule,
            &app_stack_rule,
            &delete_rule,
            &create_rule,
            &events_rule
        ]
    );
    let clients = Clients { cfn, ..real };

    let settings = Settings {
        stack_name: Some("web".into()),
        build_number: Some("3".into()),
        subnets: Some(net.subnets.join(",")),
        certificate: Some(net.certificate.clone()),
        ami: Some(net.ami.clone()),
        artifact_url: Some("https://artifacts.example.com/app-3.jar".into()),
        health_check: asg_deployer::cli::HealthCheck::Off,
        ..Default::default()
    };
    let config = Config::from_settings(Command::Create, &settings).unwrap();
    let (display, captured) = Display::capture();
    let mut session = Session::new(&clients, &config.target, &display, CancellationToken::new());
    session.poll = Duration::from_millis(10);
    asg_deployer::commands::rollout::create(&session, config.deploy.as_ref().unwrap())
        .await
        .unwrap();

    assert_eq!((delete_rule.num_calls(), create_rule.num_calls()), (1, 1));
    let printed = lines(&captured);
    assert_printed(
        &printed,
        "Stack web is in ROLLBACK_COMPLETE after a failed first create; deleting it and creating it again",
    );
    assert_printed(&printed, "Creating stack web with build 3");
    let params = sent.lock().unwrap().clone();
    assert!(params.contains(&"BuildNumber=3".to_string()), "{params:?}");
    assert!(
        params.contains(&"ConfigBucket=web-config-bucket".to_string()),
        "{params:?}"
    );
    assert!(params.contains(&format!("AmiId={}", net.ami)), "{params:?}");
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket("web-config-bucket")
        .send()
        .await
        .unwrap();
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort();
    // The build's files went to the real bucket before the stack call, its record after.
    assert_eq!(
        keys,
        [
            "builds/3/app.conf",
            "builds/3/app.service",
            "builds/3/deployment.json",
            "builds/3/template.json"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_monitoring_window_is_announced_once_the_new_group_is_in_service() {
    use asg_deployer::watch::window::{Alarm, Window};
    let history = vec![
        event(1, "web", "UPDATE_IN_PROGRESS", Some("User Initiated")),
        event(2, "AppGroup", "CREATE_IN_PROGRESS", None),
        event(3, "AppGroup", "CREATE_COMPLETE", None),
        event(4, "web", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None),
        event(5, "AppGroup", "DELETE_COMPLETE", None),
        event(6, "web", "UPDATE_COMPLETE", None),
    ];
    let (upto3, all) = (history[..3].to_vec(), history.clone());
    let events_rule = mock!(Client::describe_stack_events)
        .sequence()
        .output(move || events(&upto3))
        .times(4)
        .output(move || events(&all))
        .repeatedly()
        .build();
    let stacks_rule = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack("UPDATE_IN_PROGRESS"))
        .times(4)
        .output(|| stack("UPDATE_COMPLETE"))
        .repeatedly()
        .build();
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&events_rule, &stacks_rule]
    );
    let window = Window {
        minutes: 10,
        alarms: vec![Alarm {
            logical_id: "Target5xxAlarm".into(),
            name: "web-Target5xxAlarm-ABC".into(),
            arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-Target5xxAlarm-ABC".into(),
        }],
    };
    let (display, captured) = Display::capture();
    let end = Watcher {
        cfn: &cfn,
        stack: STACK_ID.into(),
        last_seen: None,
        deadline: Instant::now() + Duration::from_secs(600),
        shutdown: CancellationToken::new(),
        display: &display,
        poll: POLL_INTERVAL,
        window: Some(&window),
    }
    .run()
    .await
    .unwrap();
    assert!(matches!(end, WatchEnd::Finished { ref status, .. } if status == "UPDATE_COMPLETE"));
    let printed = lines(&captured);
    let opened: Vec<&String> = printed
        .iter()
        .filter(|l| l.starts_with("New group in service"))
        .collect();
    // Once, after the group completed (event 3, at 08:01:30), for ten minutes from then.
    assert_eq!(
        opened,
        [
            "New group in service; CloudFormation watches Target5xxAlarm for 10m (until 2027-01-15T08:11:30Z) and keeps the old group until then"
        ],
        "{printed:#?}"
    );
}

/// What an `update` through mocked CloudFormation sent, printed and returned.
struct UpdateRun {
    rollback_configuration: Option<aws_sdk_cloudformation::types::RollbackConfiguration>,
    notification_arns: Vec<String>,
    build_sent: Option<String>,
    printed: Vec<String>,
    result: Result<(), Error>,
}

/// Runs `update` to build 2 of a stack running build 1 with its four rollback alarms,
/// CloudFormation mocked to end in `final_status`; EC2, S3, CloudWatch and STS real on `moto`.
async fn update_through_the_mock(
    moto: &common::Moto,
    final_status: &'static str,
    monitor_minutes: &str,
    cloudwatch: Option<aws_sdk_cloudwatch::Client>,
) -> UpdateRun {
    use aws_sdk_cloudformation::operation::describe_stack_resources::DescribeStackResourcesOutput;
    use aws_sdk_cloudformation::operation::get_template::GetTemplateOutput;
    use aws_sdk_cloudformation::operation::update_stack::UpdateStackOutput;
    use aws_sdk_cloudformation::types::{Parameter, StackResource};
    use std::sync::Mutex;

    let (net, real) = network_and_config_bucket(moto).await;
    let updated = Arc::new(AtomicBool::new(false));
    let seen = updated.clone();
    let stacks_rule = mock!(Client::describe_stacks).then_compute_output(move |_| {
        let status = if seen.load(Ordering::SeqCst) {
            final_status
        } else {
            "UPDATE_COMPLETE"
        };
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_id(STACK_ID)
                    .stack_name("web")
                    .stack_status(StackStatus::from(status))
                    .creation_time(DateTime::from_secs(1_800_000_000))
                    .parameters(
                        Parameter::builder()
                            .parameter_key("BuildNumber")
                            .parameter_value("1")
                            .build(),
                    )
                    .parameters(
                        Parameter::builder()
                            .parameter_key("ConfigBucket")
                            .parameter_value("web-config-bucket")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let template_rule = mock!(Client::get_template)
        .then_output(|| GetTemplateOutput::builder().template_body("{}").build());
    let resources_rule = mock!(Client::describe_stack_resources).then_output(|| {
        let mut out = DescribeStackResourcesOutput::builder();
        for id in asg_deployer::watch::window::ROLLBACK_ALARMS {
            out = out.stack_resources(
                StackResource::builder()
                    .logical_resource_id(id)
                    .physical_resource_id(format!("web-{id}-X"))
                    .resource_type("AWS::CloudWatch::Alarm")
                    .resource_status(ResourceStatus::CreateComplete)
                    .timestamp(DateTime::from_secs(1_800_000_000))
                    .build(),
            );
        }
        out.build()
    });
    let sent = Arc::new(Mutex::new(None));
    let (record, flag) = (sent.clone(), updated.clone());
    let update_rule = mock!(Client::update_stack).then_compute_output(move |req| {
        *record.lock().unwrap() = Some(req.clone());
        flag.store(true, Ordering::SeqCst);
        UpdateStackOutput::builder().stack_id(STACK_ID).build()
    });
    let after = updated.clone();
    let events_rule = mock!(Client::describe_stack_events).then_compute_output(move |_| {
        if !after.load(Ordering::SeqCst) {
            return events(&[event(0, "web", "UPDATE_COMPLETE", None)]);
        }
        events(&[
            event(0, "web", "UPDATE_COMPLETE", None),
            event(1, "web", "UPDATE_IN_PROGRESS", Some("User Initiated")),
            event(2, "AppGroup", "CREATE_COMPLETE", None),
            event(3, "web", final_status, None),
        ])
    });
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [
            &stacks_rule,
            &template_rule,
            &resources_rule,
            &update_rule,
            &events_rule
        ]
    );
    let clients = match cloudwatch {
        Some(cloudwatch) => Clients {
            cfn,
            cloudwatch,
            ..real
        },
        None => Clients { cfn, ..real },
    };
    let settings = Settings {
        stack_name: Some("web".into()),
        build_number: Some("2".into()),
        subnets: Some(net.subnets.join(",")),
        certificate: Some(net.certificate.clone()),
        ami: Some(net.ami.clone()),
        artifact_url: Some("https://artifacts.example.com/app-2.jar".into()),
        notify_topic_arn: Some("arn:aws:sns:us-east-1:123456789012:deploys".into()),
        monitor_minutes: Some(monitor_minutes.into()),
        health_check: asg_deployer::cli::HealthCheck::Off,
        ..Default::default()
    };
    let config = Config::from_settings(Command::Update, &settings).unwrap();
    let (display, captured) = Display::capture();
    let mut session = Session::new(&clients, &config.target, &display, CancellationToken::new());
    session.poll = Duration::from_millis(10);
    let result =
        asg_deployer::commands::rollout::update(&session, config.deploy.as_ref().unwrap()).await;
    let request = sent
        .lock()
        .unwrap()
        .clone()
        .expect("UpdateStack was called");
    UpdateRun {
        rollback_configuration: request.rollback_configuration().cloned(),
        notification_arns: request.notification_arns().to_vec(),
        build_sent: request
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some("BuildNumber"))
            .and_then(|p| p.parameter_value())
            .map(str::to_string),
        printed: lines(&captured),
        result,
    }
}

#[tokio::test]
async fn an_update_sends_the_alarms_as_rollback_triggers_and_reports_the_passed_window() {
    let moto = common::Moto::start();
    let run = update_through_the_mock(&moto, "UPDATE_COMPLETE", "10", None).await;
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(run.build_sent.as_deref(), Some("2"));
    assert_eq!(
        run.notification_arns,
        ["arn:aws:sns:us-east-1:123456789012:deploys"]
    );
    let config = run
        .rollback_configuration
        .expect("a rollback configuration");
    assert_eq!(config.monitoring_time_in_minutes(), Some(10));
    let triggers: Vec<(String, String)> = config
        .rollback_triggers()
        .iter()
        .map(|t| {
            (
                t.arn().unwrap_or_default().to_string(),
                t.r#type().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let wanted: Vec<(String, String)> = asg_deployer::watch::window::ROLLBACK_ALARMS
        .iter()
        .map(|id| {
            (
                format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-{id}-X"),
                "AWS::CloudWatch::Alarm".to_string(),
            )
        })
        .collect();
    assert_eq!(triggers, wanted);
    assert_printed(
        &run.printed,
        "Monitoring window: 10m after the new group is in service, watching LoadBalancer5xxAlarm, Target5xxAlarm, ResponseTimeAlarm, UnhealthyHostsAlarm",
    );
    assert_printed(
        &run.printed,
        "Monitoring window of 10m passed with no alarm: old group removed",
    );
}

#[tokio::test]
async fn an_alarm_in_the_window_rolls_back_and_exits_1_naming_it() {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
    let moto = common::Moto::start();
    let asked = Arc::new(Mutex::new(None));
    let record = asked.clone();
    let alarms_rule =
        mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_compute_output(move |req| {
            *record.lock().unwrap() = Some(req.clone());
            DescribeAlarmsOutput::builder()
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("web-Target5xxAlarm-X")
                        .state_value(StateValue::Alarm)
                        .state_updated_timestamp(DateTime::from_secs(1_800_000_600))
                        .build(),
                )
                .build()
        });
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&alarms_rule]);
    let run =
        update_through_the_mock(&moto, "UPDATE_ROLLBACK_COMPLETE", "10", Some(cloudwatch)).await;
    let asked = asked
        .lock()
        .unwrap()
        .clone()
        .expect("DescribeAlarms was called");
    assert_eq!(asked.alarm_names().len(), 4, "{asked:?}");
    assert_eq!(asked.state_value(), Some(&StateValue::Alarm));
    let err = run.result.expect_err("the rollback is a failure");
    let message = err.to_string();
    assert!(
        matches!(&err, Error::AlarmRolledBack { alarm, build: 1, .. } if alarm == "Target5xxAlarm"),
        "{err:?}"
    );
    assert_eq!(ExitCode::from_error(&err).code(), 1);
    assert!(
        message.contains("alarm Target5xxAlarm fired at 20")
            && message.contains("rolled back to build 1"),
        "{message}"
    );
    assert!(
        !run.printed
            .iter()
            .any(|l| l.contains("passed with no alarm")),
        "{:#?}",
        run.printed
    );
}

#[tokio::test]
async fn monitor_minutes_0_sends_no_window_but_keeps_the_triggers() {
    let moto = common::Moto::start();
    let run = update_through_the_mock(&moto, "UPDATE_COMPLETE", "0", None).await;
    assert!(run.result.is_ok(), "{:?}", run.result);
    let config = run
        .rollback_configuration
        .expect("a rollback configuration");
    assert_eq!(config.monitoring_time_in_minutes(), Some(0));
    assert_eq!(config.rollback_triggers().len(), 4);
    assert!(
        !run.printed
            .iter()
            .any(|l| l.starts_with("Monitoring window")),
        "{:#?}",
        run.printed
    );
}
