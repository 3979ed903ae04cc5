//! fetch against a real S3-compatible server (s3s-fs): objects, prefixes, parts, errors.

mod common;

use std::process::{Command, Output};

use common::*;

#[tokio::test]
async fn objects_and_prefixes_download() {
    let s3 = S3Server::start().await;
    s3.put("bucket", "single/app.conf", "server {}").await;
    s3.put("bucket", "tree/a.txt", "a").await;
    s3.put("bucket", "tree/sub/b.txt", "b").await;
    s3.put("bucket", "tree/sub/deeper/c.txt", "c").await;
    s3.put("bucket", "other/x.txt", "x").await;
    s3.put("bucket", "tree/empty.txt", "").await;
    let fetcher = Fetcher::new(&s3);
    let out = &fetcher.out;
    let urls = ["s3://bucket/single/app.conf", "s3://bucket/tree/"];
    let output = fetcher.run(&["-q", "--json"], &urls).await;
    assert_exit(&output, 0);
    assert_eq!(
        files(out),
        vec![
            "a.txt",
            "app.conf",
            "empty.txt",
            "sub/b.txt",
            "sub/deeper/c.txt"
        ]
    );
    assert_eq!(std::fs::read(out.join("sub/deeper/c.txt")).unwrap(), b"c");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(std::fs::read(out.join("empty.txt")).unwrap(), b"");
    assert_eq!(report["succeeded"], 5);
    assert_eq!(report["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn objects_known_to_fit_one_part_are_asked_for_whole() {
    let s3 = S3Server::start().await;
    let small = data(1000, 1);
    let big = data(300 * 1024, 2);
    s3.put("bucket", "tree/small.bin", small.clone()).await;
    s3.put("bucket", "tree/big.bin", big.clone()).await;
    s3.put("bucket", "alone.bin", small.clone()).await;
    s3.put("bucket", "alone-big.bin", big.clone()).await;
    let fetcher = Fetcher::new(&s3);
    let out = &fetcher.out;
    let urls = [
        "s3://bucket/tree/",
        "s3://bucket/alone.bin",
        "s3://bucket/alone-big.bin",
    ];
    let output = fetcher.run(&["-q", "--part-size", "128KiB"], &urls).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("small.bin")).unwrap(), small);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(out.join("alone.bin")).unwrap(), small);
    assert_eq!(std::fs::read(out.join("alone-big.bin")).unwrap(), big);
    assert_eq!(
        s3.ranges("/bucket/tree/small.bin"),
        vec![None],
        "listed and small: one plain GET"
    );
    let big_ranges = s3.ranges("/bucket/tree/big.bin");
    assert_eq!(big_ranges[0].as_deref(), Some("bytes=0-131071"));
    assert!(big_ranges.len() > 1, "listed and big: ranged parts");
    assert_eq!(
        s3.ranges("/bucket/alone.bin"),
        vec![None],
        "a single key that a HEAD showed small: one plain GET"
    );
    let alone_big = s3.ranges("/bucket/alone-big.bin");
    assert_eq!(alone_big[0].as_deref(), Some("bytes=0-131071"));
    assert!(alone_big.len() > 1, "a single big key: ranged parts");
}

#[tokio::test]
async fn an_object_that_does_not_match_its_stored_checksum_is_refused() {
    let s3 = S3Server::start().await;
    let body = data(100_000, 7);
    // The SDK uploads it with a CRC32, which s3s-fs stores and, like S3, sends back in answer to a
    // GET without a range: what fetch sends for a listed object that fits in one part.
    s3.put("bucket", "rotten/object.bin", body.clone()).await;
    let mut rotten = body;
    rotten[5_000] ^= 0xff;
    std::fs::write(s3.object_path("bucket", "rotten/object.bin"), &rotten).unwrap();
    let fetcher = Fetcher::new(&s3);
    let output = fetcher.run(&["-q"], &["s3://bucket/rotten/"]).await;
    assert_refused_as_corrupt(&output, &fetcher.out);
}

