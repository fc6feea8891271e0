//! `chat.completion.chunk`s from a Chat upstream into canonical stream events (§9.5).
//!
//! Only the first choice (`index` 0) is read. Tool calls get 0-based indices in the order they
//! start, whatever indices the upstream uses; all open calls end right before the finish. Usage
//! is held until the finish has been emitted and then follows it, so consumers see
//! `… Finish, Usage` whether the upstream put usage on the finish chunk, on every chunk, or in the
//! usage-only chunk after it. In-stream errors and premature ends are the caller's business.

use super::chunk::stream_error;
use crate::formats::failure::{UpstreamFailure, classify_stream_error};
use crate::formats::relay::{Decoded, UpstreamDecoder, parse_object, premature_end};
use crate::formats::sse::SseEvent;
use serde_json::{Map, Value};

use super::chunk::is_content;
use super::translate::{arguments_text, decode_usage, reasoning_text, stop_reason, synthetic_call_id};
use crate::formats::ir::{StreamEvent, Usage, push_usage_change};

#[derive(Debug, Default)]
pub struct ChatStreamDecoder {
    /// The upstream's response id and `created`, seeding synthetic tool call ids.
    seed: Option<String>,
    /// Tool calls in order of first appearance.
    calls: Vec<CallState>,
    /// Calls started so far (the next canonical index).
    started: usize,
    finished: bool,
    /// The latest usage seen, and the last one emitted.
    usage: Option<Usage>,
    emitted_usage: Option<Usage>,
}

#[derive(Debug)]
struct CallState {
    upstream_index: Option<u64>,
    id: Option<String>,
    name: String,
    /// Canonical index once `ToolCallStart` was emitted.
    index: Option<usize>,
    /// Argument fragments that came before the name.
    pending: String,
}

