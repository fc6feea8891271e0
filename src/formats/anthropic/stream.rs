//! The Messages client stream (translation specification §9.1): a state machine turning
//! canonical stream events into `message_start`, content blocks with indices 0, 1, 2, …,
//! `message_delta` and `message_stop`, as SSE bytes (http-api §6.2).

use crate::formats::failure::UpstreamFailure;
use crate::formats::relay::ClientEncoder;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::response::{stop_reason_str, usage_json};
use super::{new_tool_use_id, signature_to_wire};
use crate::formats::ir::{StopReason, StreamEvent, Usage};

/// The keep-alive event (also sent once right after `message_start`).
pub const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotStarted,
    Streaming,
    /// `message_stop` or `error` was sent: nothing follows.
    Done,
}

/// The kind of the single open content block.
#[derive(Debug)]
enum Block {
    /// `signature` is sent as one `signature_delta` right before the block's stop.
    Thinking {
        signature: Option<String>,
    },
    Text,
    /// `redacted_thinking`: its start holds the data, no deltas.
    Redacted,
    /// `call` is the canonical tool-call index; `has_input` once a fragment was sent.
    Tool {
        call: usize,
        has_input: bool,
    },
}

#[derive(Debug)]
pub struct MessagesStreamEncoder {
    message_id: String,
    model: String,
    input_estimate: u64,
    phase: Phase,
    next_index: usize,
    /// The open block and its index.
    open: Option<(usize, Block)>,
    /// Argument fragments of tool calls whose start has not arrived yet.
    pending: BTreeMap<usize, String>,
    /// Tool calls whose block was opened (open now or closed).
    started_calls: BTreeSet<usize>,
    usage: Option<Usage>,
    stop: Option<(StopReason, Option<String>)>,
}

impl MessagesStreamEncoder {
    /// `model_reported` is the `model` shown to the client; `input_tokens_estimate` the local
    /// count (§11) used until the upstream reports its own.
    pub fn new(message_id: impl Into<String>, model_reported: impl Into<String>, input_tokens_estimate: u64) -> Self {
        Self {
            message_id: message_id.into(),
            model: model_reported.into(),
            input_estimate: input_tokens_estimate,
            phase: Phase::NotStarted,
            next_index: 0,
            open: None,
            pending: BTreeMap::new(),
            started_calls: BTreeSet::new(),
            usage: None,
            stop: None,
        }
    }

    /// `message_start` and one `ping`: sent at the commit point. `input_tokens` is the
    /// upstream's count when one was pushed before, else the estimate; never 0. Content pushed
    /// before `start` starts the stream itself; a second call sends nothing.
    pub fn start(&mut self) -> Vec<u8> {
        if self.phase != Phase::NotStarted {
            return Vec::new();
        }
        self.phase = Phase::Streaming;
        let input = match self.usage {
            Some(usage) if usage.input_total > 0 => {
                usage.input_total.saturating_sub(usage.cache_read).saturating_sub(usage.cache_write)
            }
            _ => self.input_estimate,
        };
        let mut out = Vec::new();
        emit(
            &mut out,
            json!({
                "type": "message_start",
                "message": {
                    "id": self.message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {"input_tokens": input.max(1), "output_tokens": 1},
                },
            }),
        );
        out.extend_from_slice(PING);
        out
    }

