//! Responses event streams as canonical stream events. Text, refusal and reasoning deltas flow as
//! they come; a function call starts at its `output_item.added` and ends at its
//! `output_item.done` (whose arguments stand in for deltas that never came); a reasoning item's
//! `encrypted_content` becomes its signature when the item is done. `response.completed` and
//! `response.incomplete` end the stream with the stop reason and usage; `response.failed` and
//! `error` events are upstream failures; other events are ignored.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::decode::{call_id, custom_arguments, decode_usage, encrypted_content, reasoning_text, stop_reason};
use crate::formats::failure::{ErrorClass, UpstreamFailure, classify_responses_error};
use crate::formats::ir::{Signature, StopReason, StreamEvent, Usage};
use crate::formats::relay::{Decoded, UpstreamDecoder, parse_object, premature_end};
use crate::formats::sse::SseEvent;

/// One tool call of the stream.
#[derive(Debug)]
struct Call {
    output_index: Option<u64>,
    item_id: Option<String>,
    /// Its canonical index.
    index: usize,
    /// A freeform tool: its input is gathered and sent as `{"input": …}` when done.
    custom: bool,
    input: String,
    /// Argument deltas arrived (the done item's arguments are then not sent again).
    deltas: bool,
    ended: bool,
}

/// A Responses upstream stream.
#[derive(Debug)]
pub struct ResponsesDecoder {
    origin: String,
    calls: Vec<Call>,
    /// Output items (by `output_index`) whose text or reasoning arrived as deltas.
    streamed: HashSet<u64>,
    usage: Option<Usage>,
    received: bool,
    finished: bool,
}