impl ChatStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events one upstream chunk carries.
    pub fn push(&mut self, chunk: &Map<String, Value>) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if self.seed.is_none() {
            let field = |key: &str| chunk.get(key).map(Value::to_string).unwrap_or_default();
            self.seed = Some(format!("{}:{}", field("id"), field("created")));
        }
        // Read first: usage on the finish chunk is the final count and must follow that finish.
        let usage = chunk.get("usage").filter(|u| u.is_object());
        if let Some(usage) = usage {
            self.usage = Some(decode_usage(usage));
        }
        let choices = chunk.get("choices").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for choice in choices.iter().filter(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0) {
            if self.finished {
                break;
            }
            if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                self.push_delta(delta, &mut events);
            }
            // Some servers send `""` rather than `null` before the end.
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                self.finish_with(Some(reason), &mut events);
            }
        }
        if usage.is_some() && self.finished {
            self.emit_usage(&mut events);
        }
        events
    }

    /// The upstream stream ended (`[DONE]` or EOF): the finish it did not send, if any, with tool
    /// use when it produced tool calls (§6), and the usage held back.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if !self.finished {
            self.finish_with(None, &mut events);
        }
        events
    }

    /// Whether the upstream sent a finish reason (a stream without one and without `[DONE]` is
    /// premature, §9.5).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The latest usage the upstream reported, for accounting.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn push_delta(&mut self, delta: &Map<String, Value>, events: &mut Vec<StreamEvent>) {
        if let Some(text) = reasoning_text(delta) {
            events.push(StreamEvent::ReasoningDelta(text.to_string()));
        }
        match delta.get("content") {
            Some(Value::String(text)) if !text.is_empty() => events.push(StreamEvent::TextDelta(text.clone())),
            Some(Value::Array(parts)) => {
                let texts = parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str));
                events.extend(texts.filter(|t| !t.is_empty()).map(|t| StreamEvent::TextDelta(t.to_string())));
            }
            _ => {}
        }
        // The canonical stream has no refusal event: a refusal is shown as text (§4.3).
        if let Some(Value::String(refusal)) = delta.get("refusal").filter(|r| is_content(r)) {
            events.push(StreamEvent::TextDelta(refusal.clone()));
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for call in calls {
                self.push_call(call, call.get("function"), events);
            }
        }
        // The legacy single `function_call`: one call, no id.
        if let Some(function) = delta.get("function_call").filter(|f| f.is_object()) {
            self.push_call(&Value::Null, Some(function), events);
        }
    }

    fn push_call(&mut self, call: &Value, function: Option<&Value>, events: &mut Vec<StreamEvent>) {
        let upstream_index = call.get("index").and_then(Value::as_u64);
        let id = call.get("id").and_then(Value::as_str).filter(|id| !id.is_empty());
        let slot = self.call_slot(upstream_index, id);
        let state = &mut self.calls[slot];
        if state.id.is_none() {
            state.id = id.map(str::to_string);
        }
        let function = function.unwrap_or(&Value::Null);
        if state.name.is_empty()
            && let Some(name) = function.get("name").and_then(Value::as_str)
        {
            state.name = name.to_string();
        }
        let fragment = arguments_text(function.get("arguments"));
        match state.index {
            Some(index) => {
                if !fragment.is_empty() {
                    events.push(StreamEvent::ToolCallDelta { index, json_fragment: fragment });
                }
            }
            None => {
                state.pending.push_str(&fragment);
                if state.name.is_empty() {
                    return;
                }
                let index = self.started;
                self.started += 1;
                let state = &mut self.calls[slot];
                state.index = Some(index);
                let id = match &state.id {
                    Some(id) => id.clone(),
                    None => {
                        let seed = self.seed.as_deref().unwrap_or_default();
                        synthetic_call_id(&format!("{seed}:{index}:{}", state.name))
                    }
                };
                events.push(StreamEvent::ToolCallStart { index, id, name: state.name.clone() });
                if !state.pending.is_empty() {
                    events
                        .push(StreamEvent::ToolCallDelta { index, json_fragment: std::mem::take(&mut state.pending) });
                }
            }
        }
    }

    /// The call a `tool_calls` entry belongs to: by upstream index — unless it brings an id other
    /// than the call's (servers that number every call 0) — else by id, else the latest call.
    fn call_slot(&mut self, upstream_index: Option<u64>, id: Option<&str>) -> usize {
        let same_id = |state: &CallState| match (id, &state.id) {
            (Some(new), Some(old)) => new == old,
            _ => true,
        };
        let found = match (upstream_index, id) {
            (Some(k), _) => self.calls.iter().rposition(|c| c.upstream_index == Some(k) && same_id(c)),
            (None, Some(id)) => self.calls.iter().rposition(|c| c.id.as_deref() == Some(id)),
            (None, None) => self.calls.len().checked_sub(1),
        };
        found.unwrap_or_else(|| {
            self.calls.push(CallState {
                upstream_index,
                id: None,
                name: String::new(),
                index: None,
                pending: String::new(),
            });
            self.calls.len() - 1
        })
    }

    fn finish_with(&mut self, reason: Option<&str>, events: &mut Vec<StreamEvent>) {
        self.finished = true;
        let mut open: Vec<usize> = self.calls.iter().filter_map(|c| c.index).collect();
        open.sort_unstable();
        events.extend(open.into_iter().map(|index| StreamEvent::ToolCallEnd { index }));
        events.push(StreamEvent::Finish { stop_reason: stop_reason(reason, self.started > 0), stop_sequence: None });
        self.emit_usage(events);
    }

    fn emit_usage(&mut self, events: &mut Vec<StreamEvent>) {
        push_usage_change(self.usage, &mut self.emitted_usage, events);
    }
}

/// A Chat Completions upstream stream.
#[derive(Default)]
pub struct ChatDecoder {
    inner: ChatStreamDecoder,
}

