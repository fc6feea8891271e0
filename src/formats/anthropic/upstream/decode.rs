//! Messages `message` bodies and event streams as canonical answers (translation specification
//! §5–§7, §9.5, §10).

use crate::formats::failure::{UpstreamFailure, classify_anthropic_error};
use crate::formats::relay::{Decoded, UpstreamDecoder, parse_object, premature_end};
use crate::formats::sse::SseEvent;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::super::ORIGIN;
use super::super::request::InvalidRequest;
use crate::formats::fields::get;
use crate::formats::ir::{Part, Response, Signature, StopReason, StreamEvent, Usage};

/// A Messages `message` body as a canonical response, served by `served_model`.
pub fn decode_upstream_response(body: &Map<String, Value>, served_model: &str) -> Result<Response, InvalidRequest> {
    let blocks = match get(body, "content") {
        None => &[][..],
        Some(Value::Array(blocks)) => blocks.as_slice(),
        Some(_) => return Err(InvalidRequest::wrong_type("content".into(), "an array of blocks")),
    };
    let mut parts = Vec::with_capacity(blocks.len());
    for block in blocks {
        let str_of = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(Part::Text { text: str_of("text"), cache_control: None }),
            Some("thinking") => parts.push(Part::Reasoning {
                text: str_of("thinking"),
                signature: Some(str_of("signature")).filter(|s| !s.is_empty()).map(native_signature),
                redacted: None,
            }),
            Some("redacted_thinking") => {
                parts.push(Part::Reasoning { text: String::new(), signature: None, redacted: Some(str_of("data")) })
            }
            Some("tool_use") => parts.push(Part::ToolCall(crate::formats::ir::ToolCall {
                id: str_of("id"),
                name: str_of("name"),
                arguments: block.get("input").filter(|i| i.is_object()).map_or_else(|| "{}".into(), Value::to_string),
                signature: None,
            })),
            // Server tool blocks (`server_tool_use`, `web_search_tool_result`, …) have no
            // canonical form.
            _ => {}
        }
    }
    let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    Ok(Response {
        id: body.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        model: served_model.to_string(),
        parts,
        stop_reason: stop_reason(body.get("stop_reason").and_then(Value::as_str), has_calls),
        stop_sequence: body.get("stop_sequence").and_then(Value::as_str).map(str::to_string),
        usage: body.get("usage").map(|u| merge_usage(Usage::default(), u)).unwrap_or_default(),
    })
}

pub(super) fn native_signature(value: String) -> Signature {
    Signature { origin: ORIGIN.to_string(), value }
}

