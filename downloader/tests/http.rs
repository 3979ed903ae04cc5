//! fetch against a real HTTP/HTTPS server: names, dedup, retries, ranges, resume, redirects, TLS.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::time::Duration;

#[tokio::test]
async fn downloads_and_deduplicates() {
    let server = HttpServer::start().await;
    server.route("/a.txt", Route::file("alpha"));
    server.route("/one/f.txt", Route::file("first"));
    server.route("/two/f.txt", Route::file("second"));
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.args([
        server.url("/a.txt"),
        server.url("/a.txt"),
        server.url("/one/f.txt"),
        server.url("/two/f.txt"),
    ]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"alpha");
    assert_eq!(
        server.hits("/a.txt").len(),
        1,
        "the same URL is fetched once"
    );
    // Last writer wins; the earlier URL is reported as skipped, naming the winner.
    assert_eq!(std::fs::read(out.join("f.txt")).unwrap(), b"second");
    assert!(server.hits("/one/f.txt").is_empty());
    let err = stderr(&output);
    assert!(
        err.contains(&format!("superseded by {}", server.url("/two/f.txt"))),
        "{err}"
    );
    assert!(err.contains("2 succeeded, 0 failed, 1 skipped"), "{err}");
    assert_eq!(
        files(&out),
        vec!["a.txt", "f.txt"],
        "no helper files are left"
    );
}

#[tokio::test]
async fn names_cannot_escape_the_output_directory() {
    let server = HttpServer::start().await;
    server.route("/x/..%2F..%2Fescaped", Route::file("nope"));
    server.route(
        "/download",
        Route {
            location: Some("/x/../../etc/passwd".into()),
            ..Route::default()
        },
    );
    server.route("/etc/passwd", Route::file("redirected"));
    server.route("/", Route::file("<html>"));
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("deep").join("out");
    let mut cmd = fetch(home.path());
    cmd.args(["-q", "-o", out.to_str().unwrap(), "-u"]).args([
        server.url("/x/..%2F..%2Fescaped"),
        server.url("/download"),
        server.url("/"),
    ]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(files(&out), vec![".._.._escaped", "download", "index.html"]);
    assert_eq!(std::fs::read(out.join("download")).unwrap(), b"redirected");
    assert_eq!(
        files(&home.path().join("deep")).len(),
        3,
        "nothing was written outside"
    );
}

#[tokio::test]
async fn checksums_are_verified() {
    let server = HttpServer::start().await;
    let body = data(100_000, 7);
    let good = hex::encode(Sha256::digest(&body));
    server.route("/good.bin", Route::file(body.clone()));
    server.route("/bad.bin", Route::file(body.clone()));
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("bad.bin"), b"the good old file").unwrap();
    let mut cmd = fetch(home.path());
    cmd.args(["-q", "--json", "-o", out.to_str().unwrap(), "-u"])
        .args([
            format!("{}#sha256={good}", server.url("/good.bin")),
            format!("{}#sha256={}", server.url("/bad.bin"), "0".repeat(64)),
        ]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert_eq!(std::fs::read(out.join("good.bin")).unwrap(), body);
    assert_eq!(
        std::fs::read(out.join("bad.bin")).unwrap(),
        b"the good old file",
        "a failed download never replaces an existing file"
    );
    assert_eq!(
        files(&out),
        vec!["bad.bin", "good.bin"],
        "no partial file is left"
    );
    assert!(
        stderr(&output).contains("SHA-256 mismatch"),
        "{}",
        describe(&output)
    );
    // The fragment is never sent to the server.
    assert!(
        server
            .hits("/good.bin")
            .iter()
            .all(|h| !h.path.contains("sha256"))
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["sha256_verified"], true);
    assert_eq!(report["items"][1]["status"], "failed");
}

#[tokio::test]
async fn transient_errors_are_retried_and_permanent_ones_are_not() {
    let server = HttpServer::start().await;
    server.route(
        "/flaky",
        Route {
            fail_first: 2,
            retry_after: Some("0".into()),
            ..Route::file("finally")
        },
    );
    server.route(
        "/gone",
        Route {
            status: Some(404),
            ..Route::default()
        },
    );
    server.route(
        "/denied",
        Route {
            status: Some(403),
            ..Route::default()
        },
    );
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.args([
        server.url("/flaky"),
        server.url("/gone"),
        server.url("/denied"),
    ]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert_eq!(std::fs::read(out.join("flaky")).unwrap(), b"finally");
    assert_eq!(server.hits("/flaky").len(), 3, "two 503s, then success");
    assert_eq!(server.hits("/gone").len(), 1, "a 404 is not retried");
    assert_eq!(server.hits("/denied").len(), 1, "a 403 is not retried");
    let err = stderr(&output);
    assert!(err.contains("the server answered 404"), "{err}");
    assert!(err.contains("1 succeeded, 2 failed, 0 skipped"), "{err}");
}

#[tokio::test]
async fn retries_give_up_after_the_limit() {
    let server = HttpServer::start().await;
    server.route(
        "/down",
        Route {
            fail_first: 100,
            ..Route::file("never")
        },
    );
    let home = tempfile::tempdir().unwrap();
    let mut cmd = fetch(home.path());
    cmd.args([
        "-q",
        "--retries",
        "2",
        "-o",
        home.path().to_str().unwrap(),
        "-u",
    ])
    .arg(server.url("/down"));
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert_eq!(server.hits("/down").len(), 3);
    assert!(stderr(&output).contains("503"), "{}", describe(&output));
}

#[tokio::test]
async fn a_dropped_connection_resumes_with_a_validated_range() {
    let server = HttpServer::start().await;
    let body = data(300_000, 3);
    server.route(
        "/cut.bin",
        Route {
            cuts: 1,
            cut_after: 100_000,
            ..Route::file(body.clone())
        },
    );
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/cut.bin"));
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("cut.bin")).unwrap(), body);
    let hits = server.hits("/cut.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    let retry = &hits[1];
    let range = retry.header("range").expect("the retry asks for a range");
    let start: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split('-').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (16_384..=100_000).contains(&start),
        "the retry continues, not restarts: {range}"
    );
    assert_eq!(
        retry.header("if-range"),
        Some("\"300000\""),
        "the range is validated"
    );
}