#[tokio::test]
async fn objects_in_parts_are_checked_whole_against_the_checksum_s3_stored() {
    let s3 = S3Server::start().await;
    let body = data(3 * 1024 * 1024 + 5, 9);
    // Uploaded with the SDK's CRC32, of the whole object. Ranged GETs bring no checksum, so fetch
    // takes it from the HEAD and checks the file once its parts are in.
    s3.put("bucket", "good/big.bin", body.clone()).await;
    s3.put("bucket", "rotten/big.bin", body.clone()).await;
    let mut rotten = body.clone();
    rotten[2_500_000] ^= 0xff;
    std::fs::write(s3.object_path("bucket", "rotten/big.bin"), &rotten).unwrap();
    let fetcher = Fetcher::new(&s3);
    let out = &fetcher.out;
    let flags = ["-q", "--json", "--part-size", "1MiB"];

    let output = fetcher.run(&flags, &["s3://bucket/good/big.bin"]).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), body);
    assert!(
        s3.ranges("/bucket/good/big.bin").len() > 1,
        "it came in ranged parts"
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["s3_checksum_verified"], "crc32");

    // Listed under a prefix: the listing tells the size, a HEAD the checksum.
    std::fs::remove_dir_all(out).unwrap();
    let output = fetcher.run(&flags, &["s3://bucket/rotten/"]).await;
    assert_refused_as_corrupt(&output, out);

    // The SDK's setting for stores that answer with wrong checksums turns fetch's check off too.
    let mut cmd = fetcher.command(&flags, &["s3://bucket/rotten/"]);
    cmd.env("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required");
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), rotten);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["items"][0].get("s3_checksum_verified").is_none());
}

#[tokio::test]
async fn a_listed_object_in_parts_asks_for_its_checksum_beside_its_first_part() {
    // Every request waits, so the server sees how many the client has out at once.
    let s3 = S3Server::start_slow(std::time::Duration::from_millis(50)).await;
    let body = data(3 * 1024 * 1024 + 5, 12);
    s3.put("bucket", "tree/big.bin", body.clone()).await;
    let fetcher = Fetcher::new(&s3);
    let flags = ["-q", "--json", "--part-size", "1MiB", "-x", "1"];
    let output = fetcher.run(&flags, &["s3://bucket/tree/"]).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(fetcher.out.join("big.bin")).unwrap(), body);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["s3_checksum_verified"], "crc32");
    assert_eq!(
        s3.most_at_once(),
        2,
        "one part at a time (-x 1), and the HEAD beside the first: no round trip of its own"
    );
}

#[tokio::test]
async fn bytes_kept_by_an_earlier_run_are_checked_with_the_rest() {
    let s3 = S3Server::start().await;
    let body = data(3 * 1024 * 1024 + 5, 11);
    s3.put("bucket", "big.bin", body.clone()).await;
    let head = s3.client().head_object().bucket("bucket").key("big.bin");
    let etag = head.send().await.unwrap().e_tag().unwrap().to_owned();
    let fetcher = Fetcher::new(&s3);
    let out = &fetcher.out;
    std::fs::create_dir_all(out).unwrap();
    // What an interrupted run leaves: the file sized up front with its first MiB in place, and
    // the state that says so.
    let total = body.len() as u64;
    let leave = |first_mib: &[u8]| {
        let mut partial = vec![0u8; body.len()];
        partial[..1 << 20].copy_from_slice(&first_mib[..1 << 20]);
        std::fs::write(out.join(".big.bin.fetch-part"), partial).unwrap();
        let state = serde_json::json!({
            "url": "s3://bucket/big.bin",
            "validator": etag,
            "total": total,
            "parts": [[0, 1_048_575, 1_048_576], [1_048_576, total - 1, 0]],
        });
        std::fs::write(out.join(".big.bin.fetch-state"), state.to_string()).unwrap();
    };
    let flags = ["-q", "--json", "--part-size", "1MiB"];

    leave(&body);
    let output = fetcher.run(&flags, &["s3://bucket/big.bin"]).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), body);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["resumed_bytes"], 1_048_576);
    assert_eq!(report["items"][0]["s3_checksum_verified"], "crc32");
    assert_eq!(
        s3.ranges("/bucket/big.bin")[0].as_deref(),
        Some("bytes=1048576-3145732"),
        "it asked only for what was missing"
    );

    // The same, with a byte of the kept MiB gone bad on disk since.
    std::fs::remove_file(out.join("big.bin")).unwrap();
    let mut damaged = body.clone();
    damaged[1000] ^= 0xff;
    leave(&damaged);
    let output = fetcher.run(&flags, &["s3://bucket/big.bin"]).await;
    assert_refused_as_corrupt(&output, out);
}

