//! Limits: `--limit-rate` caps the whole run's rate, `--max-filesize` refuses files too large,
//! `--no-clobber` keeps files there already.

mod common;

use common::*;

#[tokio::test]
async fn the_rate_cap_holds_for_all_files_and_parts_together() {
    let server = HttpServer::start().await;
    // Two files of 640 KiB, each in ten 64 KiB parts, several at once: 1280 KiB at 256 KiB/s is 5 s.
    server.route("/one.bin", Route::file(data(640 * 1024, 1)));
    server.route("/two.bin", Route::file(data(640 * 1024, 2)));
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.args([server.url("/one.bin"), server.url("/two.bin")])
        .args(["--json", "--part-size", "64KiB", "-x", "4"])
        .args(["--limit-rate", "256KiB"]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["bytes"], 1280 * 1024);
    let seconds = doc["seconds"].as_f64().unwrap();
    let rate = 1280.0 * 1024.0 / seconds;
    let cap = 256.0 * 1024.0;
    eprintln!(
        "measured {:.1} KiB/s over {seconds:.2} s against a cap of 256 KiB/s",
        rate / 1024.0
    );
    assert!(
        (rate - cap).abs() <= cap * 0.1,
        "{rate} B/s over {seconds} s"
    );
    assert_eq!(
        std::fs::read(out.join("one.bin")).unwrap(),
        data(640 * 1024, 1)
    );
    assert!(server.hits("/one.bin").len() > 2, "the file came in parts");
}

#[tokio::test]
async fn files_past_the_max_size_fail_and_leave_nothing() {
    let server = HttpServer::start().await;
    server.route("/big.bin", Route::file(data(100_000, 1)));
    server.route(
        "/growing.bin",
        Route {
            no_length: true,
            ..Route::no_ranges(data(100_000, 2))
        },
    );
    server.route("/small.bin", Route::file(data(50_000, 3)));
    let (_home, out, mut cmd) = quiet_fetch();
    cmd.args([
        server.url("/big.bin"),
        server.url("/growing.bin"),
        server.url("/small.bin"),
    ])
    .args(["--max-filesize", "60KB"]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("the file is 100000 bytes, more than --max-filesize 60000"),
        "{err}"
    );
    assert!(err.contains("grew past --max-filesize 60000"), "{err}");
    // No partial file, no state file: only the file within the limit.
    assert_eq!(files(&out), vec!["small.bin"]);
    assert_eq!(server.hits("/big.bin").len(), 1, "not retried");
}

#[tokio::test]
async fn no_clobber_keeps_a_file_there_and_the_default_replaces_it() {
    let server = HttpServer::start().await;
    server.route("/app.conf", Route::file("new"));
    server.route("/fresh.conf", Route::file("fresh"));
    let (home, out, mut cmd) = quiet_fetch();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("app.conf"), "old").unwrap();
    cmd.args([server.url("/app.conf"), server.url("/fresh.conf")])
        .arg("--no-clobber");
    let output = run(cmd).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("app.conf")).unwrap(), b"old");
    assert_eq!(std::fs::read(out.join("fresh.conf")).unwrap(), b"fresh");
    assert!(server.hits("/app.conf").is_empty(), "nothing was asked for");
    let err = stderr(&output);
    assert!(
        err.contains("skipped") && err.contains("--no-clobber keeps it"),
        "{err}"
    );
    assert!(err.contains("1 succeeded, 0 failed, 1 skipped"), "{err}");

    let mut again = fetch(home.path());
    again.args([
        "-q",
        "-o",
        out.to_str().unwrap(),
        "-u",
        &server.url("/app.conf"),
    ]);
    assert_exit(&run(again).await, 0);
    assert_eq!(std::fs::read(out.join("app.conf")).unwrap(), b"new");
}
