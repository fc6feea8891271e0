//! The OpenAI Responses wire family (`POST /v1/responses`: Codex CLI, the OpenAI SDKs'
//! `responses`): client requests into the canonical model, canonical answers out as `response`
//! objects and as the Responses event stream, a Responses upstream's stream relayed as it is,
//! and (in [`upstream`]) the protocol spoken to a Responses upstream.
//!
//! What the canonical model cannot say travels in the family value ([`tools::ToolNames`]):
//! freeform (`custom`) tools are functions with one `input` string while translated, and
//! functions of `namespace` groups are flattened to `<namespace>__<name>`; answers get the
//! client's shapes back. Reasoning signatures of other upstreams ride in
//! `reasoning.encrypted_content` ([`reasoning`]), so clients that resend their whole history
//! (Codex sends `store: false`) keep multi-turn tool use working.

pub mod family;
pub mod passthrough;
pub mod reasoning;
pub mod request;
pub mod response;
pub mod stream;
pub mod tools;
pub mod upstream;

/// `resp_` + 24 base62 characters.
pub fn new_response_id() -> String {
    format!("resp_{}", super::random_base62(24))
}

/// An output item id: `<prefix>_` + 24 base62 characters (`msg`, `fc`, `ctc`, `rs`).
pub fn new_item_id(prefix: &str) -> String {
    format!("{prefix}_{}", super::random_base62(24))
}

/// `call_` + 24 base62 characters: the id minted for a tool call that arrived without one.
pub fn new_call_id() -> String {
    format!("call_{}", super::random_base62(24))
}
