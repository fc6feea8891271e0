//! The OpenAI Chat Completions wire family: requests, stream chunks, and stream aggregation.

pub mod aggregate;
pub mod chat_output;
pub mod chunk;
pub mod decode_request;
pub mod embeddings;
pub mod family;
pub mod passthrough;
pub mod placeholder;
pub mod request;
pub mod stream_decoder;
pub mod think;
pub mod translate;
pub mod usage;

pub use aggregate::ChatAggregator;
pub use chunk::ChunkFacts;
pub use request::{ChatRequest, InvalidRequest};
