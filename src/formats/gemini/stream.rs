//! Gemini streams both ways (translation specification §9.3, §9.5, §10; http-api §6.4): upstream
//! `GenerateContentResponse` chunks (public API, or Code Assist's `{"response": {…}}` envelope)
//! into canonical stream events, and canonical events into the chunks a Gemini client reads.
//!
//! Signatures travel in the canonical stream as `ReasoningSignature` events placed after the
//! thinking they sign, so Anthropic clients get them at the end of their thinking block: a
//! thought part's signature follows its text; a text part's, or a `functionCall` part's, comes
//! right before that part's events (a signature immediately followed by `ToolCallStart` is that
//! call's). The encoder puts each signature back on the part it arrived with.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::response::{
    decode_call, decode_usage, finish_reason, first_candidate, function_call_value, is_blocked, is_thought,
    part_signature, stop_reason, text_part, unwrap_envelope, usage_metadata,
};
use super::signature_to_client;
use crate::formats::ir::{StopReason, StreamEvent, Usage, push_usage_change};
use crate::formats::openai::translate::synthetic_call_id;

/// Chunks of an upstream Gemini stream into canonical stream events (§9.5). Text and thought
/// parts are deltas; `functionCall` parts are complete calls; the last `usageMetadata` wins and
/// follows the finish. `{"error": …}` chunks and premature ends ([`Self::finished`] false at EOF)
/// are the caller's business.
#[derive(Debug)]
pub struct GeminiStreamDecoder {
    /// The provider whose signatures these are.
    origin: String,
    /// The upstream's `responseId`, seeding the ids of calls that arrive without one.
    response_id: Option<String>,
    /// Calls started so far (the next canonical index).
    calls: usize,
    finished: bool,
    /// The latest usage seen, and the last one emitted.
    usage: Option<Usage>,
    emitted_usage: Option<Usage>,
}

impl GeminiStreamDecoder {
    /// A decoder for a stream served by `origin` (the provider recorded on signatures).
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_string(),
            response_id: None,
            calls: 0,
            finished: false,
            usage: None,
            emitted_usage: None,
        }
    }

    /// The events one upstream chunk carries. Content after the finish is ignored.
    pub fn push(&mut self, chunk: &Map<String, Value>) -> Vec<StreamEvent> {
        let chunk = unwrap_envelope(chunk);
        let mut events = Vec::new();
        if self.response_id.is_none() {
            self.response_id = chunk.get("responseId").and_then(Value::as_str).map(str::to_string);
        }
        let usage = chunk.get("usageMetadata").filter(|u| u.is_object());
        if let Some(usage) = usage {
            self.usage = Some(decode_usage(usage));
        }
        if self.finished {
            if usage.is_some() {
                self.emit_usage(&mut events);
            }
            return events;
        }
        // A chunk of the wrong shape carries nothing usable.
        match first_candidate(chunk).ok().flatten() {
            Some(candidate) => {
                let parts = candidate.get("content").and_then(|c| c.get("parts")).and_then(Value::as_array);
                for part in parts.into_iter().flatten().filter_map(Value::as_object) {
                    self.push_part(part, &mut events);
                }
                if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                    self.finish_with(stop_reason(Some(reason), self.calls > 0), &mut events);
                }
            }
            // A prompt blocked before generation: an empty answer stopped by the filter (§5).
            None if is_blocked(chunk) => self.finish_with(StopReason::ContentFilter, &mut events),
            None => {}
        }
        events
    }

    /// The upstream body ended: the usage still owed after the finish. Without a finish the
    /// stream is premature (§9.5) and nothing is invented.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if self.finished {
            self.emit_usage(&mut events);
        }
        events
    }

    /// Whether a chunk with `finishReason` (or a blocked prompt) arrived.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The latest usage the upstream reported, for accounting.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn push_part(&mut self, part: &Map<String, Value>, events: &mut Vec<StreamEvent>) {
        let signature = part_signature(part, &self.origin);
        if let Some(call) = part.get("functionCall").and_then(Value::as_object) {
            let seed = self.response_id.as_deref().unwrap_or_default();
            let call = decode_call(call, signature, seed, self.calls);
            let index = self.calls;
            self.calls += 1;
            events.extend(call.signature.map(StreamEvent::ReasoningSignature));
            events.push(StreamEvent::ToolCallStart { index, id: call.id, name: call.name });
            events.push(StreamEvent::ToolCallDelta { index, json_fragment: call.arguments });
            events.push(StreamEvent::ToolCallEnd { index });
            return;
        }
        let text = part.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
        if is_thought(part) {
            events.extend(text.map(StreamEvent::ReasoningDelta));
            events.extend(signature.map(StreamEvent::ReasoningSignature));
        } else {
            events.extend(signature.map(StreamEvent::ReasoningSignature));
            events.extend(text.map(StreamEvent::TextDelta));
        }
    }

    fn finish_with(&mut self, stop_reason: StopReason, events: &mut Vec<StreamEvent>) {
        self.finished = true;
        events.push(StreamEvent::Finish { stop_reason, stop_sequence: None });
        self.emit_usage(events);
    }

    fn emit_usage(&mut self, events: &mut Vec<StreamEvent>) {
        push_usage_change(self.usage, &mut self.emitted_usage, events);
    }
}