#[tokio::test]
async fn a_dropped_https_connection_is_retried_not_blamed_on_the_certificate() {
    // HTTP/1.1 cut without TLS's close_notify, as a crashed server or a proxy's timeout leaves it.
    let tls = HttpServer::start_tls_http1().await;
    let body = data(300_000, 4);
    tls.route(
        "/cut.bin",
        Route {
            cuts: 1,
            cut_after: 100_000,
            ..Route::file(body.clone())
        },
    );
    let (home, out, mut cmd) = quiet_fetch();
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, tls.ca_pem.as_ref().unwrap()).unwrap();
    cmd.arg(tls.url("/cut.bin")).arg("--ca-cert").arg(&ca);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("cut.bin")).unwrap(), body);
    let hits = tls.hits("/cut.bin");
    assert_eq!(hits.len(), 2, "one retry, resumed: {hits:?}");
    assert!(hits[1].header("range").is_some());
}

#[tokio::test]
async fn a_file_that_cannot_take_its_name_leaves_nothing_behind() {
    let server = HttpServer::start().await;
    server.route("/taken.bin", Route::file(data(3 * 1024 * 1024, 6)));
    let (_home, out, mut cmd) = quiet_fetch();
    std::fs::create_dir_all(out.join("taken.bin").join("inside")).unwrap();
    cmd.arg(server.url("/taken.bin"))
        .args(["--part-size", "1MiB"]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert!(
        files(&out).is_empty(),
        "no partial file left: {:?}",
        files(&out)
    );
    assert!(out.join("taken.bin").join("inside").is_dir());
}

#[tokio::test]
async fn a_server_without_ranges_is_downloaded_again_from_the_start() {
    let server = HttpServer::start().await;
    let body = data(200_000, 5);
    server.route(
        "/plain.bin",
        Route {
            cuts: 1,
            cut_after: 50_000,
            ..Route::no_ranges(body.clone())
        },
    );
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/plain.bin"));
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("plain.bin")).unwrap(), body);
    let hits = server.hits("/plain.bin");
    assert_eq!(hits.len(), 2);
    assert_eq!(
        hits[1].header("range"),
        None,
        "no range is asked of a server that ignores them"
    );
}

/// A file served with ranges but no ETag or Last-Modified, replaced at the same size once its
/// first answer went out: nothing could tell the later ranges that they come from another file.
fn changes_without_a_validator(old: &[u8], new: &[u8]) -> Route {
    Route {
        etag: None,
        changes_to: Some(new.to_vec().into()),
        ..Route::file(old.to_vec())
    }
}

