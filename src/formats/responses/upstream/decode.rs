//! Responses `response` bodies as canonical answers: reasoning items, messages (text and
//! refusals), function and custom tool calls, the stop reason from `status` and
//! `incomplete_details`, and the usage.

use serde_json::{Map, Value, json};

use crate::formats::InvalidRequest;
use crate::formats::failure::{UpstreamFailure, classify_responses_error};
use crate::formats::ir::{Part, Response, Signature, StopReason, ToolCall, Usage};

/// A `response` body as a canonical answer served by `served`; reasoning signatures get `origin`
/// (the provider's name).
pub fn decode_upstream_response(
    body: &Map<String, Value>,
    served: &str,
    origin: &str,
) -> Result<Response, InvalidRequest> {
    let items = match body.get("output") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(InvalidRequest::wrong_type("output".into(), "an array of items")),
    };
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        decode_item(item, origin, &mut parts);
    }
    let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    Ok(Response {
        id: str_of(body.get("id")).to_string(),
        model: served.to_string(),
        parts,
        stop_reason: stop_reason(body, has_calls),
        stop_sequence: None,
        usage: body.get("usage").map(decode_usage).unwrap_or_default(),
    })
}

/// The parts one output item holds (none for items of provider-run tools).
pub(super) fn decode_item(item: &Value, origin: &str, parts: &mut Vec<Part>) {
    match item.get("type").and_then(Value::as_str) {
        Some("reasoning") => {
            let text = reasoning_text(item);
            let signature = encrypted_content(item).map(|value| Signature { origin: origin.to_string(), value });
            if !text.is_empty() || signature.is_some() {
                parts.push(Part::Reasoning { text, signature, redacted: None });
            }
        }
        Some("message") => {
            for part in item.get("content").and_then(Value::as_array).into_iter().flatten() {
                match part.get("type").and_then(Value::as_str) {
                    Some("output_text") => {
                        parts.push(Part::Text { text: str_of(part.get("text")).to_string(), cache_control: None })
                    }
                    Some("refusal") => parts.push(Part::Refusal(str_of(part.get("refusal")).to_string())),
                    _ => {}
                }
            }
        }
        Some("function_call") => parts.push(Part::ToolCall(ToolCall {
            id: call_id(item),
            name: str_of(item.get("name")).to_string(),
            arguments: match str_of(item.get("arguments")) {
                "" => "{}".to_string(),
                arguments => arguments.to_string(),
            },
            signature: None,
        })),
        Some("custom_tool_call") => parts.push(Part::ToolCall(ToolCall {
            id: call_id(item),
            name: str_of(item.get("name")).to_string(),
            arguments: custom_arguments(str_of(item.get("input"))),
            signature: None,
        })),
        _ => {}
    }
}

/// The arguments a freeform (custom) tool call carries as a canonical call: `{"input": …}`.
pub(super) fn custom_arguments(input: &str) -> String {
    json!({"input": input}).to_string()
}

/// The summary texts of a reasoning item (the reasoning text when it has no summary), joined by a
/// blank line.
pub(super) fn reasoning_text(item: &Value) -> String {
    let texts = |key: &str| -> Vec<&str> {
        item.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(|p| p["text"].as_str()).collect()
    };
    let summary = texts("summary");
    if summary.is_empty() { texts("content").join("\n\n") } else { summary.join("\n\n") }
}

pub(super) fn encrypted_content(item: &Value) -> Option<String> {
    item.get("encrypted_content").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A call's `call_id` (what its output answers), else its item `id`.
pub(super) fn call_id(item: &Value) -> String {
    let call_id = str_of(item.get("call_id"));
    if call_id.is_empty() { str_of(item.get("id")).to_string() } else { call_id.to_string() }
}

/// `status: "incomplete"` by `incomplete_details.reason`; otherwise tool use when there are calls.
pub(super) fn stop_reason(response: &Map<String, Value>, has_calls: bool) -> StopReason {
    let reason = response.get("incomplete_details").and_then(|d| d.get("reason")).and_then(Value::as_str);
    match (response.get("status").and_then(Value::as_str), reason) {
        (Some("incomplete"), Some("content_filter")) => StopReason::ContentFilter,
        (Some("incomplete"), _) => StopReason::MaxTokens,
        _ if has_calls => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// `input_tokens` (cached input included), `output_tokens` (reasoning included) and their details.
pub fn decode_usage(usage: &Value) -> Usage {
    let n = |path: &[&str]| path.iter().try_fold(usage, |v, key| v.get(key)).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = n(&["input_tokens_details", "cached_tokens"]);
    Usage {
        input_total: n(&["input_tokens"]).max(cache_read),
        cache_read,
        cache_write: 0,
        output_total: n(&["output_tokens"]),
        reasoning: n(&["output_tokens_details", "reasoning_tokens"]),
    }
}

/// A failed response (`status: "failed"` with its `error`), or an error object in place of one.
pub fn error_in_body(body: &Map<String, Value>) -> Option<UpstreamFailure> {
    let error = body.get("error").filter(|e| e.is_object())?;
    let failed = body.get("status").and_then(Value::as_str) == Some("failed");
    let not_a_response = body.get("object").and_then(Value::as_str) != Some("response");
    (failed || not_a_response).then(|| classify_responses_error(error))
}

fn str_of(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or_default()
}
