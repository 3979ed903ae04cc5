//! `--header`: extra request headers for http(s) URLs (a token for an artifact server, say), parsed
//! and checked once. Headers that fetch itself manages, because ranges, resumes and size checks
//! depend on them, are refused rather than silently overridden.

use std::path::Path;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, Result};

/// Headers fetch sets or relies on: `Range`/`If-Range` carry parts and resumes, `Accept-Encoding`
/// would make the saved bytes differ from the file, the rest frame the connection.
const MANAGED: &[&str] = &[
    "host",
    "range",
    "if-range",
    "accept-encoding",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Parses every `--header` argument: `Name: value`, or `@FILE` for one such line per line of FILE
/// (blank lines and `#` lines skipped), which keeps a secret out of the process list. Every value
/// is marked sensitive: HTTP/2 never indexes it and debug output never shows it.
pub fn parse(args: &[String]) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for arg in args {
        if let Some(path) = arg.strip_prefix('@') {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Usage(format!("cannot read the --header file {path}: {e}")))?;
            let lines = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'));
            for line in lines {
                let (name, value) = parse_line(line, Some(Path::new(path)))?;
                headers.append(name, value);
            }
        } else {
            let (name, value) = parse_line(arg, None)?;
            headers.append(name, value);
        }
    }
    Ok(headers)
}

/// One `Name: value`; `file` names where it came from, for the error message.
fn parse_line(line: &str, file: Option<&Path>) -> Result<(HeaderName, HeaderValue)> {
    // The value is left out of every message: it is often a secret.
    let origin = match file {
        Some(path) => format!("a line of the --header file {}", path.display()),
        None => "a --header argument".to_string(),
    };
    let Some((name, value)) = line.split_once(':') else {
        return Err(Error::Usage(format!(
            "{origin} has no colon; write it as 'Name: value'"
        )));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        Error::Usage(format!(
            "{origin} has an invalid header name {:?}; use letters, digits and hyphens, as in X-Api-Key",
            name.trim()
        ))
    })?;
    if MANAGED.contains(&name.as_str()) {
        return Err(Error::Usage(format!(
            "{origin} sets {name}, which fetch manages itself (ranges, resumes, connections); leave it out"
        )));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::Usage(format!(
            "{origin} gives {name} no value; write it as '{name}: value'"
        )));
    }
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        Error::Usage(format!(
            "{origin} gives {name} a value with control or non-ASCII characters; use visible ASCII"
        ))
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn usage_error(list: &[&str]) -> String {
        match parse(&args(list)) {
            Err(Error::Usage(why)) => why,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn name_value_pairs_are_trimmed_and_repeatable() {
        let headers = parse(&args(&["X-Api-Key:  abc ", "Cookie: a=1", "cookie: b=2"])).unwrap();
        assert_eq!(headers["x-api-key"], "abc");
        let cookies: Vec<_> = headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert!(headers["x-api-key"].is_sensitive());
    }

    #[test]
    fn a_file_holds_one_header_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("headers");
        std::fs::write(
            &file,
            "# token for the artifact server\n\nAuthorization: Bearer t0k\n",
        )
        .unwrap();
        let headers = parse(&[format!("@{}", file.display())]).unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["authorization"], "Bearer t0k");
    }

    #[test]
    fn malformed_headers_are_usage_errors_that_hide_the_value() {
        assert!(usage_error(&["X-Api-Key secret"]).contains("no colon"));
        assert!(!usage_error(&["X-Api-Key secret"]).contains("secret"));
        assert!(usage_error(&["Bad Name: x"]).contains("invalid header name"));
        assert!(usage_error(&["X-Empty:"]).contains("no value"));
        assert!(usage_error(&["X-Bad: a\u{7}b"]).contains("control or non-ASCII"));
        assert!(usage_error(&["@does-not-exist"]).contains("cannot read the --header file"));
    }

    #[test]
    fn headers_fetch_manages_are_refused() {
        for line in [
            "Range: bytes=0-1",
            "Accept-Encoding: gzip",
            "Host: other",
            "connection: close",
        ] {
            assert!(
                usage_error(&[line]).contains("fetch manages itself"),
                "{line}"
            );
        }
    }
}
