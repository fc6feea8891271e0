//! Gemini `GenerateContentResponse` bodies both ways (translation specification §5–§8, §10): an
//! upstream answer (public API, or Code Assist's `{"response": {…}}` envelope) into a canonical
//! [`Response`], and a canonical answer into the body a Gemini client expects.
//!
//! Signatures: a `thoughtSignature` on a thought part signs that thought; one on a `functionCall`
//! part is that call's; one on a text (or any other) part signs the thinking before it and becomes
//! a *signature carrier*, a Reasoning part with empty text placed right before the text. Out of
//! canonical, a carrier's signature rides on the text part right after it (or on an empty text
//! part of its own), so canonical → Gemini → canonical is the identity (§1.4).

use serde_json::{Map, Value, json};

use super::signature_to_client;
use crate::formats::InvalidRequest;
use crate::formats::anthropic::response::tool_input;
use crate::formats::ir::{Part, Response, Signature, StopReason, ToolCall, Usage};
use crate::formats::openai::translate::synthetic_call_id;

/// Length of the `responseId`s the proxy mints (§8).
const RESPONSE_ID_LEN: usize = 22;

/// `finishReason`s that mean the content was filtered (§6).
const FILTER_REASONS: [&str; 9] = [
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "LANGUAGE",
];

/// A new `responseId`: 22 base62 characters (§8).
pub fn new_response_id() -> String {
    crate::formats::random_base62(RESPONSE_ID_LEN)
}

/// The `GenerateContentResponse` inside Code Assist's `{"response": {…}}` envelope, or `body`
/// itself when it is not wrapped.
pub fn unwrap_envelope(body: &Map<String, Value>) -> &Map<String, Value> {
    match body.get("response") {
        Some(Value::Object(inner)) if !body.contains_key("candidates") => inner,
        _ => body,
    }
}

/// A `GenerateContentResponse` (or Code Assist envelope) as a canonical response served by
/// `served_model`; signatures are recorded as produced by `origin`. Only the first candidate is
/// read. A prompt blocked before generation (`promptFeedback.blockReason`, no candidates) is an
/// empty answer stopped by the content filter (§5), not an error.
pub fn decode_upstream_response(
    body: &Map<String, Value>,
    served_model: &str,
    origin: &str,
) -> Result<Response, InvalidRequest> {
    let body = unwrap_envelope(body);
    let id = body.get("responseId").and_then(Value::as_str).unwrap_or_default().to_string();
    let candidate = first_candidate(body)?;
    let mut parts = Vec::new();
    let mut finish = None;
    if let Some(candidate) = candidate {
        let wire_parts = match candidate.get("content").and_then(|c| c.get("parts")) {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(parts)) => parts.as_slice(),
            Some(_) => return Err(InvalidRequest::wrong_type("candidates[0].content.parts".into(), "an array")),
        };
        parts = decode_parts(wire_parts, origin, &id);
        finish = candidate.get("finishReason").and_then(Value::as_str);
    }
    let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    let stop_reason = if candidate.is_none() && is_blocked(body) {
        StopReason::ContentFilter
    } else {
        stop_reason(finish, has_calls)
    };
    Ok(Response {
        id,
        model: served_model.to_string(),
        parts,
        stop_reason,
        stop_sequence: None,
        usage: body.get("usageMetadata").map(decode_usage).unwrap_or_default(),
    })
}

/// The candidate with `index` 0 (or the first one); `None` when there is none.
pub(super) fn first_candidate(body: &Map<String, Value>) -> Result<Option<&Map<String, Value>>, InvalidRequest> {
    let candidates = match body.get("candidates") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(candidates)) => candidates,
        Some(_) => return Err(InvalidRequest::wrong_type("candidates".into(), "an array")),
    };
    let index = |c: &Value| c.get("index").and_then(Value::as_u64).unwrap_or(0);
    let candidate = candidates.iter().find(|c| index(c) == 0).or_else(|| candidates.first());
    match candidate {
        None => Ok(None),
        Some(Value::Object(candidate)) => Ok(Some(candidate)),
        Some(_) => Err(InvalidRequest::wrong_type("candidates[0]".into(), "an object")),
    }
}

/// Whether the prompt itself was blocked (`promptFeedback.blockReason`).
pub(super) fn is_blocked(body: &Map<String, Value>) -> bool {
    body.get("promptFeedback").and_then(|f| f.get("blockReason")).is_some_and(|r| !r.is_null())
}

/// Where a decoded part goes in the canonical order of §5: reasoning, text, tool calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Reasoning,
    Text,
    Call,
}