/// A run whose one object failed its stored checksum: exit 1, the reason given, and no file left,
/// not even one to resume.
fn assert_refused_as_corrupt(output: &Output, out: &std::path::Path) {
    assert_exit(output, 1);
    assert!(
        describe(output).contains("does not match the checksum S3 stored with it"),
        "{}",
        describe(output)
    );
    assert!(
        files(out).is_empty(),
        "no file, and nothing kept for resuming: {:?}",
        files(out)
    );
}

#[tokio::test]
async fn an_endpoint_slow_to_answer_each_request_gets_more_parts_and_x_fixes_them() {
    // 100 ms before each answer: every part in flight adds its share, whatever the address.
    let latency = std::time::Duration::from_millis(100);
    let body = data(8 * 1024 * 1024 + 3, 42);
    let flags = ["-q", "--json", "--part-size", "256KiB"];
    let measured = S3Server::start_slow(latency).await;
    measured.put("bucket", "big.bin", body.clone()).await;
    let fetcher = Fetcher::new(&measured);
    let output = fetcher.run(&flags, &["s3://bucket/big.bin"]).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(fetcher.out.join("big.bin")).unwrap(), body);
    assert!(
        (3..=16).contains(&measured.most_at_once()),
        "more than the 2 parts a file starts with, at most 16: {}",
        measured.most_at_once()
    );

    let fixed = S3Server::start_slow(latency).await;
    fixed.put("bucket", "big.bin", body.clone()).await;
    let fetcher = Fetcher::new(&fixed);
    let output = fetcher
        .run(
            &[&flags[..], &["-x", "3"]].concat(),
            &["s3://bucket/big.bin"],
        )
        .await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(fetcher.out.join("big.bin")).unwrap(), body);
    assert_eq!(
        fixed.most_at_once(),
        3,
        "-x 3 holds from the first part to the last"
    );
}

#[tokio::test]
async fn missing_objects_and_wrong_keys_fail_clearly() {
    let s3 = S3Server::start().await;
    s3.put("bucket", "present.txt", "here").await;
    let fetcher = Fetcher::new(&s3);
    let out = &fetcher.out;

    let urls = [
        "s3://bucket/absent.txt",
        "s3://bucket/present.txt",
        "s3://bucket/empty-prefix/",
    ];
    let output = fetcher.run(&["-q"], &urls).await;
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("the file does not exist there"), "{err}");
    assert!(err.contains("no objects under this prefix"), "{err}");
    assert!(err.contains("1 succeeded, 2 failed, 0 skipped"), "{err}");
    assert_eq!(files(out), vec!["present.txt"]);

    let mut wrong = fetch_s3(fetcher.home.path(), &s3, "not-the-secret");
    wrong.args([
        "-q",
        "--retries",
        "0",
        "-o",
        out.to_str().unwrap(),
        "-u",
        "s3://bucket/present.txt",
    ]);
    let output = run(wrong).await;
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("S3 rejected the credentials"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
}

