//! Chat Completions as the output family for answers that came from another family (translation
//! specification §5, §6, §7, §9.2): canonical responses as `chat.completion` bodies, canonical
//! stream events as `chat.completion.chunk` SSE frames.

use crate::formats::failure::UpstreamFailure;
use crate::formats::relay::ClientEncoder;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::translate::synthetic_call_id;
use crate::formats::ir::{Part, Response, StopReason, StreamEvent, Usage};

/// `chatcmpl-` + 24 base62 characters (§8).
pub fn new_completion_id() -> String {
    format!("chatcmpl-{}", crate::formats::random_base62(24))
}

/// The `chat.completion` body for `resp` (§5). `model` is `resp.model`; reasoning comes out as
/// `reasoning_content` when `include_reasoning`.
pub fn encode_completion(resp: &Response, include_reasoning: bool) -> Value {
    let id = if resp.id.starts_with("chatcmpl-") { resp.id.clone() } else { new_completion_id() };
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut text = String::new();
    let mut reasoning = Vec::new();
    let mut refusal = Vec::new();
    let mut calls = Vec::new();
    for part in &resp.parts {
        match part {
            Part::Text { text: t, .. } => text.push_str(t),
            Part::Reasoning { text: t, .. } if !t.is_empty() => reasoning.push(t.as_str()),
            Part::Refusal(t) => refusal.push(t.as_str()),
            Part::ToolCall(call) => {
                let id = if call.id.is_empty() {
                    synthetic_call_id(&format!("{id}:{}:{}", calls.len(), call.name))
                } else {
                    call.id.clone()
                };
                let arguments = if call.arguments.trim().is_empty() { "{}" } else { call.arguments.as_str() };
                calls.push(
                    json!({"id": id, "type": "function", "function": {"name": call.name, "arguments": arguments}}),
                );
            }
            Part::Reasoning { .. } | Part::Image(_) | Part::Document { .. } | Part::ToolResult(_) => {}
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && (!calls.is_empty() || !refusal.is_empty()) { Value::Null } else { json!(text) };
    message.insert("content".into(), content);
    if include_reasoning && !reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(reasoning.join("\n\n")));
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    message.insert("refusal".into(), if refusal.is_empty() { Value::Null } else { json!(refusal.join("\n")) });
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": resp.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(resp.stop_reason)}],
        "usage": usage_json(&resp.usage),
    })
}

/// The Chat `finish_reason` for a canonical stop reason (§6).
pub fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter | StopReason::Refusal => "content_filter",
    }
}

/// Chat usage (§7): `prompt_tokens` includes cached input, `completion_tokens` reasoning; the
/// cache-write and reasoning details appear when non-zero.
pub fn usage_json(usage: &Usage) -> Value {
    let mut prompt_details = Map::new();
    prompt_details.insert("cached_tokens".into(), json!(usage.cache_read));
    if usage.cache_write > 0 {
        prompt_details.insert("cache_write_tokens".into(), json!(usage.cache_write));
    }
    let mut out = Map::new();
    out.insert("prompt_tokens".into(), json!(usage.input_total));
    out.insert("completion_tokens".into(), json!(usage.output_total));
    out.insert("total_tokens".into(), json!(usage.input_total + usage.output_total));
    out.insert("prompt_tokens_details".into(), Value::Object(prompt_details));
    if usage.reasoning > 0 {
        out.insert("completion_tokens_details".into(), json!({"reasoning_tokens": usage.reasoning}));
    }
    Value::Object(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotStarted,
    Streaming,
    /// The finish chunk was sent: only usage and `[DONE]` follow.
    Finished,
    /// `[DONE]` was sent.
    Done,
}

/// The Chat client stream (§9.2): a state machine from canonical stream events to
/// `data: <chunk>\n\n` frames.
#[derive(Debug)]
pub struct ChatStreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    phase: Phase,
    has_calls: bool,
    usage: Option<Usage>,
}

impl ChatStreamEncoder {
    /// `model` is shown to the client; `include_usage` is the client's
    /// `stream_options.include_usage`.
    pub fn new(id: impl Into<String>, model: impl Into<String>, created: u64, include_usage: bool) -> Self {
        Self {
            id: id.into(),
            model: model.into(),
            created,
            include_usage,
            phase: Phase::NotStarted,
            has_calls: false,
            usage: None,
        }
    }

    /// The role chunk (`delta: {role: assistant, content: ""}`), at the commit point; content
    /// pushed before starts the stream itself, and a second call sends nothing.
    pub fn start(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase == Phase::NotStarted {
            self.phase = Phase::Streaming;
            self.choice_chunk(&mut out, json!({"role": "assistant", "content": ""}), Value::Null);
        }
        out
    }