impl ResponsesDecoder {
    /// The decoder of a stream from the provider `origin` (the origin of its reasoning signatures).
    pub fn new(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            calls: Vec::new(),
            streamed: HashSet::new(),
            usage: None,
            received: false,
            finished: false,
        }
    }

    /// The events one upstream event carries; `Err` for `response.failed` and `error` events.
    pub fn push(&mut self, data: &Map<String, Value>) -> Result<Vec<StreamEvent>, UpstreamFailure> {
        let mut events = Vec::new();
        if self.finished {
            return Ok(events);
        }
        let kind = data.get("type").and_then(Value::as_str).unwrap_or_default();
        let output_index = data.get("output_index").and_then(Value::as_u64);
        let delta = || data.get("delta").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_string);
        match kind {
            "response.output_text.delta" | "response.refusal.delta" => {
                // The canonical stream has no refusal event: a refusal is shown as text.
                if let Some(text) = delta() {
                    self.streamed.extend(output_index);
                    events.push(StreamEvent::TextDelta(text));
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let Some(text) = delta() {
                    self.streamed.extend(output_index);
                    events.push(StreamEvent::ReasoningDelta(text));
                }
            }
            // Summary parts after the first are set apart as paragraphs.
            "response.reasoning_summary_part.added"
                if data.get("summary_index").and_then(Value::as_u64).is_some_and(|i| i > 0) =>
            {
                events.push(StreamEvent::ReasoningDelta("\n\n".into()));
            }
            "response.output_item.added" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                if let Some(custom) = call_kind(item) {
                    let call = self.start_call(output_index, item, custom, &mut events);
                    let arguments = item.get("arguments").and_then(Value::as_str).unwrap_or_default();
                    if !custom && !arguments.is_empty() {
                        self.calls[call].deltas = true;
                        let index = self.calls[call].index;
                        events.push(StreamEvent::ToolCallDelta { index, json_fragment: arguments.to_string() });
                    }
                }
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                if let (Some(fragment), Some(call)) = (delta(), self.find_call(output_index, data.get("item_id"))) {
                    let call = &mut self.calls[call];
                    call.deltas = true;
                    if call.custom {
                        call.input.push_str(&fragment);
                    } else {
                        events.push(StreamEvent::ToolCallDelta { index: call.index, json_fragment: fragment });
                    }
                }
            }
            "response.output_item.done" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                self.item_done(output_index, item, &mut events);
            }
            "response.completed" | "response.incomplete" => {
                let response = data.get("response").and_then(Value::as_object).cloned().unwrap_or_default();
                if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
                    self.usage = Some(decode_usage(usage));
                }
                self.end_open_calls(&mut events);
                self.finished = true;
                let mut stop_reason = stop_reason(&response, !self.calls.is_empty());
                if kind == "response.incomplete" && stop_reason == StopReason::EndTurn {
                    stop_reason = StopReason::MaxTokens;
                }
                events.push(StreamEvent::Finish { stop_reason, stop_sequence: None });
                events.push(StreamEvent::Usage(self.usage.unwrap_or_default()));
            }
            "response.failed" => {
                let error = data.get("response").and_then(|r| r.get("error")).filter(|e| e.is_object());
                return Err(match error {
                    Some(error) => classify_responses_error(error),
                    None => UpstreamFailure::new(ErrorClass::ServerError, "upstream response failed"),
                });
            }
            "error" => {
                let error = data.get("error").filter(|e| e.is_object()).unwrap_or(&Value::Null);
                let error = if error.is_null() { &Value::Object(data.clone()) } else { error };
                return Err(classify_responses_error(error));
            }
            // `response.created`, `response.in_progress`, content part and `.done` events carry
            // nothing new; unknown events are ignored.
            _ => {}
        }
        Ok(events)
    }

    /// Whether the terminal event arrived.
    pub fn finished(&self) -> bool {
        self.finished
    }

    fn start_call(
        &mut self,
        output_index: Option<u64>,
        item: &Value,
        custom: bool,
        events: &mut Vec<StreamEvent>,
    ) -> usize {
        let index = self.calls.len();
        let item_id = item.get("id").and_then(Value::as_str).map(str::to_string);
        self.calls.push(Call {
            output_index,
            item_id,
            index,
            custom,
            input: String::new(),
            deltas: false,
            ended: false,
        });
        let name = item.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        events.push(StreamEvent::ToolCallStart { index, id: call_id(item), name });
        index
    }

    /// The call an event names by `output_index`, else by `item_id`.
    fn find_call(&self, output_index: Option<u64>, item_id: Option<&Value>) -> Option<usize> {
        let item_id = item_id.and_then(Value::as_str);
        self.calls
            .iter()
            .position(|c| output_index.is_some() && c.output_index == output_index)
            .or_else(|| self.calls.iter().position(|c| item_id.is_some() && c.item_id.as_deref() == item_id))
    }

    fn item_done(&mut self, output_index: Option<u64>, item: &Value, events: &mut Vec<StreamEvent>) {
        let streamed = output_index.is_some_and(|i| self.streamed.contains(&i));
        match item.get("type").and_then(Value::as_str) {
            Some("reasoning") => {
                let text = reasoning_text(item);
                if !streamed && !text.is_empty() {
                    events.push(StreamEvent::ReasoningDelta(text));
                }
                if let Some(value) = encrypted_content(item) {
                    events.push(StreamEvent::ReasoningSignature(Signature { origin: self.origin.clone(), value }));
                }
            }
            Some("message") if !streamed => {
                for part in item.get("content").and_then(Value::as_array).into_iter().flatten() {
                    let text = part.get("text").or_else(|| part.get("refusal")).and_then(Value::as_str);
                    if let Some(text) = text.filter(|t| !t.is_empty()) {
                        events.push(StreamEvent::TextDelta(text.to_string()));
                    }
                }
            }
            _ => {
                let Some(custom) = call_kind(item) else { return };
                let call = match self.find_call(output_index, item.get("id")) {
                    Some(call) => call,
                    None => self.start_call(output_index, item, custom, events),
                };
                let call = &mut self.calls[call];
                if call.ended {
                    return;
                }
                let fragment = if call.custom {
                    let input = item.get("input").and_then(Value::as_str).unwrap_or(&call.input);
                    Some(custom_arguments(input))
                } else {
                    let arguments = item.get("arguments").and_then(Value::as_str).unwrap_or_default();
                    (!call.deltas && !arguments.is_empty()).then(|| arguments.to_string())
                };
                if let Some(json_fragment) = fragment {
                    events.push(StreamEvent::ToolCallDelta { index: call.index, json_fragment });
                }
                call.ended = true;
                events.push(StreamEvent::ToolCallEnd { index: call.index });
            }
        }
    }

    /// Calls whose `output_item.done` never came end before the finish.
    fn end_open_calls(&mut self, events: &mut Vec<StreamEvent>) {
        for call in self.calls.iter_mut().filter(|c| !c.ended) {
            if call.custom {
                events.push(StreamEvent::ToolCallDelta {
                    index: call.index,
                    json_fragment: custom_arguments(&call.input),
                });
            }
            call.ended = true;
            events.push(StreamEvent::ToolCallEnd { index: call.index });
        }
    }
}

/// `Some(custom)` for a tool call item: `false` for a function call, `true` for a freeform one.
fn call_kind(item: &Value) -> Option<bool> {
    match item.get("type").and_then(Value::as_str) {
        Some("function_call") => Some(false),
        Some("custom_tool_call") => Some(true),
        _ => None,
    }
}

impl UpstreamDecoder for ResponsesDecoder {
    fn event(&mut self, event: &SseEvent) -> Result<Decoded, UpstreamFailure> {
        if event.data.trim() == "[DONE]" {
            return Ok(Decoded { events: Vec::new(), terminal: false });
        }
        let mut data = parse_object(&event.data)?;
        // The type is in the data; a server that only names it in `event:` is read the same way.
        if !data.contains_key("type")
            && let Some(kind) = &event.event
        {
            data.insert("type".into(), Value::from(kind.clone()));
        }
        self.received = true;
        let events = self.push(&data)?;
        Ok(Decoded { events, terminal: self.finished })
    }

    fn end(&mut self) -> Result<Vec<StreamEvent>, UpstreamFailure> {
        Err(premature_end(!self.received))
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}
