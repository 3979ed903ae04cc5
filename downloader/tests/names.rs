//! Names and destinations: `-O NAME` after a URL, `out=` and `sha256=` under a URL in an input
//! file, and the usage errors that keep two URLs from one name.

mod common;

use common::*;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn dash_o_and_out_lines_name_the_files() {
    let server = HttpServer::start().await;
    server.route("/download", Route::file("from -O"));
    server.route("/listed", Route::file("from the list"));
    let body = b"pinned".to_vec();
    server.route("/pinned", Route::file(body.clone()));
    let (home, out, mut cmd) = quiet_fetch();
    let list = home.path().join("urls.txt");
    let sha = hex::encode(Sha256::digest(&body));
    std::fs::write(
        &list,
        format!(
            "{}\n  out=listed.txt\n{}\n\tsha256={}\n",
            server.url("/listed"),
            server.url("/pinned"),
            "0".repeat(64)
        ),
    )
    .unwrap();
    cmd.arg(server.url("/download"))
        .args(["-O", "app.jar", "-i", list.to_str().unwrap()]);
    let output = run(cmd).await;
    // The sha256= line is checked as #sha256= would be: the wrong digest fails that URL.
    assert_exit(&output, 1);
    assert_eq!(std::fs::read(out.join("app.jar")).unwrap(), b"from -O");
    assert_eq!(
        std::fs::read(out.join("listed.txt")).unwrap(),
        b"from the list"
    );
    assert!(
        stderr(&output).contains("SHA-256 mismatch"),
        "{}",
        describe(&output)
    );
    assert_eq!(files(&out), vec!["app.jar", "listed.txt"]);

    std::fs::write(
        &list,
        format!("{}\n  sha256={sha}\n", server.url("/pinned")),
    )
    .unwrap();
    let mut again = fetch(home.path());
    again.args([
        "-q",
        "-o",
        out.to_str().unwrap(),
        "-i",
        list.to_str().unwrap(),
    ]);
    let output = run(again).await;
    assert_exit(&output, 0);
    assert_eq!(std::fs::read(out.join("pinned")).unwrap(), body);
}

#[tokio::test]
async fn conflicting_or_unsafe_names_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let list = home.path().join("urls.txt");
    std::fs::write(&list, "http://127.0.0.1:9/a\n  out=f\n  color=red\n").unwrap();
    for (args, says) in [
        (
            vec!["-O", "f", "-u", "http://127.0.0.1:9/a"],
            "before any URL",
        ),
        (
            vec![
                "-u",
                "http://127.0.0.1:9/a",
                "-O",
                "f",
                "-u",
                "http://127.0.0.1:9/b",
                "-O",
                "f",
            ],
            "the same name f",
        ),
        (
            vec!["-u", "http://127.0.0.1:9/a", "-O", "f", "-O", "g"],
            "two names",
        ),
        (
            vec!["-u", "http://127.0.0.1:9/a", "-O", "../f"],
            "path separator",
        ),
        (vec!["-u", "s3://bucket/prefix/", "-O", "f"], "s3 prefix"),
        (
            vec!["-i", list.to_str().unwrap()],
            "line 3: unknown option \"color\"",
        ),
    ] {
        let mut cmd = fetch(home.path());
        cmd.args(["-o", home.path().join("out").to_str().unwrap()])
            .args(&args);
        let output = run(cmd).await;
        assert_exit(&output, 2);
        let err = stderr(&output);
        assert!(
            err.starts_with("fetch: error: ") && err.contains(says),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            !home.path().join("out").exists(),
            "nothing is written on a usage error"
        );
    }
}
