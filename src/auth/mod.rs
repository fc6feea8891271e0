//! Credentials: loading them from the environment, and the secret-safe type they live in.

pub mod credential;
pub mod env_keys;
pub mod oauth;

pub use credential::{Credential, CredentialId};
