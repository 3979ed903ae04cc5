//! `asg-deploy check` against a live stack on moto, with a real HTTPS server on 127.0.0.1 standing
//! in for the load balancer (moto's has no address): healthy, a clock 3 s ahead (by the Date
//! header and by a JSON time endpoint), the wrong build, a certificate with too few days, JSON
//! output, and a stack that is not there.

mod common;

use common::{Answer, HttpsApp, Moto, Run, deploy_env, with};

fn answer(build: &str, clock_offset_secs: Option<i64>) -> Answer {
    Answer {
        status: 200,
        build: Some(build.into()),
        clock_offset_secs,
    }
}

/// Runs the binary off the runtime's threads, so the HTTPS server keeps answering meanwhile.
async fn run(args: &[&str], env: Vec<(&'static str, String)>) -> Run {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::asg_deploy(&args, &env)
    })
    .await
    .unwrap()
}

/// The verdict printed for the check `name`.
fn verdict<'a>(run: &'a Run, name: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no line for {name}: {run}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_check_and_exits_by_them() {
    let moto = Moto::start();
    let net = moto.network().await;
    let app = HttpsApp::start(answer("1", None)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = app.ca_file(dir.path());
    let env = with(
        with(
            deploy_env(&moto, &net, "web", 1),
            "HEALTH_CHECK_URL",
            &app.url,
        ),
        "HEALTH_CHECK_CA_CERT",
        ca.to_str().unwrap(),
    );
    run(&["create"], env.clone()).await.expect_code(0);

    // All good: four lines, each ok, exit 0.
    let good = run(&["check"], env.clone()).await;
    good.expect_code(0)
        .expect_output("healthy in the target group")
        .expect_output(&format!("{} answered 200 from build 1", app.url))
        .expect_output("day(s) left (at least 14 wanted)");
    for name in ["targets", "https", "certificate", "clock"] {
        assert_eq!(verdict(&good, name), "ok", "{good}");
    }

    // The server's clock 3 s ahead, told by its Date header: the clock check fails, exit 1, and
    // a looser --max-drift lets it pass.
    app.set(answer("1", Some(3)));
    let ahead = run(&["check"], env.clone()).await;
    ahead
        .expect_code(1)
        .expect_output("more than --max-drift 1 s");
    assert_eq!(verdict(&ahead, "clock"), "failed");
    assert_eq!(verdict(&ahead, "https"), "ok");
    assert!(
        ahead
            .stderr
            .contains("1 of 4 checks of stack web (build 1) failed: clock"),
        "{ahead}"
    );
    run(&["check", "--max-drift", "5"], env.clone())
        .await
        .expect_code(0);

    // The same clock through a JSON time endpoint: measured to the millisecond, not the second.
    let timed = with(
        env.clone(),
        "HEALTH_CHECK_TIME_URL",
        &format!("{}now", app.url),
    );
    let by_endpoint = run(&["check"], timed.clone()).await;
    by_endpoint
        .expect_code(1)
        .expect_output("s ahead of this machine's (from ");
    let json = run(&["check", "--json", "--max-drift", "2.5"], timed).await;
    json.expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    let clock = &doc["checks"][3];
    assert_eq!(clock["name"], "clock");
    assert_eq!(clock["status"], "failed");
    let drift = clock["value"].as_f64().unwrap();
    assert!((2.9..3.2).contains(&drift), "drift {drift}");
    run(
        &["check", "--max-drift", "3.5"],
        with(
            env.clone(),
            "HEALTH_CHECK_TIME_URL",
            &format!("{}now", app.url),
        ),
    )
    .await
    .expect_code(0);

    // The wrong build answers: the https check fails, in words.
    app.set(answer("7", None));
    let stale = run(&["check", "--json"], env.clone()).await;
    stale.expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&stale.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["build"], 1);
    assert_eq!(doc["checks"][0]["status"], "ok");
    assert_eq!(doc["checks"][0]["value"], 2.0, "two instances in service");
    assert_eq!(doc["checks"][1]["status"], "failed");
    assert!(
        doc["checks"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("was served by build 7, not 1"),
        "{stale}"
    );

    // The certificate is read from the TLS handshake: asking for more days than it has fails.
    app.set(answer("1", None));
    let days = run(&["check", "--cert-days", "4000000"], env.clone()).await;
    days.expect_code(1)
        .expect_output("fewer than --cert-days 4000000: renew it");
    assert_eq!(verdict(&days, "certificate"), "failed");

    // A stack that is not there: a refusal, exit 2.
    run(&["check"], with(env, "STACK_NAME", "nothere"))
        .await
        .expect_code(2)
        .expect_output("stack nothere does not exist");
}