impl UpstreamDecoder for ChatDecoder {
    fn event(&mut self, event: &SseEvent) -> Result<Decoded, UpstreamFailure> {
        if event.data.trim() == "[DONE]" {
            return Ok(Decoded { events: self.inner.finish(), terminal: true });
        }
        let chunk = parse_object(&event.data)?;
        if let Some(error) = stream_error(&chunk) {
            return Err(classify_stream_error(error));
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::formats::ir::StopReason;

    fn run(chunks: &[Value]) -> Vec<StreamEvent> {
        let mut decoder = ChatStreamDecoder::new();
        let mut events: Vec<StreamEvent> = chunks.iter().flat_map(|c| decoder.push(c.as_object().unwrap())).collect();
        events.extend(decoder.finish());
        events
    }

    fn chunk(delta: Value, finish: Value) -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    fn call_fragment(index: u64, arguments: &str) -> Value {
        chunk(json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}), Value::Null)
    }

    fn start(index: usize, id: &str, name: &str) -> StreamEvent {
        StreamEvent::ToolCallStart { index, id: id.into(), name: name.into() }
    }

    fn delta(index: usize, fragment: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta { index, json_fragment: fragment.into() }
    }

    fn finish(stop_reason: StopReason) -> StreamEvent {
        StreamEvent::Finish { stop_reason, stop_sequence: None }
    }

