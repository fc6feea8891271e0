//! Wire formats: pure types, parsers and translators, with no IO.

pub mod anthropic;
pub mod ir;
pub mod openai;
pub mod sse;
