//! OpenAI client, OpenAI-compatible upstream: chunks forwarded one by one with only `model`
//! rewritten, the usage-only chunk kept back unless the client asked for it, exactly one finish
//! reason per choice, and a terminal `[DONE]` (or an in-band error) guaranteed.

use serde_json::{Map, Value, json};

use super::ChunkFacts;
use super::chunk::stream_error;
use super::usage::decode_usage;
use crate::formats::failure::{UpstreamFailure, classify_stream_error};
use crate::formats::ir::Usage;
use crate::formats::relay::{Relay, Step, parse_object, premature_end};
use crate::formats::sse::{SseEvent, write_event};

const DONE: &[u8] = b"data: [DONE]\n\n";

pub struct ChatPassthrough {
    served_id: String,
    include_usage: bool,
    /// Choice indices whose finish reason has been sent: each is sent once.
    finished: Vec<u64>,
    saw_tool_calls: bool,
    /// `id` and `created` of the last chunk, for a finish chunk the proxy has to add.
    last_id: Value,
    last_created: Value,
    usage: Option<Value>,
    output_chars: u64,
}

impl ChatPassthrough {
    /// `served_id` replaces the upstream's `model`; `include_usage` is the client's
    /// `stream_options.include_usage`.
    pub fn new(served_id: String, include_usage: bool) -> Self {
        Self {
            served_id,
            include_usage,
            finished: Vec::new(),
            saw_tool_calls: false,
            last_id: Value::Null,
            last_created: Value::Null,
            usage: None,
            output_chars: 0,
        }
    }

    /// One upstream chunk as the client's frame (empty when held back), and whether what reaches
    /// the client carries content (the commit point counts only that).
    fn forward(&mut self, chunk: Map<String, Value>) -> (Vec<u8>, bool) {
        let facts = ChunkFacts::of(&chunk);
        self.output_chars += facts.output_chars;
        (self.frame_of(chunk, facts), facts.has_content)
    }

    fn frame_of(&mut self, mut chunk: Map<String, Value>, facts: ChunkFacts) -> Vec<u8> {
        self.saw_tool_calls |= facts.has_tool_calls;
        if facts.has_finish && !self.keep_after_removing_repeated_finish(&mut chunk) {
            return Vec::new();
        }
        if let Some(id) = chunk.get("id") {
            self.last_id = id.clone();
        }
        if let Some(created) = chunk.get("created") {
            self.last_created = created.clone();
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        if !self.include_usage {
            if facts.usage_only {
                return Vec::new();
            }
            // The proxy asked for usage, not the client: hide the `usage: null` that came with it.
            if chunk.get("usage").is_some_and(Value::is_null) {
                chunk.remove("usage");
            }
        }
        chunk.insert("model".into(), Value::String(self.served_id.clone()));
        frame(&chunk)
    }

    /// Exactly one finish reason per choice reaches the client: a repeated one is nulled, and a
    /// chunk left with nothing else to say is dropped (returns `false`).
    fn keep_after_removing_repeated_finish(&mut self, chunk: &mut Map<String, Value>) -> bool {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else { return true };
        let mut removed = false;
        for choice in choices.iter_mut() {
            if choice.get("finish_reason").is_none_or(Value::is_null) {
                continue;
            }
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            if self.finished.contains(&index) {
                choice["finish_reason"] = Value::Null;
                removed = true;
            } else {
                self.finished.push(index);
            }
        }
        !removed || ChunkFacts::of(chunk).has_content || chunk.get("usage").is_some_and(Value::is_object)
    }

    /// `[DONE]`, preceded by a finish chunk when the upstream never sent one.
    fn terminal(&mut self) -> Vec<u8> {
        if !self.finished.is_empty() {
            return DONE.to_vec();
        }
        let reason = if self.saw_tool_calls { "tool_calls" } else { "stop" };
        let chunk = json!({
            "id": self.last_id,
            "object": "chat.completion.chunk",
            "created": self.last_created,
            "model": self.served_id,
            "choices": [{"index": 0, "delta": {}, "finish_reason": reason}],
        });
        let mut out = frame(chunk.as_object().expect("object"));
        out.extend_from_slice(DONE);
        out
    }
}

impl Relay for ChatPassthrough {
    fn event(&mut self, event: &SseEvent) -> Result<Step, UpstreamFailure> {
        if event.data.trim() == "[DONE]" {
            return Ok(Step::done(self.terminal()));
        }
        let chunk = parse_object(&event.data)?;
        if let Some(error) = stream_error(&chunk) {
            return Err(classify_stream_error(error));
        }
        let (frames, content) = self.forward(chunk);
        Ok(Step { frames, content, done: false })
    }

    /// An end after a finish reason but without `[DONE]` is a normal end (§9.5).
    fn end(&mut self) -> Result<Vec<u8>, UpstreamFailure> {
        if self.finished.is_empty() { Err(premature_end(false)) } else { Ok(self.terminal()) }
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        let kind = if failure.class.is_rate_limit() { "rate_limit_error" } else { "upstream_error" };
        let error = json!({"error": {"message": message, "type": kind, "code": "upstream_failed"}});
        let mut out = frame(error.as_object().expect("object"));
        out.extend_from_slice(DONE);
        out
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(decode_usage)
    }

    fn output_chars(&self) -> u64 {
        self.output_chars
    }
}

/// `data: <chunk>\n\n`.
pub fn frame(chunk: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_event(&mut out, None, chunk);
    out
}