/// Candidate parts as canonical parts, in the order of §5 (a signature carrier stays with the
/// text it came on). `response_id` seeds the ids of calls that arrive without one.
fn decode_parts(wire: &[Value], origin: &str, response_id: &str) -> Vec<Part> {
    let mut ranked: Vec<(Rank, Part)> = Vec::with_capacity(wire.len());
    let mut calls = 0;
    for part in wire.iter().filter_map(Value::as_object) {
        let signature = part_signature(part, origin);
        if let Some(call) = part.get("functionCall").and_then(Value::as_object) {
            let call = decode_call(call, signature, response_id, calls);
            calls += 1;
            ranked.push((Rank::Call, Part::ToolCall(call)));
            continue;
        }
        let text = part.get("text").and_then(Value::as_str).unwrap_or_default();
        if is_thought(part) {
            if !text.is_empty() || signature.is_some() {
                ranked.push((Rank::Reasoning, reasoning(text, signature)));
            }
            continue;
        }
        // A signature on a text part (or a part without a canonical form) signs the thinking
        // before it (§4.8).
        if signature.is_some() {
            ranked.push((Rank::Text, reasoning("", signature)));
        }
        if !text.is_empty() {
            ranked.push((Rank::Text, Part::Text { text: text.to_string(), cache_control: None }));
        }
    }
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, part)| part).collect()
}

fn reasoning(text: &str, signature: Option<Signature>) -> Part {
    Part::Reasoning { text: text.to_string(), signature, redacted: None }
}

pub(super) fn is_thought(part: &Map<String, Value>) -> bool {
    part.get("thought").and_then(Value::as_bool).unwrap_or(false)
}

/// The part's `thoughtSignature`, produced by `origin`.
pub(super) fn part_signature(part: &Map<String, Value>, origin: &str) -> Option<Signature> {
    let value = part.get("thoughtSignature").and_then(Value::as_str).filter(|s| !s.is_empty())?;
    Some(Signature { origin: origin.to_string(), value: value.to_string() })
}

/// A `functionCall` as a canonical call: `args` as JSON text, the upstream id or a synthetic one
/// derived from the response id, the call's position and its name (§4.6).
pub(super) fn decode_call(
    call: &Map<String, Value>,
    signature: Option<Signature>,
    response_id: &str,
    index: usize,
) -> ToolCall {
    let name = call.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let id = match call.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()) {
        Some(id) => id.to_string(),
        None => synthetic_call_id(&format!("{response_id}:{index}:{name}")),
    };
    let arguments = match call.get("args") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(args) => args.to_string(),
    };
    ToolCall { id, name, arguments, signature }
}

/// §6, Gemini column (in). Values the canonical model lacks (`malformed_tool_call`, `other`) map
/// to their Chat and Messages rendering, end of turn.
pub fn stop_reason(reason: Option<&str>, has_calls: bool) -> StopReason {
    match reason {
        None | Some("STOP") if has_calls => StopReason::ToolUse,
        Some("MAX_TOKENS") => StopReason::MaxTokens,
        Some(reason) if FILTER_REASONS.contains(&reason) => StopReason::ContentFilter,
        _ => StopReason::EndTurn,
    }
}

/// The Gemini `finishReason` for a canonical stop reason (§6, Gemini column out).
pub fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::ToolUse => "STOP",
        StopReason::MaxTokens => "MAX_TOKENS",
        StopReason::ContentFilter | StopReason::Refusal => "SAFETY",
    }
}

/// §7: a `usageMetadata` object in canonical form. Input includes tool-use prompt tokens and
/// cached tokens (Gemini's `promptTokenCount` already counts cached content); output includes
/// thoughts.
pub fn decode_usage(wire: &Value) -> Usage {
    let n = |key: &str| wire.get(key).and_then(Value::as_u64).unwrap_or(0);
    let thoughts = n("thoughtsTokenCount");
    Usage {
        input_total: n("promptTokenCount").saturating_add(n("toolUsePromptTokenCount")),
        cache_read: n("cachedContentTokenCount"),
        cache_write: 0,
        output_total: n("candidatesTokenCount").saturating_add(thoughts),
        reasoning: thoughts,
    }
}

/// §7: `usageMetadata` for a Gemini client; the cache and thought counts appear when non-zero.
pub fn usage_metadata(usage: &Usage) -> Value {
    let mut out = Map::new();
    out.insert("promptTokenCount".into(), json!(usage.input_total));
    if usage.cache_read > 0 {
        out.insert("cachedContentTokenCount".into(), json!(usage.cache_read));
    }
    out.insert("candidatesTokenCount".into(), json!(usage.output_total.saturating_sub(usage.reasoning)));
    if usage.reasoning > 0 {
        out.insert("thoughtsTokenCount".into(), json!(usage.reasoning));
    }
    out.insert("totalTokenCount".into(), json!(usage.input_total.saturating_add(usage.output_total)));
    Value::Object(out)
}

