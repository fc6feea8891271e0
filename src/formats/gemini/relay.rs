//! Gemini streams: the upstream decoder and client encoder adapters for translation, the
//! passthrough relay for Gemini clients on Gemini upstreams, and the two client framings (SSE
//! `data: …\r\n\r\n`, or one streamed JSON array when the client did not ask for `alt=sse`).

use serde_json::{Map, Value};

use super::stream::{GeminiStreamDecoder, GeminiStreamEncoder, error_chunk, sse_frame};
use crate::formats::failure::{ErrorClass, UpstreamFailure, classify_stream_error};
use crate::formats::ir::{StreamEvent, Usage};
use crate::formats::relay::{ClientEncoder, Decoded, Relay, Step, UpstreamDecoder, parse_object, premature_end};
use crate::formats::sse::SseEvent;

/// How a Gemini client receives a stream (HTTP API §5.7, §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiFraming {
    /// `?alt=sse`: `data: <chunk>\r\n\r\n`.
    Sse,
    /// `[` then the chunks separated by `,\r\n`, then `]`.
    JsonArray,
}

/// Frames chunk after chunk in one framing.
#[derive(Debug)]
struct Framer {
    framing: GeminiFraming,
    started: bool,
}

impl Framer {
    fn new(framing: GeminiFraming) -> Self {
        Self { framing, started: false }
    }

    fn chunk_text(&mut self, json: &str, out: &mut Vec<u8>) {
        match self.framing {
            GeminiFraming::Sse => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(json.as_bytes());
                out.extend_from_slice(b"\r\n\r\n");
            }
            GeminiFraming::JsonArray => {
                out.extend_from_slice(if self.started { b",\r\n" } else { b"[" });
                out.extend_from_slice(json.as_bytes());
            }
        }
        self.started = true;
    }

    fn chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        match self.framing {
            GeminiFraming::Sse => {
                self.started = true;
                out.extend(sse_frame(chunk));
            }
            GeminiFraming::JsonArray => self.chunk_text(&chunk.to_string(), out),
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.framing == GeminiFraming::JsonArray {
            out.extend_from_slice(if self.started { b"]" } else { b"[]" });
        }
    }

    /// The error chunk (`{"error":{code,message,status}}` as the only key), then the end.
    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        let (code, status) = match failure.class {
            ErrorClass::RateLimit | ErrorClass::Quota => (429, "RESOURCE_EXHAUSTED"),
            ErrorClass::Overloaded => (503, "UNAVAILABLE"),
            _ => (502, "UNAVAILABLE"),
        };
        let mut out = Vec::new();
        self.chunk(&error_chunk(code, status, message), &mut out);
        self.end(&mut out);
        out
    }
}

/// A Gemini upstream stream (`streamGenerateContent?alt=sse`).
pub struct GeminiDecoder {
    inner: GeminiStreamDecoder,
    received: bool,
    /// Tool names Gemini could not take as they were (wire name, the client's name).
    renames: Vec<(String, String)>,
}

impl GeminiDecoder {
    pub fn new(origin: &str, renames: Vec<(String, String)>) -> Self {
        Self { inner: GeminiStreamDecoder::new(origin), received: false, renames }
    }
}

/// The chunk of one upstream event, or the failure it reports.
fn gemini_chunk(event: &SseEvent) -> Result<Map<String, Value>, UpstreamFailure> {
    let chunk = parse_object(&event.data)?;
    if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
        return Err(classify_stream_error(error));
    }
    Ok(chunk)
}

impl UpstreamDecoder for GeminiDecoder {
    fn event(&mut self, event: &SseEvent) -> Result<Decoded, UpstreamFailure> {
        let chunk = gemini_chunk(event)?;
        self.received = true;
        let mut events = self.inner.push(&chunk);
        for event in &mut events {
            if let StreamEvent::ToolCallStart { name, .. } = event
                && let Some((_, original)) = self.renames.iter().find(|(wire, _)| wire == name)
            {
                name.clone_from(original);
            }
        }
        Ok(Decoded { events, terminal: false })
    }

    /// Gemini streams have no terminal event: the end after a finish reason is the normal end.
    fn end(&mut self) -> Result<Vec<StreamEvent>, UpstreamFailure> {
        if self.inner.finished() { Ok(self.inner.finish()) } else { Err(premature_end(!self.received)) }
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }
}

/// The Gemini client stream.
pub struct GeminiEncoder {
    inner: GeminiStreamEncoder,
    framer: Framer,
}

impl GeminiEncoder {
    pub fn new(inner: GeminiStreamEncoder, framing: GeminiFraming) -> Self {
        Self { inner, framer: Framer::new(framing) }
    }
}

impl ClientEncoder for GeminiEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in self.inner.push(event) {
            self.framer.chunk(&chunk, &mut out);
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in self.inner.finish() {
            self.framer.chunk(&chunk, &mut out);
        }
        self.framer.end(&mut out);
        out
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        self.framer.error(failure, message)
    }

    fn is_done(&self) -> bool {
        self.inner.is_done()
    }
}

/// Gemini client, Gemini upstream: every chunk forwarded as the upstream wrote it; a tee decodes
/// each for accounting, errors and the finish.
pub struct GeminiPassthrough {
    framer: Framer,
    /// `provider/model` that serves, reported as `modelVersion`.
    served_id: String,
    tee: GeminiStreamDecoder,
    received: bool,
    output_chars: u64,
}

impl GeminiPassthrough {
    pub fn new(framing: GeminiFraming, served_id: String) -> Self {
        Self {
            framer: Framer::new(framing),
            served_id,
            tee: GeminiStreamDecoder::new(crate::formats::gemini::ORIGIN),
            received: false,
            output_chars: 0,
        }
    }
}

impl Relay for GeminiPassthrough {
    fn event(&mut self, event: &SseEvent) -> Result<Step, UpstreamFailure> {
        let mut chunk = gemini_chunk(event)?;
        self.received = true;
        let decoded = self.tee.push(&chunk);
        self.output_chars += crate::formats::ir::output_chars(&decoded);
        let content = decoded.iter().any(StreamEvent::is_output);
        let mut frames = Vec::new();
        // Re-serialised with only `modelVersion` changed (key order and unknown fields kept).
        if chunk.contains_key("modelVersion") {
            chunk.insert("modelVersion".into(), Value::from(self.served_id.clone()));
        }
        self.framer.chunk_text(&Value::Object(chunk).to_string(), &mut frames);
        Ok(Step { frames, content, done: false })
    }

    fn end(&mut self) -> Result<Vec<u8>, UpstreamFailure> {
        if !self.tee.finished() {
            return Err(premature_end(!self.received));
        }
        let mut out = Vec::new();
        self.framer.end(&mut out);
        Ok(out)
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        self.framer.error(failure, message)
    }

    fn usage(&self) -> Option<Usage> {
        self.tee.usage()
    }

    fn output_chars(&self) -> u64 {
        self.output_chars
    }
}
