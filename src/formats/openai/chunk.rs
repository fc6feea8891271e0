//! What a `chat.completion.chunk` carries, as far as the proxy must know: content or not, a
//! finish reason, usage, or an in-stream error.

use serde_json::{Map, Value};

/// The proxy's reading of one upstream chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkFacts {
    /// Reasoning, text, refusal, tool calls, or a finish reason that explains their absence
    /// (`length`, `content_filter`): the chunk commits a stream.
    pub has_content: bool,
    pub has_finish: bool,
    /// A delta carries tool calls (a finish the proxy must add is then `tool_calls`).
    pub has_tool_calls: bool,
    /// `"choices": []` with a `usage` object: the usage-only chunk.
    pub usage_only: bool,
    /// Characters of generated output in the deltas: text, reasoning, refusal, tool-call
    /// arguments.
    pub output_chars: u64,
}

impl ChunkFacts {
    pub fn of(chunk: &Map<String, Value>) -> Self {
        let choices = chunk.get("choices").and_then(Value::as_array);
        let has_usage = chunk.get("usage").is_some_and(Value::is_object);
        let Some(choices) = choices else {
            return Self { usage_only: has_usage, ..Self::default() };
        };
        let mut facts = Self { usage_only: choices.is_empty() && has_usage, ..Self::default() };
        for choice in choices {
            if let Some(reason) = choice.get("finish_reason").filter(|f| !f.is_null()) {
                facts.has_finish = true;
                // An ordinary stop says nothing by itself; a cut or a filter explains an answer
                // without output (pitfall A08).
                facts.has_content |= !matches!(reason.as_str(), Some("stop" | "tool_calls" | "function_call"));
            }
            if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                facts.has_content |= delta_has_content(delta);
                facts.has_tool_calls |= delta.get("tool_calls").is_some_and(is_content);
                facts.output_chars += delta_output_chars(delta);
            }
        }
        facts
    }
}

fn delta_output_chars(delta: &Map<String, Value>) -> u64 {
    let chars = |value: Option<&Value>| value.and_then(Value::as_str).map_or(0, |text| text.chars().count() as u64);
    let text: u64 =
        ["content", "reasoning_content", "reasoning", "refusal"].iter().map(|key| chars(delta.get(*key))).sum();
    let arguments: u64 = delta
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|call| chars(call.get("function").and_then(|f| f.get("arguments"))))
        .sum();
    text + arguments
}

fn delta_has_content(delta: &Map<String, Value>) -> bool {
    delta.iter().any(|(key, value)| key != "role" && is_content(value))
}

/// A message or delta value that carries output: a non-empty string or array, or any other
/// non-null value. (`content: ""` and `refusal: null` in a role chunk are not output.)
pub fn is_content(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

/// The `error` object of an in-stream error event (`data: {"error":{…}}`), if this is one.
pub fn stream_error(event: &Map<String, Value>) -> Option<&Value> {
    event.get("error").filter(|e| !e.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(v: Value) -> ChunkFacts {
        ChunkFacts::of(v.as_object().unwrap())
    }

    #[test]
    fn output_characters_are_counted_in_every_delta() {
        let f = facts(json!({"choices": [
            {"index": 0, "delta": {"role": "assistant", "content": "héllo", "reasoning_content": "ab"}},
            {"index": 1, "delta": {"refusal": "no", "tool_calls": [
                {"index": 0, "function": {"name": "lookup", "arguments": "{\"q\""}},
                {"index": 1, "function": {"arguments": ":1}"}}
            ]}}
        ]}));
        assert_eq!(f.output_chars, 5 + 2 + 2 + 4 + 3);
        assert_eq!(facts(json!({"choices": [], "usage": {"completion_tokens": 9}})).output_chars, 0);
    }

    #[test]
    fn role_only_chunk_does_not_commit() {
        let f = facts(
            json!({"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}),
        );
        assert!(!f.has_content);
    }

    #[test]
    fn text_reasoning_tool_calls_and_finish_commit() {
        assert!(facts(json!({"choices":[{"delta":{"content":"Hi"}}]})).has_content);
        assert!(facts(json!({"choices":[{"delta":{"reasoning_content":"hm"}}]})).has_content);
        assert!(facts(json!({"choices":[{"delta":{"tool_calls":[{"index":0}]}}]})).has_content);
        let f = facts(json!({"choices":[{"delta":{},"finish_reason":"length"}]}));
        assert!(f.has_content && f.has_finish);
        // A finish-only chunk with an ordinary stop does not commit: the answer would be empty.
        let f = facts(json!({"choices":[{"delta":{},"finish_reason":"stop"}]}));
        assert!(!f.has_content && f.has_finish);
    }

    #[test]
    fn usage_only_chunk_is_recognised() {
        assert!(facts(json!({"choices":[],"usage":{"prompt_tokens":1}})).usage_only);
        assert!(!facts(json!({"choices":[],"usage":null})).usage_only);
    }
}