#[tokio::test]
async fn throttling_is_retried_once_per_retry_and_counted() {
    let s3 = S3Server::start().await;
    let body = data(100_000, 9);
    s3.put("bucket", "busy.bin", body.clone()).await;
    let fetcher = Fetcher::new(&s3);
    let flags = ["-q", "--json", "--retries", "1"];

    s3.throttle(1);
    let output = fetcher.run(&flags, &["s3://bucket/busy.bin"]).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(fetcher.out.join("busy.bin")).unwrap(), body);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["items"][0]["retries"], 1,
        "the retry is in the report"
    );
    assert_eq!(s3.ranges("/bucket/busy.bin").len(), 2);

    // Two refusals use up `--retries 1`: the SDK does not retry each of fetch's attempts again.
    std::fs::remove_file(fetcher.out.join("busy.bin")).unwrap();
    s3.throttle(2);
    let output = fetcher.run(&flags, &["s3://bucket/busy.bin"]).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("SlowDown"),
        "{}",
        describe(&output)
    );
    assert_eq!(s3.ranges("/bucket/busy.bin").len(), 4);

    // Other stores throttle with a 400 and a code of their own: retried alike.
    s3.throttle_with(1, 400, "Throttling");
    let output = fetcher.run(&flags, &["s3://bucket/busy.bin"]).await;
    assert_exit(&output, 0);
    assert_eq!(s3.ranges("/bucket/busy.bin").len(), 6);
}

#[tokio::test]
async fn the_deadline_cuts_a_listing_and_a_head_short() {
    let s3 = S3Server::start().await;
    s3.put("bucket", "tree/a.txt", "a").await;
    s3.put("bucket", "one.txt", "1").await;
    // Every answer from now on would take a minute.
    s3.set_latency(std::time::Duration::from_secs(60));
    let fetcher = Fetcher::new(&s3);
    let flags = ["-q", "--timeout", "100", "--deadline", "1"];
    let started = std::time::Instant::now();
    let output = fetcher
        .run(&flags, &["s3://bucket/tree/", "s3://bucket/one.txt"])
        .await;
    assert_exit(&output, 1);
    let err = stderr(&output);
    // Jobs start once the prefixes are listed: neither did.
    let not_started = "the --deadline passed before the download started";
    assert_eq!(err.matches(not_started).count(), 2, "{err}");
    // Not a timing assertion on speed: only that the answers were not waited for.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    // A single key's download begins with its HEAD.
    let started = std::time::Instant::now();
    let output = fetcher.run(&flags, &["s3://bucket/one.txt"]).await;
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("--deadline passed before any byte arrived"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(files(&fetcher.out).is_empty());
}

#[tokio::test]
async fn buckets_in_another_region_are_found_and_checked_as_at_home() {
    // S3 names the bucket's region in a 400 when the request reached the bucket's own endpoint,
    // and in a 301 when it went to another region's.
    for answer in [RegionAnswer::Malformed, RegionAnswer::Redirect] {
        let s3 = S3Server::start().await;
        let big = data(3 * 1024 * 1024 + 1, 15);
        s3.put("bucket", "big.bin", big.clone()).await;
        s3.put("bucket", "tree/a.txt", "a").await;
        s3.move_buckets_to("eu-west-1", answer);
        let fetcher = Fetcher::new(&s3);
        let flags = ["-q", "--json", "--part-size", "1MiB"];
        let output = fetcher.run(&flags, &["s3://bucket/big.bin"]).await;
        assert_exit(&output, 0);
        assert_eq!(std::fs::read(fetcher.out.join("big.bin")).unwrap(), big);
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["items"][0]["s3_checksum_verified"], "crc32",
            "{answer:?}: the HEAD that met the region answer asked again in the bucket's region"
        );

        let output = fetcher.run(&flags, &["s3://bucket/tree/"]).await;
        assert_exit(&output, 0);
        assert_eq!(std::fs::read(fetcher.out.join("a.txt")).unwrap(), b"a");
    }
}

#[tokio::test]
async fn no_credentials_is_explained() {
    let s3 = S3Server::start().await;
    s3.put("bucket", "k", "v").await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = fetch(home.path());
    cmd.args([
        "-q",
        "--retries",
        "0",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &s3.endpoint,
    ])
    .args(["-o", home.path().to_str().unwrap(), "-u", "s3://bucket/k"]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("no AWS credentials were found"),
        "{}",
        describe(&output)
    );
}

