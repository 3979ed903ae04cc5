//! The health check's HTTPS GET against a real HTTPS server on 127.0.0.1 (certificate from a CA
//! made at test time), standing in for the load balancer: the stack itself runs on moto, whose
//! load balancer has no address to send a request to, so HEALTH_CHECK_URL points here.

mod common;

use std::time::Duration;

use asg_deployer::cli::{Command, HealthCheck, Settings};
use asg_deployer::config::Config;
use asg_deployer::error::Error;
use asg_deployer::exit_code::ExitCode;
use asg_deployer::progress::Display;
use asg_deployer::session::Session;
use tokio_util::sync::CancellationToken;

use common::{Answer, HttpsApp, Moto, Run, deploy_env, with};

fn answer(build: &str) -> Answer {
    Answer {
        status: 200,
        build: Some(build.into()),
        clock_offset_secs: None,
    }
}

/// Runs the binary off the runtime's threads, so the HTTPS server keeps answering meanwhile.
async fn run(args: &'static [&'static str], env: Vec<(&'static str, String)>) -> Run {
    tokio::task::spawn_blocking(move || common::asg_deploy(args, &env))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_are_checked_over_https_with_a_private_ca() {
    let moto = Moto::start();
    let net = moto.network().await;
    let app = HttpsApp::start(answer("1")).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = app.ca_file(dir.path());
    let env = |build: u64| {
        let env = deploy_env(&moto, &net, "web", build);
        let env = with(env, "HEALTH_CHECK", "full");
        let env = with(env, "HEALTH_CHECK_URL", &app.url);
        with(env, "HEALTH_CHECK_CA_CERT", ca.to_str().unwrap())
    };

    // The new fleet answers 200 with its build: success, and no clock warning (hyper's own Date).
    let created = run(&["create"], env(1)).await;
    created.expect_code(0).expect_output(&format!(
        "Health: {} answered 200 from build 1 (x-build-number: 1)",
        app.url
    ));
    assert!(!created.stdout.contains("Warning"), "{created}");
    assert_eq!(app.hits(), 1, "one request is enough when it succeeds");

    // The old build still answers after an update: exit 1, saying so in one line.
    let stale = run(&["update"], env(2)).await;
    stale.expect_code(1);
    assert!(
        stale.stderr.lines().any(|l| l
            == format!(
                "asg-deploy: error: health check failed: GET {} was served by build 1, not 2: the old fleet still answers",
                app.url
            )),
        "{stale}"
    );
    assert_eq!(app.hits(), 1 + 3, "the request is retried before giving up");

    // A server whose clock is 5 s behind: the rollout succeeds with a warning.
    app.set(Answer {
        clock_offset_secs: Some(-5),
        ..answer("3")
    });
    run(&["update"], env(3))
        .await
        .expect_code(0)
        .expect_output("answered 200 from build 3")
        .expect_output("Warning: the server's clock is at least ")
        .expect_output("s away from this machine's")
        .expect_output("check time sync (chrony) on the instances");

    // Without the CA the server's certificate is not trusted, and the error says what to pass.
    let without_ca = env(4)
        .into_iter()
        .filter(|(k, _)| *k != "HEALTH_CHECK_CA_CERT")
        .collect();
    let untrusted = run(&["update"], without_ca).await;
    untrusted
        .expect_code(1)
        .expect_output("pass it with --ca-cert (HEALTH_CHECK_CA_CERT)");
}

/// The check of one deployed stack, called in-process with a short retry pause.
async fn check(moto: &Moto, app: &HttpsApp, ca: &std::path::Path, build: u64) -> Result<(), Error> {
    let settings = Settings {
        stack_name: Some("web".into()),
        health_check: HealthCheck::Full,
        health_url: Some(app.url.clone()),
        ca_cert: Some(ca.to_path_buf()),
        ..Default::default()
    };
    let config = Config::from_settings(Command::Status { watch: false }, &settings).unwrap();
    let clients = moto.clients();
    let info = asg_deployer::aws::stack::describe(&clients.cfn, "web")
        .await
        .unwrap()
        .unwrap();
    let (display, _) = Display::capture();
    let mut session = Session::new(&clients, &config.target, &display, CancellationToken::new());
    session.poll = Duration::from_millis(10);
    asg_deployer::watch::health::check(&session, &info, build).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_answers_fail_the_check_with_their_reason() {
    let moto = Moto::start();
    let net = moto.network().await;
    let app = HttpsApp::start(answer("1")).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = app.ca_file(dir.path());
    run(&["create"], deploy_env(&moto, &net, "web", 1))
        .await
        .expect_code(0);

    check(&moto, &app, &ca, 1).await.expect("build 1 answers");

    app.set(Answer {
        status: 503,
        ..answer("1")
    });
    let err = check(&moto, &app, &ca, 1).await.unwrap_err();
    assert_eq!(ExitCode::from_error(&err).code(), 1);
    assert!(
        err.to_string()
            .ends_with("answered 503 Service Unavailable, not 200"),
        "{err}"
    );

    app.set(Answer {
        build: None,
        ..answer("1")
    });
    let err = check(&moto, &app, &ca, 1).await.unwrap_err();
    assert!(err.to_string().contains("without x-build-number"), "{err}");
}
