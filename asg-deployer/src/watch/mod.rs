//! Following a change to its end and judging it: the stack's [`events`] until CloudFormation is
//! done, the update's monitoring [`window`] on the stack's alarms, then the new fleet's [`health`].

pub mod events;
pub mod health;
pub mod window;