#[tokio::test]
async fn an_https_endpoint_is_trusted_through_ca_cert() {
    let s3 = S3Server::start_tls().await;
    s3.put("bucket", "secure.txt", "over tls").await;
    let fetcher = Fetcher::new(&s3);
    let out = &fetcher.out;
    let url = ["s3://bucket/secure.txt"];

    let output = fetcher.run(&["-q", "--retries", "0"], &url).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--ca-cert"),
        "{}",
        describe(&output)
    );
    assert!(!out.join("secure.txt").exists());

    let ca = fetcher.home.path().join("ca.pem");
    std::fs::write(&ca, s3.ca_pem.as_ref().unwrap()).unwrap();
    let output = fetcher
        .run(&["-q", "--ca-cert", ca.to_str().unwrap()], &url)
        .await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("secure.txt")).unwrap(), b"over tls");
}

/// `fetch` with nothing but an instance role to get credentials from: no keys in the environment,
/// empty profile files (see [`fetch`]), the instance metadata service at `imds`.
fn fetch_with_instance_role(home: &std::path::Path, s3: &S3Server, imds: &str) -> Command {
    let mut command = fetch(home);
    command
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds)
        .env("AWS_REGION", "us-east-1")
        .args(["--endpoint-url", &s3.endpoint]);
    command
}

#[tokio::test]
async fn instance_role_credentials_that_come_late_are_waited_for() {
    let s3 = S3Server::start().await;
    s3.put("bucket", "boot/app.conf", "server {}").await;
    let imds = ImdsServer::reserve();
    let fetcher = Fetcher::new(&s3);
    let mut cmd = fetch_with_instance_role(fetcher.home.path(), &s3, &imds.endpoint());
    cmd.args(["-q", "-o", fetcher.out.to_str().unwrap()])
        .args(["-u", "s3://bucket/boot/app.conf"]);
    let running = tokio::spawn(run(cmd));
    // As at boot: for a few seconds the metadata service refuses every connection.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        !running.is_finished(),
        "fetch gave up while the service was refusing"
    );
    imds.serve().await;
    let output = running.await.unwrap();
    assert_exit(&output, 0);
    assert_eq!(
        std::fs::read(fetcher.out.join("app.conf")).unwrap(),
        b"server {}"
    );
    let requests = imds.requests();
    for asked in [
        "PUT /latest/api/token".to_string(),
        format!("GET /latest/meta-data/iam/security-credentials/{ROLE}"),
    ] {
        assert!(requests.contains(&asked), "{asked} in {requests:?}");
    }
}

#[tokio::test]
async fn a_metadata_service_that_never_answers_is_given_up_after_30_s_or_at_the_deadline() {
    let s3 = S3Server::start().await;
    s3.put("bucket", "k", "v").await;
    let fetcher = Fetcher::new(&s3);
    let command = |imds: &str, flags: &[&str]| {
        let mut cmd = fetch_with_instance_role(fetcher.home.path(), &s3, imds);
        cmd.args(["-q", "-o", fetcher.out.to_str().unwrap()])
            .args(flags)
            .args(["-u", "s3://bucket/k"]);
        cmd
    };

    // The deadline cuts the wait for a service that refuses short: not a timing assertion on
    // speed, only that the 30 s of patience did not have to pass.
    let refusing = ImdsServer::reserve();
    let started = std::time::Instant::now();
    let output = run(command(&refusing.endpoint(), &["--deadline", "2"])).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("the --deadline passed before the download started"),
        "{}",
        describe(&output)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    // A service that accepts connections and never answers, for two files: asked again and
    // again, given up once for the whole run, not once per file.
    let silent = Unanswering::start().await;
    let output = run(command(&silent.endpoint(), &["-u", "s3://bucket/k2"])).await;
    assert_exit(&output, 1);
    let err = stderr(&output);
    let given_up = "the instance metadata service could not be reached in 30 s of trying; \
                    off EC2, set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                    (AWS_EC2_METADATA_DISABLED=true skips this wait), or pass --no-sign-request \
                    for a public bucket";
    assert_eq!(err.matches(given_up).count(), 2, "{}", describe(&output));
    let asked = silent.requests();
    assert!(
        asked.len() > 1 && asked.iter().all(|r| r == "PUT /latest/api/token"),
        "the session token was asked for again: {asked:?}"
    );
    assert!(files(&fetcher.out).is_empty());
}

