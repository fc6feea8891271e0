//! Committed upstream streams into client frames, one relay per (client family, upstream
//! protocol): passthrough when they match, translation through the canonical stream events
//! otherwise. Relays are pure state machines; [`super::client_stream`] drives them.

mod chat;
mod collect;
mod gemini;
mod messages;
mod translate;

pub use chat::ChatPassthrough;
pub use collect::Collector;
pub use gemini::{GeminiDecoder, GeminiEncoder, GeminiFraming, GeminiPassthrough};
pub use messages::MessagesPassthrough;
pub use translate::{
    AnthropicDecoder, ChatDecoder, ChatEncoder, ClientEncoder, Decoded, MessagesEncoder, RecordingEncoder, Translate,
    UpstreamDecoder,
};

use crate::formats::openai::usage::TokenUsage;
use crate::formats::sse::SseEvent;

use crate::formats::failure::UpstreamFailure;

/// What one upstream event turned into.
#[derive(Debug, Default)]
pub struct Step {
    /// Bytes for the client (possibly none).
    pub frames: Vec<u8>,
    /// The event carried output (reasoning, text, a tool call or a finish): it commits a stream.
    pub content: bool,
    /// The upstream's terminal event arrived and the client's terminal frames are in `frames`.
    pub done: bool,
}

impl Step {
    fn done(frames: Vec<u8>) -> Self {
        Self { frames, content: false, done: true }
    }
}

/// One committed stream's translation from upstream events to client frames.
pub trait Relay: Send {
    /// One upstream event. `Err` is an upstream failure reported inside the stream (or data the
    /// proxy cannot read).
    fn event(&mut self, event: &SseEvent) -> Result<Step, UpstreamFailure>;

    /// The upstream body ended before the terminal event: the client's terminal frames when the
    /// protocol allows that end, else the premature-end failure.
    fn end(&mut self) -> Result<Vec<u8>, UpstreamFailure>;

    /// The client's in-band error after commit (`message` already redacted); nothing follows it.
    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8>;

    /// The latest token usage the upstream reported, for accounting.
    fn usage(&self) -> Option<TokenUsage>;
}

/// A stream whose every frame is already known (made from one complete upstream answer): it
/// reads no upstream events and reports that answer's usage.
pub struct Replayed {
    pub usage: Option<TokenUsage>,
}

impl Relay for Replayed {
    fn event(&mut self, _event: &SseEvent) -> Result<Step, UpstreamFailure> {
        Ok(Step::done(Vec::new()))
    }

    fn end(&mut self) -> Result<Vec<u8>, UpstreamFailure> {
        Ok(Vec::new())
    }

    fn error(&mut self, _failure: &UpstreamFailure, _message: &str) -> Vec<u8> {
        Vec::new()
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }
}

/// The failure of a stream that ended without its terminal event.
pub fn premature_end(nothing_received: bool) -> UpstreamFailure {
    let message = if nothing_received {
        "upstream stream ended without any content"
    } else {
        "upstream stream ended prematurely"
    };
    UpstreamFailure::new(crate::formats::failure::ErrorClass::ServerError, message)
}

/// The JSON object an event carries.
pub fn parse_object(data: &str) -> Result<serde_json::Map<String, serde_json::Value>, UpstreamFailure> {
    match serde_json::from_str::<serde_json::Value>(data) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(UpstreamFailure::new(
            crate::formats::failure::ErrorClass::ServerError,
            "upstream sent data that is not a JSON object",
        )),
    }
}
