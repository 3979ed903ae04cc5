//! What one invocation carries through every step: clients, target, output, Ctrl-C and the clock.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::aws::Clients;
use crate::config::Target;
use crate::error::Error;
use crate::progress::Display;
use crate::watch::events::POLL_INTERVAL;

/// The context of one command.
pub struct Session<'a> {
    /// AWS clients.
    pub clients: &'a Clients,
    /// Stack, region, timeout.
    pub target: &'a Target,
    /// Output.
    pub display: &'a Display,
    /// Cancelled by the first Ctrl-C.
    pub shutdown: CancellationToken,
    /// How often stacks are polled.
    pub poll: Duration,
    /// When the command started; `--timeout` counts from here.
    pub started: Instant,
}

impl<'a> Session<'a> {
    /// A session starting now, polling at the production interval.
    pub fn new(
        clients: &'a Clients,
        target: &'a Target,
        display: &'a Display,
        shutdown: CancellationToken,
    ) -> Session<'a> {
        Session {
            clients,
            target,
            display,
            shutdown,
            poll: POLL_INTERVAL,
            started: Instant::now(),
        }
    }

    /// When waiting stops.
    pub fn deadline(&self) -> Instant {
        self.started + self.target.timeout
    }

    /// The error for Ctrl-C, naming the command that keeps watching.
    pub fn interrupted(&self) -> Error {
        Error::Interrupted {
            resume: resume_command(self.target),
        }
    }
}

/// `asg-deploy status --watch` with the flags that reach the same stack.
pub fn resume_command(t: &Target) -> String {
    let mut cmd = format!("asg-deploy status --watch --stack-name {}", t.stack_name);
    if let Some(p) = &t.profile {
        cmd.push_str(&format!(" --profile {p}"));
    }
    if let Some(r) = &t.region {
        cmd.push_str(&format!(" --region {r}"));
    }
    if let Some(e) = &t.endpoint_url {
        cmd.push_str(&format!(" --endpoint-url {e}"));
    }
    cmd
}
