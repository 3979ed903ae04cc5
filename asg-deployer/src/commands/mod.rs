//! The commands, each a sequence of AWS reads and writes over one [`crate::session::Session`]:
//! [`rollout`] (`create`, `update`, `delete`), [`plan`], [`status`] and [`check`]; and the steps they share:
//! the [`config_bucket`] with each build's boot files, the subnets' [`egress`] check.

pub mod check;
pub mod config_bucket;
pub mod egress;
pub mod plan;
pub mod rollout;
pub mod status;
