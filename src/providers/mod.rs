//! Upstream providers: the built-in table, custom providers from `<NAME>_API_BASE`, the registry
//! that holds each provider with its credentials, one adapter per wire protocol
//! ([`protocol::UpstreamProtocol`]) and one profile per provider with quirks
//! ([`profile::ProviderProfile`]).

pub mod anthropic;
pub mod builtin;
pub mod code_assist;
pub mod gemini;
pub mod iflow;
pub mod openai;
mod portal;
pub mod profile;
pub mod protocol;
pub mod qwen_code;
pub mod registry;
pub mod responses;

pub use crate::formats::protocol::Protocol;
pub use registry::{Provider, Registry};