/// §6, Messages column (values the canonical model lacks map to their nearest kin).
fn stop_reason(reason: Option<&str>, has_calls: bool) -> StopReason {
    match reason {
        Some("max_tokens" | "model_context_window_exceeded") => StopReason::MaxTokens,
        Some("tool_use") => StopReason::ToolUse,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("refusal") => StopReason::Refusal,
        _ if has_calls => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// §7: the counts a Messages `usage` object reports, over `usage` (fields absent keep their
/// value: `message_delta` usage is cumulative and may be partial).
fn merge_usage(mut usage: Usage, wire: &Value) -> Usage {
    let n = |key: &str| wire.get(key).and_then(Value::as_u64);
    let uncached = n("input_tokens");
    let uncached_before = usage.input_total.saturating_sub(usage.cache_read).saturating_sub(usage.cache_write);
    usage.cache_read = n("cache_read_input_tokens").unwrap_or(usage.cache_read);
    usage.cache_write = n("cache_creation_input_tokens").unwrap_or(usage.cache_write);
    usage.input_total = uncached.unwrap_or(uncached_before) + usage.cache_read + usage.cache_write;
    usage.output_total = n("output_tokens").unwrap_or(usage.output_total);
    usage
}

/// The kind of one upstream content block, by its upstream index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Thinking,
    Text,
    Tool(usize),
    /// Redacted thinking (sent whole at its start) and server tool blocks.
    Other,
}

/// Events of an upstream Messages stream into canonical stream events (§9.5). `error` events are
/// the caller's; so is a stream that ends before `message_stop` ([`Self::completed`] is false).
#[derive(Debug, Default)]
pub struct MessagesStreamDecoder {
    blocks: HashMap<u64, BlockKind>,
    /// Tool calls started so far (the next canonical index).
    calls: usize,
    usage: Usage,
    stop: Option<(StopReason, Option<String>)>,
    completed: bool,
}

impl MessagesStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events one upstream SSE event carries (`event_type` is its `event:`, else its
    /// `data.type`).
    pub fn push(&mut self, event_type: &str, data: &Map<String, Value>) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if self.completed {
            return events;
        }
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match event_type {
            "message_start" => {
                if let Some(usage) = data.get("message").and_then(|m| m.get("usage")).filter(|u| u.is_object()) {
                    self.usage = merge_usage(self.usage, usage);
                    events.push(StreamEvent::Usage(self.usage));
                }
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                let text = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
                let kind = match block.get("type").and_then(Value::as_str) {
                    Some("thinking") => {
                        let thinking = text("thinking");
                        if !thinking.is_empty() {
                            events.push(StreamEvent::ReasoningDelta(thinking));
                        }
                        BlockKind::Thinking
                    }
                    Some("text") => {
                        let initial = text("text");
                        if !initial.is_empty() {
                            events.push(StreamEvent::TextDelta(initial));
                        }
                        BlockKind::Text
                    }
                    Some("redacted_thinking") => {
                        events.push(StreamEvent::RedactedReasoning(text("data")));
                        BlockKind::Other
                    }
                    Some("tool_use") => {
                        let call = self.calls;
                        self.calls += 1;
                        events.push(StreamEvent::ToolCallStart { index: call, id: text("id"), name: text("name") });
                        if let Some(input) = block.get("input").and_then(Value::as_object).filter(|i| !i.is_empty()) {
                            events.push(StreamEvent::ToolCallDelta { index: call, json_fragment: input_json(input) });
                        }
                        BlockKind::Tool(call)
                    }
                    _ => BlockKind::Other,
                };
                self.blocks.insert(index, kind);
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                let text = |key: &str| delta.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
                let kind = self.blocks.get(&index).copied();
                match (delta.get("type").and_then(Value::as_str), kind) {
                    (Some("thinking_delta"), _) => {
                        let thinking = text("thinking");
                        if !thinking.is_empty() {
                            events.push(StreamEvent::ReasoningDelta(thinking));
                        }
                    }
                    (Some("signature_delta"), _) => {
                        let signature = text("signature");
                        if !signature.is_empty() {
                            events.push(StreamEvent::ReasoningSignature(native_signature(signature)));
                        }
                    }
                    (Some("text_delta"), _) => {
                        let delta = text("text");
                        if !delta.is_empty() {
                            events.push(StreamEvent::TextDelta(delta));
                        }
                    }
                    (Some("input_json_delta"), Some(BlockKind::Tool(call))) => {
                        let fragment = text("partial_json");
                        if !fragment.is_empty() {
                            events.push(StreamEvent::ToolCallDelta { index: call, json_fragment: fragment });
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(BlockKind::Tool(call)) = self.blocks.remove(&index) {
                    events.push(StreamEvent::ToolCallEnd { index: call });
                }
            }
            "message_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                if let Some(reason) = delta.get("stop_reason").and_then(Value::as_str) {
                    let sequence = delta.get("stop_sequence").and_then(Value::as_str).map(str::to_string);
                    self.stop = Some((stop_reason(Some(reason), self.calls > 0), sequence));
                }
                if let Some(usage) = data.get("usage").filter(|u| u.is_object()) {
                    self.usage = merge_usage(self.usage, usage);
                }
            }
            "message_stop" => {
                self.completed = true;
                let mut open: Vec<usize> = self
                    .blocks
                    .drain()
                    .filter_map(|(_, kind)| if let BlockKind::Tool(call) = kind { Some(call) } else { None })
                    .collect();
                open.sort_unstable();
                events.extend(open.into_iter().map(|index| StreamEvent::ToolCallEnd { index }));
                let (stop_reason, stop_sequence) = self
                    .stop
                    .take()
                    .unwrap_or((if self.calls > 0 { StopReason::ToolUse } else { StopReason::EndTurn }, None));
                events.push(StreamEvent::Finish { stop_reason, stop_sequence });
                events.push(StreamEvent::Usage(self.usage));
            }
            // `ping`; `error` is handled by the caller; unknown events are ignored.
            _ => {}
        }
        events
    }

    /// The upstream body ended. Everything was emitted at `message_stop`; without it the stream
    /// is premature (§9.5) and nothing is invented here.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        Vec::new()
    }

    /// Whether `message_stop` arrived (a stream ending without it is premature).
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// The latest usage the upstream reported, for accounting.
    pub fn usage(&self) -> Usage {
        self.usage
    }
}

fn input_json(input: &Map<String, Value>) -> String {
    Value::Object(input.clone()).to_string()
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
