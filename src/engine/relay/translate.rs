//! Client and upstream of different families: upstream events are decoded into canonical stream
//! events (translation specification §9.5) and encoded into the client's frames (§9.1, §9.2).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::collect::Collector;
use super::{Relay, Step, parse_object, premature_end};
use crate::formats::failure::{UpstreamFailure, classify_anthropic_error, classify_stream_error};
use crate::engine::signatures::SignatureCache;
use crate::formats::anthropic::MessagesStreamEncoder;
use crate::formats::anthropic::upstream::MessagesStreamDecoder;
use crate::formats::ir::{StreamEvent, Usage};
use crate::formats::openai::chat_output::ChatStreamEncoder;
use crate::formats::openai::chunk::stream_error;
use crate::formats::openai::placeholder::PlaceholderFilter;
use crate::formats::openai::stream_decoder::ChatStreamDecoder;
use crate::formats::openai::think::{ThinkSplitter, rewrite_chunk};
use crate::formats::openai::usage::TokenUsage;
use crate::formats::sse::SseEvent;

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
}

impl Translate {
    pub fn new(decoder: Box<dyn UpstreamDecoder>, encoder: Box<dyn ClientEncoder>) -> Self {
        Self { decoder, encoder }
    }

    fn encode(&mut self, events: &[StreamEvent], frames: &mut Vec<u8>) {
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

    fn usage(&self) -> Option<TokenUsage> {
        self.decoder.usage().map(|u| TokenUsage::from_canonical(&u))
    }
}

/// A Chat Completions upstream stream.
#[derive(Default)]
pub struct ChatDecoder {
    inner: ChatStreamDecoder,
    /// `<think>…</think>` in content is reasoning (Qwen Code).
    think: Option<BTreeMap<u64, ThinkSplitter>>,
    /// Qwen Code: calls to the placeholder tool the proxy added are removed.
    placeholder: Option<PlaceholderFilter>,
}

impl ChatDecoder {
    pub fn with_think_tags() -> Self {
        Self { think: Some(BTreeMap::new()), placeholder: Some(PlaceholderFilter::default()), ..Self::default() }
    }
}

impl UpstreamDecoder for ChatDecoder {
    fn event(&mut self, event: &SseEvent) -> Result<Decoded, UpstreamFailure> {
        if event.data.trim() == "[DONE]" {
            return Ok(Decoded { events: self.inner.finish(), terminal: true });
        }
        let mut chunk = parse_object(&event.data)?;
        if let Some(error) = stream_error(&chunk) {
            return Err(classify_stream_error(error));
        }
        if let Some(splitters) = &mut self.think {
            rewrite_chunk(&mut chunk, splitters);
        }
        if let Some(filter) = &mut self.placeholder
            && !filter.rewrite_chunk(&mut chunk)
        {
            return Ok(Decoded { events: Vec::new(), terminal: false });
        }
        Ok(Decoded { events: self.inner.push(&chunk), terminal: false })
    }

    /// An end after a finish reason but without `[DONE]` is a normal end (§9.5).
    fn end(&mut self) -> Result<Vec<StreamEvent>, UpstreamFailure> {
        if self.inner.finished() { Ok(self.inner.finish()) } else { Err(premature_end(false)) }
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }
}

/// An Anthropic Messages upstream stream.
#[derive(Default)]
pub struct AnthropicDecoder {
    inner: MessagesStreamDecoder,
    received: bool,
}

impl UpstreamDecoder for AnthropicDecoder {
    fn event(&mut self, event: &SseEvent) -> Result<Decoded, UpstreamFailure> {
        let data = parse_object(&event.data)?;
        let kind = event.event.as_deref().or_else(|| data.get("type").and_then(Value::as_str)).unwrap_or_default();
        if kind == "error" {
            return Err(classify_anthropic_error(data.get("error").unwrap_or(&Value::Null)));
        }
        self.received = true;
        let events = self.inner.push(kind, &data);
        Ok(Decoded { events, terminal: self.inner.completed() })
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, UpstreamFailure> {
        Err(premature_end(!self.received))
    }

    fn usage(&self) -> Option<Usage> {
        Some(self.inner.usage())
    }
}

/// The OpenAI Chat client stream.
pub struct ChatEncoder(pub ChatStreamEncoder);

impl ClientEncoder for ChatEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        self.0.push(event)
    }

    fn finish(&mut self) -> Vec<u8> {
        self.0.finish()
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        let kind = if failure.class.is_rate_limit() { "rate_limit_error" } else { "upstream_error" };
        self.0.error(message, kind)
    }

    fn is_done(&self) -> bool {
        self.0.is_done()
    }
}

/// A client encoder that also records the answer's reasoning and tool-call signatures in the
/// signature cache (for Chat clients, which cannot carry them, §10).
pub struct RecordingEncoder<E> {
    inner: E,
    recorder: Option<Collector>,
    cache: Arc<SignatureCache>,
}

impl<E: ClientEncoder> RecordingEncoder<E> {
    pub fn new(inner: E, cache: Arc<SignatureCache>) -> Self {
        Self { inner, recorder: Some(Collector::default()), cache }
    }
}

impl<E: ClientEncoder> ClientEncoder for RecordingEncoder<E> {
    fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        if let Some(recorder) = &mut self.recorder {
            recorder.push(event.clone());
        }
        self.inner.push(event)
    }

    fn finish(&mut self) -> Vec<u8> {
        if let Some(recorder) = self.recorder.take() {
            self.cache.remember_response(&recorder.finish(String::new(), String::new()));
        }
        self.inner.finish()
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        self.recorder = None;
        self.inner.error(failure, message)
    }

    fn is_done(&self) -> bool {
        self.inner.is_done()
    }
}

/// The Anthropic Messages client stream.
pub struct MessagesEncoder(pub MessagesStreamEncoder);

impl ClientEncoder for MessagesEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        self.0.push(event)
    }

    fn finish(&mut self) -> Vec<u8> {
        self.0.finish()
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        self.0.error(super::messages::anthropic_error_type(failure), message)
    }

    fn is_done(&self) -> bool {
        self.0.is_done()
    }
}
