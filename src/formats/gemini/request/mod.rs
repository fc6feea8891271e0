//! Gemini `generateContent` requests both ways, one file per direction (`upstream_encode.rs`,
//! `client_decode.rs`) (translation specification §4, Gemini columns;
//! §10 for signatures; §12 for the `system_as_user` quirk): a canonical request becomes the body
//! sent to a Gemini-protocol upstream ([`encode_upstream`], [`encode_count_request`]), and a Gemini
//! client's `GenerateContentRequest` becomes a canonical request ([`decode_client_request`],
//! [`decode_client_count_request`]). Pure: no IO; failures are [`InvalidRequest`]s naming the
//! field by its path, never panics.
//!
//! Conventions the response side shares:
//! - A `thoughtSignature` on a `functionCall` part is that [`ToolCall`]'s signature; on a thought
//!   part (`thought: true`) it is the signature of that [`Part::Reasoning`]; on any other part
//!   (plain text, media) it becomes a `Reasoning` with empty text (a *carrier*) placed right
//!   before the part, and goes back onto the text part right after the carrier (a standalone
//!   `{"text":"","thoughtSignature"}` when no text part follows it).
//! - Tool names Gemini refuses are rewritten by [`wire_tool_name`] (§4.4); mapping them back in
//!   answers is the caller's.

use std::borrow::Cow;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::schema::{clean_schema, openapi_to_json_schema};
use super::{ORIGIN, signature_from_client};
use crate::formats::InvalidRequest;
use crate::formats::anthropic::response::tool_input;
use crate::formats::fields::{as_bool, as_count, as_f64, as_object, as_str, camel_case, find, join, snake_case};
use crate::formats::ir::{
    DocumentSource, ImageSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Signature, Tool, ToolCall,
    ToolChoice, ToolResult,
};
use crate::formats::openai::translate::synthetic_call_id;
use crate::formats::protocol::Protocol;

/// A `generateContent` body with what the translation had to change, for
/// `x-llmkp-dropped-params` and `x-llmkp-adjustments`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    /// The body; the model is part of the URL, not of the body.
    pub body: Map<String, Value>,
    /// `parallel_tool_calls` (false), `user`, `stop` (beyond five), `tools` (server tools Gemini
    /// has no counterpart for), `reasoning` (models without thinking).
    pub dropped_params: Vec<&'static str>,
    /// `leading_user_turn_added`, `tool_pairing_repaired`.
    pub adjustments: Vec<&'static str>,
}

/// The text of the user turn added in front of a conversation that starts otherwise (§4.2).
const LEADING_USER_TEXT: &str = ".";

/// The result given to a tool call the history has no result for (§4.2).
const MISSING_RESULT_TEXT: &str = "no result was recorded for this call";

/// System text blocks with this prefix change on every request and defeat prompt caching (§4.1).
const BILLING_HEADER: &str = "x-anthropic-billing-header:";

/// What a Gemini 3 model gets on the first call of a turn that has no signature of its own (§4.8).
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Gemini takes at most this many stop sequences (§4.9).
const MAX_STOP_SEQUENCES: usize = 5;

/// Efforts from least to most (§4.11).
const EFFORT_ORDER: [&str; 6] = ["minimal", "low", "medium", "high", "xhigh", "max"];

/// Gemini-native server tools a Gemini client may declare; forwarded to Gemini upstreams as sent.
const GEMINI_SERVER_TOOLS: [&str; 9] = [
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "fileSearch",
    "googleMaps",
    "computerUse",
    "retrieval",
    "enterpriseWebSearch",
];

/// How the upstream model thinks (§4.11), from its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Thinking {
    /// Gemini 3: `thinkingLevel`, one of these (lowest first).
    Levels(&'static [&'static str]),
    /// Gemini 2.5 and unknown models: `thinkingBudget` within `min..=max`; 0 allowed or not.
    Budget { min: u64, max: u64, zero: bool },
    /// Models without thinking (Gemma, Gemini 1.x and 2.0).
    None,
}

fn thinking_of(model: &str) -> Thinking {
    let model = model.to_ascii_lowercase();
    if model.contains("gemma")
        || model.contains("gemini-1.")
        || (model.contains("gemini-2.0") && !model.contains("thinking"))
    {
        Thinking::None
    } else if model.contains("gemini-3") {
        if model.contains("flash") {
            Thinking::Levels(&["minimal", "low", "medium", "high"])
        } else if model.contains("gemini-3-pro") {
            Thinking::Levels(&["low", "high"])
        } else {
            Thinking::Levels(&["low", "medium", "high"])
        }
    } else if model.contains("gemini-2.5") && model.contains("flash-lite") {
        Thinking::Budget { min: 512, max: 24576, zero: true }
    } else if model.contains("gemini-2.5") && model.contains("pro") {
        Thinking::Budget { min: 128, max: 32768, zero: false }
    } else {
        Thinking::Budget { min: 0, max: 24576, zero: true }
    }
}

/// A tool name as Gemini accepts it (§4.4: a letter or `_`, then `[a-zA-Z0-9_.:-]`, at most 64):
/// valid names unchanged, others with invalid characters as `_` and, when too long, cut to 55
/// characters plus `_` and 8 hex of the SHA-256 of the original. Deterministic, so history and
/// declarations agree.
pub fn wire_tool_name(name: &str) -> Cow<'_, str> {
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_';
    let rest_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    let mut chars = name.chars();
    let valid = name.len() <= 64 && chars.next().is_some_and(first_ok) && chars.all(rest_ok);
    if valid {
        return Cow::Borrowed(name);
    }
    let mut out: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| if (i == 0 && first_ok(c)) || (i > 0 && rest_ok(c)) { c } else { '_' })
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    if out.len() > 64 {
        let digest = Sha256::digest(name.as_bytes());
        let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        out.truncate(55);
        out = format!("{out}_{hex}");
    }
    Cow::Owned(out)
}

mod client_decode;
mod upstream_encode;

pub use client_decode::*;
pub use upstream_encode::*;

#[cfg(test)]
mod tests;
