//! `--include` and `--exclude`: which objects of an s3 prefix listing are downloaded. The globs
//! are checked once, here, and each listed key is then asked about before anything downloads.
//!
//! The rules follow `aws s3 cp`: the filters are evaluated in the order given and the last one
//! that matches a key decides. A key no filter matches is downloaded, as there, unless the first
//! filter is an `--include`: then, as with s5cmd's `--include`, only what the filters take in is.
//! So `--include '*.txt'` alone means "only the .txt files" (with the AWS CLI it would need
//! `--exclude '*'` before it, which works here too).

use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::cli::FilterRule;
use crate::error::{Error, Result};

/// The checked filters of a run, in order; empty when none were given.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    rules: Vec<(FilterRule, GlobMatcher)>,
}

impl Filters {
    /// Compiles the globs; a malformed one is a usage error naming it.
    pub fn new(given: &[(FilterRule, String)]) -> Result<Filters> {
        let rules = given
            .iter()
            .map(|(rule, pattern)| Ok((*rule, compile(*rule, pattern)?)))
            .collect::<Result<_>>()?;
        Ok(Filters { rules })
    }

    /// Whether any filter was given.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether the object whose key, relative to the listed prefix, is `relative` is downloaded.
    pub fn takes(&self, relative: &str) -> bool {
        let by_default = !matches!(self.rules.first(), Some((FilterRule::Include, _)));
        self.rules
            .iter()
            .rev()
            .find(|(_, glob)| glob.is_match(relative))
            .map_or(by_default, |(rule, _)| *rule == FilterRule::Include)
    }
}

/// A glob whose `*` also matches `/`, as in the AWS CLI's filters.
fn compile(rule: FilterRule, pattern: &str) -> Result<GlobMatcher> {
    let flag = match rule {
        FilterRule::Include => "--include",
        FilterRule::Exclude => "--exclude",
    };
    if pattern.is_empty() {
        return Err(Error::Usage(format!(
            "{flag} needs a glob such as '*.txt' or 'logs/*'"
        )));
    }
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|glob: Glob| glob.compile_matcher())
        .map_err(|e| {
            Error::Usage(format!(
                "{flag} {pattern:?} is not a valid glob ({}); write it like '*.txt' or 'logs/*'",
                e.kind()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use FilterRule::{Exclude, Include};

    fn filters(given: &[(FilterRule, &str)]) -> Filters {
        let given: Vec<_> = given.iter().map(|(r, g)| (*r, g.to_string())).collect();
        Filters::new(&given).unwrap()
    }

    #[test]
    fn no_filter_takes_everything() {
        assert!(filters(&[]).takes("a/b.txt"));
    }

    #[test]
    fn the_last_matching_filter_decides() {
        let f = filters(&[(Exclude, "*"), (Include, "*.txt"), (Exclude, "tmp/*")]);
        assert!(f.takes("a/b.txt"));
        assert!(!f.takes("a/b.log"));
        assert!(!f.takes("tmp/b.txt"), "the later --exclude wins");
        let f = filters(&[(Exclude, "*.log")]);
        assert!(
            f.takes("a/b.txt"),
            "unmatched keys are taken after an --exclude"
        );
        assert!(!f.takes("deep/dir/x.log"), "* matches / as well");
    }

    #[test]
    fn a_leading_include_takes_only_what_it_matches() {
        let f = filters(&[(Include, "*.txt"), (Exclude, "secret*")]);
        assert!(f.takes("notes.txt"));
        assert!(!f.takes("notes.md"));
        assert!(!f.takes("secret.txt"));
        let f = filters(&[(Include, "{a,b}/?.bin")]);
        assert!(f.takes("a/1.bin") && f.takes("b/2.bin"));
        assert!(!f.takes("c/1.bin") && !f.takes("a/12.bin"));
    }

    #[test]
    fn bad_globs_are_usage_errors() {
        for bad in ["[a", ""] {
            let err = Filters::new(&[(Include, bad.to_string())]).unwrap_err();
            assert!(
                matches!(&err, Error::Usage(m) if m.starts_with("--include")),
                "{err}"
            );
        }
    }
}
