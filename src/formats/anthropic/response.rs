//! A canonical answer as the Messages `message` object a non-streaming client receives
//! (translation specification §5, §6, §7), and the Anthropic error body (http-api §7.1).

use serde_json::{Map, Value, json};

use super::{new_message_id, new_tool_use_id, signature_to_wire};
use crate::formats::ir::{Part, Response, StopReason, Usage};

/// The `message` object for `resp`. `model` is the `provider/model` that served
/// (`resp.model`), or `requested_model` when the response names none.
pub fn encode_response(resp: &Response, requested_model: &str) -> Value {
    let id = if resp.id.starts_with("msg_") { resp.id.clone() } else { new_message_id() };
    let model = if resp.model.is_empty() { requested_model } else { &resp.model };
    let content: Vec<Value> =
        resp.parts.iter().flat_map(|part| signature_carrier(part).into_iter().chain(content_block(part))).collect();
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason_str(resp.stop_reason),
        "stop_sequence": resp.stop_sequence,
        "usage": usage_json(&resp.usage, true),
    })
}

/// `{"type":"error","error":{"type":kind,"message":message},"request_id":request_id}`.
pub fn error_body(kind: &str, message: &str, request_id: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id})
}

/// A tool call signed by another provider (a Gemini `thoughtSignature`) has nowhere to keep its
/// signature in `tool_use`: an empty thinking block right before it carries it, wrapped (§10), and
/// brings it back to the call when the client replays the turn.
fn signature_carrier(part: &Part) -> Option<Value> {
    let Part::ToolCall(call) = part else { return None };
    let signature = call.signature.as_ref().filter(|s| s.origin != super::ORIGIN)?;
    Some(json!({"type": "thinking", "thinking": "", "signature": signature_to_wire(signature)}))
}

/// One content block of an assistant answer; parts that only occur in requests (images,
/// documents, tool results) have none.
fn content_block(part: &Part) -> Option<Value> {
    match part {
        Part::Reasoning { redacted: Some(data), .. } => Some(json!({"type": "redacted_thinking", "data": data})),
        Part::Reasoning { text, signature, redacted: None } => Some(json!({
            "type": "thinking",
            "thinking": text,
            "signature": signature.as_ref().map(signature_to_wire).unwrap_or_default(),
        })),
        Part::Text { text, .. } | Part::Refusal(text) => Some(json!({"type": "text", "text": text})),
        Part::ToolCall(call) => Some(json!({
            "type": "tool_use",
            "id": if call.id.is_empty() { new_tool_use_id() } else { call.id.clone() },
            "name": call.name,
            "input": tool_input(&call.arguments),
        })),
        Part::Image(_) | Part::Document { .. } | Part::ToolResult(_) => None,
    }
}

/// Arguments JSON text → the `input` object (§4.6): empty is `{}`; anything that is not a JSON
/// object is kept as `{"_raw": "<text>"}`, never silently replaced.
pub fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({"_raw": arguments}),
    }
}

/// The Messages `stop_reason` for a canonical one (§6); a content filter is a `refusal`.
pub fn stop_reason_str(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ContentFilter | StopReason::Refusal => "refusal",
    }
}

