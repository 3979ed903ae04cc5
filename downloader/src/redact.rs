//! Secrets never reach the terminal, the log or the JSON report.
//!
//! Presigned URLs carry their signature and credentials in the query string, and URLs may carry a
//! user name and password. Every URL `fetch` prints goes through [`redact`] first.

use url::Url;

/// Query parameter names whose values are secret, matched case-insensitively as substrings.
const SECRET_PARAMS: &[&str] = &[
    "signature",
    "credential",
    "security-token",
    "securitytoken",
    "token",
    "accesskey",
    "access_key",
    "secret",
    "password",
    "passwd",
    "auth",
    "sig",
    "key-pair-id",
    "policy",
];

/// What replaces a secret value.
const MASK: &str = "REDACTED";

/// The URL as it may be shown to a person: userinfo and secret query values masked.
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // Setting userinfo cannot fail on URLs that already had one.
        let _ = shown.set_username(MASK);
        let _ = shown.set_password(None);
    }
    if shown.query().is_some() {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(name, value)| {
                let lower = name.to_ascii_lowercase();
                if SECRET_PARAMS.iter().any(|secret| lower.contains(secret)) {
                    (name.into_owned(), MASK.to_string())
                } else {
                    (name.into_owned(), value.into_owned())
                }
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// Redacts a URL given as text; text that is not a URL is shown with any `user:pass@` cut out.
pub fn redact_str(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) => redact(&url),
        Err(_) => match (text.find("://"), text.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}{MASK}@{}", &text[..scheme_end + 3], &text[at + 1..])
            }
            _ => text.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_query_values_are_masked() {
        let url = Url::parse(
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=abcdef&X-Amz-Security-Token=tok&versionId=3",
        )
        .unwrap();
        let shown = redact(&url);
        assert!(!shown.contains("abcdef"), "{shown}");
        assert!(!shown.contains("AKIA"), "{shown}");
        assert!(!shown.contains("tok&"), "{shown}");
        assert!(
            shown.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"),
            "{shown}"
        );
        assert!(shown.contains("versionId=3"), "{shown}");
        assert!(shown.contains("X-Amz-Signature=REDACTED"), "{shown}");
    }

    #[test]
    fn userinfo_is_masked() {
        let url = Url::parse("https://alice:s3cret@example.com/file").unwrap();
        let shown = redact(&url);
        assert_eq!(shown, "https://REDACTED@example.com/file");
    }

    #[test]
    fn plain_urls_are_unchanged() {
        let url = Url::parse("https://example.com/a/b.tar.gz?page=2").unwrap();
        assert_eq!(redact(&url), "https://example.com/a/b.tar.gz?page=2");
    }

    #[test]
    fn unparsable_text_loses_its_userinfo() {
        assert_eq!(redact_str("ftp://bob:pw@[bad/x"), "ftp://REDACTED@[bad/x");
        assert_eq!(redact_str("not a url"), "not a url");
    }
}