#[tokio::test]
async fn a_file_without_a_validator_is_not_spliced_from_two_versions() {
    let server = HttpServer::start().await;
    let (old, new) = (data(1024 * 1024, 1), data(1024 * 1024, 2));
    server.route("/big.bin", changes_without_a_validator(&old, &new));
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/big.bin"))
        .args(["--part-size", "256KiB", "-x", "4"]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert!(
        std::fs::read(out.join("big.bin")).unwrap() == new,
        "the file is one version whole, not parts of both"
    );
    let hits = server.hits("/big.bin");
    let ranges: Vec<_> = hits.iter().map(|h| h.header("range")).collect();
    assert_eq!(ranges, [Some("bytes=0-262143"), None], "asked for whole");
}

#[tokio::test]
async fn a_retry_without_a_validator_starts_over() {
    let server = HttpServer::start().await;
    let (old, new) = (data(200_000, 3), data(200_000, 4));
    server.route(
        "/cut.bin",
        Route {
            cuts: 1,
            cut_after: 100_000,
            ..changes_without_a_validator(&old, &new)
        },
    );
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/cut.bin"));
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert!(std::fs::read(out.join("cut.bin")).unwrap() == new);
    let hits = server.hits("/cut.bin");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[1].header("range"), None, "the retry asks for it whole");
}

#[tokio::test]
async fn a_retry_without_a_validator_takes_a_whole_answer_of_untold_size() {
    let server = HttpServer::start().await;
    let body = data(200_000, 5);
    server.route(
        "/stream.bin",
        Route {
            etag: None,
            no_length: true,
            cuts: 1,
            cut_after: 100_000,
            ..Route::file(body.clone())
        },
    );
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/stream.bin"));
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("stream.bin")).unwrap(), body);
    let ranges: Vec<_> = server
        .hits("/stream.bin")
        .iter()
        .map(|h| h.header("range").map(String::from))
        .collect();
    assert_eq!(
        ranges,
        [Some("bytes=0-8388607".to_string()), None],
        "the whole answer is taken, not refused as another file"
    );
}

#[tokio::test]
async fn an_interrupted_run_is_resumed_by_the_next() {
    let server = HttpServer::start().await;
    let body = data(400_000, 9);
    server.route(
        "/resume.bin",
        Route {
            cuts: 1,
            cut_after: 150_000,
            ..Route::file(body.clone())
        },
    );
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let args = [
        "-q",
        "--json",
        "--retries",
        "0",
        "-o",
        out.to_str().unwrap(),
        "-u",
    ];
    let item = |output: &std::process::Output| {
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        report["items"][0].clone()
    };

    let mut first = fetch(home.path());
    first.args(args).arg(server.url("/resume.bin"));
    let output = run(first).await;
    assert_exit(&output, 1);
    assert!(
        !out.join("resume.bin").exists(),
        "no file under the final name"
    );
    assert_eq!(
        files(&out),
        vec![".resume.bin.fetch-part", ".resume.bin.fetch-state"],
        "the partial file and its state are kept"
    );
    let got = item(&output)["bytes"].as_u64().unwrap();
    assert!(
        (1..=150_000).contains(&got),
        "a failed file reports the bytes it got: {got}"
    );

    let mut second = fetch(home.path());
    second.args(args).arg(server.url("/resume.bin"));
    let output = run(second).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("resume.bin")).unwrap(), body);
    assert_eq!(files(&out), vec!["resume.bin"]);
    let done = item(&output);
    assert_eq!(done["bytes"], 400_000);
    assert_eq!(
        done["resumed_bytes"], got,
        "it resumes from what the first run kept"
    );
    assert!(
        stderr(&output).contains("(resumed after "),
        "{}",
        describe(&output)
    );
    let hits = server.hits("/resume.bin");
    assert_eq!(hits.len(), 2);
    let range = hits[1].header("range").unwrap();
    assert_ne!(range, "bytes=0-", "the second run resumes: {range}");
    assert!(
        !range.starts_with("bytes=0-"),
        "the second run resumes: {range}"
    );
    assert_eq!(hits[1].header("if-range"), Some("\"400000\""));
}

/// Fetches a `size` file in 256 KiB parts from `route` (its body replaced), with `args`;
/// returns how many requests waited out the route's latency at once, and how many connections
/// fetch opened.
async fn parts_at_once(size: usize, route: Route, args: &[&str]) -> (usize, usize) {
    let server = HttpServer::start().await;
    let body = data(size, 5);
    server.route(
        "/big.bin",
        Route {
            body: body.clone().into(),
            ..route
        },
    );
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/big.bin"))
        .args(["--part-size", "256KiB"])
        .args(args);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), body);
    (server.most_at_once("/big.bin"), server.connections())
}