    /// The SSE bytes for one canonical event (possibly none).
    pub fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        match event {
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish { stop_reason, stop_sequence } => {
                self.stop = Some((*stop_reason, stop_sequence.clone()));
            }
            StreamEvent::ReasoningDelta(text) if !text.is_empty() => {
                self.begin(&mut out);
                if !matches!(self.open, Some((_, Block::Thinking { .. }))) {
                    self.open_thinking(&mut out);
                }
                self.delta(&mut out, json!({"type": "thinking_delta", "thinking": text}));
            }
            StreamEvent::ReasoningSignature(signature) => {
                self.begin(&mut out);
                // A signature with no thinking open gets an empty thinking block to carry it.
                if !matches!(self.open, Some((_, Block::Thinking { .. }))) {
                    self.open_thinking(&mut out);
                }
                if let Some((_, Block::Thinking { signature: slot })) = &mut self.open {
                    *slot = Some(signature_to_wire(signature));
                }
            }
            StreamEvent::RedactedReasoning(data) => {
                self.begin(&mut out);
                self.close_open(&mut out);
                let block = json!({"type": "redacted_thinking", "data": data});
                self.open_block(&mut out, block, Block::Redacted);
                self.close_open(&mut out);
            }
            StreamEvent::TextDelta(text) if !text.is_empty() => {
                self.begin(&mut out);
                if !matches!(self.open, Some((_, Block::Text))) {
                    self.close_open(&mut out);
                    self.open_block(&mut out, json!({"type": "text", "text": ""}), Block::Text);
                }
                self.delta(&mut out, json!({"type": "text_delta", "text": text}));
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                if self.open_call() == Some(*index) {
                    return out;
                }
                if self.started_calls.contains(index) {
                    out.extend(self.protocol_error(&format!("tool call {index} started twice")));
                    return out;
                }
                self.begin(&mut out);
                self.close_open(&mut out);
                let id = if id.is_empty() { new_tool_use_id() } else { id.clone() };
                let block = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
                self.open_block(&mut out, block, Block::Tool { call: *index, has_input: false });
                self.started_calls.insert(*index);
                if let Some(buffered) = self.pending.remove(index) {
                    self.input_delta(&mut out, &buffered);
                }
            }
            StreamEvent::ToolCallDelta { index, json_fragment } if !json_fragment.is_empty() => {
                if self.open_call() == Some(*index) {
                    self.input_delta(&mut out, json_fragment);
                } else if self.started_calls.contains(index) {
                    out.extend(self.protocol_error(&format!("arguments for tool call {index} after its block closed")));
                } else {
                    self.pending.entry(*index).or_default().push_str(json_fragment);
                }
            }
            StreamEvent::ToolCallEnd { index } => {
                if self.open_call() == Some(*index) {
                    self.close_open(&mut out);
                }
            }
            StreamEvent::ReasoningDelta(_) | StreamEvent::TextDelta(_) | StreamEvent::ToolCallDelta { .. } => {}
        }
        out
    }

    /// Closes the open block, then `message_delta` (stop reason never null: the recorded one,
    /// else `tool_use` when tool calls were streamed, else `end_turn`) and `message_stop`.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        self.begin(&mut out);
        self.close_open(&mut out);
        let had_calls = !self.started_calls.is_empty();
        let (reason, stop_sequence) = match self.stop.take() {
            Some((StopReason::EndTurn, _)) | None if had_calls => (StopReason::ToolUse, None),
            Some(stop) => stop,
            None => (StopReason::EndTurn, None),
        };
        let mut usage = self.usage.unwrap_or_default();
        if usage.input_total == 0 {
            usage.input_total = self.input_estimate;
        }
        emit(
            &mut out,
            json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason_str(reason), "stop_sequence": stop_sequence},
                "usage": usage_json(&usage, false),
            }),
        );
        emit(&mut out, json!({"type": "message_stop"}));
        self.phase = Phase::Done;
        out
    }

    /// An in-band `error` event; the stream ends there (no block is closed, nothing follows).
    pub fn error(&mut self, kind: &str, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        emit(&mut out, json!({"type": "error", "error": {"type": kind, "message": message}}));
        self.phase = Phase::Done;
        out
    }

    /// `message_stop` or `error` has been sent (a protocol violation in `push` also ends the
    /// stream); the caller should stop reading the upstream.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn begin(&mut self, out: &mut Vec<u8>) {
        if self.phase == Phase::NotStarted {
            out.extend(self.start());
        }
    }

    fn protocol_error(&mut self, what: &str) -> Vec<u8> {
        self.error("api_error", &format!("upstream stream protocol violation: {what}"))
    }

    fn open_call(&self) -> Option<usize> {
        match self.open {
            Some((_, Block::Tool { call, .. })) => Some(call),
            _ => None,
        }
    }

    fn open_thinking(&mut self, out: &mut Vec<u8>) {
        self.close_open(out);
        let block = json!({"type": "thinking", "thinking": "", "signature": ""});
        self.open_block(out, block, Block::Thinking { signature: None });
    }

    fn open_block(&mut self, out: &mut Vec<u8>, content_block: Value, block: Block) {
        let index = self.next_index;
        self.next_index += 1;
        emit(out, json!({"type": "content_block_start", "index": index, "content_block": content_block}));
        self.open = Some((index, block));
    }

    fn delta(&self, out: &mut Vec<u8>, delta: Value) {
        if let Some((index, _)) = &self.open {
            emit(out, json!({"type": "content_block_delta", "index": index, "delta": delta}));
        }
    }

    fn input_delta(&mut self, out: &mut Vec<u8>, fragment: &str) {
        if let Some((_, Block::Tool { has_input, .. })) = &mut self.open {
            *has_input = true;
        }
        self.delta(out, json!({"type": "input_json_delta", "partial_json": fragment}));
    }

    fn close_open(&mut self, out: &mut Vec<u8>) {
        let Some((index, block)) = self.open.take() else { return };
        let last_delta = match block {
            Block::Thinking { signature: Some(signature) } => {
                Some(json!({"type": "signature_delta", "signature": signature}))
            }
            Block::Tool { has_input: false, .. } => Some(json!({"type": "input_json_delta", "partial_json": "{}"})),
            _ => None,
        };
        if let Some(delta) = last_delta {
            emit(out, json!({"type": "content_block_delta", "index": index, "delta": delta}));
        }
        emit(out, json!({"type": "content_block_stop", "index": index}));
    }
}

/// `event: <type>\ndata: <json on one line>\n\n`.
fn emit(out: &mut Vec<u8>, data: Value) {
    let kind = data.get("type").and_then(Value::as_str).unwrap_or("message");
    crate::formats::sse::write_event(out, Some(kind), &data);
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
        self.0.error(super::passthrough::anthropic_error_type(failure), message)
    }

    fn is_done(&self) -> bool {
        self.0.is_done()
    }
}

#[cfg(test)]
mod tests;
