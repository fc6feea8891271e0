//! Tests of the Anthropic upstream encoder and decoders.

use super::decode::native_signature;
use super::encode::{MISSING_RESULT_TEXT, encode_tool_choice};
use super::*;
use crate::formats::anthropic::decode_request;
use crate::formats::ir::ToolCall;
use crate::formats::ir::*;
use crate::formats::sse::SseDecoder;
use serde_json::{Value, json};

fn text(text: &str) -> Part {
    Part::Text { text: text.into(), cache_control: None }
}

fn call(id: &str, name: &str, arguments: &str) -> Part {
    Part::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments: arguments.into(), signature: None })
}

fn result(call_id: &str, content: &str) -> Part {
    Part::ToolResult(ToolResult { call_id: call_id.into(), content: vec![text(content)], is_error: false })
}

fn message(role: Role, parts: Vec<Part>) -> Message {
    Message { role, parts }
}

fn request(messages: Vec<Message>) -> Request {
    Request { model: "anthropic/claude-sonnet-4-5".into(), messages, ..Request::default() }
}

fn reasoning(text: &str, origin: Option<&str>) -> Part {
    Part::Reasoning {
        text: text.into(),
        signature: origin.map(|o| Signature { origin: o.into(), value: format!("sig-{o}") }),
        redacted: None,
    }
}

#[test]
fn tool_results_open_the_next_user_turn_in_call_order_and_same_roles_merge() {
    let req = request(vec![
        message(Role::User, vec![text("Weather and time?"), text("")]),
        message(Role::User, vec![text("In Paris.")]),
        message(Role::Assistant, vec![text("Checking."), call("call_1", "get_weather", r#"{"city":"Paris"}"#)]),
        message(Role::Assistant, vec![call("call.2", "get_time", "")]),
        message(Role::Tool, vec![result("call.2", "12:00")]),
        message(Role::User, vec![text("Also: be brief.")]),
        message(Role::Tool, vec![result("call_1", "21 C")]),
        message(Role::Assistant, vec![text("")]),
        message(Role::Assistant, vec![text("Sunny, noon.")]),
    ]);
    let out = encode_upstream(&req, "claude-sonnet-4-5", false).unwrap();
    assert_eq!(out.adjustments, Vec::<&str>::new());
    assert_eq!(
        out.body["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "Weather and time?"}, {"type": "text", "text": "In Paris."}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "21 C"}]},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "12:00"}]},
                {"type": "text", "text": "Also: be brief."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Sunny, noon."}]},
        ])
    );
    assert_eq!(out.body["model"], "claude-sonnet-4-5");
    assert_eq!(out.body["max_tokens"], DEFAULT_MAX_TOKENS);
    assert!(out.body.get("stream").is_none());
}

#[test]
fn a_leading_user_turn_is_added_and_unpaired_calls_and_results_are_repaired() {
    let req = request(vec![
        message(Role::Assistant, vec![call("call_1", "a", "{}"), call("call_2", "b", "{}")]),
        message(Role::Tool, vec![result("call_2", "ok"), result("call_9", "stray")]),
    ]);
    let out = encode_upstream(&req, "m", true).unwrap();
    assert_eq!(out.adjustments, ["tool_pairing_repaired", "leading_user_turn_added"]);
    assert_eq!(out.body["messages"][0], json!({"role": "user", "content": [{"type": "text", "text": "."}]}));
    assert_eq!(
        out.body["messages"][2]["content"],
        json!([
            {"type": "tool_result", "tool_use_id": "call_1", "content": MISSING_RESULT_TEXT, "is_error": true},
            {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "ok"}]},
            {"type": "text", "text": "Tool result (call_9): stray"},
        ])
    );
    assert_eq!(out.body["stream"], true);
}

#[test]
fn thinking_with_foreign_or_missing_signatures_is_dropped() {
    let mut req = request(vec![
        message(Role::User, vec![text("Hi")]),
        message(
            Role::Assistant,
            vec![
                reasoning("mine", Some("anthropic")),
                reasoning("gemini's", Some("gemini_cli")),
                reasoning("unsigned", None),
                Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
                text("Hello"),
            ],
        ),
        message(Role::User, vec![text("More")]),
    ]);
    req.reasoning = Some(Reasoning::BudgetTokens(2048));
    let body = encode_upstream_request(&req, "m", false).unwrap();
    assert_eq!(
        body["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "mine", "signature": "sig-anthropic"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Hello"},
        ])
    );
    assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 2048}));
}

