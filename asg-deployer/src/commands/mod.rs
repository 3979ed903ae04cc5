//! The commands, each a sequence of AWS reads and writes over one [`crate::session::Session`]:
//! [`rollout`] (`create`, `update`, `delete`), [`plan`] and [`status`].

pub mod plan;
pub mod rollout;
pub mod status;
