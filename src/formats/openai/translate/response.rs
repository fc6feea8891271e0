//! `chat.completion` bodies, finish reasons and usage objects from Chat upstreams into canonical
//! form (§5, §6, §7).

use serde_json::{Map, Value};

use super::{InvalidRequest, synthetic_call_id};
use crate::formats::ir::{Part, Response, StopReason, ToolCall};
use crate::formats::openai::chunk::is_content;
pub use crate::formats::openai::usage::decode_usage;

/// The canonical answer in a `chat.completion` body (its first choice), served by
/// `served_model` (`provider/model`). Parts come out as reasoning, text, refusal, tool calls.
/// Without a `usage` object the usage is all zeros: the caller estimates it (§7).
pub fn decode_response(body: &Map<String, Value>, served_model: &str) -> Result<Response, InvalidRequest> {
    let choice = body
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first())
        .ok_or_else(|| InvalidRequest::new("the upstream chat.completion has no choices", None))?;
    let no_message = Map::new();
    let message = choice.get("message").and_then(Value::as_object).unwrap_or(&no_message);
    let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(text) = reasoning_text(message) {
        parts.push(Part::Reasoning { text: text.to_string(), signature: None, redacted: None });
    }
    match message.get("content") {
        Some(Value::String(text)) if !text.is_empty() => {
            parts.push(Part::Text { text: text.clone(), cache_control: None })
        }
        // Some servers answer with content parts.
        Some(Value::Array(items)) => {
            for item in items {
                match (item.get("type").and_then(Value::as_str), item.get("text"), item.get("refusal")) {
                    (Some("refusal"), _, Some(Value::String(t))) => parts.push(Part::Refusal(t.clone())),
                    (_, Some(Value::String(t)), _) if !t.is_empty() => {
                        parts.push(Part::Text { text: t.clone(), cache_control: None });
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    if let Some(Value::String(refusal)) = message.get("refusal").filter(|r| is_content(r)) {
        parts.push(Part::Refusal(refusal.clone()));
    }
    let calls = message.get("tool_calls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (i, call) in calls.iter().enumerate() {
        let function = call.get("function").unwrap_or(&Value::Null);
        let name = function.get("name").and_then(Value::as_str).unwrap_or_default();
        let call_id = match call.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()) {
            Some(call_id) => call_id.to_string(),
            None => synthetic_call_id(&format!("{id}:{i}:{name}")),
        };
        parts.push(Part::ToolCall(ToolCall {
            id: call_id,
            name: name.to_string(),
            arguments: arguments_text(function.get("arguments")),
            signature: None,
        }));
    }
    // The legacy single `function_call` (no id).
    if let Some(function) = message.get("function_call").filter(|f| f.is_object()) {
        let name = function.get("name").and_then(Value::as_str).unwrap_or_default();
        parts.push(Part::ToolCall(ToolCall {
            id: synthetic_call_id(&format!("{id}:function_call:{name}")),
            name: name.to_string(),
            arguments: arguments_text(function.get("arguments")),
            signature: None,
        }));
    }
    let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    Ok(Response {
        id: id.to_string(),
        model: served_model.to_string(),
        parts,
        stop_reason: stop_reason(choice.get("finish_reason").and_then(Value::as_str), has_calls),
        stop_sequence: None,
        usage: body.get("usage").filter(|u| u.is_object()).map(decode_usage).unwrap_or_default(),
    })
}

/// §6: a Chat `finish_reason` (absent: `None`) as a canonical stop reason. `stop` does not say
/// whether a stop sequence matched, so it is end_turn — or tool_use when the answer has calls.
pub fn stop_reason(finish_reason: Option<&str>, has_tool_calls: bool) -> StopReason {
    match finish_reason {
        Some("length" | "max_tokens") => StopReason::MaxTokens,
        Some("content_filter") => StopReason::ContentFilter,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        _ if has_tool_calls => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// `reasoning_content` (DeepSeek, Qwen, …) or its alias `reasoning` (OpenRouter, vLLM, …).
pub(crate) fn reasoning_text(message: &Map<String, Value>) -> Option<&str> {
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|key| message.get(*key).and_then(Value::as_str).filter(|t| !t.is_empty()))
}

/// Arguments as JSON text: strings as sent, objects (some servers send them) serialised.
pub(crate) fn arguments_text(arguments: Option<&Value>) -> String {
    match arguments {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}
