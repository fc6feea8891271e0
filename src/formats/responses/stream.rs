//! The Responses client stream: canonical events as the Responses event sequence —
//! `response.created`, `response.in_progress`, then per output item `output_item.added`, its
//! parts and deltas, `output_item.done`, and `response.completed` (or `.incomplete`, or
//! `.failed` for an error after the first byte) carrying the whole response with its usage.
//! Every event has a `sequence_number`; there is no `[DONE]`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::reasoning::REDACTED;
use super::response::{Shell, call_item, message_item, reasoning_item, text_part};
use super::tools::{ToolNames, custom_input};
use crate::formats::anthropic::ORIGIN as ANTHROPIC;
use crate::formats::failure::UpstreamFailure;
use crate::formats::ir::{Signature, StopReason, StreamEvent, Usage};
use crate::formats::relay::ClientEncoder;

/// The one open reasoning or message item.
#[derive(Debug)]
enum Open {
    Reasoning { at: usize, id: String, text: String },
    Message { at: usize, id: String, text: String },
}

/// A tool call being streamed.
#[derive(Debug)]
struct Call {
    at: usize,
    id: String,
    call_id: String,
    name: String,
    arguments: String,
    custom: bool,
}

pub struct ResponsesStreamEncoder {
    shell: Shell,
    names: Arc<ToolNames>,
    sequence: u64,
    started: bool,
    done: bool,
    /// Output items by output index; `None` while an item is open.
    output: Vec<Option<Value>>,
    open: Option<Open>,
    calls: BTreeMap<usize, Call>,
    /// Argument fragments of calls whose start has not arrived.
    pending: BTreeMap<usize, String>,
    stop: Option<StopReason>,
    usage: Usage,
}

