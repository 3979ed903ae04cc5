//! Following a change to its end and judging it: the stack's [`events`] until CloudFormation is
//! done, then the new fleet's [`health`].

pub mod events;
pub mod health;