/// What the encoder sent last, deciding where a signature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Nothing,
    Thought,
    Other,
}

/// A tool call being buffered until its end (§9.3: calls are sent whole).
#[derive(Debug, Default)]
struct PendingCall {
    /// `ToolCallStart` arrived (fragments may come first).
    started: bool,
    id: String,
    name: String,
    arguments: String,
    /// The signature in the client's form.
    signature: Option<String>,
}

/// The Gemini client stream (§9.3): a state machine from canonical stream events to
/// `GenerateContentResponse` chunks, each with one candidate (`index` 0, role `model`),
/// `modelVersion` and `responseId`. Framing is the caller's ([`sse_frame`] or a JSON array).
#[derive(Debug)]
pub struct GeminiStreamEncoder {
    response_id: String,
    model_version: String,
    /// The Gemini-protocol provider whose signatures the client gets verbatim (§10).
    native_origin: String,
    /// A signature (client form) waiting for the part it rides on.
    signature: Option<String>,
    last: Last,
    calls: BTreeMap<usize, PendingCall>,
    stop: Option<StopReason>,
    usage: Option<Usage>,
    done: bool,
}

impl GeminiStreamEncoder {
    /// `model_version` is the model the client asked for; `native_origin` the Gemini-protocol
    /// provider serving (`gemini`), whose signatures are shown verbatim.
    pub fn new(response_id: String, model_version: String, native_origin: String) -> Self {
        Self {
            response_id,
            model_version,
            native_origin,
            signature: None,
            last: Last::Nothing,
            calls: BTreeMap::new(),
            stop: None,
            usage: None,
            done: false,
        }
    }

