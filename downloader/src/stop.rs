//! Why and when a run stops early: Ctrl-C, SIGTERM or `--deadline`. Transfers watch one token and
//! leave resumable temporary files behind when it fires.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::error::{Error, Leftover};

/// What stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// `--deadline` passed.
    Deadline,
}

/// A shared "stop now" signal with its reason; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl Stop {
    /// A signal that has not fired.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Fires the signal; the first reason given is the one kept.
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Whether the signal fired, and why.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    /// Resolves when the signal fires.
    pub async fn stopped(&self) {
        self.token.cancelled().await;
    }

    /// Runs `work` unless the signal fires first, which drops it and gives [`Self::error`]: for
    /// waits with no end of their own but timeouts (a request, a listing, the AWS setup).
    pub async fn unless_stopped<T>(
        &self,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        tokio::select! {
            biased;
            _ = self.stopped() => Err(self.error()),
            done = work => done,
        }
    }

    /// The error of work cut short by the signal; a transfer says what it left with
    /// [`Error::leaving`].
    pub fn error(&self) -> Error {
        match self.reason() {
            Some(StopReason::Deadline) => Error::DeadlineReached(Leftover::NotStarted),
            _ => Error::Interrupted(Leftover::NotStarted),
        }
    }
}
