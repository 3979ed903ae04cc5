//! What the user asked for, URL by URL: the URL itself and the options given for it alone — a
//! name (`-O NAME` after it on the command line, `out=NAME` under it in an input file) and a
//! SHA-256 (`sha256=HEX` under it, the same as `#sha256=` on the URL).
//!
//! Input files follow aria2c's: a URL on a line of its own, then that URL's options on the
//! indented lines below it, one `name=value` each. An indented line that is not a bare
//! `name=value` (an indented URL, say) is still read as a URL, as before options existed.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// One URL and the options given for it alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// The URL, trimmed.
    pub url: String,
    /// The file name given for it (`-O`, `out=`); checked by [`check_name`].
    pub name: Option<String>,
    /// The SHA-256 given with `sha256=` in an input file, lower-case hex; the URL's own
    /// `#sha256=` is read later, with the URL.
    pub sha256: Option<String>,
}

impl Wanted {
    /// A URL with no options of its own.
    pub fn url(url: impl Into<String>) -> Wanted {
        Wanted {
            url: url.into(),
            ..Wanted::default()
        }
    }
}

/// Reads an input file's text (see the module doc); `source` names the file in errors.
pub fn parse_list(text: &str, source: &str) -> Result<Vec<Wanted>> {
    let mut wanted: Vec<Wanted> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        let option = line
            .split_once('=')
            .filter(|(key, _)| indented && is_option_name(key));
        let Some((key, value)) = option else {
            wanted.push(Wanted::url(line));
            continue;
        };
        let at = || format!("{source} line {number}");
        let Some(current) = wanted.last_mut() else {
            return Err(Error::Usage(format!(
                "{}: the option {key}= comes before any URL; put it on an indented line under its URL",
                at()
            )));
        };
        let value = value.trim();
        match key {
            "out" => {
                if current.name.is_some() {
                    return Err(Error::Usage(format!(
                        "{}: a second out= for the same URL; give each URL one name",
                        at()
                    )));
                }
                check_name(value).map_err(|why| Error::Usage(format!("{}: {why}", at())))?;
                current.name = Some(value.to_string());
            }
            "sha256" => {
                let sha =
                    check_sha256(value).map_err(|why| Error::Usage(format!("{}: {why}", at())))?;
                current.sha256 = Some(sha);
            }
            other => {
                return Err(Error::Usage(format!(
                    "{}: unknown option {other:?}; the options under a URL are out=NAME and sha256=HEX",
                    at()
                )));
            }
        }
    }
    Ok(wanted)
}

/// A `name` of an indented `name=value` line: letters, digits, `-` and `_`.
fn is_option_name(key: &str) -> bool {
    let key = key.trim();
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks a file name given by the user, by the rules derived names follow: one plain name in
/// the output directory, with no `/` or `\`, no control character, and not `.` or `..`.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("the file name is empty; give a name such as app.jar".into());
    }
    if name == "." || name == ".." {
        return Err(format!(
            "the file name {name:?} cannot be a file; give a plain name such as app.jar"
        ));
    }
    if name.contains(['/', '\\']) {
        return Err(format!(
            "the file name {name:?} holds a path separator; give a plain name, and the directory with --output-dir"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "the file name {name:?} holds a control character; give a plain name"
        ));
    }
    Ok(())
}

/// 64 hex digits, returned in lower case.
pub fn check_sha256(value: &str) -> std::result::Result<String, String> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(format!("sha256= must be 64 hex digits, not {value:?}"))
    }
}

/// Pairs each `-O NAME` with the `-u` URL before it: `names` holds, for each `-O` in order, the
/// index in `urls` of the nearest URL given before it (`None` if none was).
pub fn attach_names(urls: &mut [Wanted], names: &[(Option<usize>, String)]) -> Result<()> {
    for (url, name) in names {
        let Some(target) = url.and_then(|i| urls.get_mut(i)) else {
            return Err(Error::Usage(format!(
                "-O {name} comes before any URL; put it right after the URL it names, as in -u URL -O {name}"
            )));
        };
        if let Some(first) = &target.name {
            return Err(Error::Usage(format!(
                "{} is given two names with -O ({first} and {name}); give each URL one -O",
                crate::redact::redact_str(&target.url)
            )));
        }
        check_name(name).map_err(|why| Error::Usage(format!("-O {name}: {why}")))?;
        target.name = Some(name.clone());
    }
    Ok(())
}

