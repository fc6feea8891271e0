//! A running estimate of the output a stream has carried so far, read from the upstream's events
//! in any protocol: what a stream abandoned by its client is charged when the upstream never said
//! how many tokens it produced (the upstream was paid for them all the same).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

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
    /// Adds the output characters of one upstream event. The event is scanned, not parsed into
    /// a tree: every event of every stream passes here, next to the relay's own parse.
    pub fn push(&mut self, event: &SseEvent) {
        let mut json = serde_json::Deserializer::from_str(&event.data);
        if let Ok(chars) = Chars::ROOT.deserialize(&mut json)
            && json.end().is_ok()
        {
            self.chars += chars;
        }
    }

    /// Output tokens so far (rounded up; 0 only when no output was seen).
    pub fn tokens(&self) -> u64 {
        self.chars.div_ceil(CHARS_PER_TOKEN)
    }
}

/// What the key a value sits under says about it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    /// One of [`TEXT_FIELDS`]: its strings (or the strings of its array) are output.
    Text,
    /// `args`: an object there is output, measured as its JSON text.
    Args,
    Other,
}

/// Counts the output characters of one JSON value without building it.
#[derive(Clone, Copy)]
struct Chars {
    key: Key,
    /// Inside an `args` object: everything counts, as the length of its JSON text.
    json_length: bool,
}

impl Chars {
    const ROOT: Self = Self { key: Key::Other, json_length: false };
}

impl<'de> DeserializeSeed<'de> for Chars {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Chars {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
        Ok(match (self.json_length, self.key) {
            (true, _) => text.len() as u64 + 2,
            (false, Key::Text) => text.chars().count() as u64,
            _ => 0,
        })
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<u64, E> {
        Ok(if !self.json_length {
            0
        } else if value {
            4
        } else {
            5
        })
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        Ok(if self.json_length { value.to_string().len() as u64 } else { 0 })
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(if self.json_length { value.to_string().len() as u64 } else { 0 })
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<u64, E> {
        Ok(if self.json_length {
            serde_json::Number::from_f64(value).map_or(4, |n| n.to_string().len() as u64)
        } else {
            0
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(if self.json_length { 4 } else { 0 })
    }

    /// Items inherit the key of their array (`"text": ["a", "b"]` is text).
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<u64, A::Error> {
        let mut total = 0;
        let mut count = 0;
        while let Some(chars) = items.next_element_seed(self)? {
            total += chars;
            count += 1;
        }
        Ok(if self.json_length { total + 2 + count.max(1) - 1 } else { total })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let json_length = self.json_length || self.key == Key::Args;
        let mut total = 0;
        let mut count = 0;
        while let Some((key, key_length)) = map.next_key_seed(KeySeed)? {
            let value = Chars { key, json_length };
            total += map.next_value_seed(value)?;
            if json_length {
                total += key_length + 3;
            }
            count += 1;
        }
        Ok(if json_length { total + 2 + count.max(1) - 1 } else { total })
    }
}

/// A map key, read as which [`Key`] it is and its length (borrowed or unescaped, never kept).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = (Key, u64);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(Key, u64), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = (Key, u64);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(Key, u64), E> {
        let kind = if TEXT_FIELDS.contains(&key) {
            Key::Text
        } else if key == "args" {
            Key::Args
        } else {
            Key::Other
        };
        Ok((kind, key.len() as u64))
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

    /// The meaning of the scan, on a parsed tree: text under the text fields, `args` objects as
    /// their JSON text.
    fn tree_walk(value: &serde_json::Value, key: Option<&str>) -> u64 {
        use serde_json::Value;
        match value {
            Value::String(text) if key.is_some_and(|k| TEXT_FIELDS.contains(&k)) => text.chars().count() as u64,
            Value::Object(_) if key == Some("args") => value.to_string().len() as u64,
            Value::Object(map) => map.iter().map(|(k, v)| tree_walk(v, Some(k))).sum(),
            Value::Array(items) => items.iter().map(|v| tree_walk(v, key)).sum(),
            _ => 0,
        }
    }

    #[test]
    fn the_scan_counts_what_a_walk_over_the_parsed_tree_counts() {
        let events = [
            r#"{"choices":[{"delta":{"content":"héllo ✓","tool_calls":[{"function":{"arguments":"{\"a\":1}"}}]}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"q":"x","n":[1,2.5,-3],"ok":true,"no":false,"z":null,"o":{}}}}]}}]}"#,
            r#"{"delta":{"type":"thinking_delta","thinking":"ab"},"text":["c","d"],"args":"not an object","reasoning":{"text":"e"}}"#,
            r#"{"type":"response.output_text.delta","delta":"not a text field","partial_json":"{\"k\""}"#,
            r#"{"args":{"empty":[],"nested":{"text":"counted as JSON"}}}"#,
            r#"[{"content":"top-level array"}]"#,
            r#""just a string""#,
        ];
        for data in events {
            let value: serde_json::Value = serde_json::from_str(data).unwrap();
            let mut meter = OutputMeter::default();
            meter.push(&event(data));
            assert_eq!(meter.chars, tree_walk(&value, None), "{data}");
        }
        let mut meter = OutputMeter::default();
        meter.push(&event(r#"{"content":"abcd"} trailing"#));
        meter.push(&event(r#"{"content":"abcd""#));
        assert_eq!(meter.tokens(), 0, "an event that is not one JSON value counts nothing");
    }
}