#[test]
fn a_tool_turn_whose_thinking_was_dropped_disables_thinking() {
    let mut req = request(vec![
        message(Role::User, vec![text("Hi")]),
        message(Role::Assistant, vec![reasoning("theirs", Some("openai")), call("c1", "f", "{}")]),
        message(Role::Tool, vec![result("c1", "done")]),
    ]);
    req.reasoning = Some(Reasoning::Effort("high".into()));
    req.temperature = Some(0.2);
    let out = encode_upstream(&req, "m", false).unwrap();
    assert!(out.body.get("thinking").is_none());
    assert_eq!(out.adjustments, ["thinking_disabled"]);
    assert_eq!(out.body["temperature"], 0.2, "kept once thinking is off");
}

#[test]
fn reasoning_maps_to_thinking_budgets_per_the_effort_table() {
    let thinking = |reasoning: Reasoning, max: Option<u64>| {
        let mut req = request(vec![message(Role::User, vec![text("Hi")])]);
        req.reasoning = Some(reasoning);
        req.max_output_tokens = max;
        encode_upstream_request(&req, "m", false).unwrap().get("thinking").cloned()
    };
    let enabled = |b: u64| Some(json!({"type": "enabled", "budget_tokens": b}));
    assert_eq!(thinking(Reasoning::Effort("minimal".into()), Some(64000)), enabled(1024));
    assert_eq!(thinking(Reasoning::Effort("low".into()), Some(64000)), enabled(4096));
    assert_eq!(thinking(Reasoning::Effort("medium".into()), Some(64000)), enabled(16384));
    assert_eq!(thinking(Reasoning::Effort("high".into()), Some(64000)), enabled(32768));
    assert_eq!(thinking(Reasoning::Effort("max".into()), Some(100000)), enabled(65536));
    assert_eq!(thinking(Reasoning::Effort("high".into()), None), enabled(8191), "below max_tokens");
    assert_eq!(thinking(Reasoning::BudgetTokens(500), Some(4000)), enabled(1024), "at least 1024");
    assert_eq!(thinking(Reasoning::BudgetTokens(5000), Some(1024)), None, "no room to think");
    assert_eq!(thinking(Reasoning::Disabled, None), Some(json!({"type": "disabled"})));
    assert_eq!(thinking(Reasoning::Effort("none".into()), None), Some(json!({"type": "disabled"})));
}

#[test]
fn thinking_drops_sampling_parameters_and_a_forced_tool_choice_disables_it() {
    let mut req = request(vec![message(Role::User, vec![text("Hi")])]);
    req.reasoning = Some(Reasoning::BudgetTokens(2048));
    (req.temperature, req.top_p, req.top_k) = (Some(0.7), Some(0.5), Some(40));
    let out = encode_upstream(&req, "m", false).unwrap();
    assert_eq!(out.dropped_params, ["temperature", "top_p", "top_k"]);
    assert!(["temperature", "top_p", "top_k"].iter().all(|k| out.body.get(*k).is_none()));

    req.tools = vec![Tool::Function {
        name: "f".into(),
        description: None,
        parameters: Value::Null,
        strict: None,
        cache_control: None,
    }];
    req.tool_choice = Some(ToolChoice::Specific("f".into()));
    req.parallel_tool_calls = Some(false);
    req.temperature = Some(1.5);
    let out = encode_upstream(&req, "m", false).unwrap();
    assert_eq!(out.adjustments, ["thinking_disabled"]);
    assert_eq!(out.body["tool_choice"], json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}));
    assert_eq!(out.body["tools"], json!([{"name": "f", "input_schema": {"type": "object", "properties": {}}}]));
    assert_eq!(out.body["temperature"], 1.0, "clamped to Anthropic's range");
}

#[test]
fn parallel_false_without_a_choice_rides_on_auto_and_none_stays_bare() {
    let choice = |c: Option<&ToolChoice>| encode_tool_choice(c, Some(false), true);
    assert_eq!(choice(None), Some(json!({"type": "auto", "disable_parallel_tool_use": true})));
    assert_eq!(choice(Some(&ToolChoice::None)), Some(json!({"type": "none"})));
    assert_eq!(choice(Some(&ToolChoice::Required)), Some(json!({"type": "any", "disable_parallel_tool_use": true})));
    assert_eq!(encode_tool_choice(Some(&ToolChoice::Auto), None, false), None, "no tools, no choice");
}