/// Checks what only the whole list shows: no two URLs given the same name, no name for a whole
/// s3 prefix, and no `sha256=` that contradicts the URL's own `#sha256=`.
pub fn check_all(urls: &[Wanted]) -> Result<()> {
    let normal = |u: &str| url::Url::parse(u).map_or_else(|_| u.to_string(), |u| u.to_string());
    let mut named: HashMap<&str, &str> = HashMap::new();
    let mut name_of: HashMap<String, &str> = HashMap::new();
    for wanted in urls {
        if wanted.sha256.is_none() && wanted.name.is_none() {
            // Nothing of its own to contradict: most lists are plain URLs.
            continue;
        }
        let shown = || crate::redact::redact_str(&wanted.url);
        let parsed = url::Url::parse(&wanted.url).ok();
        if let (Some(sha), Some(url)) = (&wanted.sha256, &parsed)
            && let Some(own) = url.fragment().and_then(|f| f.strip_prefix("sha256="))
            && !own.eq_ignore_ascii_case(sha)
        {
            return Err(Error::Usage(format!(
                "{} has a #sha256= that differs from its sha256= line; give one",
                shown()
            )));
        }
        let Some(name) = &wanted.name else { continue };
        if let Some(url) = &parsed
            && url.scheme() == "s3"
            && (url.path().trim_start_matches('/').is_empty() || url.path().ends_with('/'))
        {
            return Err(Error::Usage(format!(
                "{} is an s3 prefix, which holds many files: it cannot be given the one name {name}",
                shown()
            )));
        }
        if let Some(first) = name_of.insert(normal(&wanted.url), name)
            && first != name
        {
            return Err(Error::Usage(format!(
                "{} is given twice, named {first} and {name}; each URL is fetched once, so give it one name",
                shown()
            )));
        }
        if let Some(other) = named.insert(name, &wanted.url)
            && normal(other) != normal(&wanted.url)
        {
            return Err(Error::Usage(format!(
                "two URLs are given the same name {name} ({} and {}); give each its own",
                crate::redact::redact_str(other),
                shown()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(result: Result<Vec<Wanted>>) -> String {
        match result {
            Err(Error::Usage(why)) => why,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn indented_lines_are_options_of_the_url_above() {
        let hex = "Ab".repeat(32);
        let text = format!(
            "# list\nhttp://x/a\n  out=app.jar\n\tsha256={hex}\n\nhttp://x/b\n  http://x/c\n"
        );
        let list = parse_list(&text, "urls.txt").unwrap();
        assert_eq!(
            list,
            vec![
                Wanted {
                    url: "http://x/a".into(),
                    name: Some("app.jar".into()),
                    sha256: Some(hex.to_lowercase()),
                },
                Wanted::url("http://x/b"),
                // An indented URL stays a URL.
                Wanted::url("http://x/c"),
            ]
        );
    }

    #[test]
    fn bad_option_lines_name_their_line() {
        let why = usage(parse_list("http://x/a\n  output=f\n", "urls.txt"));
        assert!(why.starts_with("urls.txt line 2: unknown option"), "{why}");
        let why = usage(parse_list("  out=f\nhttp://x/a\n", "urls.txt"));
        assert!(
            why.contains("line 1") && why.contains("before any URL"),
            "{why}"
        );
        let why = usage(parse_list("http://x/a\n out=../f\n", "l"));
        assert!(why.contains("line 2") && why.contains("separator"), "{why}");
        let why = usage(parse_list("http://x/a\n out=a\n out=b\n", "l"));
        assert!(why.contains("line 3"), "{why}");
        let why = usage(parse_list("http://x/a\n sha256=12\n", "l"));
        assert!(why.contains("64 hex digits"), "{why}");
        // Not indented: a line of its own, read as a URL (and refused as one later).
        assert_eq!(
            parse_list("out=f\n", "l").unwrap(),
            vec![Wanted::url("out=f")]
        );
    }

    #[test]
    fn names_follow_the_rules_of_derived_ones() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\u{7}b", "../etc/passwd"] {
            assert!(check_name(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["app.jar", "..hidden", "a b", "naïve.txt"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn each_dash_o_names_the_url_before_it() {
        let mut urls = vec![Wanted::url("http://x/a"), Wanted::url("http://x/b")];
        attach_names(&mut urls, &[(Some(1), "b.bin".into())]).unwrap();
        assert_eq!(urls[0].name, None);
        assert_eq!(urls[1].name.as_deref(), Some("b.bin"));
        let err = attach_names(&mut urls, &[(Some(1), "again".into())]).unwrap_err();
        assert!(err.to_string().contains("two names"), "{err}");
        let err = attach_names(&mut urls, &[(None, "first".into())]).unwrap_err();
        assert!(err.to_string().contains("before any URL"), "{err}");
        let err = attach_names(&mut urls, &[(Some(0), "a/b".into())]).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err}");
    }

    #[test]
    fn the_list_as_a_whole_is_consistent() {
        let named = |url: &str, name: &str| Wanted {
            name: Some(name.into()),
            ..Wanted::url(url)
        };
        let err = check_all(&[named("http://x/a", "f"), named("http://y/b", "f")]).unwrap_err();
        assert!(err.to_string().contains("the same name f"), "{err}");
        // The same URL twice, with the same name, is one download.
        check_all(&[named("http://x/a", "f"), named("http://X/a", "f")]).unwrap();
        let err = check_all(&[named("s3://bucket/prefix/", "f")]).unwrap_err();
        assert!(err.to_string().contains("s3 prefix"), "{err}");
        let hex = "a".repeat(64);
        let both = Wanted {
            sha256: Some(hex.clone()),
            ..Wanted::url(format!("http://x/a#sha256={}", "b".repeat(64)))
        };
        assert!(check_all(&[both]).is_err());
        let agree = Wanted {
            sha256: Some(hex.clone()),
            ..Wanted::url(format!("http://x/a#sha256={}", hex.to_uppercase()))
        };
        check_all(&[agree]).unwrap();
    }
}
