//! Wire formats: pure types, parsers and translators, with no IO.

pub mod ir;
pub mod openai;
pub mod sse;
