//! `-o -` / `--stdout`: one URL's bytes on standard output, in order and nothing else; retries that
//! continue from the last byte written; failures that say how many bytes went out.

mod common;

use common::*;

/// `fetch -q -o - URL...` in a temporary HOME (kept alive by the returned directory).
fn to_stdout(urls: &[String]) -> (tempfile::TempDir, std::process::Command) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = fetch(home.path());
    cmd.current_dir(home.path())
        .args(["-q", "-o", "-", "-u"])
        .args(urls);
    (home, cmd)
}

/// The directory holds nothing: standard output mode writes no file, partial or state.
fn assert_empty(dir: &std::path::Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "aws-config" && name != "aws-credentials")
        .collect();
    assert!(left.is_empty(), "files were written: {left:?}");
}

#[tokio::test]
async fn the_bytes_go_to_stdout_and_the_report_to_stderr() {
    let server = HttpServer::start().await;
    // Big enough to be split into parts if it went to a file.
    let body = data(3 * 1024 * 1024, 1);
    server.route("/app.jar", Route::file(body.clone()));
    let (home, mut cmd) = to_stdout(&[server.url("/app.jar")]);
    cmd.args(["--part-size", "64KiB"]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert!(output.stdout == body, "standard output is not the file");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("-> standard output"), "{stderr}");
    assert_eq!(server.hits("/app.jar").len(), 1, "one request, in order");
    assert_empty(home.path());

    // --stdout says the same.
    let home = tempfile::tempdir().unwrap();
    let mut cmd = fetch(home.path());
    cmd.current_dir(home.path())
        .args(["-q", "--stdout", "-u"])
        .arg(server.url("/app.jar"));
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert!(output.stdout == body);
}

#[tokio::test]
async fn a_cut_connection_continues_from_the_last_byte_written() {
    let server = HttpServer::start().await;
    let body = data(1024 * 1024, 2);
    server.route(
        "/cut.bin",
        Route {
            cuts: 2,
            cut_after: 300_000,
            ..Route::file(body.clone())
        },
    );
    let (_home, cmd) = to_stdout(&[server.url("/cut.bin")]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert!(
        output.stdout == body,
        "the bytes are not the file, in order"
    );
    let hits = server.hits("/cut.bin");
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert_eq!(hits[0].header("range"), None);
    // Each continuation asks for the rest, on condition that the file is the same.
    for hit in &hits[1..] {
        let range = hit
            .header("range")
            .expect("a continuation asks for a range");
        assert!(
            range.starts_with("bytes=") && range.ends_with('-'),
            "{range}"
        );
        assert_eq!(hit.header("if-range"), Some("\"1048576\""));
    }
    assert_eq!(hits[1].header("range"), Some("bytes=300000-"));
    assert_eq!(hits[2].header("range"), Some("bytes=600000-"));
}

#[tokio::test]
async fn a_cut_without_ranges_fails_and_says_how_much_went_out() {
    let server = HttpServer::start().await;
    let body = data(500_000, 3);
    server.route(
        "/whole.bin",
        Route {
            cuts: 1,
            cut_after: 200_000,
            ..Route::no_ranges(body.clone())
        },
    );
    let (home, cmd) = to_stdout(&[server.url("/whole.bin")]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    // Starting over would repeat bytes already written: what went out is the file's start.
    assert_eq!(output.stdout.len(), 200_000);
    assert!(output.stdout == body[..200_000]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("after 200000 bytes had been written to standard output"),
        "{stderr}"
    );
    assert_eq!(server.hits("/whole.bin").len(), 1);
    assert_empty(home.path());
}

#[tokio::test]
async fn a_checksum_mismatch_exits_1_after_the_bytes() {
    let server = HttpServer::start().await;
    server.route("/a.bin", Route::file(data(100_000, 4)));
    let wrong = "0".repeat(64);
    let (_home, cmd) = to_stdout(&[format!("{}#sha256={wrong}", server.url("/a.bin"))]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert_eq!(output.stdout.len(), 100_000);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the 100000 bytes written to standard output are not the file asked for"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_file_past_the_max_size_sends_nothing() {
    let server = HttpServer::start().await;
    server.route("/big.bin", Route::file(data(100_000, 5)));
    let (_home, mut cmd) = to_stdout(&[server.url("/big.bin")]);
    cmd.args(["--max-filesize", "50KB"]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("more than --max-filesize 50000"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_closed_pipe_is_a_failure_in_words() {
    let server = HttpServer::start().await;
    server.route("/big.bin", Route::file(data(8 * 1024 * 1024, 6)));
    let home = tempfile::tempdir().unwrap();
    let mut cmd = fetch(home.path());
    cmd.args(["-q", "-o", "-", "-u"])
        .arg(server.url("/big.bin"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let output = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut first = [0u8; 1000];
        std::io::Read::read_exact(&mut out, &mut first).unwrap();
        // The reader goes away, as `| head -c 1000` does.
        drop(out);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("standard output was closed by the program reading it, after"),
        "{stderr}"
    );
}

#[tokio::test]
async fn what_stdout_cannot_go_with_is_a_usage_error() {
    let server = HttpServer::start().await;
    let (one, two) = (server.url("/one"), server.url("/two"));
    let cases: [(&[&str], &str); 5] = [
        (
            &["-o", "-", "-u", &one, &two],
            "takes the bytes of one URL, and 2 were given",
        ),
        (
            &["-o", "-", "--json", "-u", &one],
            "--json prints the report on standard output",
        ),
        (&["-o", "-", "-u", &one, "-O", "x"], "has no use with -o -"),
        (
            &["-o", "-", "-u", "s3://bucket/prefix/"],
            "names every object under a prefix",
        ),
        (&["--stdout", "--json", "-u", &one], "cannot be used with"),
    ];
    for (args, says) in cases {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = fetch(home.path());
        cmd.current_dir(home.path()).arg("-q").args(args);
        let output = run(cmd).await;
        assert_exit(&output, 2);
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_empty(home.path());
    }
    assert!(server.hits("/one").is_empty());
}
