//! Model lists: what each provider offers, cached with a TTL.

pub mod filter;
pub mod models;
pub mod pricing;

pub use models::{ModelCard, ModelCatalog};