/// The `GenerateContentResponse` for `resp` (§5): one candidate, `modelVersion` `model_version`
/// (the model the client asked for), the signatures as a client of the Gemini-protocol provider
/// `native_origin` sees them (§10). The response id is kept when it is one the proxy minted,
/// else a new one is minted (§8).
pub fn encode_client_response(resp: &Response, model_version: &str, native_origin: &str) -> Value {
    let response_id = if is_minted_id(&resp.id) { resp.id.clone() } else { new_response_id() };
    let parts = encode_parts(&resp.parts, native_origin, &response_id);
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": parts},
            "finishReason": finish_reason(resp.stop_reason),
            "index": 0,
        }],
        "usageMetadata": usage_metadata(&resp.usage),
        "modelVersion": model_version,
        "responseId": response_id,
    })
}

fn is_minted_id(id: &str) -> bool {
    id.len() == RESPONSE_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Canonical parts as Gemini parts, in their order. Redacted reasoning, and media or tool results
/// (which an answer does not hold), have no Gemini form and are left out.
fn encode_parts(parts: &[Part], native_origin: &str, response_id: &str) -> Vec<Value> {
    let mut out = Vec::with_capacity(parts.len());
    // The signature of a carrier, waiting for the text part right after it.
    let mut carried: Option<String> = None;
    let mut calls = 0;
    for part in parts {
        match part {
            Part::Text { text, .. } | Part::Refusal(text) => {
                if !text.is_empty() {
                    out.push(text_part(text, false, carried.take()));
                }
                continue;
            }
            Part::Reasoning { redacted: Some(_), .. }
            | Part::Image(_)
            | Part::Document { .. }
            | Part::ToolResult(_) => {
                continue;
            }
            Part::Reasoning { text, signature: None, .. } if text.is_empty() => continue,
            Part::Reasoning { .. } | Part::ToolCall(_) => {}
        }
        // No text follows the carrier: its signature goes out on an empty part of its own, a
        // thought when reasoning follows (so that it is read back in this place).
        if let Some(signature) = carried.take() {
            out.push(text_part("", matches!(part, Part::Reasoning { .. }), Some(signature)));
        }
        match part {
            Part::Reasoning { text, signature: Some(signature), .. } if text.is_empty() => {
                carried = Some(signature_to_client(signature, native_origin));
            }
            Part::Reasoning { text, signature, .. } => {
                out.push(text_part(text, true, signature.as_ref().map(|s| signature_to_client(s, native_origin))));
            }
            Part::ToolCall(call) => {
                out.push(function_call_part(call, native_origin, response_id, calls));
                calls += 1;
            }
            _ => {}
        }
    }
    if let Some(signature) = carried {
        out.push(text_part("", false, Some(signature)));
    }
    out
}

/// `{"text"}`, with `"thought": true` for reasoning and the `thoughtSignature` when there is one.
pub(super) fn text_part(text: &str, thought: bool, signature: Option<String>) -> Value {
    let mut part = Map::new();
    part.insert("text".into(), json!(text));
    if thought {
        part.insert("thought".into(), json!(true));
    }
    if let Some(signature) = signature {
        part.insert("thoughtSignature".into(), json!(signature));
    }
    Value::Object(part)
}

fn function_call_part(call: &ToolCall, native_origin: &str, response_id: &str, index: usize) -> Value {
    let id = if call.id.is_empty() {
        synthetic_call_id(&format!("{response_id}:{index}:{}", call.name))
    } else {
        call.id.clone()
    };
    let signature = call.signature.as_ref().map(|s| signature_to_client(s, native_origin));
    function_call_value(&id, &call.name, &call.arguments, signature)
}

/// `{"functionCall":{"id","name","args"}}` with `args` as an object (§4.6) and the signature in
/// `thoughtSignature`.
pub(super) fn function_call_value(id: &str, name: &str, arguments: &str, signature: Option<String>) -> Value {
    let mut part = Map::new();
    part.insert("functionCall".into(), json!({"id": id, "name": name, "args": tool_input(arguments)}));
    if let Some(signature) = signature {
        part.insert("thoughtSignature".into(), json!(signature));
    }
    Value::Object(part)
}

#[cfg(test)]
mod tests;
