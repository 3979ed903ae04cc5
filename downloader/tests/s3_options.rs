//! The S3 options: `--include`/`--exclude` on prefix listings, `?versionId=`, `--request-payer`
//! and `--dry-run`, against s3s-fs, and against moto where s3s-fs keeps no object versions.

mod common;

use common::*;
use test_support::moto::MotoProcess;

async fn tree(s3: &S3Server) {
    for (key, body) in [
        ("tree/a.txt", "a"),
        ("tree/b.log", "b"),
        ("tree/sub/c.txt", "c"),
        ("tree/tmp/d.txt", "d"),
        ("elsewhere/e.txt", "e"),
    ] {
        s3.put("bucket", key, body).await;
    }
}

#[tokio::test]
async fn filters_choose_the_objects_of_a_listing_in_order() {
    let s3 = S3Server::start().await;
    tree(&s3).await;
    // As with the AWS CLI: exclude all, take the .txt files back, then leave tmp/ out again.
    let fetcher = Fetcher::new(&s3);
    let flags = [
        "-q",
        "--exclude",
        "*",
        "--include",
        "*.txt",
        "--exclude",
        "tmp/*",
    ];
    let output = fetcher.run(&flags, &["s3://bucket/tree/"]).await;
    assert_exit(&output, 0);
    assert_eq!(files(&fetcher.out), ["a.txt", "sub/c.txt"]);
    // Nothing left out was asked for.
    let gets: Vec<String> = s3
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /bucket/tree/") || r.starts_with("HEAD /bucket/"))
        .collect();
    assert!(
        gets.iter()
            .all(|r| r.ends_with("a.txt") || r.ends_with("c.txt")),
        "{gets:?}"
    );

    // As with s5cmd: a first --include alone means only what it matches.
    let fetcher = Fetcher::new(&s3);
    let output = fetcher
        .run(&["-q", "--include", "*.log"], &["s3://bucket/tree/"])
        .await;
    assert_exit(&output, 0);
    assert_eq!(files(&fetcher.out), ["b.log"]);

    // And an --exclude alone leaves the rest in.
    let fetcher = Fetcher::new(&s3);
    let output = fetcher
        .run(&["-q", "--exclude", "sub/*"], &["s3://bucket/tree/"])
        .await;
    assert_exit(&output, 0);
    assert_eq!(files(&fetcher.out), ["a.txt", "b.log", "tmp/d.txt"]);
}