#[tokio::test]
async fn a_server_that_caps_each_connection_gets_more_connections() {
    // 2 MiB/s per connection, as nginx's limit_rate sets, for 24 MiB: 2 parts would take 6 s.
    let capped = Route {
        rate: 2 * 1024 * 1024,
        ..Route::file(Vec::new())
    };
    let (_, connections) = parts_at_once(24 * 1024 * 1024, capped, &[]).await;
    assert!(
        connections >= 5,
        "without -x, each part that raises the rate by a connection's share brings another: {connections} connections"
    );
}

#[tokio::test]
async fn x_fixes_the_parts_in_flight_from_the_start_and_a_fast_server_keeps_two() {
    let slow = || Route {
        latency: Duration::from_millis(100),
        ..Route::file(Vec::new())
    };
    assert_eq!(
        parts_at_once(3 * 1024 * 1024, slow(), &["-x", "5"]).await.0,
        5,
        "an explicit -x holds from the start"
    );
    // 6 parts after 100 ms each, 2 at once: done (in about 0.3 s) before the first measurement
    // ends (at 0.7 s).
    let (at_once, _) = parts_at_once(1536 * 1024, slow(), &[]).await;
    assert_eq!(at_once, 2, "a split file starts with 2 parts in flight");
}

#[tokio::test]
async fn connections_are_reused_not_multiplied() {
    let server = HttpServer::start().await;
    let (_home, out, mut cmd) = quiet_fetch();
    for i in 0..200 {
        let path = format!("/small/{i}.bin");
        server.route(&path, Route::file(data(64 * 1024, i as u8)));
        cmd.arg(server.url(&path));
    }
    cmd.args(["-j", "4"]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(files(&out).len(), 200);
    assert!(
        server.connections() <= 4,
        "-j 4 keeps to 4 connections for 200 files, not {}",
        server.connections()
    );

    let body = data(3 * 1024 * 1024, 9);
    server.route("/big.bin", Route::file(body.clone()));
    let before = server.connections();
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/big.bin"))
        .args(["--part-size", "128KiB", "-x", "3"]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), body);
    assert!(
        server.hits("/big.bin").len() >= 9,
        "the file came in several parts per connection"
    );
    assert!(
        server.connections() - before <= 3,
        "-x 3 keeps a file's parts to 3 connections, not {}",
        server.connections() - before
    );
}

#[tokio::test]
async fn redirects_and_retried_errors_keep_their_connection() {
    let server = HttpServer::start().await;
    let (_home, out, mut cmd) = quiet_fetch();
    for i in 0..20 {
        let (from, to) = (format!("/moved/{i}.bin"), format!("/here/{i}.bin"));
        server.route(
            &from,
            Route {
                location: Some(to.clone()),
                ..Route::default()
            },
        );
        server.route(&to, Route::file(data(1024, i as u8)));
        cmd.arg(server.url(&from));
    }
    server.route(
        "/flaky.bin",
        Route {
            fail_first: 2,
            retry_after: Some("0".into()),
            ..Route::file("at last")
        },
    );
    cmd.arg(server.url("/flaky.bin")).args(["-j", "1"]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(files(&out).len(), 21);
    assert_eq!(server.hits("/flaky.bin").len(), 3);
    // The redirects' and the 503s' short pages are read, so their connection serves on.
    assert_eq!(
        server.connections(),
        1,
        "20 redirects and 2 retries at -j 1 keep to one connection"
    );
}

#[tokio::test]
async fn large_files_come_in_parallel_parts() {
    let server = HttpServer::start().await;
    let body = data(3 * 1024 * 1024 + 17, 11);
    server.route("/big.bin", Route::file(body.clone()));
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let mut cmd = fetch(home.path());
    cmd.args([
        "-q",
        "--part-size",
        "256KiB",
        "-x",
        "4",
        "-o",
        out.to_str().unwrap(),
        "-u",
    ])
    .arg(server.url("/big.bin"));
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(
        std::fs::read(out.join("big.bin")).unwrap(),
        body,
        "parts reassemble byte-exact"
    );
    let hits = server.hits("/big.bin");
    assert_eq!(hits.len(), 13, "one request per 256 KiB part");
    assert_eq!(hits[0].header("range"), Some("bytes=0-262143"));
    assert!(
        hits[1..]
            .iter()
            .all(|h| h.header("if-range") == Some("\"3145745\""))
    );
}

#[tokio::test]
async fn https_downgrade_is_refused_and_credentials_stay_home() {
    let tls = HttpServer::start_tls().await;
    let plain = HttpServer::start().await;
    plain.route("/target", Route::file("insecure"));
    tls.route(
        "/down",
        Route {
            location: Some(plain.url("/target")),
            ..Route::default()
        },
    );
    // Same port, other host name: a cross-host redirect.
    let other = HttpServer::start().await;
    other.route(
        "/secret",
        Route {
            location: Some(format!("http://localhost:{}/landing", other.addr.port())),
            ..Route::default()
        },
    );
    other.route("/landing", Route::file("landed"));
    let home = tempfile::tempdir().unwrap();
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, tls.ca_pem.as_ref().unwrap()).unwrap();
    let out = home.path().join("out");
    let mut cmd = fetch(home.path());
    cmd.args([
        "-q",
        "--ca-cert",
        ca.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-u",
    ])
    .arg(tls.url("/down"))
    .arg(format!("http://user:hunter2@{}/secret", other.addr));
    let output = run(cmd).await;
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("refused a redirect from https to http"),
        "{err}"
    );
    assert!(
        plain.hits("/target").is_empty(),
        "the downgrade was never requested"
    );
    assert_eq!(std::fs::read(out.join("secret")).unwrap(), b"landed");
    assert!(other.hits("/secret")[0].header("authorization").is_some());
    assert_eq!(
        other.hits("/landing")[0].header("authorization"),
        None,
        "credentials never follow a redirect to another host"
    );
    assert!(!err.contains("hunter2"), "userinfo is redacted: {err}");
}