    #[test]
    fn spec_example_tool_call_stream_decodes_to_exact_events() {
        // §13.3: role chunk, call_9 start, three fragments, finish tool_calls, usage chunk, [DONE].
        let events = run(&[
            chunk(json!({"role": "assistant", "content": null}), Value::Null),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_9", "type": "function",
                                        "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null,
            ),
            call_fragment(0, "{\"city"),
            call_fragment(0, "\": \"Par"),
            call_fragment(0, "is\"}"),
            chunk(json!({}), json!("tool_calls")),
            json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 52, "completion_tokens": 18, "total_tokens": 70}}),
        ]);
        assert_eq!(
            events,
            vec![
                start(0, "call_9", "get_weather"),
                delta(0, "{\"city"),
                delta(0, "\": \"Par"),
                delta(0, "is\"}"),
                StreamEvent::ToolCallEnd { index: 0 },
                finish(StopReason::ToolUse),
                StreamEvent::Usage(Usage { input_total: 52, output_total: 18, ..Usage::default() }),
            ]
        );
    }

    #[test]
    fn reasoning_then_text_with_empty_strings_skipped() {
        let events = run(&[
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"reasoning_content": "Let me think"}), Value::Null),
            chunk(json!({"reasoning": "…", "content": ""}), json!("")),
            chunk(json!({"content": "Hello"}), Value::Null),
            chunk(json!({}), json!("stop")),
        ]);
        assert_eq!(
            events,
            vec![
                StreamEvent::ReasoningDelta("Let me think".into()),
                StreamEvent::ReasoningDelta("…".into()),
                StreamEvent::TextDelta("Hello".into()),
                finish(StopReason::EndTurn),
            ]
        );
    }

    #[test]
    fn parallel_calls_with_interleaved_fragments_keep_their_own_indices() {
        // Upstream numbers the calls 3 and 5; canonical indices follow the order of starts.
        let events = run(&[
            chunk(
                json!({"tool_calls": [{"index": 3, "id": "call_a", "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 5, "id": "call_b", "function": {"name": "get_time", "arguments": "{\"tz\""}}]}),
                Value::Null,
            ),
            call_fragment(3, "{\"city\":"),
            call_fragment(5, ":\"CET\"}"),
            call_fragment(3, "\"Paris\"}"),
            chunk(json!({}), json!("tool_calls")),
        ]);
        assert_eq!(
            events,
            vec![
                start(0, "call_a", "get_weather"),
                start(1, "call_b", "get_time"),
                delta(1, "{\"tz\""),
                delta(0, "{\"city\":"),
                delta(1, ":\"CET\"}"),
                delta(0, "\"Paris\"}"),
                StreamEvent::ToolCallEnd { index: 0 },
                StreamEvent::ToolCallEnd { index: 1 },
                finish(StopReason::ToolUse),
            ]
        );
    }

    #[test]
    fn calls_all_numbered_zero_are_told_apart_by_id() {
        let events = run(&[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
        ]);
        assert_eq!(events[..4], [start(0, "a", "f"), delta(0, "{}"), start(1, "b", "g"), delta(1, "{}")]);
    }

    #[test]
    fn fragments_before_the_name_are_held_until_the_call_starts() {
        let events = run(&[
            call_fragment(0, "{\"x\":"),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "1}"}}]}),
                Value::Null,
            ),
        ]);
        assert_eq!(events[..2], [start(0, "c1", "f"), delta(0, "{\"x\":1}")]);
    }

    #[test]
    fn usage_only_final_chunk_follows_the_finish() {
        let usage = json!({"prompt_tokens": 100, "completion_tokens": 50,
                           "prompt_tokens_details": {"cached_tokens": 60},
                           "completion_tokens_details": {"reasoning_tokens": 20}});
        let events = run(&[
            chunk(json!({"content": "Hi"}), Value::Null),
            chunk(json!({}), json!("length")),
            json!({"choices": [], "usage": usage}),
        ]);
        let expected = Usage { input_total: 100, cache_read: 60, cache_write: 0, output_total: 50, reasoning: 20 };
        assert_eq!(
            events,
            vec![StreamEvent::TextDelta("Hi".into()), finish(StopReason::MaxTokens), StreamEvent::Usage(expected)]
        );
    }

    #[test]
    fn usage_on_the_finish_chunk_and_on_every_chunk_is_emitted_once_after_the_finish() {
        let mut with_usage = chunk(json!({"content": "Hi"}), Value::Null);
        with_usage["usage"] = json!({"prompt_tokens": 5, "completion_tokens": 1});
        let mut last = chunk(json!({"content": "!"}), json!("stop"));
        last["usage"] = json!({"prompt_tokens": 5, "completion_tokens": 2});
        let repeat = json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}});
        let events = run(&[with_usage, last, repeat]);
        assert_eq!(
            events,
            vec![
                StreamEvent::TextDelta("Hi".into()),
                StreamEvent::TextDelta("!".into()),
                finish(StopReason::EndTurn),
                StreamEvent::Usage(Usage { input_total: 5, output_total: 2, ..Usage::default() }),
            ]
        );
    }

    #[test]
    fn missing_finish_is_synthesised_at_the_end() {
        let mut decoder = ChatStreamDecoder::new();
        decoder.push(chunk(json!({"content": "Hi"}), Value::Null).as_object().unwrap());
        assert!(!decoder.finished());
        assert_eq!(decoder.finish(), vec![finish(StopReason::EndTurn)]);
        assert!(decoder.finish().is_empty(), "a second end adds nothing");

        let events = run(&[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}),
                Value::Null,
            ),
            json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
        ]);
        assert_eq!(
            events[2..],
            [
                StreamEvent::ToolCallEnd { index: 0 },
                finish(StopReason::ToolUse),
                StreamEvent::Usage(Usage { input_total: 3, output_total: 4, ..Usage::default() }),
            ]
        );
    }

    #[test]
    fn stop_with_tool_calls_is_tool_use_and_content_after_the_finish_is_ignored() {
        let events = run(&[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}),
                json!("stop"),
            ),
            chunk(json!({"content": "late"}), Value::Null),
        ]);
        assert_eq!(events[3..], [finish(StopReason::ToolUse)]);
        assert_eq!(events.len(), 4);
    }

    #[test]
    fn calls_without_id_get_a_stable_synthetic_one() {
        let chunks =
            [chunk(json!({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]}), Value::Null)];
        let (first, second) = (run(&chunks), run(&chunks));
        let StreamEvent::ToolCallStart { id, .. } = &first[0] else { panic!("{first:?}") };
        assert!(id.starts_with("call_") && id.len() == 29, "{id}");
        assert_eq!(first, second);
    }
}
