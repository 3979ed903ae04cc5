//! s3 prefixes become one job per object under them: listed, filtered by `--include` and
//! `--exclude`, and named after the key below the prefix.

use crate::config::filter::Filters;
use crate::error::Error;
use crate::plan::{Entry, Job, Rejection, Remote, prefix_target};
use crate::source::s3::{Listed, S3Clients};
use crate::stop::Stop;

/// Replaces each s3 prefix by one job per object under it; after a stop, the prefixes not yet
/// listed fail with the stop's reason.
pub async fn expand_prefixes(
    entries: Vec<Entry>,
    s3: Option<&S3Clients>,
    filters: &Filters,
    stop: &Stop,
) -> Vec<Entry> {
    let mut expanded = Vec::with_capacity(entries.len());
    for entry in entries {
        let Entry::S3Prefix {
            shown,
            bucket,
            prefix,
        } = entry
        else {
            expanded.push(entry);
            continue;
        };
        let listed = match s3 {
            Some(s3) => stop.unless_stopped(s3.list(&bucket, &prefix)).await,
            None => Err(stop.error()),
        };
        match listed {
            Ok(objects) if objects.is_empty() => expanded.push(Entry::Rejected {
                shown,
                why: Rejection::Failed("no objects under this prefix".into()),
            }),
            Ok(objects) => {
                let listed = objects.len();
                let taken: Vec<Listed> = objects
                    .into_iter()
                    .filter(|o| filters.takes(o.key.strip_prefix(&prefix).unwrap_or(&o.key)))
                    .collect();
                if taken.is_empty() {
                    let objects = if listed == 1 { "object" } else { "objects" };
                    expanded.push(Entry::Rejected {
                        shown,
                        why: Rejection::Failed(format!(
                            "none of the {listed} {objects} under this prefix passes --include and --exclude"
                        )),
                    });
                    continue;
                }
                tracing::debug!(
                    "{shown}: {} of {listed} objects pass --include and --exclude",
                    taken.len()
                );
                for Listed { key, size } in taken {
                    let shown = format!("s3://{bucket}/{key}");
                    expanded.push(match prefix_target(&prefix, &key) {
                        Ok(target) => Entry::Job(Job {
                            shown,
                            remote: Remote::S3 {
                                bucket: bucket.clone(),
                                key,
                                version_id: None,
                            },
                            target,
                            sha256: None,
                            listed_size: size,
                        }),
                        Err(why) => Entry::Rejected { shown, why },
                    });
                }
            }
            Err(err @ (Error::Interrupted(_) | Error::DeadlineReached(_))) => {
                expanded.push(Entry::Rejected {
                    shown,
                    why: Rejection::Failed(err.to_string()),
                })
            }
            Err(err) => expanded.push(Entry::Rejected {
                shown,
                why: Rejection::Failed(format!("cannot list the prefix: {err}")),
            }),
        }
    }
    expanded
}
