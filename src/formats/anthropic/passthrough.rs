//! Anthropic client, Anthropic upstream: every event forwarded as the upstream wrote it, except
//! `message_start`, whose `message.model` becomes the `provider/model` that serves. A tee decodes
//! each event for accounting, errors and the terminal `message_stop`.

use serde_json::{Value, json};

use super::upstream::MessagesStreamDecoder;
use crate::formats::failure::{UpstreamFailure, classify_anthropic_error};
use crate::formats::ir::{StreamEvent, Usage, output_chars};
use crate::formats::relay::{Relay, Step, parse_object, premature_end};
use crate::formats::sse::{SseEvent, write_event, write_event_text};

pub struct MessagesPassthrough {
    requested: String,
    tee: MessagesStreamDecoder,
    received: bool,
    output_chars: u64,
}

impl MessagesPassthrough {
    /// `requested` is the `provider/model` that serves, shown to the client.
    pub fn new(requested: String) -> Self {
        Self { requested, tee: MessagesStreamDecoder::new(), received: false, output_chars: 0 }
    }
}

impl Relay for MessagesPassthrough {
    fn event(&mut self, event: &SseEvent) -> Result<Step, UpstreamFailure> {
        let mut data = parse_object(&event.data)?;
        let kind = event
            .event
            .clone()
            .or_else(|| data.get("type").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        if kind == "error" {
            return Err(classify_anthropic_error(data.get("error").unwrap_or(&Value::Null)));
        }
        self.received = true;
        let decoded = self.tee.push(&kind, &data);
        self.output_chars += output_chars(&decoded);
        let content = decoded.iter().any(StreamEvent::is_output);
        let mut frames = Vec::with_capacity(event.data.len() + kind.len() + 16);
        if kind == "message_start" {
            if let Some(message) = data.get_mut("message").and_then(Value::as_object_mut) {
                message.insert("model".into(), Value::String(self.requested.clone()));
            }
            write_event(&mut frames, Some(&kind), &data);
        } else {
            write_event_text(&mut frames, Some(&kind), &event.data);
        }
        Ok(Step { frames, content, done: self.tee.completed() })
    }

    /// Messages streams end with `message_stop`; anything else is premature (§9.5).
    fn end(&mut self) -> Result<Vec<u8>, UpstreamFailure> {
        Err(premature_end(!self.received))
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        let kind = anthropic_error_type(failure);
        let data = json!({"type": "error", "error": {"type": kind, "message": message}});
        let mut out = Vec::new();
        write_event(&mut out, Some("error"), &data);
        out
    }

    fn usage(&self) -> Option<Usage> {
        Some(self.tee.usage())
    }

    fn output_chars(&self) -> u64 {
        self.output_chars
    }
}

/// The Anthropic `error.type` for a failure reported in-band.
pub fn anthropic_error_type(failure: &UpstreamFailure) -> &'static str {
    use crate::formats::failure::ErrorClass;
    match failure.class {
        ErrorClass::RateLimit | ErrorClass::Quota => "rate_limit_error",
        ErrorClass::Overloaded => "overloaded_error",
        _ => "api_error",
    }
}
