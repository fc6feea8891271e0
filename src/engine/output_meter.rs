//! A running estimate of the output a stream has carried so far, read from the upstream's events
//! in any protocol: what a stream abandoned by its client is charged when the upstream never said
//! how many tokens it produced (the upstream was paid for them all the same).

use serde_json::Value;

use crate::formats::sse::SseEvent;

/// Fields that carry generated text (or tool arguments) in the streams of OpenAI Chat
/// (`content`, `reasoning_content`, `arguments`), Anthropic (`text`, `thinking`, `partial_json`)
/// and Gemini (`text`; function-call `args` are objects and are measured as JSON).
const TEXT_FIELDS: [&str; 7] =
    ["content", "reasoning_content", "reasoning", "arguments", "text", "thinking", "partial_json"];

/// About four characters per token in the tokenizers of the common models.
const CHARS_PER_TOKEN: u64 = 4;

#[derive(Debug, Default, Clone)]
pub struct OutputMeter {
    chars: u64,
}

impl OutputMeter {
    pub fn push(&mut self, event: &SseEvent) {
        if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
            self.chars += output_chars(&value, None);
        }
    }

    /// Output tokens so far (rounded up; 0 only when no output was seen).
    pub fn tokens(&self) -> u64 {
        self.chars.div_ceil(CHARS_PER_TOKEN)
    }
}

fn output_chars(value: &Value, key: Option<&str>) -> u64 {
    match value {
        Value::String(text) if key.is_some_and(|k| TEXT_FIELDS.contains(&k)) => text.chars().count() as u64,
        Value::Object(args) if key == Some("args") => Value::Object(args.clone()).to_string().len() as u64,
        Value::Object(map) => map.iter().map(|(k, v)| output_chars(v, Some(k))).sum(),
        Value::Array(items) => items.iter().map(|v| output_chars(v, key)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str) -> SseEvent {
        SseEvent { event: None, data: data.to_string() }
    }

    #[test]
    fn text_of_every_protocol_is_measured_and_framing_is_not() {
        let mut meter = OutputMeter::default();
        meter.push(&event(r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello world!"}}]}"#));
        assert_eq!(meter.tokens(), 3);
        meter.push(&event(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"abcd"}}"#));
        meter.push(&event(r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"efgh"}]}}]}"#));
        meter.push(&event("[DONE]"));
        meter.push(&event(r#"{"type":"message_start","message":{"id":"msg_1","content":[],"model":"claude"}}"#));
        assert_eq!(meter.tokens(), 5);
    }
}