/// Messages usage (§7): `input_tokens` is the uncached input. With `all_fields` false the cache
/// counts appear only when non-zero (the stream's `message_delta`, §13.3).
pub fn usage_json(usage: &Usage, all_fields: bool) -> Value {
    let mut out = Map::new();
    let uncached = usage.input_total.saturating_sub(usage.cache_read).saturating_sub(usage.cache_write);
    out.insert("input_tokens".into(), uncached.into());
    out.insert("output_tokens".into(), usage.output_total.into());
    if all_fields || usage.cache_read > 0 {
        out.insert("cache_read_input_tokens".into(), usage.cache_read.into());
    }
    if all_fields || usage.cache_write > 0 {
        out.insert("cache_creation_input_tokens".into(), usage.cache_write.into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::ir::{Signature, ToolCall};

    fn response(parts: Vec<Part>, stop_reason: StopReason) -> Response {
        Response {
            id: "chatcmpl-1".into(),
            model: "openai/gpt-4o".into(),
            parts,
            stop_reason,
            stop_sequence: None,
            usage: Usage { input_total: 1210, cache_read: 1000, cache_write: 24, output_total: 256, reasoning: 40 },
        }
    }

    fn call(id: &str, arguments: &str) -> Part {
        Part::ToolCall(ToolCall {
            id: id.into(),
            name: "get_weather".into(),
            arguments: arguments.into(),
            signature: None,
        })
    }

    #[test]
    fn a_call_signed_by_another_provider_is_preceded_by_a_thinking_block_carrying_the_signature() {
        let signed = Part::ToolCall(ToolCall {
            id: "toolu_1".into(),
            name: "get_weather".into(),
            arguments: "{}".into(),
            signature: Some(Signature { origin: "gemini".into(), value: "sig-1".into() }),
        });
        let message = encode_response(&response(vec![signed, call("toolu_2", "{}")], StopReason::ToolUse), "m");
        let content = message["content"].as_array().unwrap();
        let kinds: Vec<&str> = content.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["thinking", "tool_use", "tool_use"]);
        assert_eq!(content[0]["signature"], "llmkp1.gemini.sig-1");
        assert_eq!(content[0]["thinking"], "");
    }

    #[test]
    fn thinking_text_and_tool_use_come_out_in_order_with_usage_split() {
        let resp = response(
            vec![
                Part::Reasoning {
                    text: "The user wants".into(),
                    signature: Some(Signature { origin: "anthropic".into(), value: "EqQB".into() }),
                    redacted: None,
                },
                Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
                Part::Text { text: "Checking.".into(), cache_control: None },
                call("toolu_1", r#"{"city":"Paris","units":{"z":1,"a":2}}"#),
            ],
            StopReason::ToolUse,
        );
        let out = encode_response(&resp, "gpt");
        let id = out["id"].as_str().unwrap();
        assert!(id.starts_with("msg_") && id.len() == 28, "{id}");
        assert_eq!(out["type"], "message");
        assert_eq!(out["role"], "assistant");
        assert_eq!(out["model"], "openai/gpt-4o");
        assert_eq!(
            out["content"],
            json!([
                {"type": "thinking", "thinking": "The user wants", "signature": "EqQB"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                 "input": {"city": "Paris", "units": {"z": 1, "a": 2}}},
            ])
        );
        let input_keys: Vec<&String> = out["content"][3]["input"]["units"].as_object().unwrap().keys().collect();
        assert_eq!(input_keys, ["z", "a"], "key order is kept");
        assert_eq!(out["stop_reason"], "tool_use");
        assert_eq!(out["stop_sequence"], Value::Null);
        assert_eq!(
            out["usage"],
            json!({"input_tokens": 186, "output_tokens": 256, "cache_read_input_tokens": 1000,
                   "cache_creation_input_tokens": 24})
        );
    }

    #[test]
    fn foreign_signatures_are_wrapped_and_missing_ones_are_empty() {
        let resp = response(
            vec![
                Part::Reasoning {
                    text: "a".into(),
                    signature: Some(Signature { origin: "gemini".into(), value: "Cs".into() }),
                    redacted: None,
                },
                Part::Reasoning { text: "b".into(), signature: None, redacted: None },
            ],
            StopReason::EndTurn,
        );
        let out = encode_response(&resp, "m");
        assert_eq!(out["content"][0]["signature"], "llmkp1.gemini.Cs");
        assert_eq!(out["content"][1]["signature"], "");
    }

    #[test]
    fn unparsable_or_empty_arguments_never_become_a_silent_empty_object() {
        assert_eq!(tool_input(""), json!({}));
        assert_eq!(tool_input("{\"a\":"), json!({"_raw": "{\"a\":"}));
        assert_eq!(tool_input("[1]"), json!({"_raw": "[1]"}));
        let out = encode_response(&response(vec![call("", "nope")], StopReason::ToolUse), "m");
        assert_eq!(out["content"][0]["input"], json!({"_raw": "nope"}));
        assert!(out["content"][0]["id"].as_str().unwrap().starts_with("toolu_"));
    }

    #[test]
    fn stop_reasons_map_and_content_filter_is_a_refusal() {
        let cases = [
            (StopReason::EndTurn, "end_turn"),
            (StopReason::MaxTokens, "max_tokens"),
            (StopReason::ToolUse, "tool_use"),
            (StopReason::StopSequence, "stop_sequence"),
            (StopReason::ContentFilter, "refusal"),
            (StopReason::Refusal, "refusal"),
        ];
        for (reason, wire) in cases {
            assert_eq!(stop_reason_str(reason), wire);
        }
        let mut resp = response(vec![Part::Refusal("I can't help with that.".into())], StopReason::StopSequence);
        resp.stop_sequence = Some("###".into());
        resp.id = "msg_upstream".into();
        resp.model = String::new();
        let out = encode_response(&resp, "anthropic/claude-sonnet-4-5");
        assert_eq!(out["id"], "msg_upstream");
        assert_eq!(out["model"], "anthropic/claude-sonnet-4-5");
        assert_eq!(out["stop_sequence"], "###");
        assert_eq!(out["content"], json!([{"type": "text", "text": "I can't help with that."}]));
    }

    #[test]
    fn uncached_input_is_never_negative() {
        let usage = Usage { input_total: 10, cache_read: 30, cache_write: 0, output_total: 1, reasoning: 0 };
        assert_eq!(
            usage_json(&usage, false),
            json!({"input_tokens": 0, "output_tokens": 1, "cache_read_input_tokens": 30})
        );
    }

    #[test]
    fn error_body_has_the_anthropic_shape() {
        assert_eq!(
            error_body("rate_limit_error", "retry in 12 s", "req_01"),
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "retry in 12 s"},
                   "request_id": "req_01"})
        );
    }
}