#[tokio::test]
async fn redirect_loops_and_other_schemes_fail_cleanly() {
    let server = HttpServer::start().await;
    let redirect = |to: &str| Route {
        location: Some(to.into()),
        ..Route::default()
    };
    server.route("/loop", redirect("/loop"));
    server.route("/ftp", redirect("ftp://127.0.0.1/file"));
    let (_home, _out, mut cmd) = quiet_fetch();
    cmd.args([server.url("/loop"), server.url("/ftp")]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("too many redirects (more than 10)"), "{err}");
    assert!(err.contains("only http and https are followed"), "{err}");
    assert_eq!(
        server.hits("/loop").len(),
        11,
        "the first request and ten redirects, not retried"
    );
}

#[tokio::test]
async fn headers_stay_with_the_urls_own_origin() {
    let home_server = HttpServer::start().await;
    // Another port on the same host is another origin.
    let elsewhere = HttpServer::start().await;
    let redirect = |to: String| Route {
        location: Some(to),
        ..Route::default()
    };
    home_server.route("/same", redirect("/file".into()));
    home_server.route("/file", Route::file("same origin"));
    home_server.route("/away", redirect(elsewhere.url("/landing")));
    elsewhere.route("/landing", redirect(home_server.url("/back")));
    home_server.route("/back", Route::file("came back"));
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let header_file = home.path().join("headers");
    std::fs::write(
        &header_file,
        "# the artifact server's token\nAuthorization: Bearer t0ken\n",
    )
    .unwrap();
    let mut cmd = fetch(home.path());
    cmd.args([
        "-v",
        "-o",
        out.to_str().unwrap(),
        "-H",
        "X-Api-Key: s3cret",
        "-H",
    ])
    .arg(format!("@{}", header_file.display()))
    .arg("-u")
    .args([home_server.url("/same"), home_server.url("/away")]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("same")).unwrap(), b"same origin");
    assert_eq!(std::fs::read(out.join("away")).unwrap(), b"came back");
    for path in ["/same", "/file", "/away"] {
        let hit = &home_server.hits(path)[0];
        assert_eq!(hit.header("x-api-key"), Some("s3cret"), "{path}");
        assert_eq!(hit.header("authorization"), Some("Bearer t0ken"), "{path}");
    }
    let landing = &elsewhere.hits("/landing")[0];
    assert_eq!(
        landing.header("x-api-key"),
        None,
        "headers never leave the origin"
    );
    assert_eq!(landing.header("authorization"), None);
    let back = &home_server.hits("/back")[0];
    assert_eq!(
        back.header("x-api-key"),
        None,
        "a chain that left the origin does not pick them up again"
    );
    let err = stderr(&output);
    assert!(!err.contains("s3cret") && !err.contains("t0ken"), "{err}");
}