/// `fetch --json -q --timeout 1 --retries RETRIES FLAGS... -u URL` against `endpoint`; returns the
/// output and the reason given for the URL.
async fn failing(endpoint: &str, retries: u32, flags: &[&str], url: &str) -> (Output, String) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = fetch_s3_at(home.path(), endpoint, SECRET_KEY);
    let retries = retries.to_string();
    cmd.args(["--json", "-q", "--timeout", "1", "--retries", &retries])
        .args(flags)
        .arg("-o")
        .arg(home.path().join("out"))
        .args(["-u", url]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let reason = report["items"][0]["error"].as_str().unwrap_or_default();
    (output.clone(), reason.to_string())
}

/// What every stall of an S3 request says, with `--timeout 1`.
const STALLED: &str = "no data arrived for 1 s; the transfer stalled";

#[tokio::test]
async fn a_head_that_stalls_is_an_attempt_of_its_url() {
    let silent = Unanswering::start().await;
    let (output, reason) = failing(&silent.endpoint(), 0, &[], "s3://bucket/k").await;
    assert_eq!(reason, STALLED, "{}", describe(&output));
    assert_eq!(
        silent.requests(),
        vec!["HEAD /bucket/k"],
        "--retries 0: no GET after the HEAD stalled"
    );

    let silent = Unanswering::start().await;
    let (output, reason) = failing(&silent.endpoint(), 1, &[], "s3://bucket/k").await;
    assert_eq!(reason, STALLED, "{}", describe(&output));
    assert_eq!(silent.requests(), vec!["HEAD /bucket/k"; 2]);
}

#[tokio::test]
async fn a_listing_that_stalls_says_so() {
    for retries in [0, 1] {
        let silent = Unanswering::start().await;
        let (output, reason) = failing(&silent.endpoint(), retries, &[], "s3://bucket/tree/").await;
        assert_eq!(
            reason,
            format!("cannot list the prefix: {STALLED}"),
            "{}",
            describe(&output)
        );
        let asked = silent.requests();
        assert_eq!(asked.len(), retries as usize + 1, "{asked:?}");
        assert!(
            asked.iter().all(|r| r.starts_with("GET /bucket")),
            "{asked:?}"
        );
    }
}

#[tokio::test]
async fn a_get_that_stalls_says_so_once_per_attempt() {
    let s3 = S3Server::start().await;
    s3.put("bucket", "one.bin", data(1000, 3)).await;
    s3.put("bucket", "tree/two.bin", data(1000, 4)).await;
    s3.stall_gets_after(0);
    // A single key: its HEAD is answered, its GET never.
    let (output, reason) = failing(&s3.endpoint, 0, &[], "s3://bucket/one.bin").await;
    assert_eq!(reason, STALLED, "{}", describe(&output));
    assert_eq!(s3.ranges("/bucket/one.bin").len(), 1);
    // A listed object: no HEAD, a GET of the whole, retried once.
    let (output, reason) = failing(&s3.endpoint, 1, &[], "s3://bucket/tree/").await;
    assert_eq!(reason, STALLED, "{}", describe(&output));
    assert_eq!(s3.ranges("/bucket/tree/two.bin").len(), 2);
}

#[tokio::test]
async fn a_part_that_stalls_says_so_once_per_attempt() {
    let s3 = S3Server::start().await;
    s3.put("bucket", "big.bin", data(3 * 1024 * 1024, 5)).await;
    // The first part is answered, the second never.
    s3.stall_gets_after(1);
    let flags = ["--part-size", "1MiB", "-x", "1"];
    let (output, reason) = failing(&s3.endpoint, 0, &flags, "s3://bucket/big.bin").await;
    assert_eq!(reason, STALLED, "{}", describe(&output));
    let ranges = s3.ranges("/bucket/big.bin");
    assert_eq!(
        ranges,
        vec![
            Some("bytes=0-1048575".to_string()),
            Some("bytes=1048576-2097151".to_string())
        ]
    );
}

