//! The `--json` report against its published JSON Schema, `docs/fetch-report.schema.json`: real
//! output of the real binary must validate, and the schema must name every field the report has.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use downloader::report::{Outcome, Report, Status};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The schema as the docs publish it, read at build time so that a moved file fails the build.
const SCHEMA: &str = include_str!("../../docs/fetch-report.schema.json");

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("docs/fetch-report.schema.json is JSON")
}

/// Every schema violation of `doc`, one line each, empty when it validates.
fn violations(doc: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::new(&schema()).expect("the schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn assert_valid(doc: &Value) {
    let errors = violations(doc);
    assert!(
        errors.is_empty(),
        "the report does not match docs/fetch-report.schema.json:\n{}\n--- report\n{doc:#}",
        errors.join("\n")
    );
}

/// The property names the schema declares for the report and for an item.
fn declared(schema: &Value, pointer: &str) -> Vec<String> {
    let mut names: Vec<String> = schema
        .pointer(pointer)
        .and_then(Value::as_object)
        .expect("the schema declares properties")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    jsonschema::draft202012::meta::validate(&schema()).expect("a valid draft 2020-12 schema");
}

/// One run with every kind of item: ok (downloaded), ok and already present (by `#sha256=` and
/// by the checksum S3 stored), failed, skipped and unsupported.
#[tokio::test]
async fn real_json_output_matches_the_schema() {
    let server = HttpServer::start().await;
    server.route("/a.bin", Route::file(data(20_000, 1)));
    let pinned = data(30_000, 2);
    server.route("/pinned.bin", Route::file(pinned.clone()));
    server.route("/x/same.bin", Route::file("first"));
    server.route("/y/same.bin", Route::file("second"));
    let s3 = S3Server::start().await;
    let conf = b"server { listen 80; }".to_vec();
    s3.put("bucket", "boot/app.conf", conf.clone()).await;

    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("pinned.bin"), &pinned).unwrap();
    std::fs::write(out.join("app.conf"), &conf).unwrap();
    let sha = hex::encode(Sha256::digest(&pinned));

    let mut cmd = fetch_s3(home.path(), &s3, SECRET_KEY);
    cmd.args(["-q", "--json", "-o", out.to_str().unwrap(), "-u"])
        .args([
            server.url("/a.bin"),
            format!("{}#sha256={sha}", server.url("/pinned.bin")),
            server.url("/missing.bin"),
            "ftp://example.com/old.tar".to_string(),
            server.url("/x/same.bin"),
            server.url("/y/same.bin"),
            "s3://bucket/boot/app.conf".to_string(),
        ]);
    let output = run(cmd).await;
    assert_exit(&output, 1);
    let doc: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{}", describe(&output)));
    assert_valid(&doc);

    // The run really holds every kind of item, so the schema was tested against each.
    let items = doc["items"].as_array().unwrap();
    let statuses: Vec<&str> = items
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["ok", "ok", "failed", "unsupported", "skipped", "ok", "ok"],
        "{doc:#}"
    );
    assert_eq!(items[1]["already_present"], true, "{doc:#}");
    assert_eq!(items[1]["sha256_verified"], true, "{doc:#}");
    assert_eq!(items[6]["already_present"], true, "{doc:#}");
    assert_eq!(items[6]["s3_checksum_verified"], "crc32", "{doc:#}");

    // Every field the schema declares appears in this output: a field renamed in the report but
    // kept in the schema fails here, as a field added to the report without the schema fails above.
    let schema = schema();
    for name in declared(&schema, "/properties") {
        assert!(doc.get(&name).is_some(), "the report has no `{name}`");
    }
    for name in declared(&schema, "/$defs/item/properties") {
        assert!(
            items.iter().any(|item| item.get(&name).is_some()),
            "no item has `{name}`:\n{doc:#}"
        );
    }
}

/// An outcome with every field set, written without `..`: adding a field to `Outcome` breaks
/// this test's build, and the field then fails validation until the schema describes it (even
/// one that the run above does not produce).
#[test]
fn an_outcome_with_every_field_set_matches_the_schema() {
    let every_field = Outcome {
        url: "s3://bucket/app.jar".into(),
        status: Status::Ok,
        path: Some(PathBuf::from("out/app.jar")),
        bytes: 3,
        elapsed: Duration::from_millis(12),
        error: None,
        superseded_by: None,
        sha256_verified: true,
        s3_checksum_verified: Some("crc64nvme"),
        resumed_bytes: 1,
        already_present: false,
        retries: 2,
    };
    let skipped = Outcome {
        superseded_by: Some("https://h/y/app.jar".into()),
        error: None,
        ..Outcome::not_run("https://h/x/app.jar".into(), Status::Skipped, String::new())
    };
    let report = Report::new(vec![every_field, skipped], Duration::from_secs(1), true);
    let doc: Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_valid(&doc);

    // And the schema is strict: an unknown field, or an error on an ok item, is refused.
    let mut extra = doc.clone();
    extra["items"][0]["new_field"] = Value::from(1);
    assert!(!violations(&extra).is_empty(), "an unknown field passed");
    let mut contradictory = doc.clone();
    contradictory["items"][0]["error"] = Value::from("but it worked");
    assert!(
        !violations(&contradictory).is_empty(),
        "an ok item with an error passed"
    );
    let mut status = doc;
    status["items"][0]["status"] = Value::from("done");
    assert!(!violations(&status).is_empty(), "an unknown status passed");
}

/// `--no-clobber`'s skipped item (the file kept, and why) is one the schema describes.
#[tokio::test]
async fn a_no_clobber_skip_matches_the_schema() {
    let server = HttpServer::start().await;
    server.route("/kept.txt", Route::file("new"));
    let (_home, out, mut cmd) = quiet_fetch();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("kept.txt"), "old").unwrap();
    cmd.arg(server.url("/kept.txt"))
        .args(["--no-clobber", "--json"]);
    let output = run(cmd).await;
    assert_exit(&output, 0);
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["items"][0]["status"], "skipped", "{doc:#}");
}
