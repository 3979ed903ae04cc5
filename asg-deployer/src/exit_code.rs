//! The process exit codes as a type, so every outcome maps to exactly one documented number.

use crate::error::Error;

/// How `asg-deploy` ends; the integers are part of its interface (see docs/asg-deploy.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what was asked, including "nothing to update".
    Success,
    /// The stack failed, rolled back, timed out, or the fleet failed its health check.
    StackFailed,
    /// Bad input, missing credentials, or a stack state that refuses the command.
    Refused,
    /// Ctrl-C stopped the watching (never the deployment itself).
    Interrupted,
}

impl ExitCode {
    /// The integer handed to the operating system.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Success => 0,
            ExitCode::StackFailed => 1,
            ExitCode::Refused => 2,
            ExitCode::Interrupted => 130,
        }
    }

    /// The exit code an error ends the process with.
    pub fn from_error(err: &Error) -> Self {
        match err {
            Error::Invalid(_)
            | Error::MissingCredentials(_)
            | Error::MissingRegion
            | Error::Refused(_)
            | Error::AccessDenied { .. }
            | Error::ReadFile { .. } => ExitCode::Refused,
            Error::Interrupted { .. } => ExitCode::Interrupted,
            Error::StackFailed { .. }
            | Error::AlarmRolledBack { .. }
            | Error::TimedOut { .. }
            | Error::Unhealthy(_)
            | Error::Aws { .. }
            | Error::Throttled { .. }
            | Error::Template(_) => ExitCode::StackFailed,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        // Every value of `code()` fits in a u8 by construction.
        std::process::ExitCode::from(code.code() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(ExitCode::Success.code(), 0);
        assert_eq!(ExitCode::StackFailed.code(), 1);
        assert_eq!(ExitCode::Refused.code(), 2);
        assert_eq!(ExitCode::Interrupted.code(), 130);
    }

    #[test]
    fn input_and_state_problems_are_2_stack_problems_are_1() {
        assert_eq!(
            ExitCode::from_error(&Error::Invalid(vec!["x".into()])),
            ExitCode::Refused
        );
        assert_eq!(
            ExitCode::from_error(&Error::Refused("busy".into())),
            ExitCode::Refused
        );
        assert_eq!(
            ExitCode::from_error(&Error::MissingCredentials("none".into())),
            ExitCode::Refused
        );
        assert_eq!(
            ExitCode::from_error(&Error::StackFailed {
                stack: "s".into(),
                status: "UPDATE_ROLLBACK_COMPLETE".into(),
                reasons: vec![],
            }),
            ExitCode::StackFailed
        );
        assert_eq!(
            ExitCode::from_error(&Error::TimedOut {
                stack: "s".into(),
                after: std::time::Duration::from_secs(60),
                cancelled: true,
            }),
            ExitCode::StackFailed
        );
        assert_eq!(
            ExitCode::from_error(&Error::Interrupted {
                resume: "asg-deploy status --watch".into()
            }),
            ExitCode::Interrupted
        );
    }
}