#[tokio::test]
async fn the_system_roots_are_read_when_an_https_server_is_met() {
    // The system's roots are read lazily; SSL_CERT_FILE stands in for the machine's CA bundle.
    let tls = HttpServer::start_tls().await;
    tls.route("/secure.txt", Route::file("trusted by the system"));
    let (home, out, mut cmd) = quiet_fetch();
    let bundle = home.path().join("system-ca.pem");
    std::fs::write(&bundle, tls.ca_pem.as_ref().unwrap()).unwrap();
    cmd.arg(tls.url("/secure.txt"))
        .env("SSL_CERT_FILE", &bundle);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(
        std::fs::read(out.join("secure.txt")).unwrap(),
        b"trusted by the system"
    );
}

#[tokio::test]
async fn https_needs_a_trusted_ca() {
    let tls = HttpServer::start_tls().await;
    tls.route("/secure.txt", Route::file("over tls"));
    let (home, out, mut untrusted) = quiet_fetch();

    untrusted.arg(tls.url("/secure.txt"));
    let output = run(untrusted).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--ca-cert"),
        "{}",
        describe(&output)
    );

    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, tls.ca_pem.as_ref().unwrap()).unwrap();
    let mut trusted = fetch(home.path());
    trusted
        .args([
            "-q",
            "--ca-cert",
            ca.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-u",
        ])
        .arg(tls.url("/secure.txt"));
    let output = run(trusted).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("secure.txt")).unwrap(), b"over tls");
}

#[tokio::test]
async fn stalls_time_out_and_the_deadline_bounds_the_run() {
    let server = HttpServer::start().await;
    server.route(
        "/stall",
        Route {
            stall_after: Some(1000),
            ..Route::file(data(100_000, 1))
        },
    );
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");

    let mut idle = fetch(home.path());
    idle.args([
        "-q",
        "--timeout",
        "0.5",
        "--retries",
        "1",
        "-o",
        out.to_str().unwrap(),
        "-u",
    ])
    .arg(server.url("/stall"));
    let output = run(idle).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("no data arrived for 0.5 s"),
        "{}",
        describe(&output)
    );
    assert_eq!(server.hits("/stall").len(), 2, "a stall is retried");

    let mut deadline = fetch(home.path());
    deadline
        .args(["-q", "--deadline", "1", "-o", out.to_str().unwrap(), "-u"])
        .arg(server.url("/stall"));
    let started = std::time::Instant::now();
    let output = run(deadline).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--deadline passed"),
        "{}",
        describe(&output)
    );
    // Not a timing assertion on speed: only that the 30 s idle timeout did not have to pass.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(!out.join("stall").exists());

    // What a server without ranges sent cannot be resumed, and the report does not claim it was.
    server.route(
        "/plain",
        Route {
            stall_after: Some(1000),
            ..Route::no_ranges(data(100_000, 2))
        },
    );
    let plain = home.path().join("plain");
    let mut deadline = fetch(home.path());
    deadline
        .args(["-q", "--deadline", "1", "-o", plain.to_str().unwrap(), "-u"])
        .arg(server.url("/plain"));
    let output = run(deadline).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("what arrived was not kept"),
        "{}",
        describe(&output)
    );
    assert!(files(&plain).is_empty(), "{:?}", files(&plain));
}

/// Serves `body` as `/big.bin`, its first part at once and every later answer after a minute,
/// and gives the flags that fetch it in 1 MiB parts with a one-second `--deadline`.
fn first_part_then_a_minute(server: &HttpServer, body: &[u8]) -> [&'static str; 8] {
    server.route(
        "/big.bin",
        Route {
            latency: std::time::Duration::from_secs(60),
            fast_first: 1,
            ..Route::file(body.to_vec())
        },
    );
    [
        "--part-size",
        "1MiB",
        "-x",
        "2",
        "--timeout",
        "100",
        "--deadline",
        "1",
    ]
}

#[tokio::test]
async fn the_deadline_cuts_a_waiting_part_short_and_keeps_what_arrived() {
    let server = HttpServer::start().await;
    let body = data(3 * 1024 * 1024, 14);
    let (home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/big.bin"))
        .args(first_part_then_a_minute(&server, &body));
    let started = std::time::Instant::now();
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--deadline passed; the 1.00 MiB that arrived were kept"),
        "{}",
        describe(&output)
    );
    // Not a timing assertion on speed: only that the parts' answers were not waited for.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(
        files(&out),
        vec![".big.bin.fetch-part", ".big.bin.fetch-state"]
    );

    server.route("/big.bin", Route::file(body.clone()));
    let mut again = fetch(home.path());
    again
        .args(["-q", "--json", "-o", out.to_str().unwrap(), "-u"])
        .arg(server.url("/big.bin"));
    let output = run(again).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), body);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["resumed_bytes"], 1024 * 1024);
}

