//! The OpenAI Responses API wire family (`/v1/responses`), as an upstream protocol.

pub mod upstream;
