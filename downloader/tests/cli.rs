//! The command line's contract: exit codes, usage errors, unsupported schemes, the JSON report.

mod common;

use common::*;

#[tokio::test]
async fn usage_errors_exit_2_with_one_line() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec![],
        vec!["-u", "http://127.0.0.1/x", "--jobs", "0"],
        vec!["-u", "http://127.0.0.1/x", "--part-size", "huge"],
        vec!["-i", "no-such-list.txt"],
        vec!["-u", "http://127.0.0.1/x", "-H", "Range: bytes=0-1"],
        vec!["-u", "http://127.0.0.1/x", "-H", "X-Api-Key secret"],
        vec!["--no-such-flag"],
    ] {
        let mut cmd = fetch(home.path());
        cmd.args(&args);
        let output = run(cmd).await;
        assert_exit(&output, 2);
        let err = stderr(&output);
        assert!(!err.trim().is_empty(), "{args:?}");
        if !args.contains(&"--no-such-flag") {
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
            assert!(err.starts_with("fetch: error: "), "{err}");
        }
    }
}

#[tokio::test]
async fn an_output_dir_that_is_a_file_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("taken");
    std::fs::write(&file, "keep me").unwrap();
    let mut cmd = fetch(home.path());
    cmd.args(["-u", "http://127.0.0.1:9/x", "-o", file.to_str().unwrap()]);
    let output = run(cmd).await;
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("is a file, not a directory"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

#[tokio::test]
async fn unsupported_schemes_fail_but_others_download() {
    let server = HttpServer::start().await;
    server.route("/ok.txt", Route::file("fine"));
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let list = home.path().join("urls.txt");
    std::fs::write(
        &list,
        format!(
            "# a list\n\nftp://example.com/file\n{}\n",
            server.url("/ok.txt")
        ),
    )
    .unwrap();
    let mut cmd = fetch(home.path());
    cmd.args([
        "--json",
        "-o",
        out.to_str().unwrap(),
        "-i",
        list.to_str().unwrap(),
        "-u",
        "file:///etc/hostname",
    ]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert_eq!(std::fs::read(out.join("ok.txt")).unwrap(), b"fine");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["url"], "file:///etc/hostname");
    assert_eq!(items[0]["status"], "unsupported");
    assert_eq!(items[1]["status"], "unsupported");
    assert_eq!(items[2]["status"], "ok");
    let err = stderr(&output);
    assert!(err.contains("1 succeeded, 2 failed, 0 skipped"), "{err}");
}

#[tokio::test]
async fn json_report_has_the_documented_shape() {
    let server = HttpServer::start().await;
    server.route("/a", Route::file("12345"));
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let mut cmd = fetch(home.path());
    cmd.args(["--json", "-q", "-o", out.to_str().unwrap(), "-u"])
        .args([server.url("/a"), server.url("/missing")]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    let doc: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["succeeded"], 1);
    assert_eq!(doc["failed"], 1);
    assert_eq!(doc["skipped"], 0);
    assert_eq!(doc["bytes"], 5);
    assert_eq!(doc["exit_code"], 1);
    assert!(doc["seconds"].is_number());
    let ok = &doc["items"][0];
    assert_eq!(ok["url"], server.url("/a"));
    assert_eq!(ok["status"], "ok");
    assert_eq!(ok["bytes"], 5);
    assert!(ok["path"].as_str().unwrap().ends_with("/a"));
    assert_eq!(ok["retries"], 0);
    assert_eq!(ok["resumed_bytes"], 0);
    assert_eq!(ok["sha256_verified"], false);
    let failed = &doc["items"][1];
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("404"));
}

#[tokio::test]
async fn plain_progress_has_no_escape_codes() {
    let server = HttpServer::start().await;
    server.route("/p", Route::file(data(10_000, 2)));
    let home = tempfile::tempdir().unwrap();
    let mut cmd = fetch(home.path());
    cmd.args(["-o", home.path().join("out").to_str().unwrap(), "-u"])
        .arg(server.url("/p"));
    let output = run(cmd).await;
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(
        !err.contains('\u{1b}'),
        "no escape codes without a terminal: {err:?}"
    );
    assert!(
        err.contains("fetch: ok"),
        "a plain line per finished file: {err}"
    );
}
