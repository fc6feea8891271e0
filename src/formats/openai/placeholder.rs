//! Calls to the placeholder tool the proxy adds for Qwen Code (`do_not_call_me`, credentials
//! specification §11) never reach the client: they are removed from stream chunks and from
//! whole completions, and a finish that only covered them becomes `stop`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The name of the tool added to requests without tools.
pub const PLACEHOLDER_TOOL: &str = "do_not_call_me";

/// Per stream: which tool-call indices belong to the placeholder, and whether a real call was
/// seen (for the finish reason).
#[derive(Debug, Default)]
pub struct PlaceholderFilter {
    placeholder: BTreeSet<(u64, u64)>,
    real_calls: bool,
}

impl PlaceholderFilter {
    /// Removes placeholder calls from one chunk; `false` when nothing is left worth sending.
    pub fn rewrite_chunk(&mut self, chunk: &mut Map<String, Value>) -> bool {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else { return true };
        let mut keep = choices.is_empty();
        for (position, choice) in choices.iter_mut().enumerate() {
            let choice_index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
            let mut emptied = false;
            if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut)
                && let Some(Value::Array(calls)) = delta.get_mut("tool_calls")
            {
                calls.retain(|call| {
                    let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let name = call.pointer("/function/name").and_then(Value::as_str);
                    if name == Some(PLACEHOLDER_TOOL) {
                        self.placeholder.insert((choice_index, index));
                    } else if name.is_some() {
                        self.real_calls = true;
                    }
                    !self.placeholder.contains(&(choice_index, index))
                });
                if calls.is_empty() {
                    delta.remove("tool_calls");
                    emptied = true;
                }
            }
            if choice.get("finish_reason").and_then(Value::as_str) == Some("tool_calls") && !self.real_calls {
                choice["finish_reason"] = Value::from("stop");
            }
            let has_delta = choice.get("delta").and_then(Value::as_object).is_some_and(|d| !d.is_empty());
            let has_finish = choice.get("finish_reason").is_some_and(|f| !f.is_null());
            keep |= has_delta || has_finish || !emptied;
        }
        keep || chunk.get("usage").is_some_and(Value::is_object)
    }
}

/// Removes placeholder calls from a `chat.completion` body.
pub fn rewrite_completion(body: &mut Map<String, Value>) {
    let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) else { return };
    for choice in choices {
        let Some(message) = choice.get_mut("message").and_then(Value::as_object_mut) else { continue };
        let Some(Value::Array(calls)) = message.get_mut("tool_calls") else { continue };
        calls.retain(|call| call.pointer("/function/name").and_then(Value::as_str) != Some(PLACEHOLDER_TOOL));
        if calls.is_empty() {
            message.remove("tool_calls");
            if choice.get("finish_reason").and_then(Value::as_str) == Some("tool_calls") {
                choice["finish_reason"] = Value::from("stop");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn placeholder_calls_leave_streams_and_completions() {
        let mut filter = PlaceholderFilter::default();
        let mut start = map(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c",
            "function": {"name": "do_not_call_me", "arguments": ""}}]}, "finish_reason": null}]}));
        assert!(!filter.rewrite_chunk(&mut start), "nothing left to send");
        let mut args = map(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
            "function": {"arguments": "{}"}}]}, "finish_reason": null}]}));
        assert!(!filter.rewrite_chunk(&mut args));
        let mut finish = map(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}));
        assert!(filter.rewrite_chunk(&mut finish));
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        let mut text = map(json!({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null}]}));
        assert!(filter.rewrite_chunk(&mut text));

        let mut real = PlaceholderFilter::default();
        let mut call = map(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "r",
            "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": null}]}));
        assert!(real.rewrite_chunk(&mut call));
        assert_eq!(call["choices"][0]["delta"]["tool_calls"][0]["function"]["name"], "get_weather");
        let mut finish = map(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}));
        real.rewrite_chunk(&mut finish);
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");

        let mut body =
            map(json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant",
            "content": "ok", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "do_not_call_me",
            "arguments": "{}"}}]}}]}));
        rewrite_completion(&mut body);
        assert!(body["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
    }
}
