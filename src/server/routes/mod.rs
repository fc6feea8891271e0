//! Route handlers, one module per API family or concern.

pub mod chat;
pub mod messages;
pub mod models;
pub mod quota;
pub mod status;
pub mod tokens;