impl ResponsesStreamEncoder {
    pub fn new(shell: Shell, names: Arc<ToolNames>) -> Self {
        Self {
            shell,
            names,
            sequence: 0,
            started: false,
            done: false,
            output: Vec::new(),
            open: None,
            calls: BTreeMap::new(),
            pending: BTreeMap::new(),
            stop: None,
            usage: Usage::default(),
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, mut event: Value) {
        event["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        let kind = event["type"].as_str().unwrap_or_default();
        crate::formats::sse::write_event(out, Some(kind), &event);
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let object = self.shell.object("in_progress", Vec::new(), None);
        self.emit(out, json!({"type": "response.created", "response": object.clone()}));
        self.emit(out, json!({"type": "response.in_progress", "response": object}));
    }

    fn reserve(&mut self) -> usize {
        self.output.push(None);
        self.output.len() - 1
    }

    fn added(&mut self, out: &mut Vec<u8>, at: usize, item: Value) {
        self.emit(out, json!({"type": "response.output_item.added", "output_index": at, "item": item}));
    }

    fn item_done(&mut self, out: &mut Vec<u8>, at: usize, item: Value) {
        self.emit(out, json!({"type": "response.output_item.done", "output_index": at, "item": item.clone()}));
        self.output[at] = Some(item);
    }

    /// Closes the open reasoning or message item; a reasoning item takes `signature`.
    fn close(&mut self, out: &mut Vec<u8>, signature: Option<&Signature>) {
        match self.open.take() {
            Some(Open::Reasoning { at, id, text }) => {
                if !text.is_empty() {
                    let at_part = json!({"item_id": id, "output_index": at, "summary_index": 0});
                    let mut done = at_part.clone();
                    done["type"] = json!("response.reasoning_summary_text.done");
                    done["text"] = json!(text);
                    self.emit(out, done);
                    let mut part = at_part;
                    part["type"] = json!("response.reasoning_summary_part.done");
                    part["part"] = json!({"type": "summary_text", "text": text});
                    self.emit(out, part);
                }
                let item = reasoning_item(id, &text, signature);
                self.item_done(out, at, item);
            }
            Some(Open::Message { at, id, text }) => {
                let at_part = json!({"item_id": id, "output_index": at, "content_index": 0});
                let mut done = at_part.clone();
                done["type"] = json!("response.output_text.done");
                done["text"] = json!(text);
                done["logprobs"] = json!([]);
                self.emit(out, done);
                let mut part = at_part;
                part["type"] = json!("response.content_part.done");
                part["part"] = text_part(&text);
                self.emit(out, part);
                let item = message_item(id, text_part(&text), "completed");
                self.item_done(out, at, item);
            }
            None => {}
        }
    }

    /// A reasoning item with no text that only carries a signature.
    fn carrier(&mut self, out: &mut Vec<u8>, signature: &Signature) {
        let at = self.reserve();
        let id = self.shell.item_id("rs", at);
        self.added(out, at, json!({"type": "reasoning", "id": id, "summary": []}));
        let item = reasoning_item(id, "", Some(signature));
        self.item_done(out, at, item);
    }

    fn reasoning_delta(&mut self, out: &mut Vec<u8>, delta: &str) {
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close(out, None);
            let at = self.reserve();
            let id = self.shell.item_id("rs", at);
            self.added(out, at, json!({"type": "reasoning", "id": id, "summary": []}));
            let part = json!({"type": "response.reasoning_summary_part.added", "item_id": id, "output_index": at,
                "summary_index": 0, "part": {"type": "summary_text", "text": ""}});
            self.emit(out, part);
            self.open = Some(Open::Reasoning { at, id, text: String::new() });
        }
        let Some(Open::Reasoning { at, id, text }) = &mut self.open else { return };
        text.push_str(delta);
        let event = json!({"type": "response.reasoning_summary_text.delta", "item_id": id, "output_index": at,
            "summary_index": 0, "delta": delta});
        self.emit(out, event);
    }

    fn text_delta(&mut self, out: &mut Vec<u8>, delta: &str) {
        if !matches!(self.open, Some(Open::Message { .. })) {
            self.close(out, None);
            let at = self.reserve();
            let id = self.shell.item_id("msg", at);
            let item =
                json!({"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []});
            self.added(out, at, item);
            let part = json!({"type": "response.content_part.added", "item_id": id, "output_index": at,
                "content_index": 0, "part": text_part("")});
            self.emit(out, part);
            self.open = Some(Open::Message { at, id, text: String::new() });
        }
        let Some(Open::Message { at, id, text }) = &mut self.open else { return };
        text.push_str(delta);
        let event = json!({"type": "response.output_text.delta", "item_id": id, "output_index": at,
            "content_index": 0, "delta": delta, "logprobs": []});
        self.emit(out, event);
    }

    fn call_start(&mut self, out: &mut Vec<u8>, index: usize, call_id: &str, name: &str) {
        self.close(out, None);
        let at = self.reserve();
        let custom = self.names.is_custom(name);
        let id = self.shell.item_id(if custom { "ctc" } else { "fc" }, at);
        let call_id = if call_id.is_empty() { super::new_call_id() } else { call_id.to_string() };
        let item = call_item(&id, &call_id, name, "", &self.names, "in_progress");
        self.added(out, at, item);
        let call = Call { at, id, call_id, name: name.to_string(), arguments: String::new(), custom };
        self.calls.insert(index, call);
        if let Some(fragment) = self.pending.remove(&index) {
            self.call_delta(out, index, &fragment);
        }
    }

    fn call_delta(&mut self, out: &mut Vec<u8>, index: usize, fragment: &str) {
        let Some(call) = self.calls.get_mut(&index) else {
            self.pending.entry(index).or_default().push_str(fragment);
            return;
        };
        call.arguments.push_str(fragment);
        // A freeform call's input is known once its arguments are complete.
        if !call.custom && !fragment.is_empty() {
            let event = json!({"type": "response.function_call_arguments.delta", "item_id": call.id,
                "output_index": call.at, "delta": fragment});
            self.emit(out, event);
        }
    }

    fn call_end(&mut self, out: &mut Vec<u8>, index: usize) {
        let Some(call) = self.calls.remove(&index) else { return };
        let at = json!({"item_id": call.id, "output_index": call.at});
        if call.custom {
            let input = custom_input(&call.arguments);
            let mut delta = at.clone();
            delta["type"] = json!("response.custom_tool_call_input.delta");
            delta["delta"] = json!(input);
            self.emit(out, delta);
            let mut done = at;
            done["type"] = json!("response.custom_tool_call_input.done");
            done["input"] = json!(input);
            self.emit(out, done);
        } else {
            let mut done = at;
            done["type"] = json!("response.function_call_arguments.done");
            done["arguments"] = json!(call.arguments);
            self.emit(out, done);
        }
        let item = call_item(&call.id, &call.call_id, &call.name, &call.arguments, &self.names, "completed");
        self.item_done(out, call.at, item);
    }

    fn close_all(&mut self, out: &mut Vec<u8>) {
        self.close(out, None);
        let open: Vec<usize> = self.calls.keys().copied().collect();
        for index in open {
            self.call_end(out, index);
        }
    }

    fn items(&self) -> Vec<Value> {
        self.output.iter().flatten().cloned().collect()
    }
}

impl ClientEncoder for ResponsesStreamEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        if !matches!(event, StreamEvent::Usage(_)) {
            self.start(&mut out);
        }
        match event {
            StreamEvent::ReasoningDelta(text) if !text.is_empty() => self.reasoning_delta(&mut out, text),
            StreamEvent::TextDelta(text) if !text.is_empty() => self.text_delta(&mut out, text),
            // Anthropic signs the thinking before it; other upstreams sign the part after it.
            StreamEvent::ReasoningSignature(signature) if signature.origin == ANTHROPIC => {
                if matches!(self.open, Some(Open::Reasoning { .. })) {
                    self.close(&mut out, Some(signature));
                } else {
                    self.close(&mut out, None);
                    self.carrier(&mut out, signature);
                }
            }
            StreamEvent::ReasoningSignature(signature) => {
                self.close(&mut out, None);
                self.carrier(&mut out, signature);
            }
            StreamEvent::RedactedReasoning(data) => {
                self.close(&mut out, None);
                self.carrier(&mut out, &Signature { origin: REDACTED.into(), value: data.clone() });
            }
            StreamEvent::ToolCallStart { index, id, name } => self.call_start(&mut out, *index, id, name),
            StreamEvent::ToolCallDelta { index, json_fragment } => self.call_delta(&mut out, *index, json_fragment),
            StreamEvent::ToolCallEnd { index } => self.call_end(&mut out, *index),
            StreamEvent::Finish { stop_reason, .. } => self.stop = Some(*stop_reason),
            StreamEvent::Usage(usage) => self.usage = *usage,
            StreamEvent::ReasoningDelta(_) | StreamEvent::TextDelta(_) => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        self.start(&mut out);
        self.close_all(&mut out);
        let had_calls = self.output.iter().flatten().any(|i| i["type"] != "message" && i["type"] != "reasoning");
        let stop = self.stop.unwrap_or(if had_calls { StopReason::ToolUse } else { StopReason::EndTurn });
        let object = self.shell.finished(self.items(), stop, &self.usage);
        let kind = if object["status"] == "incomplete" { "response.incomplete" } else { "response.completed" };
        self.emit(&mut out, json!({"type": kind, "response": object}));
        self.done = true;
        out
    }

    fn error(&mut self, failure: &UpstreamFailure, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        self.start(&mut out);
        let object = self.shell.failed(self.items(), failure, message);
        self.emit(&mut out, json!({"type": "response.failed", "response": object}));
        self.done = true;
        out
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::failure::ErrorClass;
    use crate::formats::sse::SseDecoder;

    fn events(bytes: &[u8]) -> Vec<Value> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.push(bytes, &mut out);
        out.into_iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect()
    }

    fn run(events_in: &[StreamEvent], names: ToolNames) -> Vec<Value> {
        let mut encoder = ResponsesStreamEncoder::new(Shell::new("resp_t".into(), "p/m"), Arc::new(names));
        let mut bytes = Vec::new();
        for event in events_in {
            bytes.extend(encoder.push(event));
        }
        bytes.extend(encoder.finish());
        assert!(encoder.is_done());
        events(&bytes)
    }

    #[test]
    fn text_and_a_call_make_the_full_event_sequence_with_sequence_numbers() {
        let out = run(
            &[
                StreamEvent::ReasoningDelta("plan".into()),
                StreamEvent::TextDelta("Hel".into()),
                StreamEvent::TextDelta("lo".into()),
                StreamEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "exec_command".into() },
                StreamEvent::ToolCallDelta { index: 0, json_fragment: "{\"cmd\":".into() },
                StreamEvent::ToolCallDelta { index: 0, json_fragment: "\"ls\"}".into() },
                StreamEvent::ToolCallEnd { index: 0 },
                StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None },
                StreamEvent::Usage(Usage { input_total: 3, output_total: 4, ..Usage::default() }),
            ],
            ToolNames::default(),
        );
        let kinds: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (n, event) in out.iter().enumerate() {
            assert_eq!(event["sequence_number"], n as u64);
        }
        let done = &out[20]["response"];
        assert_eq!((done["id"].as_str(), done["status"].as_str()), (Some("resp_t"), Some("completed")));
        assert_eq!(done["output"].as_array().unwrap().len(), 3);
        assert_eq!(done["output"][1]["content"][0]["text"], "Hello");
        assert_eq!(done["output"][2]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(done["usage"]["total_tokens"], 7);
    }

    #[test]
    fn signatures_ride_in_reasoning_items_and_freeform_calls_get_their_input() {
        let mut names = ToolNames::default();
        names.add_custom("apply_patch".into());
        let gemini = Signature { origin: "gemini".into(), value: "G".into() };
        let anthropic = Signature { origin: "anthropic".into(), value: "A".into() };
        let out = run(
            &[
                StreamEvent::ReasoningDelta("hmm".into()),
                StreamEvent::ReasoningSignature(anthropic.clone()),
                StreamEvent::ReasoningSignature(gemini.clone()),
                StreamEvent::ToolCallStart { index: 0, id: "c".into(), name: "apply_patch".into() },
                StreamEvent::ToolCallDelta { index: 0, json_fragment: "{\"input\":\"*** Begin\"}".into() },
                StreamEvent::ToolCallEnd { index: 0 },
            ],
            names,
        );
        let done = out.last().unwrap();
        let output = done["response"]["output"].as_array().unwrap();
        let open =
            |item: &Value| super::super::reasoning::open(item["encrypted_content"].as_str().unwrap(), "x").unwrap();
        assert_eq!((output[0]["summary"][0]["text"].as_str(), open(&output[0])), (Some("hmm"), Some(anthropic)));
        assert_eq!(open(&output[1]), Some(gemini));
        assert_eq!(
            (output[2]["type"].as_str(), output[2]["input"].as_str()),
            (Some("custom_tool_call"), Some("*** Begin"))
        );
        assert!(out.iter().any(|e| e["type"] == "response.custom_tool_call_input.done"));
    }

    #[test]
    fn a_cut_answer_is_incomplete_and_an_error_fails_the_response() {
        let out = run(
            &[
                StreamEvent::TextDelta("partial".into()),
                StreamEvent::Finish { stop_reason: StopReason::MaxTokens, stop_sequence: None },
            ],
            ToolNames::default(),
        );
        let last = out.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["incomplete_details"]["reason"], "max_output_tokens");

        let mut encoder = ResponsesStreamEncoder::new(Shell::new("r".into(), "m"), Arc::new(ToolNames::default()));
        let mut bytes = encoder.push(&StreamEvent::TextDelta("x".into()));
        bytes.extend(encoder.error(&UpstreamFailure::new(ErrorClass::ContextWindow, "too long"), "too long"));
        assert!(encoder.finish().is_empty());
        let out = events(&bytes);
        let failed = out.last().unwrap();
        assert_eq!(failed["type"], "response.failed");
        assert_eq!(failed["response"]["error"]["code"], "context_length_exceeded");
    }
}