#[tokio::test]
async fn filters_that_leave_nothing_or_filter_nothing_are_said() {
    let s3 = S3Server::start().await;
    tree(&s3).await;
    let fetcher = Fetcher::new(&s3);
    let output = fetcher
        .run(&["-q", "--include", "*.csv"], &["s3://bucket/tree/"])
        .await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output)
            .contains("none of the 4 objects under this prefix passes --include and --exclude"),
        "{}",
        describe(&output)
    );

    // Filters without a prefix to filter are a mistake, said before anything is downloaded.
    let output = fetcher
        .run(&["-q", "--exclude", "*.log"], &["s3://bucket/tree/a.txt"])
        .await;
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("filter the objects of an s3://bucket/prefix/ listing"),
        "{}",
        describe(&output)
    );
    let output = fetcher
        .run(&["-q", "--include", "[a-"], &["s3://bucket/tree/"])
        .await;
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("--include \"[a-\" is not a valid glob"),
        "{}",
        describe(&output)
    );
    assert!(files(&fetcher.out).is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_dry_run_lists_and_names_but_writes_nothing() {
    let s3 = S3Server::start().await;
    tree(&s3).await;
    let http = HttpServer::start().await;
    http.route("/x/a.txt", Route::file("from http"));
    let fetcher = Fetcher::new(&s3);
    let mut command = fetcher.command(
        &["--json", "--dry-run", "--exclude", "tmp/*"],
        &["s3://bucket/tree/", "s3://bucket/elsewhere/e.txt"],
    );
    command.arg(http.url("/x/a.txt")).arg("ftp://example.com/f");
    let output = run(command).await;
    // The unsupported URL fails the plan as it would fail the run.
    assert_exit(&output, 1);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["dry_run"], true, "{doc:#}");
    assert_eq!(doc["planned"], 4, "{doc:#}");
    let planned: Vec<(String, String)> = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "planned")
        .map(|i| {
            (
                i["url"].as_str().unwrap().to_string(),
                i["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let out = fetcher.out.display();
    assert_eq!(
        planned,
        [
            ("s3://bucket/tree/b.log".into(), format!("{out}/b.log")),
            (
                "s3://bucket/tree/sub/c.txt".into(),
                format!("{out}/sub/c.txt")
            ),
            ("s3://bucket/elsewhere/e.txt".into(), format!("{out}/e.txt")),
            (http.url("/x/a.txt"), format!("{out}/a.txt")),
        ],
        "the later URL writing a.txt wins, as in a real run: {doc:#}"
    );
    let skipped = &doc["items"][0];
    assert_eq!(skipped["status"], "skipped", "{doc:#}");
    assert!(
        stderr(&output).contains("dry run: 4 to download"),
        "{}",
        describe(&output)
    );
    assert!(!fetcher.out.exists(), "a dry run makes no directory");
    assert!(
        http.hits("/x/a.txt").is_empty(),
        "a dry run downloads nothing"
    );
    assert!(
        !s3.requests()
            .iter()
            .any(|r| r.starts_with("GET /bucket/tree/")
                || r.starts_with("GET /bucket/elsewhere/")
                || r.starts_with("HEAD ")),
        "{:?}",
        s3.requests()
    );
}

#[tokio::test]
async fn a_requester_pays_bucket_needs_the_callers_agreement() {
    let s3 = S3Server::start().await;
    tree(&s3).await;
    s3.require_requester_pays("bucket");
    let fetcher = Fetcher::new(&s3);
    let output = fetcher.run(&["-q"], &["s3://bucket/tree/a.txt"]).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("Access Denied"),
        "{}",
        describe(&output)
    );
    let output = fetcher
        .run(
            &["-q", "--request-payer", "--include", "*.txt"],
            &["s3://bucket/tree/", "s3://bucket/elsewhere/e.txt"],
        )
        .await;
    assert_exit(&output, 0);
    assert_eq!(
        files(&fetcher.out),
        ["a.txt", "e.txt", "sub/c.txt", "tmp/d.txt"]
    );
}

/// An S3 client for moto, which takes any keys.
fn moto_client(moto: &MotoProcess) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .endpoint_url(&moto.endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[tokio::test]
async fn an_object_version_is_downloaded_by_its_id() {
    let moto = MotoProcess::start();
    let s3 = moto_client(&moto);
    s3.create_bucket().bucket("versions").send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket("versions")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut versions = Vec::new();
    for body in ["the first build", "the second build, which is longer"] {
        let put = s3
            .put_object()
            .bucket("versions")
            .key("app/app.jar")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                body.as_bytes(),
            ))
            .send()
            .await
            .unwrap();
        versions.push(put.version_id().unwrap().to_string());
    }
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let url = format!("s3://versions/app/app.jar?versionId={}", versions[0]);
    let mut command = fetch_s3_at(home.path(), &moto.endpoint, SECRET_KEY);
    command
        .args(["-q", "--json", "-o"])
        .arg(&out)
        .args(["-u", &url]);
    let output = run(command).await;
    assert_exit(&output, 0);
    assert_eq!(
        std::fs::read_to_string(out.join("app.jar")).unwrap(),
        "the first build"
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["items"][0]["url"], url, "the report names the version");

    // The current version, asked for without an id, replaces it.
    let mut command = fetch_s3_at(home.path(), &moto.endpoint, SECRET_KEY);
    command
        .args(["-q", "-o"])
        .arg(&out)
        .args(["-u", "s3://versions/app/app.jar"]);
    assert_exit(&run(command).await, 0);
    assert_eq!(
        std::fs::read_to_string(out.join("app.jar")).unwrap(),
        "the second build, which is longer"
    );

    // A version that does not exist fails in a sentence, and the file stays as it was.
    let mut command = fetch_s3_at(home.path(), &moto.endpoint, SECRET_KEY);
    command
        .args(["-q", "-o"])
        .arg(&out)
        .args(["-u", "s3://versions/app/app.jar?versionId=no-such-version"]);
    let output = run(command).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("versionId=no-such-version"),
        "{}",
        describe(&output)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("app.jar")).unwrap(),
        "the second build, which is longer"
    );
}
