//! `history [--json]`: the builds of a stack from their records in the config bucket, newest
//! first, with the live one marked.

use serde_json::json;

use crate::aws::stack;
use crate::commands::record::{self, Record};
use crate::error::Error;
use crate::session::Session;

/// Prints the stack's recorded builds, as lines or as one JSON document.
pub async fn show(session: &Session<'_>, as_json: bool) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let Some(info) = stack::describe(&session.clients.cfn, name).await? else {
        return Err(Error::Refused(format!(
            "stack {name} does not exist: create it with `asg-deploy create`"
        )));
    };
    let live = info.build_number();
    let bucket = record::bucket_of(&info)?;
    let records = record::list(session.clients, &bucket).await?;
    let d = session.display;
    if as_json {
        let builds: Vec<_> = records
            .iter()
            .map(|r| {
                let mut doc = serde_json::to_value(r).unwrap_or_default();
                doc["live"] = json!(Some(r.build) == live);
                doc
            })
            .collect();
        let doc = json!({"stack": name, "bucket": bucket, "live_build": live, "builds": builds});
        d.line(serde_json::to_string_pretty(&doc).map_err(|e| Error::Template(e.to_string()))?);
        return Ok(());
    }
    d.line(format!(
        "Builds of stack {name}, newest first (records in s3://{bucket}/builds/):"
    ));
    for r in &records {
        d.line(line(r, Some(r.build) == live));
    }
    match live {
        Some(b) if !records.iter().any(|r| r.build == b) => d.line(format!(
            "Build {b} is live but has no record: it was deployed before asg-deploy kept a history, or its record could not be written."
        )),
        _ if records.is_empty() => d.line("No build is recorded yet."),
        _ => {}
    }
    Ok(())
}

/// One build: number, when, how, what it runs, who deployed it, and whether it is live.
fn line(r: &Record, live: bool) -> String {
    let p = |k: &str| r.parameters.get(k).map(String::as_str).unwrap_or("?");
    let how = match r.previous_build {
        Some(from) => format!("{} from {from}", r.action),
        None => r.action.clone(),
    };
    format!(
        "{:>6}  {}  {:<18} {}  {}  {}..{}  by {}",
        r.build,
        r.deployed_at,
        how,
        p("ArtifactUrl"),
        p("InstanceType"),
        p("MinSize"),
        p("MaxSize"),
        r.deployed_by.as_deref().unwrap_or("unknown"),
    ) + if live { "  (live)" } else { "" }
}