    /// The chunks to send now for one canonical event (possibly none): text and thought deltas at
    /// once, a tool call whole at its end. The finish and usage wait for [`Self::finish`];
    /// content after the finish is ignored.
    pub fn push(&mut self, event: &StreamEvent) -> Vec<Value> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        match event {
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish { stop_reason, .. } => {
                self.stop.get_or_insert(*stop_reason);
            }
            _ if self.stop.is_some() => {}
            StreamEvent::TextDelta(text) if !text.is_empty() => {
                let part = text_part(text, false, self.signature.take());
                out.push(self.chunk(vec![part], None));
                self.last = Last::Other;
            }
            StreamEvent::ReasoningDelta(text) if !text.is_empty() => {
                // A waiting signature signs the thinking before this one: it goes on its own
                // part first.
                let mut parts: Vec<Value> =
                    self.signature.take().map(|s| text_part("", false, Some(s))).into_iter().collect();
                parts.push(text_part(text, true, None));
                out.push(self.chunk(parts, None));
                self.last = Last::Thought;
            }
            StreamEvent::ReasoningSignature(signature) => {
                let signature = signature_to_client(signature, &self.native_origin);
                if self.last == Last::Thought && self.signature.is_none() {
                    // It closes the thought just sent.
                    out.push(self.chunk(vec![text_part("", true, Some(signature))], None));
                } else {
                    if let Some(previous) = self.signature.replace(signature) {
                        out.push(self.chunk(vec![text_part("", false, Some(previous))], None));
                    }
                    self.last = Last::Other;
                }
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                let call = self.calls.entry(*index).or_default();
                call.started = true;
                call.id = id.clone();
                call.name = name.clone();
                if let Some(signature) = self.signature.take() {
                    call.signature = Some(signature);
                }
                self.last = Last::Other;
            }
            StreamEvent::ToolCallDelta { index, json_fragment } => {
                self.calls.entry(*index).or_default().arguments.push_str(json_fragment);
            }
            StreamEvent::ToolCallEnd { index } => {
                // An end before the start leaves the fragments waiting for it.
                if self.calls.get(index).is_some_and(|c| c.started)
                    && let Some(call) = self.calls.remove(index)
                {
                    let part = self.call_part(*index, call);
                    out.push(self.chunk(vec![part], None));
                    self.last = Last::Other;
                }
            }
            // Redacted reasoning has no Gemini form; empty deltas carry nothing.
            StreamEvent::RedactedReasoning(_) | StreamEvent::TextDelta(_) | StreamEvent::ReasoningDelta(_) => {}
        }
        out
    }

    /// The last chunk, once: calls still open, a signature still waiting, `finishReason` (`STOP`
    /// when no finish was pushed) and `usageMetadata`.
    pub fn finish(&mut self) -> Vec<Value> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        let calls = std::mem::take(&mut self.calls);
        let mut parts: Vec<Value> =
            calls.into_iter().filter(|(_, c)| c.started).map(|(index, call)| self.call_part(index, call)).collect();
        if let Some(signature) = self.signature.take() {
            parts.push(text_part("", false, Some(signature)));
        }
        if parts.is_empty() {
            // What Gemini itself sends on a final chunk without content.
            parts.push(text_part("", false, None));
        }
        let reason = finish_reason(self.stop.unwrap_or(StopReason::EndTurn));
        vec![self.chunk(parts, Some(reason))]
    }

    /// An in-band error after the commit point (http-api §6.4); nothing follows it.
    pub fn error(&mut self, code: u16, status: &str, message: &str) -> Vec<Value> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        vec![error_chunk(code, status, message)]
    }

    /// The last chunk (or an error) was produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn call_part(&self, index: usize, call: PendingCall) -> Value {
        let id = if call.id.is_empty() {
            synthetic_call_id(&format!("{}:{index}:{}", self.response_id, call.name))
        } else {
            call.id
        };
        function_call_value(&id, &call.name, &call.arguments, call.signature)
    }

    /// One `GenerateContentResponse`; the final one carries `finishReason` and `usageMetadata`.
    fn chunk(&self, parts: Vec<Value>, finish: Option<&str>) -> Value {
        let mut candidate = Map::new();
        candidate.insert("content".into(), json!({"role": "model", "parts": parts}));
        candidate.insert("index".into(), json!(0));
        let mut out = Map::new();
        if let Some(finish) = finish {
            candidate.insert("finishReason".into(), json!(finish));
            out.insert("candidates".into(), json!([candidate]));
            out.insert("usageMetadata".into(), usage_metadata(&self.usage.unwrap_or_default()));
        } else {
            out.insert("candidates".into(), json!([candidate]));
        }
        out.insert("modelVersion".into(), json!(self.model_version));
        out.insert("responseId".into(), json!(self.response_id));
        Value::Object(out)
    }
}

/// One SSE event for a Gemini client (http-api §6.4): `data: ` with exactly one space, the JSON
/// on one line, `\r\n\r\n`.
pub fn sse_frame(chunk: &Value) -> Vec<u8> {
    format!("data: {chunk}\r\n\r\n").into_bytes()
}

/// Google's error object, `error` as the only top-level key (http-api §6.4, §7.1).
pub fn error_chunk(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

#[cfg(test)]
mod tests;
