//! The OpenAI Responses API as an upstream protocol: canonical requests become Responses bodies
//! (`instructions`, `input` items, function tools, `store: false` with encrypted reasoning asked
//! for), `response` bodies and Responses event streams become canonical answers. Reasoning items
//! travel as reasoning parts whose signature is the item's `encrypted_content`, with the provider
//! name as its origin, so a later turn can send them back to the provider that issued them.

mod decode;
mod encode;
mod stream;

pub use decode::*;
pub use encode::*;
pub use stream::*;

#[cfg(test)]
mod tests;