#[tokio::test]
async fn a_stop_that_cannot_save_its_state_says_what_arrived_was_removed() {
    let server = HttpServer::start().await;
    let (_home, out, mut cmd) = quiet_fetch();
    // A directory where the state file would go: the state cannot be written there.
    std::fs::create_dir_all(out.join(".big.bin.fetch-state")).unwrap();
    cmd.arg(server.url("/big.bin"))
        .args(first_part_then_a_minute(
            &server,
            &data(3 * 1024 * 1024, 16),
        ));
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains(
            "--deadline passed; what arrived was removed, as the state to resume it could not be written beside it"
        ),
        "{}",
        describe(&output)
    );
    // No partial file is left behind without the state that would resume it.
    assert!(files(&out).is_empty(), "{:?}", files(&out));
}

#[tokio::test]
async fn presigned_secrets_never_show() {
    let server = HttpServer::start().await;
    server.route("/obj", Route::file("signed"));
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let url = format!(
        "{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIASECRETID&X-Amz-Signature=deadbeefcafe",
        server.url("/obj")
    );
    let mut cmd = fetch(home.path());
    cmd.args(["--json", "-o", out.to_str().unwrap(), "-u", &url]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(!all.contains("deadbeefcafe"), "{all}");
    assert!(!all.contains("AKIASECRETID"), "{all}");
    assert!(all.contains("X-Amz-Signature=REDACTED"), "{all}");
    assert_eq!(std::fs::read(out.join("obj")).unwrap(), b"signed");
}

#[tokio::test]
async fn ctrl_c_keeps_a_resumable_partial_file_and_exits_130() {
    let server = HttpServer::start().await;
    let body = data(500_000, 13);
    server.route(
        "/slow.bin",
        Route {
            stall_after: Some(200_000),
            ..Route::file(body.clone())
        },
    );
    let (home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/slow.bin"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Wait until the server has sent what it will send before the stall.
    for _ in 0..100 {
        if !server.hits("/slow.bin").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_exit(&output, 130);
    assert!(
        stderr(&output).contains("interrupted"),
        "{}",
        describe(&output)
    );
    assert_eq!(
        files(&out),
        vec![".slow.bin.fetch-part", ".slow.bin.fetch-state"]
    );

    // The next run picks up where the first stopped.
    server.route("/slow.bin", Route::file(body.clone()));
    let mut again = fetch(home.path());
    again
        .args(["-q", "-o", out.to_str().unwrap(), "-u"])
        .arg(server.url("/slow.bin"));
    let output = run(again).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("slow.bin")).unwrap(), body);
    let hits = server.hits("/slow.bin");
    let range = hits.last().unwrap().header("range").unwrap().to_string();
    assert!(
        !range.starts_with("bytes=0-"),
        "resumed, not restarted: {range}"
    );
}

#[tokio::test]
async fn empty_files_arrive_empty() {
    let server = HttpServer::start().await;
    server.route("/empty", Route::file(Vec::new()));
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.arg(server.url("/empty"));
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("empty")).unwrap(), b"");
    let hits = server.hits("/empty");
    assert_eq!(hits.len(), 2, "416 for byte 0, then the whole (empty) file");
    assert_eq!(hits[1].header("range"), None);
}

