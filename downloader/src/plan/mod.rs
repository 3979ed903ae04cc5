//! From URLs to download jobs: parsing, deduplication and safe target paths.
//!
//! Every input URL ends as exactly one [`Entry`]: a [`Job`] to run, or the reason it will not run.
//! Two rules shape the plan: the same URL given twice is fetched once, and when two different URLs
//! would write the same file, the last one given wins and the earlier one is skipped.

pub mod listing;

use std::collections::HashMap;
use std::path::{Component, PathBuf};

use percent_encoding::percent_decode_str;
use url::Url;

use crate::config::wanted::Wanted;
use crate::redact::{redact, redact_str};

/// Where the bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// An http or https URL, without its fragment and userinfo.
    Http {
        /// The URL sent to the server.
        url: Url,
        /// User name and password taken out of the URL, sent as basic auth to that host only.
        basic_auth: Option<(String, Option<String>)>,
    },
    /// One S3 object.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
        /// The object version asked for (`?versionId=`); `None` means the current one.
        version_id: Option<String>,
    },
}

/// One file to download.
#[derive(Debug, Clone)]
pub struct Job {
    /// The URL as it may be printed (secrets redacted).
    pub shown: String,
    /// Where to read from.
    pub remote: Remote,
    /// Path of the file relative to the output directory; always a plain relative path.
    pub target: PathBuf,
    /// Expected SHA-256, lower-case hex, from a `#sha256=` fragment.
    pub sha256: Option<String>,
    /// The size an S3 listing reported: an object known to fit in one part is asked for whole,
    /// which is also when S3 sends the checksum it stored with the object.
    pub listed_size: Option<u64>,
}

/// Why an input URL produced no job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A scheme `fetch` does not download.
    Unsupported(String),
    /// The URL is malformed or cannot be saved safely.
    Invalid(String),
    /// The URL could not be turned into files (a prefix listing failed, say).
    Failed(String),
    /// A later URL writes the same file.
    Superseded {
        /// The (redacted) URL that won.
        by: String,
    },
}

/// What became of one input URL (or one object under an s3 prefix).
#[derive(Debug, Clone)]
pub enum Entry {
    /// To be downloaded.
    Job(Job),
    /// Every object under an s3 prefix; expanded into jobs by listing the bucket.
    S3Prefix {
        /// The URL as it may be printed.
        shown: String,
        /// Bucket name.
        bucket: String,
        /// Key prefix, empty or ending in `/`.
        prefix: String,
    },
    /// Not downloaded, with the reason.
    Rejected {
        /// The URL as it may be printed.
        shown: String,
        /// Why.
        why: Rejection,
    },
}

/// Parses the URLs and drops exact repeats (the first occurrence keeps its place).
pub fn parse(urls: &[String]) -> Vec<Entry> {
    let wanted: Vec<Wanted> = urls.iter().map(Wanted::url).collect();
    parse_wanted(&wanted)
}

/// As [`parse`], for URLs with options of their own: a name given replaces the one derived from
/// the URL (it was checked as one), a `sha256=` stands for the URL's `#sha256=`.
pub fn parse_wanted(urls: &[Wanted]) -> Vec<Entry> {
    let mut seen = std::collections::HashSet::new();
    urls.iter()
        .filter_map(|wanted| {
            // Parsed once: the form two spellings of one URL share, and the entry's source.
            let parsed = Url::parse(&wanted.url);
            let normal = parsed
                .as_ref()
                .map_or_else(|_| wanted.url.clone(), Url::to_string);
            seen.insert(normal).then_some((wanted, parsed))
        })
        .map(|(wanted, parsed)| {
            let mut entry = parse_one(&wanted.url, parsed);
            if let Entry::Job(job) = &mut entry {
                if let Some(name) = &wanted.name {
                    job.target = PathBuf::from(name);
                }
                if job.sha256.is_none() {
                    job.sha256.clone_from(&wanted.sha256);
                }
            }
            entry
        })
        .collect()
}

/// The entry for the URL `raw`, as `parsed` from it.
fn parse_one(raw: &str, parsed: Result<Url, url::ParseError>) -> Entry {
    let url = match parsed {
        Ok(url) => url,
        Err(e) => {
            return Entry::Rejected {
                shown: redact_str(raw),
                why: Rejection::Invalid(format!("not a valid URL ({e})")),
            };
        }
    };
    let shown = redact(&url);
    let sha256 = match checksum_from_fragment(url.fragment()) {
        Ok(sha) => sha,
        Err(why) => {
            return Entry::Rejected {
                shown,
                why: Rejection::Invalid(why),
            };
        }
    };
    let outcome = match url.scheme() {
        "http" | "https" => http_job(url, shown.clone(), sha256),
        "s3" => s3_entry(&url, shown.clone(), sha256),
        other => Err(Rejection::Unsupported(format!(
            "the {other}: scheme is not supported; fetch downloads http, https and s3 URLs"
        ))),
    };
    outcome.unwrap_or_else(|why| Entry::Rejected { shown, why })
}