#[tokio::test]
async fn connections_that_fail_say_how() {
    let refused = closed_port();
    let (output, reason) = failing(&format!("http://{refused}"), 0, &[], "s3://bucket/k").await;
    assert_eq!(
        reason,
        format!("could not reach S3 at {refused}: the connection was refused"),
        "{}",
        describe(&output)
    );

    let (output, reason) = failing("http://fetch-test.invalid:9000", 0, &[], "s3://b/k").await;
    assert!(
        reason.starts_with(
            "could not reach S3 at fetch-test.invalid:9000: its name could not be resolved ("
        ),
        "{}",
        describe(&output)
    );

    // TLS spoken to a server that answers in plain http.
    let s3 = S3Server::start().await;
    let plain = s3.endpoint.replace("http://", "https://");
    let (output, reason) = failing(&plain, 0, &[], "s3://bucket/k").await;
    let at = plain.trim_start_matches("https://");
    assert!(
        reason.starts_with(&format!(
            "could not reach S3 at {at}: the TLS handshake failed ("
        )),
        "{}",
        describe(&output)
    );
}

#[tokio::test]
async fn an_object_with_no_stored_checksum_is_kept_when_its_etag_is_the_files_md5() {
    let s3 = S3Server::start().await;
    let body = data(150_000, 23);
    s3.put_without_checksum("bucket", "old/app.jar", body.clone())
        .await;
    let fetcher = Fetcher::new(&s3);
    let url = ["s3://bucket/old/app.jar"];
    assert_exit(&fetcher.run(&["-q"], &url).await, 0);

    let before = s3.requests().len();
    let output = fetcher.run(&["-q", "--json"], &url).await;
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["already_present"], true, "{report}");
    assert_eq!(report["items"][0]["s3_checksum_verified"], "md5-etag");
    assert_eq!(s3.requests()[before..], ["HEAD /bucket/old/app.jar"]);

    // Other bytes of the same size are not the object: downloaded again.
    let mut changed = body.clone();
    changed[7] ^= 0x01;
    std::fs::write(fetcher.out.join("app.jar"), &changed).unwrap();
    let output = fetcher.run(&["-q", "--json"], &url).await;
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["already_present"], false, "{report}");
    assert_eq!(std::fs::read(fetcher.out.join("app.jar")).unwrap(), body);
}

#[tokio::test]
async fn an_object_already_there_is_kept_after_one_head() {
    let s3 = S3Server::start().await;
    let body = data(200_000, 21);
    s3.put("bucket", "boot/app.jar", body.clone()).await;
    s3.put("bucket", "tree/a.bin", data(1000, 22)).await;
    let fetcher = Fetcher::new(&s3);
    let out = &fetcher.out;
    let urls = ["s3://bucket/boot/app.jar", "s3://bucket/tree/"];
    let output = fetcher.run(&["-q", "--json"], &urls).await;
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["already_present"], false);

    // Run again: one HEAD for each file (and the prefix's listing), no GET of an object.
    let before = s3.requests().len();
    let output = fetcher.run(&["--json"], &urls).await;
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for item in report["items"].as_array().unwrap() {
        assert_eq!(item["status"], "ok", "{item}");
        assert_eq!(item["already_present"], true, "{item}");
        assert_eq!(item["s3_checksum_verified"], "crc32", "{item}");
    }
    let mut asked = s3.requests()[before..].to_vec();
    asked.sort();
    assert_eq!(
        asked,
        vec![
            "GET /bucket/",
            "HEAD /bucket/boot/app.jar",
            "HEAD /bucket/tree/a.bin"
        ]
    );
    assert!(
        stderr(&output).contains("-> ") && stderr(&output).contains("app.jar (already present)"),
        "{}",
        describe(&output)
    );

    // A file of the same size whose bytes differ is downloaded again, and replaced.
    let mut changed = body.clone();
    changed[100] ^= 0xff;
    std::fs::write(out.join("app.jar"), &changed).unwrap();
    let gets = s3.ranges("/bucket/boot/app.jar").len();
    let output = fetcher.run(&["-q", "--json"], &urls[..1]).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("app.jar")).unwrap(), body);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["already_present"], false);
    assert_eq!(s3.ranges("/bucket/boot/app.jar").len(), gets + 1);
}
