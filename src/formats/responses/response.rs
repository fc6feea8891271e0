//! Canonical answers as Responses `response` objects (complete answers, and the objects the
//! stream's `response.created` / `response.completed` events carry), output items with the
//! client's tool shapes, usage, and the in-band error codes Codex acts on.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::new_call_id;
use super::reasoning::{self, REDACTED};
use super::tools::{CallShape, ToolNames, custom_input};
use crate::formats::failure::{ErrorClass, UpstreamFailure};
use crate::formats::ir::{Part, Response, Signature, StopReason, ToolCall, Usage};

/// What every `response` object of one answer shares.
#[derive(Debug, Clone)]
pub struct Shell {
    pub id: String,
    pub created_at: u64,
    /// The `provider/model` that serves.
    pub model: String,
}

impl Shell {
    pub fn new(id: String, model: &str) -> Self {
        let created_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self { id, created_at, model: model.to_string() }
    }

    /// The id of output item `at`: `<prefix>_` + the response id's tail + the index, so that one
    /// answer's ids are unique and follow from the response id.
    pub fn item_id(&self, prefix: &str, at: usize) -> String {
        let tail = self.id.split_once('_').map_or(self.id.as_str(), |(_, tail)| tail);
        format!("{prefix}_{tail}{at:02}")
    }

    /// The `response` object in `status` with `output` and `usage`.
    pub fn object(&self, status: &str, output: Vec<Value>, usage: Option<&Usage>) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("object".into(), json!("response"));
        object.insert("created_at".into(), json!(self.created_at));
        object.insert("status".into(), json!(status));
        object.insert("error".into(), Value::Null);
        object.insert("incomplete_details".into(), Value::Null);
        object.insert("model".into(), json!(self.model));
        object.insert("output".into(), Value::Array(output));
        object.insert("parallel_tool_calls".into(), json!(true));
        object.insert("tool_choice".into(), json!("auto"));
        object.insert("tools".into(), json!([]));
        object.insert("text".into(), json!({"format": {"type": "text"}}));
        object.insert("usage".into(), usage.map_or(Value::Null, usage_json));
        Value::Object(object)
    }

    /// The finished object: `completed`, or `incomplete` with its reason.
    pub fn finished(&self, output: Vec<Value>, stop: StopReason, usage: &Usage) -> Value {
        let reason = match stop {
            StopReason::MaxTokens => Some("max_output_tokens"),
            StopReason::ContentFilter => Some("content_filter"),
            _ => None,
        };
        let mut object = self.object(if reason.is_some() { "incomplete" } else { "completed" }, output, Some(usage));
        if let Some(reason) = reason {
            object["incomplete_details"] = json!({ "reason": reason });
        }
        object
    }

    /// The failed object for an in-band error.
    pub fn failed(&self, output: Vec<Value>, failure: &UpstreamFailure, message: &str) -> Value {
        let mut object = self.object("failed", output, None);
        object["error"] = error_json(failure, message);
        object
    }
}

/// `usage` of a `response` object.
pub fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_total,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output_total,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": usage.input_total + usage.output_total,
    })
}

/// The `error` of a failed response, with the codes Codex acts on: it waits and retries on
/// `rate_limit_exceeded` (reading "try again in N s"), stops on `context_length_exceeded` and
/// `insufficient_quota`, and retries `server_error`.
pub fn error_json(failure: &UpstreamFailure, message: &str) -> Value {
    let code = match failure.class {
        ErrorClass::RateLimit | ErrorClass::Overloaded => "rate_limit_exceeded",
        ErrorClass::ContextWindow => "context_length_exceeded",
        ErrorClass::Quota | ErrorClass::Billing => "insufficient_quota",
        _ => "server_error",
    };
    let mut message = message.to_string();
    if code == "rate_limit_exceeded"
        && !message.to_ascii_lowercase().contains("try again in")
        && let Some(wait) = failure.retry_after
    {
        message.push_str(&format!(" Please try again in {:.3}s.", wait.as_secs_f64().max(0.001)));
    }
    json!({ "code": code, "message": message })
}

/// A `reasoning` output item: its summary text, and the signature sealed into
/// `encrypted_content`.
pub fn reasoning_item(id: String, text: &str, signature: Option<&Signature>) -> Value {
    let summary = if text.is_empty() { json!([]) } else { json!([{"type": "summary_text", "text": text}]) };
    let mut item = json!({"type": "reasoning", "id": id, "summary": summary});
    if let Some(signature) = signature {
        item["encrypted_content"] = json!(reasoning::seal(signature));
    }
    item
}

/// An assistant `message` output item holding one text (or refusal) part.
pub fn message_item(id: String, part: Value, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": [part]})
}

pub fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// A tool call's output item in the client's shape (`function_call` or `custom_tool_call`).
pub fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, names: &ToolNames, status: &str) -> Value {
    match names.shape(name) {
        CallShape::Function { name, namespace } => {
            let mut item = json!({"type": "function_call", "id": id, "call_id": call_id, "name": name,
                "arguments": arguments, "status": status});
            if let Some(namespace) = namespace {
                item["namespace"] = json!(namespace);
            }
            item
        }
        CallShape::Custom { name, namespace } => {
            let mut item = json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": name,
                "input": custom_input(arguments), "status": status});
            if let Some(namespace) = namespace {
                item["namespace"] = json!(namespace);
            }
            item
        }
    }
}