/// Reads `sha256=<hex>` from a fragment; other fragments are ignored, as browsers do.
fn checksum_from_fragment(fragment: Option<&str>) -> Result<Option<String>, String> {
    let Some(value) = fragment.and_then(|f| f.strip_prefix("sha256=")) else {
        return Ok(None);
    };
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(Some(value.to_ascii_lowercase()))
    } else {
        Err(format!(
            "the #sha256= fragment must be 64 hex digits, not {value:?}"
        ))
    }
}

fn http_job(mut url: Url, shown: String, sha256: Option<String>) -> Result<Entry, Rejection> {
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Rejection::Invalid("the URL has no host".into()));
    }
    url.set_fragment(None);
    let basic_auth = if url.username().is_empty() && url.password().is_none() {
        None
    } else {
        let user = percent_decode_str(url.username())
            .decode_utf8_lossy()
            .into_owned();
        let pass = url
            .password()
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned());
        // A URL with a host always accepts empty userinfo.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Some((user, pass))
    };
    let last = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or("");
    let name = file_name(last)?;
    Ok(Entry::Job(Job {
        shown,
        remote: Remote::Http { url, basic_auth },
        target: PathBuf::from(name),
        sha256,
        listed_size: None,
    }))
}

fn s3_entry(url: &Url, shown: String, sha256: Option<String>) -> Result<Entry, Rejection> {
    let bucket = url.host_str().unwrap_or("").to_string();
    if bucket.is_empty() {
        return Err(Rejection::Invalid(
            "an s3 URL needs a bucket: s3://bucket/key".into(),
        ));
    }
    // S3 keys may hold '?' and '#', which a URL reads as a query and a fragment: the key would be
    // cut short without a word, so they must be written percent-encoded.
    let stray_fragment = url.fragment().is_some_and(|f| !f.starts_with("sha256="));
    let version_id = version_from_query(url.query());
    if stray_fragment || version_id.is_err() {
        return Err(Rejection::Invalid(
            "an s3 URL takes no query but ?versionId=ID and no fragment but #sha256=: write a '?' in the key as %3F and a '#' as %23".into(),
        ));
    }
    let version_id = version_id.unwrap_or_default();
    let key = percent_decode_str(url.path().trim_start_matches('/'))
        .decode_utf8()
        .map_err(|_| Rejection::Invalid("the object key is not valid UTF-8".into()))?
        .into_owned();
    if key.is_empty() || key.ends_with('/') {
        if sha256.is_some() {
            return Err(Rejection::Invalid(
                "a #sha256= fragment names one file; it cannot go on a prefix".into(),
            ));
        }
        if version_id.is_some() {
            return Err(Rejection::Invalid(
                "a ?versionId= names a version of one object; it cannot go on a prefix".into(),
            ));
        }
        return Ok(Entry::S3Prefix {
            shown,
            bucket,
            prefix: key,
        });
    }
    let name = file_name(key.rsplit('/').next().unwrap_or(""))?;
    Ok(Entry::Job(Job {
        shown,
        remote: Remote::S3 {
            bucket,
            key,
            version_id,
        },
        target: PathBuf::from(name),
        sha256,
        listed_size: None,
    }))
}

/// The version in an s3 URL's query: `versionId=ID` and nothing else, or no query at all. `Err`
/// for any other query, which is most likely a key whose `?` was not written as `%3F`.
fn version_from_query(query: Option<&str>) -> Result<Option<String>, ()> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut pairs = url::form_urlencoded::parse(query.as_bytes());
    match (pairs.next(), pairs.next()) {
        (Some((name, id)), None) if name == "versionId" && !id.is_empty() => {
            Ok(Some(id.into_owned()))
        }
        _ => Err(()),
    }
}

/// The file name for a URL's last path segment: percent-decoded, with separators and control
/// characters replaced by `_`; an empty segment means `index.html`; `.` and `..` are refused.
pub fn file_name(segment: &str) -> Result<String, Rejection> {
    let decoded = percent_decode_str(segment).decode_utf8_lossy();
    let name: String = decoded
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match name.as_str() {
        "" => Ok("index.html".into()),
        "." | ".." => Err(Rejection::Invalid(format!(
            "the URL ends in {name:?}, which cannot be a file name; name the file in the URL"
        ))),
        _ => Ok(name),
    }
}