    /// The frames for one canonical event (possibly none).
    pub fn push(&mut self, event: &StreamEvent) -> Vec<u8> {
        let mut out = Vec::new();
        if let StreamEvent::Usage(usage) = event {
            self.usage = Some(*usage);
            return out;
        }
        if matches!(self.phase, Phase::Finished | Phase::Done) {
            return out;
        }
        let delta = match event {
            StreamEvent::ReasoningDelta(text) if !text.is_empty() => json!({"reasoning_content": text}),
            StreamEvent::TextDelta(text) if !text.is_empty() => json!({"content": text}),
            StreamEvent::ToolCallStart { index, id, name } => {
                self.has_calls = true;
                let id =
                    if id.is_empty() { synthetic_call_id(&format!("{}:{index}:{name}", self.id)) } else { id.clone() };
                json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                       "function": {"name": name, "arguments": ""}}]})
            }
            StreamEvent::ToolCallDelta { index, json_fragment } if !json_fragment.is_empty() => {
                json!({"tool_calls": [{"index": index, "function": {"arguments": json_fragment}}]})
            }
            StreamEvent::Finish { stop_reason, .. } => {
                out.extend(self.start());
                self.finish_chunk(&mut out, finish_reason(*stop_reason));
                return out;
            }
            // Signatures and redacted reasoning cannot travel in Chat (§10 caches them).
            _ => return out,
        };
        out.extend(self.start());
        self.choice_chunk(&mut out, delta, Value::Null);
        out
    }

    /// The end of the stream: the finish chunk if none was sent (`tool_calls` after tool calls,
    /// else `stop`), the usage chunk when the client asked for one, then `data: [DONE]`.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        if self.phase != Phase::Finished {
            out.extend(self.start());
            let reason = if self.has_calls { "tool_calls" } else { "stop" };
            self.finish_chunk(&mut out, reason);
        }
        if self.include_usage {
            let mut chunk = self.envelope(json!([]));
            chunk.insert("usage".into(), usage_json(&self.usage.unwrap_or_default()));
            frame(&mut out, &Value::Object(chunk));
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        self.phase = Phase::Done;
        out
    }

    /// An in-band error (`data: {"error":{…}}`) and `[DONE]`; nothing follows.
    pub fn error(&mut self, message: &str, kind: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        let error = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
        frame(&mut out, &error);
        out.extend_from_slice(b"data: [DONE]\n\n");
        self.phase = Phase::Done;
        out
    }

    /// `[DONE]` has been sent.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn finish_chunk(&mut self, out: &mut Vec<u8>, reason: &str) {
        self.choice_chunk(out, json!({}), json!(reason));
        self.phase = Phase::Finished;
    }

    fn choice_chunk(&self, out: &mut Vec<u8>, delta: Value, finish_reason: Value) {
        let mut chunk = self.envelope(json!([{"index": 0, "delta": delta, "finish_reason": finish_reason}]));
        if self.include_usage {
            chunk.insert("usage".into(), Value::Null);
        }
        frame(out, &Value::Object(chunk));
    }

    fn envelope(&self, choices: Value) -> Map<String, Value> {
        let mut chunk = Map::new();
        chunk.insert("id".into(), json!(self.id));
        chunk.insert("object".into(), json!("chat.completion.chunk"));
        chunk.insert("created".into(), json!(self.created));
        chunk.insert("model".into(), json!(self.model));
        chunk.insert("choices".into(), choices);
        chunk
    }
}

