//! The process exit codes as a type, so that no integer is scattered through the code.
//!
//! One mapping to integers lives here, and [`ExitCode::merge`] folds per-URL outcomes into the
//! code of the whole run.

/// How a run of `fetch` ended, as seen by the calling shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Every URL was downloaded (and verified, where it could be).
    Success,
    /// At least one URL failed or was unsupported; the others were still downloaded.
    Failure,
    /// The command line or input file was wrong; nothing was downloaded.
    Usage,
    /// Stopped by Ctrl-C (SIGINT) or SIGTERM; partial downloads were kept for resuming.
    Interrupted,
}

impl ExitCode {
    /// The integer handed to the operating system.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::Interrupted => 130,
        }
    }

    /// The code for two outcomes together: the more serious one wins.
    pub fn merge(self, other: ExitCode) -> ExitCode {
        self.max(other)
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        // Every code fits in a u8 by construction.
        std::process::ExitCode::from(code.code() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn codes_are_stable() {
        assert_eq!(ExitCode::Success.code(), 0);
        assert_eq!(ExitCode::Failure.code(), 1);
        assert_eq!(ExitCode::Usage.code(), 2);
        assert_eq!(ExitCode::Interrupted.code(), 130);
    }

    #[test]
    fn merge_keeps_the_most_serious() {
        assert_eq!(
            ExitCode::Success.merge(ExitCode::Success),
            ExitCode::Success
        );
        assert_eq!(
            ExitCode::Success.merge(ExitCode::Failure),
            ExitCode::Failure
        );
        assert_eq!(
            ExitCode::Failure.merge(ExitCode::Success),
            ExitCode::Failure
        );
        assert_eq!(
            ExitCode::Failure.merge(ExitCode::Interrupted),
            ExitCode::Interrupted
        );
    }
}