/// The path under the output directory for an object found under an s3 prefix. Refuses keys that
/// would leave the directory or cannot be a file (`..`, empty segments, control characters).
pub fn prefix_target(prefix: &str, key: &str) -> Result<PathBuf, Rejection> {
    let relative = key.strip_prefix(prefix).unwrap_or(key);
    let unsafe_key = || {
        Rejection::Invalid(format!(
            "the object key {key:?} is not a safe relative path; it was not written"
        ))
    };
    if relative.is_empty() || relative.contains('\\') || relative.chars().any(char::is_control) {
        return Err(unsafe_key());
    }
    let mut path = PathBuf::new();
    for segment in relative.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(unsafe_key());
        }
        path.push(segment);
    }
    // Belt and braces: only plain components may remain.
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(unsafe_key());
    }
    Ok(path)
}

/// Applies "the last URL writing a file wins": earlier jobs with the same target become skipped.
pub fn resolve_conflicts(entries: &mut [Entry]) {
    let mut winner: HashMap<PathBuf, usize> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        if let Entry::Job(job) = entry {
            winner.insert(job.target.clone(), index);
        }
    }
    for index in 0..entries.len() {
        let Entry::Job(job) = &entries[index] else {
            continue;
        };
        let winning = winner[&job.target];
        if winning != index {
            let by = match &entries[winning] {
                Entry::Job(w) => w.shown.clone(),
                _ => unreachable!("winners are jobs"),
            };
            let shown = job.shown.clone();
            entries[index] = Entry::Rejected {
                shown,
                why: Rejection::Superseded { by },
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn target(entry: &Entry) -> &Path {
        match entry {
            Entry::Job(job) => &job.target,
            other => panic!("expected a job, got {other:?}"),
        }
    }

    #[test]
    fn names_come_from_the_last_segment() {
        let plan = parse(&urls(&[
            "https://h/a/b/file%20one.tar.gz?x=1",
            "https://h/",
            "http://h",
            "s3://bucket/dir/obj.bin",
        ]));
        assert_eq!(target(&plan[0]), Path::new("file one.tar.gz"));
        assert_eq!(target(&plan[1]), Path::new("index.html"));
        // "http://h" normalizes to "http://h/", a different URL from "https://h/" but the same name.
        assert_eq!(target(&plan[2]), Path::new("index.html"));
        assert_eq!(target(&plan[3]), Path::new("obj.bin"));
    }

    #[test]
    fn s3_keys_with_question_marks_and_hashes_are_written_encoded() {
        let plan = parse(&urls(&[
            "s3://bucket/report?v=2.csv",
            "s3://bucket/notes#1.txt",
            "s3://bucket/report%3Fv=2.csv",
            "s3://bucket/notes%231.txt",
        ]));
        for entry in &plan[..2] {
            match entry {
                Entry::Rejected {
                    why: Rejection::Invalid(why),
                    ..
                } => assert!(why.contains("%3F"), "{why}"),
                other => panic!("expected a rejection, got {other:?}"),
            }
        }
        let key = |entry: &Entry| match entry {
            Entry::Job(Job {
                remote: Remote::S3 { key, .. },
                ..
            }) => key.clone(),
            other => panic!("expected an S3 job, got {other:?}"),
        };
        assert_eq!(key(&plan[2]), "report?v=2.csv");
        assert_eq!(key(&plan[3]), "notes#1.txt");
    }

    #[test]
    fn an_s3_url_may_name_an_object_version() {
        let plan = parse(&urls(&[
            "s3://bucket/dir/obj.bin?versionId=3HL4kqtJlcpXroDTDmJ%2Brmi",
            "s3://bucket/obj.bin?versionId=",
            "s3://bucket/obj.bin?versionId=a&x=1",
            "s3://bucket/prefix/?versionId=a",
        ]));
        match &plan[0] {
            Entry::Job(Job {
                remote: Remote::S3 {
                    key, version_id, ..
                },
                target,
                ..
            }) => {
                assert_eq!(key, "dir/obj.bin");
                assert_eq!(version_id.as_deref(), Some("3HL4kqtJlcpXroDTDmJ+rmi"));
                assert_eq!(target, Path::new("obj.bin"));
            }
            other => panic!("expected an S3 job, got {other:?}"),
        }
        for entry in &plan[1..] {
            assert!(
                matches!(
                    entry,
                    Entry::Rejected {
                        why: Rejection::Invalid(_),
                        ..
                    }
                ),
                "{entry:?}"
            );
        }
    }

    #[test]
    fn traversal_in_names_is_neutralized() {
        let plan = parse(&urls(&[
            "https://h/x/..%2F..%2Fetc%2Fpasswd",
            "https://h/x/%2e%2e",
            "https://h/evil%00name%0A",
        ]));
        assert_eq!(target(&plan[0]), Path::new(".._.._etc_passwd"));
        // The URL parser resolves an encoded ".." itself: "https://h/x/%2e%2e" is "https://h/".
        assert_eq!(target(&plan[1]), Path::new("index.html"));
        assert!(file_name("%2e%2e").is_err());
        assert!(file_name(".").is_err());
        assert_eq!(target(&plan[2]), Path::new("evil_name_"));
    }

    #[test]
    fn prefix_keys_cannot_escape() {
        assert_eq!(
            prefix_target("p/", "p/a/b.txt").unwrap(),
            Path::new("a").join("b.txt")
        );
        for bad in ["p/../x", "p/a//b", "p/./a", "p/a\\b", "p/", "p/a/\u{1}"] {
            assert!(prefix_target("p/", bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn given_names_and_checksums_replace_derived_ones() {
        let hex = "c".repeat(64);
        let plan = parse_wanted(&[
            Wanted {
                name: Some("app.jar".into()),
                sha256: Some(hex.clone()),
                ..Wanted::url("https://h/download?id=7")
            },
            Wanted {
                name: Some("conf".into()),
                ..Wanted::url("s3://bucket/dir/x.conf")
            },
        ]);
        assert_eq!(target(&plan[0]), Path::new("app.jar"));
        assert_eq!(target(&plan[1]), Path::new("conf"));
        match &plan[0] {
            Entry::Job(job) => assert_eq!(job.sha256.as_deref(), Some(hex.as_str())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repeats_are_fetched_once() {
        let plan = parse(&urls(&["https://h/a", "https://h/a", "https://H/a"]));
        assert_eq!(plan.len(), 1);
    }

    #[test]
    fn last_writer_wins() {
        let mut plan = parse(&urls(&[
            "https://one/f.txt",
            "https://two/f.txt",
            "https://one/g",
        ]));
        resolve_conflicts(&mut plan);
        match &plan[0] {
            Entry::Rejected {
                why: Rejection::Superseded { by },
                ..
            } => assert_eq!(by, "https://two/f.txt"),
            other => panic!("expected superseded, got {other:?}"),
        }
        assert_eq!(target(&plan[1]), Path::new("f.txt"));
        assert_eq!(target(&plan[2]), Path::new("g"));
    }

    #[test]
    fn checksums_and_schemes() {
        let hex = "AB".repeat(32);
        let plan = parse(&urls(&[
            &format!("https://h/a#sha256={hex}"),
            "https://h/b#sha256=123",
            "ftp://h/c",
            "file:///etc/passwd",
            "::not a url",
            "s3://bucket/prefix/",
            "s3:///key",
        ]));
        match &plan[0] {
            Entry::Job(job) => {
                assert_eq!(job.sha256.as_deref(), Some(hex.to_lowercase().as_str()));
                match &job.remote {
                    Remote::Http { url, .. } => assert_eq!(url.fragment(), None),
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &plan[1],
            Entry::Rejected {
                why: Rejection::Invalid(_),
                ..
            }
        ));
        assert!(matches!(
            &plan[2],
            Entry::Rejected {
                why: Rejection::Unsupported(_),
                ..
            }
        ));
        assert!(matches!(
            &plan[3],
            Entry::Rejected {
                why: Rejection::Unsupported(_),
                ..
            }
        ));
        assert!(matches!(
            &plan[4],
            Entry::Rejected {
                why: Rejection::Invalid(_),
                ..
            }
        ));
        assert!(matches!(&plan[5], Entry::S3Prefix { prefix, .. } if prefix == "prefix/"));
        assert!(matches!(
            &plan[6],
            Entry::Rejected {
                why: Rejection::Invalid(_),
                ..
            }
        ));
    }

    #[test]
    fn userinfo_moves_to_basic_auth() {
        let plan = parse(&urls(&["https://al%40ice:p%3Aw@h/f"]));
        match &plan[0] {
            Entry::Job(Job {
                remote: Remote::Http { url, basic_auth },
                shown,
                ..
            }) => {
                assert_eq!(url.as_str(), "https://h/f");
                assert_eq!(
                    basic_auth,
                    &Some(("al@ice".to_string(), Some("p:w".to_string())))
                );
                assert!(!shown.contains("p%3Aw"), "{shown}");
            }
            other => panic!("{other:?}"),
        }
    }
}
