//! The commands, each a sequence of AWS reads and writes over one [`crate::session::Session`]:
//! [`rollout`] (`create`, `update`, `delete`), [`rollback`], [`history`], [`plan`], [`status`] and
//! [`check`]; and the steps they share: the [`config_bucket`] with each build's boot files and
//! its [`record`], the subnets' [`egress`] check.

pub mod check;
pub mod config_bucket;
pub mod egress;
pub mod history;
pub mod plan;
pub mod record;
pub mod rollback;
pub mod rollout;
pub mod status;