/// A Messages request of the kind Claude Code sends: many tools, cached system blocks,
/// thinking, and a tool round in the history.
fn claude_code_request() -> Value {
    let tools: Vec<Value> = (0..20)
        .map(|i| {
            let mut tool = json!({
                "name": format!("tool_{i}"),
                "description": format!("Tool number {i}"),
                "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}, "required": ["arg"]},
            });
            if i == 19 {
                tool["cache_control"] = json!({"type": "ephemeral"});
            }
            tool
        })
        .chain([json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 3})])
        .collect();
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Read the file."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should read it.", "signature": "EqQBCkYIBxgCKkA"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_01A", "name": "tool_3", "input": {"arg": "a.rs", "z": {"b": 1, "a": 2}}},
                {"type": "tool_use", "id": "toolu_01B", "name": "tool_4", "input": {"arg": "b.rs"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": [{"type": "text", "text": "fn main() {}"}]},
                {"type": "tool_result", "tool_use_id": "toolu_01B", "content": [{"type": "text", "text": "gone"}], "is_error": true},
                {"type": "text", "text": "Now fix it.", "cache_control": {"type": "ephemeral"}},
            ]},
        ],
        "tools": tools,
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "top_p": 0.97,
        "stop_sequences": ["\n\nHuman:"],
        "metadata": {"user_id": "user_abc_session_123"},
    })
}

#[test]
fn a_messages_request_passes_through_the_canonical_model_unchanged() {
    let original = claude_code_request();
    let req = decode_request(original.to_string().as_bytes()).unwrap();
    let out = encode_upstream(&req, "claude-sonnet-4-5", true).unwrap();
    assert!(out.adjustments.is_empty() && out.dropped_params.is_empty(), "{out:?}");
    assert_eq!(Value::Object(out.body.clone()), original);
    let order: Vec<&str> =
        out.body["messages"][1]["content"][3]["input"]["z"].as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(order, ["b", "a"], "input key order is kept");
}

#[test]
fn a_message_body_decodes_with_usage_summed_over_the_cache() {
    let body = json!({
        "id": "msg_01X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "EqQB"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Calling."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "a": 1}},
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 186, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 24,
                  "output_tokens": 256},
    });
    let resp = decode_upstream_response(body.as_object().unwrap(), "anthropic/claude-sonnet-4-5").unwrap();
    assert_eq!(resp.id, "msg_01X");
    assert_eq!(resp.model, "anthropic/claude-sonnet-4-5");
    assert_eq!(
        resp.parts,
        [
            Part::Reasoning { text: "Hmm.".into(), signature: Some(native_signature("EqQB".into())), redacted: None },
            Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
            text("Calling."),
            call("toolu_1", "get_weather", r#"{"city":"Paris","a":1}"#),
        ]
    );
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(
        resp.usage,
        Usage { input_total: 1210, cache_read: 1000, cache_write: 24, output_total: 256, reasoning: 0 }
    );
    let stopped = json!({"content": [], "stop_reason": "stop_sequence", "stop_sequence": "###"});
    let resp = decode_upstream_response(stopped.as_object().unwrap(), "m").unwrap();
    assert_eq!((resp.stop_reason, resp.stop_sequence.as_deref()), (StopReason::StopSequence, Some("###")));
    assert!(decode_upstream_response(json!({"content": "x"}).as_object().unwrap(), "m").is_err());
}

/// An upstream stream with thinking, text and a tool call whose input arrives in fragments.
const TOOL_STREAM: &str = concat!(
    "event: message_start\n",
    r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":186,"cache_read_input_tokens":1024,"cache_creation_input_tokens":0,"output_tokens":1}}}"#,
    "\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
    "event: content_block_start\n",
    r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
    "\r\n\r\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Météo → outil 😀"}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkY"}}"#,
    "\n\nevent: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":0}"#,
    "\n\nevent: content_block_start\n",
    r#"data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking."}}"#,
    "\n\nevent: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":1}"#,
    "\n\nevent: content_block_start\n",
    r#"data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city"}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\": \"Paris\"}"}}"#,
    "\n\nevent: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":2}"#,
    "\n\nevent: message_delta\n",
    r#"data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":90}}"#,
    "\n\nevent: message_delta\n",
    r#"data: {"type":"message_delta","delta":{},"usage":{"output_tokens":97}}"#,
    "\n\nevent: message_stop\n",
    r#"data: {"type":"message_stop"}"#,
    "\n\n",
);

