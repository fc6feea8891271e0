//! The stream machinery every family and protocol plugs into: a [`Relay`] turns committed
//! upstream events into client frames; translation chains an [`UpstreamDecoder`] (upstream
//! events → canonical events) into a [`ClientEncoder`] (canonical events → client frames)
//! (translation specification §9). Relays are pure state machines; the engine drives them.

use crate::formats::failure::{ErrorClass, UpstreamFailure};
use crate::formats::ir::{StreamEvent, Usage};
use crate::formats::sse::SseEvent;

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
    pub fn done(frames: Vec<u8>) -> Self {
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

    /// The latest token usage the upstream reported (canonical counts), for accounting.
    fn usage(&self) -> Option<Usage>;

    /// The characters of generated output (text, reasoning, tool-call arguments) the upstream's
    /// events carried so far: what a stream that ends without the upstream's usage is charged
    /// by estimate. Each relay counts what it reads anyway; nothing is parsed for it.
    fn output_chars(&self) -> u64;
}

/// A stream whose every frame is already known (made from one complete upstream answer): it
/// reads no upstream events and reports that answer's usage.
pub struct Replayed {
    pub usage: Option<Usage>,
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

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn output_chars(&self) -> u64 {
        0
    }
}

/// The failure of a stream that ended without its terminal event.
pub fn premature_end(nothing_received: bool) -> UpstreamFailure {
    let message = if nothing_received {
        "upstream stream ended without any content"
    } else {
        "upstream stream ended prematurely"
    };
    UpstreamFailure::new(ErrorClass::ServerError, message)
}

/// The JSON object an event carries.
pub fn parse_object(data: &str) -> Result<serde_json::Map<String, serde_json::Value>, UpstreamFailure> {
    match serde_json::from_str::<serde_json::Value>(data) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(UpstreamFailure::new(ErrorClass::ServerError, "upstream sent data that is not a JSON object")),
    }
}

/// What one upstream event decoded into.
pub struct Decoded {
    pub events: Vec<StreamEvent>,
    /// The upstream's terminal event.
    pub terminal: bool,
}

/// An upstream protocol's stream, as canonical events.
pub trait UpstreamDecoder: Send {
    fn event(&mut self, event: &SseEvent) -> Result<Decoded, UpstreamFailure>;
    /// The body ended without the terminal event: the events still owed, or premature.
    fn end(&mut self) -> Result<Vec<StreamEvent>, UpstreamFailure>;
    fn usage(&self) -> Option<Usage>;
}

/// A client family's stream, from canonical events.
pub trait ClientEncoder: Send {
    fn push(&mut self, event: &StreamEvent) -> Vec<u8>;
    fn finish(&mut self) -> Vec<u8>;
    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8>;
    /// The encoder ended the stream itself (a protocol violation upstream).
    fn is_done(&self) -> bool;
}

/// Upstream events → canonical events → client frames.
pub struct Translate {
    decoder: Box<dyn UpstreamDecoder>,
    encoder: Box<dyn ClientEncoder>,
    output_chars: u64,
}

impl Translate {
    pub fn new(decoder: Box<dyn UpstreamDecoder>, encoder: Box<dyn ClientEncoder>) -> Self {
        Self { decoder, encoder, output_chars: 0 }
    }

    fn encode(&mut self, events: &[StreamEvent], frames: &mut Vec<u8>) {
        self.output_chars += crate::formats::ir::output_chars(events);
        for event in events {
            frames.extend(self.encoder.push(event));
        }
    }
}

impl Relay for Translate {
    fn event(&mut self, event: &SseEvent) -> Result<Step, UpstreamFailure> {
        let decoded = self.decoder.event(event)?;
        let content = decoded.events.iter().any(StreamEvent::is_output);
        let mut frames = Vec::new();
        self.encode(&decoded.events, &mut frames);
        let done = decoded.terminal || self.encoder.is_done();
        if decoded.terminal {
            frames.extend(self.encoder.finish());
        }
        Ok(Step { frames, content, done })
    }

    fn end(&mut self) -> Result<Vec<u8>, UpstreamFailure> {
        let events = self.decoder.end()?;
        let mut frames = Vec::new();
        self.encode(&events, &mut frames);
        frames.extend(self.encoder.finish());
        Ok(frames)
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        self.encoder.error(failure, message)
    }

    fn usage(&self) -> Option<Usage> {
        self.decoder.usage()
    }

    fn output_chars(&self) -> u64 {
        self.output_chars
    }
}

/// A provider's rewriting of its raw stream events before any relay or decoder reads them
/// (inline `<think>` tags to reasoning, calls to a placeholder tool removed). `None` drops the
/// event.
pub trait EventFilter: Send {
    fn filter(&mut self, event: SseEvent) -> Option<SseEvent>;
}

/// A same-protocol upstream stream folded into the client's complete body, keeping what the
/// upstream wrote.
pub trait PassthroughFold: Send {
    /// One upstream event; `Ok(true)` at the upstream's terminal event.
    fn push(&mut self, event: &SseEvent) -> Result<bool, UpstreamFailure>;

    /// The complete body (`served` reported as the model), or the failure of a stream that had
    /// no output or ended early (`terminal`: the terminal event arrived).
    fn finish(
        self: Box<Self>,
        served: &str,
        terminal: bool,
    ) -> Result<serde_json::Map<String, serde_json::Value>, UpstreamFailure>;
}
