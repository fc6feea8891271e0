//! The Anthropic Messages protocol as an upstream (translation specification §2 `anthropic`,
//! §4 Messages column, §5–§7, §9.5, §10): canonical requests become Messages request bodies,
//! `message` bodies and Messages event streams become canonical answers.

mod decode;
mod encode;

pub use decode::*;
pub use encode::*;

#[cfg(test)]
mod tests;