/// Feeds SSE bytes in the given pieces through an [`SseDecoder`] and a
/// [`MessagesStreamDecoder`].
fn decode_stream<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> (Vec<StreamEvent>, bool) {
    let mut sse = SseDecoder::new();
    let mut raw = Vec::new();
    for piece in pieces {
        sse.push(piece, &mut raw);
    }
    sse.finish(&mut raw);
    let mut decoder = MessagesStreamDecoder::new();
    let mut events = Vec::new();
    for event in raw {
        let data: Value = serde_json::from_str(&event.data).unwrap();
        let data = data.as_object().unwrap();
        let kind = event.event.unwrap_or_else(|| data["type"].as_str().unwrap().to_string());
        events.extend(decoder.push(&kind, data));
    }
    events.extend(decoder.finish());
    (events, decoder.completed())
}

#[test]
fn a_tool_use_stream_decodes_to_canonical_events() {
    let (events, completed) = decode_stream([TOOL_STREAM.as_bytes()]);
    assert!(completed);
    let first_usage = Usage { input_total: 1210, cache_read: 1024, cache_write: 0, output_total: 1, reasoning: 0 };
    assert_eq!(
        events,
        [
            StreamEvent::Usage(first_usage),
            StreamEvent::ReasoningDelta("Météo → outil 😀".into()),
            StreamEvent::ReasoningSignature(native_signature("EqQBCkY".into())),
            StreamEvent::TextDelta("Checking.".into()),
            StreamEvent::ToolCallStart { index: 0, id: "toolu_01".into(), name: "get_weather".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: "{\"city".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: "\": \"Paris\"}".into() },
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None },
            StreamEvent::Usage(Usage { output_total: 97, ..first_usage }),
        ]
    );
}

#[test]
fn every_byte_split_of_an_upstream_stream_gives_the_same_events() {
    let bytes = TOOL_STREAM.as_bytes();
    let whole = decode_stream([bytes]);
    for cut in 1..bytes.len() {
        assert_eq!(decode_stream([&bytes[..cut], &bytes[cut..]]), whole, "split at byte {cut}");
    }
    assert_eq!(decode_stream(bytes.chunks(1)), whole, "one byte at a time");
}

#[test]
fn parallel_tool_blocks_count_calls_from_zero_and_a_stream_without_message_stop_is_incomplete() {
    let mut decoder = MessagesStreamDecoder::new();
    let push = |d: &mut MessagesStreamDecoder, v: Value| {
        let kind = v["type"].as_str().unwrap().to_string();
        d.push(&kind, v.as_object().unwrap())
    };
    let start = |index: u64, id: &str| {
        json!({"type": "content_block_start", "index": index,
               "content_block": {"type": "tool_use", "id": id, "name": "f", "input": {}}})
    };
    assert_eq!(
        push(&mut decoder, start(1, "toolu_a")),
        [StreamEvent::ToolCallStart { index: 0, id: "toolu_a".into(), name: "f".into() }]
    );
    push(&mut decoder, json!({"type": "content_block_stop", "index": 1}));
    assert_eq!(
        push(&mut decoder, start(2, "toolu_b")),
        [StreamEvent::ToolCallStart { index: 1, id: "toolu_b".into(), name: "f".into() }]
    );
    assert!(push(&mut decoder, json!({"type": "error", "error": {"type": "overloaded_error"}})).is_empty());
    assert!(decoder.finish().is_empty());
    assert!(!decoder.completed(), "EOF before message_stop is premature");
    let done = push(&mut decoder, json!({"type": "message_stop"}));
    assert_eq!(
        done[..2],
        [
            StreamEvent::ToolCallEnd { index: 1 },
            StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None }
        ]
    );
    assert!(decoder.completed());
}

#[test]
fn system_messages_lead_into_the_prompt_or_stay_in_place() {
    let system = |t: &str| message(Role::System, vec![text(t)]);
    let mut req = request(vec![
        system("first"),
        message(Role::User, vec![text("hi")]),
        message(Role::Assistant, vec![call("c1", "ls", "{}")]),
        system("between"),
        message(Role::Tool, vec![result("c1", "a.txt")]),
        system("later"),
        message(Role::User, vec![text("next")]),
    ]);
    req.system = vec![text("top")];
    let encoded = encode_upstream(&req, "claude-sonnet-4-5", false).unwrap();
    let body = Value::Object(encoded.body);
    assert_eq!(body["system"], json!([{"type": "text", "text": "top"}, {"type": "text", "text": "first"}]));
    let roles: Vec<&str> = body["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "system", "system", "user"]);
    assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(body["messages"][3]["content"], json!([{"type": "text", "text": "between"}]));
    assert!(encoded.adjustments.is_empty(), "{:?}", encoded.adjustments);
}