/// `data: <json on one line>\n\n`.
fn frame(out: &mut Vec<u8>, data: &Value) {
    crate::formats::sse::write_event(out, None, data);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::anthropic::upstream::MessagesStreamDecoder;
    use crate::formats::ir::{Signature, ToolCall};
    use crate::formats::sse::SseDecoder;

    /// `data:` payloads of SSE frames: JSON chunks, with `[DONE]` as a string.
    fn frames(bytes: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(text.ends_with("\n\n"), "frames end with a blank line");
        text.split_terminator("\n\n")
            .map(|frame| {
                let data = frame.strip_prefix("data: ").expect("every frame is one data line");
                assert!(!data.contains('\n'));
                serde_json::from_str(data).unwrap_or_else(|_| json!(data))
            })
            .collect()
    }

    /// The chunks without `id` and `created`, after checking they are the same on every chunk.
    fn without_ids(chunks: Vec<Value>) -> Vec<Value> {
        let first = chunks[0].clone();
        chunks
            .into_iter()
            .map(|mut chunk| {
                if let Some(obj) = chunk.as_object_mut().filter(|o| o.contains_key("object")) {
                    assert_eq!((&obj["id"], &obj["created"]), (&first["id"], &first["created"]));
                    obj.remove("id");
                    obj.remove("created");
                }
                chunk
            })
            .collect()
    }

    const SPEC_13_4_UPSTREAM: &str = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":186,"cache_creation_input_tokens":0,"cache_read_input_tokens":1024,"output_tokens":1}}}"#,
        "\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants"}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkYIBxgC"}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello"}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":1}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":256}}"#,
        "\n\nevent: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );

    /// An Anthropic upstream SSE body through [`MessagesStreamDecoder`] and a [`ChatStreamEncoder`].
    fn anthropic_to_chat(body: &str, include_usage: bool) -> Vec<u8> {
        let mut sse = SseDecoder::new();
        let mut raw = Vec::new();
        sse.push(body.as_bytes(), &mut raw);
        sse.finish(&mut raw);
        let mut decoder = MessagesStreamDecoder::new();
        let mut encoder =
            ChatStreamEncoder::new(new_completion_id(), "anthropic/claude-sonnet-4-5", 1767225600, include_usage);
        let mut out = Vec::new();
        for event in raw {
            let data: Value = serde_json::from_str(&event.data).unwrap();
            for canonical in decoder.push(event.event.as_deref().unwrap(), data.as_object().unwrap()) {
                out.extend(encoder.push(&canonical));
            }
        }
        for canonical in decoder.finish() {
            out.extend(encoder.push(&canonical));
        }
        assert!(decoder.completed());
        out.extend(encoder.finish());
        out
    }

    #[test]
    fn anthropic_thinking_and_text_stream_reproduces_the_spec_example() {
        let chunks = without_ids(frames(&anthropic_to_chat(SPEC_13_4_UPSTREAM, true)));
        let chunk = |delta: Value, finish: Value| {
            json!({"object": "chat.completion.chunk", "model": "anthropic/claude-sonnet-4-5",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null})
        };
        assert_eq!(
            chunks,
            [
                chunk(json!({"role": "assistant", "content": ""}), Value::Null),
                chunk(json!({"reasoning_content": "The user wants"}), Value::Null),
                chunk(json!({"content": "Hello"}), Value::Null),
                chunk(json!({}), json!("length")),
                json!({"object": "chat.completion.chunk", "model": "anthropic/claude-sonnet-4-5", "choices": [],
                       "usage": {"prompt_tokens": 1210, "completion_tokens": 256, "total_tokens": 1466,
                                 "prompt_tokens_details": {"cached_tokens": 1024}}}),
                json!("[DONE]"),
            ]
        );
        let id = frames(&anthropic_to_chat(SPEC_13_4_UPSTREAM, true))[0]["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("chatcmpl-") && id.len() == 33, "{id}");
    }

    #[test]
    fn without_include_usage_there_is_no_usage_chunk_and_no_usage_field() {
        let chunks = frames(&anthropic_to_chat(SPEC_13_4_UPSTREAM, false));
        assert_eq!(chunks.len(), 5);
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "length");
        assert_eq!(chunks[4], "[DONE]");
    }

    #[test]
    fn tool_calls_stream_as_start_and_argument_fragments_and_the_finish_comes_once() {
        let mut encoder = ChatStreamEncoder::new("chatcmpl-x", "m", 1, false);
        let mut out = Vec::new();
        for event in [
            StreamEvent::ReasoningSignature(Signature { origin: "anthropic".into(), value: "s".into() }),
            StreamEvent::ToolCallStart { index: 0, id: "toolu_01".into(), name: "get_weather".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: "{\"city".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: String::new() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: "\":\"Paris\"}".into() },
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::ToolCallStart { index: 1, id: String::new(), name: "get_time".into() },
            StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None },
            StreamEvent::TextDelta("late".into()),
            StreamEvent::Usage(Usage::default()),
        ] {
            out.extend(encoder.push(&event));
        }
        out.extend(encoder.finish());
        assert!(encoder.finish().is_empty() && encoder.is_done());
        let deltas: Vec<Value> = frames(&out)
            .into_iter()
            .filter_map(|c| c.get("choices").map(|ch| json!([ch[0]["delta"], ch[0]["finish_reason"]])))
            .collect();
        let synthetic = synthetic_call_id("chatcmpl-x:1:get_time");
        assert_eq!(
            deltas,
            [
                json!([{"role": "assistant", "content": ""}, null]),
                json!([{"tool_calls": [{"index": 0, "id": "toolu_01", "type": "function",
                                        "function": {"name": "get_weather", "arguments": ""}}]}, null]),
                json!([{"tool_calls": [{"index": 0, "function": {"arguments": "{\"city"}}]}, null]),
                json!([{"tool_calls": [{"index": 0, "function": {"arguments": "\":\"Paris\"}"}}]}, null]),
                json!([{"tool_calls": [{"index": 1, "id": synthetic, "type": "function",
                                        "function": {"name": "get_time", "arguments": ""}}]}, null]),
                json!([{}, "tool_calls"]),
            ]
        );
        assert!(out.ends_with(b"data: [DONE]\n\n"));
    }

    #[test]
    fn a_stream_without_a_finish_gets_one_at_the_end() {
        let mut encoder = ChatStreamEncoder::new("chatcmpl-x", "m", 1, true);
        let mut out = encoder.push(&StreamEvent::TextDelta("Hi".into()));
        out.extend(encoder.push(&StreamEvent::Usage(Usage { input_total: 5, output_total: 2, ..Usage::default() })));
        out.extend(encoder.finish());
        let chunks = frames(&out);
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[2]["choices"][0], json!({"index": 0, "delta": {}, "finish_reason": "stop"}));
        assert_eq!(chunks[3]["usage"]["total_tokens"], 7);
        assert_eq!(chunks[3]["choices"], json!([]));
    }

    #[test]
    fn an_error_ends_the_stream_with_an_error_frame_and_done() {
        let mut encoder = ChatStreamEncoder::new("chatcmpl-x", "m", 1, true);
        let mut out = encoder.push(&StreamEvent::TextDelta("Hi".into()));
        out.extend(encoder.error("upstream stream ended prematurely", "server_error"));
        let chunks = frames(&out);
        assert_eq!(
            chunks[2],
            json!({"error": {"message": "upstream stream ended prematurely", "type": "server_error",
                             "param": null, "code": null}})
        );
        assert_eq!(chunks[3], "[DONE]");
        assert!(encoder.finish().is_empty() && encoder.push(&StreamEvent::TextDelta("x".into())).is_empty());
    }

    fn response(parts: Vec<Part>, stop_reason: StopReason) -> Response {
        Response {
            id: "msg_01".into(),
            model: "anthropic/claude-sonnet-4-5".into(),
            parts,
            stop_reason,
            stop_sequence: None,
            usage: Usage { input_total: 1210, cache_read: 1000, cache_write: 24, output_total: 256, reasoning: 40 },
        }
    }

    #[test]
    fn a_completion_joins_text_and_reasoning_and_lists_tool_calls() {
        let parts = vec![
            Part::Reasoning { text: "First.".into(), signature: None, redacted: None },
            Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
            Part::Reasoning { text: "Second.".into(), signature: None, redacted: None },
            Part::Text { text: "Hel".into(), cache_control: None },
            Part::Text { text: "lo".into(), cache_control: None },
            Part::ToolCall(ToolCall {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
                signature: None,
            }),
            Part::ToolCall(ToolCall {
                id: "toolu_2".into(),
                name: "now".into(),
                arguments: String::new(),
                signature: None,
            }),
        ];
        let out = encode_completion(&response(parts, StopReason::ToolUse), true);
        let id = out["id"].as_str().unwrap();
        assert!(id.starts_with("chatcmpl-") && id.len() == 33, "{id}");
        assert_eq!(out["object"], "chat.completion");
        assert!(out["created"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(out["model"], "anthropic/claude-sonnet-4-5");
        assert_eq!(
            out["choices"],
            json!([{"index": 0, "message": {
                "role": "assistant", "content": "Hello", "reasoning_content": "First.\n\nSecond.",
                "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
                ],
                "refusal": null}, "logprobs": null, "finish_reason": "tool_calls"}])
        );
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens": 1210, "completion_tokens": 256, "total_tokens": 1466,
                   "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 24},
                   "completion_tokens_details": {"reasoning_tokens": 40}})
        );
    }

    #[test]
    fn tool_calls_without_text_give_null_content_and_reasoning_can_be_left_out() {
        let call =
            Part::ToolCall(ToolCall { id: String::new(), name: "f".into(), arguments: "{}".into(), signature: None });
        let thought = Part::Reasoning { text: "hm".into(), signature: None, redacted: None };
        let out = encode_completion(&response(vec![thought, call], StopReason::ToolUse), false);
        let message = &out["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert!(message.get("reasoning_content").is_none());
        assert!(message["tool_calls"][0]["id"].as_str().unwrap().starts_with("call_"));
        let refused = encode_completion(&response(vec![Part::Refusal("No.".into())], StopReason::Refusal), true);
        assert_eq!(refused["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(refused["choices"][0]["message"]["refusal"], "No.");
        assert_eq!(refused["choices"][0]["finish_reason"], "content_filter");
        let empty = encode_completion(&response(vec![], StopReason::EndTurn), true);
        assert_eq!(empty["choices"][0]["message"]["content"], "");
    }

    #[test]
    fn finish_reasons_map_per_the_table() {
        let cases = [
            (StopReason::EndTurn, "stop"),
            (StopReason::MaxTokens, "length"),
            (StopReason::ToolUse, "tool_calls"),
            (StopReason::StopSequence, "stop"),
            (StopReason::ContentFilter, "content_filter"),
            (StopReason::Refusal, "content_filter"),
        ];
        for (reason, wire) in cases {
            assert_eq!(finish_reason(reason), wire);
        }
    }
}