/// The output items of a complete answer.
pub fn output_items(shell: &Shell, parts: &[Part], names: &ToolNames) -> Vec<Value> {
    let mut items = Vec::new();
    for part in parts {
        let at = items.len();
        match part {
            Part::Reasoning { text, signature, redacted } => {
                let redacted = redacted.as_ref().map(|data| Signature { origin: REDACTED.into(), value: data.clone() });
                items.push(reasoning_item(shell.item_id("rs", at), text, signature.as_ref().or(redacted.as_ref())));
            }
            Part::Text { text, .. } if !text.is_empty() => {
                items.push(message_item(shell.item_id("msg", at), text_part(text), "completed"));
            }
            Part::Refusal(text) => {
                let part = json!({"type": "refusal", "refusal": text});
                items.push(message_item(shell.item_id("msg", at), part, "completed"));
            }
            Part::ToolCall(ToolCall { id, name, arguments, signature }) => {
                // Signatures other than Anthropic's sign the call: they ride in a reasoning item
                // right before it.
                if let Some(signature) = signature {
                    items.push(reasoning_item(shell.item_id("rs", at), "", Some(signature)));
                }
                let call_id = if id.is_empty() { new_call_id() } else { id.clone() };
                let prefix = if names.is_custom(name) { "ctc" } else { "fc" };
                let item_id = shell.item_id(prefix, items.len());
                items.push(call_item(&item_id, &call_id, name, arguments, names, "completed"));
            }
            _ => {}
        }
    }
    items
}

/// A complete canonical answer as the client's `response` object.
pub fn encode_response(response: &Response, served: &str, names: &ToolNames) -> Value {
    let shell = Shell::new(super::new_response_id(), served);
    shell.finished(output_items(&shell, &response.parts, names), response.stop_reason, &response.usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_becomes_reasoning_message_and_calls_in_the_clients_shapes() {
        let mut names = ToolNames::default();
        names.add_custom("apply_patch".into());
        let flat = names.add_namespaced("ns", "look");
        let signature = Signature { origin: "gemini".into(), value: "SIG".into() };
        let response = Response {
            id: "x".into(),
            model: "gemini/m".into(),
            parts: vec![
                Part::Reasoning { text: "think".into(), signature: None, redacted: None },
                Part::Text { text: "Hi".into(), cache_control: None },
                Part::ToolCall(ToolCall {
                    id: "c1".into(),
                    name: "apply_patch".into(),
                    arguments: r#"{"input":"*** Begin Patch"}"#.into(),
                    signature: Some(signature.clone()),
                }),
                Part::ToolCall(ToolCall { id: "c2".into(), name: flat, arguments: "{}".into(), signature: None }),
            ],
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
            usage: Usage { input_total: 10, cache_read: 4, output_total: 6, reasoning: 2, cache_write: 0 },
        };
        let body = encode_response(&response, "gemini/m", &names);
        assert_eq!(body["status"], "completed");
        let output = body["output"].as_array().unwrap();
        let kinds: Vec<&str> = output.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["reasoning", "message", "reasoning", "custom_tool_call", "function_call"]);
        assert_eq!(output[0]["summary"][0]["text"], "think");
        assert_eq!(output[1]["content"][0]["text"], "Hi");
        let sealed = output[2]["encrypted_content"].as_str().unwrap();
        assert_eq!(reasoning::open(sealed, "x").unwrap(), Some(signature));
        assert_eq!((output[3]["input"].as_str(), output[3]["call_id"].as_str()), (Some("*** Begin Patch"), Some("c1")));
        assert_eq!((output[4]["name"].as_str(), output[4]["namespace"].as_str()), (Some("look"), Some("ns")));
        assert_eq!(body["usage"]["total_tokens"], 16);
        assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 4);
        assert_eq!(body["usage"]["output_tokens_details"]["reasoning_tokens"], 2);
    }

    #[test]
    fn a_cut_answer_is_incomplete_and_errors_carry_codex_codes() {
        let shell = Shell::new("resp_1".into(), "m");
        let body = shell.finished(Vec::new(), StopReason::MaxTokens, &Usage::default());
        assert_eq!(
            (body["status"].as_str(), body["incomplete_details"]["reason"].as_str()),
            (Some("incomplete"), Some("max_output_tokens"))
        );
        let mut failure = UpstreamFailure::new(ErrorClass::RateLimit, "slow down");
        failure.retry_after = Some(std::time::Duration::from_secs(7));
        let error = error_json(&failure, "slow down");
        assert_eq!(error["code"], "rate_limit_exceeded");
        assert!(error["message"].as_str().unwrap().contains("try again in 7.000s"));
        let failure = UpstreamFailure::new(ErrorClass::ContextWindow, "too long");
        assert_eq!(error_json(&failure, "too long")["code"], "context_length_exceeded");
    }
}