#[tokio::test]
async fn a_pinned_file_already_there_is_not_fetched_again() {
    let server = HttpServer::start().await;
    let body = data(300_000, 23);
    let sha = hex::encode(Sha256::digest(&body));
    server.route("/app.jar", Route::file(body.clone()));
    let (home, out, mut cmd) = quiet_fetch();
    let url = format!("{}#sha256={sha}", server.url("/app.jar"));
    let again = || {
        let mut cmd = fetch(home.path());
        cmd.args(["--json", "-o", out.to_str().unwrap(), "-u", &url]);
        cmd
    };
    cmd.arg(&url);
    assert_exit(&run(cmd).await, 0);
    let downloaded = server.hits("/app.jar").len();

    let output = run(again()).await;
    assert_exit(&output, 0);
    assert_eq!(server.hits("/app.jar").len(), downloaded, "no request");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let item = &report["items"][0];
    assert_eq!(item["status"], "ok");
    assert_eq!(item["already_present"], true);
    assert_eq!(item["sha256_verified"], true);
    assert_eq!(item["bytes"], 300_000);
    assert!(
        stderr(&output).contains("app.jar (already present)"),
        "{}",
        describe(&output)
    );

    // Another file under that name is downloaded as if there were none, and replaced.
    std::fs::write(out.join("app.jar"), b"an older build").unwrap();
    let output = run(again()).await;
    assert_exit(&output, 0);
    assert!(server.hits("/app.jar").len() > downloaded);
    assert_eq!(std::fs::read(out.join("app.jar")).unwrap(), body);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["already_present"], false);

    // Without a pin, nothing proves the file there is the one wanted: it is downloaded.
    let hits = server.hits("/app.jar").len();
    let mut unpinned = fetch(home.path());
    unpinned
        .args(["-q", "-o", out.to_str().unwrap(), "-u"])
        .arg(server.url("/app.jar"));
    assert_exit(&run(unpinned).await, 0);
    assert!(server.hits("/app.jar").len() > hits);
}

/// How many bytes `.NAME.fetch-state` in `out` says are on disk, once it is there.
fn saved_bytes(out: &std::path::Path, name: &str) -> Option<u64> {
    let state = std::fs::read(out.join(format!(".{name}.fetch-state"))).ok()?;
    let state: serde_json::Value = serde_json::from_slice(&state).ok()?;
    state["parts"]
        .as_array()?
        .iter()
        .map(|part| part[2].as_u64())
        .sum()
}

#[tokio::test]
async fn progress_survives_a_kill_9() {
    // Split into parts, and in one stream: both keep their state on disk as they go.
    for (name, flags) in [
        ("split.bin", ["--part-size", "1MiB", "-x", "2"]),
        ("stream.bin", ["--part-size", "64MiB", "-x", "2"]),
    ] {
        let server = HttpServer::start().await;
        let body = data(8 * 1024 * 1024, 31);
        let path = format!("/{name}");
        server.route(
            &path,
            Route {
                rate: 1024 * 1024,
                ..Route::file(body.clone())
            },
        );
        let (home, out, mut cmd) = quiet_fetch();
        cmd.arg(server.url(&path)).args(flags);
        let mut child = cmd.spawn().unwrap();
        // Killed outright once a state file claims a MiB: no chance to save anything more.
        let mut claimed = None;
        for _ in 0..200 {
            claimed = saved_bytes(&out, name).filter(|&bytes| bytes >= 1024 * 1024);
            if claimed.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let claimed = claimed.expect("a state file was saved while downloading");
        // The state on disk never claims more than the part file holds.
        let partial = std::fs::metadata(out.join(format!(".{name}.fetch-part"))).unwrap();
        assert!(
            partial.len() >= claimed,
            "{name}: {} < {claimed}",
            partial.len()
        );

        server.route(&path, Route::file(body.clone()));
        let mut again = fetch(home.path());
        again
            .args(["-q", "--json", "-o", out.to_str().unwrap(), "-u"])
            .arg(server.url(&path))
            .args(flags);
        let output = run(again).await;
        assert_exit(&output, 0);
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let resumed = report["items"][0]["resumed_bytes"].as_u64().unwrap();
        assert!(resumed >= claimed, "{name}: resumed {resumed} of {claimed}");
        let got = std::fs::read(out.join(name)).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&got)),
            hex::encode(Sha256::digest(&body)),
            "{name}"
        );
        assert_eq!(files(&out), vec![name.to_string()], "no state left behind");
    }
}

#[tokio::test]
async fn a_torn_state_file_is_ignored() {
    let server = HttpServer::start().await;
    let body = data(3 * 1024 * 1024, 32);
    server.route("/big.bin", Route::file(body.clone()));
    let (_home, out, mut cmd) = quiet_fetch();
    std::fs::create_dir_all(&out).unwrap();
    // What a crash in the middle of a plain write would leave: half a state, and a part file.
    std::fs::write(out.join(".big.bin.fetch-part"), vec![0u8; body.len()]).unwrap();
    std::fs::write(
        out.join(".big.bin.fetch-state"),
        br#"{"url": "http://127.0"#,
    )
    .unwrap();
    cmd.arg(server.url("/big.bin"))
        .args(["--json", "--part-size", "1MiB"]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["items"][0]["resumed_bytes"], 0);
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), body);
    assert_eq!(files(&out), vec!["big.bin"]);
}
