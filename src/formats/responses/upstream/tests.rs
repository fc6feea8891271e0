//! Tests of the Responses upstream encoder and decoders.

use serde_json::{Value, json};

use super::*;
use crate::formats::failure::ErrorClass;
use crate::formats::ir::*;
use crate::formats::relay::UpstreamDecoder;
use crate::formats::sse::SseEvent;

const ORIGIN: &str = "openai";

fn text(text: &str) -> Part {
    Part::Text { text: text.into(), cache_control: None }
}

fn message(role: Role, parts: Vec<Part>) -> Message {
    Message { role, parts }
}

fn signed(text: &str, origin: &str) -> Part {
    Part::Reasoning {
        text: text.into(),
        signature: Some(Signature { origin: origin.into(), value: format!("enc-{origin}") }),
        redacted: None,
    }
}

fn encode(req: &Request) -> UpstreamRequest {
    encode_upstream(req, "gpt-5", ORIGIN, false).unwrap()
}

#[test]
fn a_tool_conversation_becomes_instructions_and_input_items_in_order() {
    let req = Request {
        model: "openai/gpt-5".into(),
        system: vec![text("be brief"), text("use tools")],
        messages: vec![
            message(
                Role::User,
                vec![
                    text("weather?"),
                    Part::Image(ImageSource::Base64 { media_type: "image/png".into(), data: "AA==".into() }),
                ],
            ),
            message(
                Role::Assistant,
                vec![
                    signed("thinking about it", ORIGIN),
                    signed("foreign", "anthropic"),
                    text("let me look"),
                    Part::ToolCall(ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: r#"{"city":"Paris"}"#.into(),
                        signature: None,
                    }),
                ],
            ),
            message(
                Role::Tool,
                vec![Part::ToolResult(ToolResult {
                    call_id: "call_1".into(),
                    content: vec![text("sunny")],
                    is_error: false,
                })],
            ),
            message(Role::System, vec![text("answer in French")]),
        ],
        ..Request::default()
    };
    let body = encode(&req).body;
    assert_eq!(body["instructions"], "be brief\n\nuse tools");
    assert_eq!(
        body["input"],
        json!([
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "weather?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "auto"},
            ]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking about it"}],
                "encrypted_content": "enc-openai"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "let me look"}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "answer in French"}]},
        ])
    );
    assert_eq!(body["store"], false);
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert!(body.get("stream").is_none());
}

#[test]
fn request_fields_map_and_what_cannot_be_sent_is_named() {
    let req = Request {
        model: "openai/gpt-5".into(),
        messages: vec![message(Role::User, vec![text("hi")])],
        tools: vec![
            Tool::Function {
                name: "f".into(),
                description: Some("does f".into()),
                parameters: json!({"type": "object", "properties": {"x": {"type": "string"}}}),
                strict: None,
                cache_control: None,
            },
            Tool::Server { kind: "web_search_20250305".into(), raw: serde_json::Map::new() },
        ],
        tool_choice: Some(ToolChoice::Specific("f".into())),
        parallel_tool_calls: Some(false),
        max_output_tokens: Some(8),
        temperature: Some(0.5),
        top_p: Some(0.9),
        top_k: Some(40),
        stop: vec!["END".into()],
        reasoning: Some(Reasoning::BudgetTokens(10_000)),
        response_format: Some(ResponseFormat::JsonSchema {
            name: None,
            schema: json!({"type": "object"}),
            strict: Some(true),
        }),
        stream: true,
        ..Request::default()
    };
    let encoded = encode_upstream(&req, "gpt-5", ORIGIN, true).unwrap();
    let body = Value::Object(encoded.body);
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "name": "f", "description": "does f",
            "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}, "strict": false}])
    );
    assert_eq!(body["tool_choice"], json!({"type": "function", "name": "f"}));
    assert_eq!(body["parallel_tool_calls"], false);
    assert_eq!(body["max_output_tokens"], 16);
    assert_eq!((body["temperature"].clone(), body["top_p"].clone()), (json!(0.5), json!(0.9)));
    assert_eq!(body["reasoning"], json!({"effort": "medium"}));
    assert_eq!(
        body["text"],
        json!({"format": {"type": "json_schema", "name": "response", "schema": {"type": "object"}, "strict": true}})
    );
    assert_eq!(body["stream"], true);
    assert_eq!(encoded.dropped_params, ["tools", "top_k", "stop"]);
    assert_eq!(encoded.adjustments, ["max_output_tokens_raised_to_16"]);

    let plain = Request {
        response_format: Some(ResponseFormat::JsonObject),
        reasoning: Some(Reasoning::Disabled),
        tool_choice: Some(ToolChoice::Required),
        ..req.clone()
    };
    let encoded = encode_upstream(&plain, "gpt-4.1", ORIGIN, false).unwrap();
    assert_eq!(encoded.body["text"], json!({"format": {"type": "json_object"}}));
    assert_eq!(encoded.body["tool_choice"], "required");
    assert!(encoded.body.get("reasoning").is_none() && encoded.dropped_params.contains(&"reasoning"));
    assert!(encoded.body.get("include").is_none(), "gpt-4.1 refuses encrypted reasoning");
}

#[test]
fn encrypted_reasoning_is_asked_of_reasoning_models_only() {
    for model in ["gpt-5", "o3", "gpt-5.1-codex", "grok-4", "unknown-model"] {
        assert!(keeps_encrypted_reasoning(model), "{model}");
    }
    for model in ["gpt-4o", "gpt-4.1-mini", "chatgpt-4o-latest", "gpt-5-chat-latest"] {
        assert!(!keeps_encrypted_reasoning(model), "{model}");
    }
}

#[test]
fn a_signature_kept_on_a_call_goes_back_as_the_reasoning_before_it_once() {
    let own = Signature { origin: ORIGIN.into(), value: "enc-openai".into() };
    let foreign = Signature { origin: "gemini".into(), value: "g".into() };
    let call = |id: &str, signature: &Signature| {
        Part::ToolCall(ToolCall {
            id: id.into(),
            name: "f".into(),
            arguments: "{}".into(),
            signature: Some(signature.clone()),
        })
    };
    let turn = |parts: Vec<Part>| Request { messages: vec![message(Role::Assistant, parts)], ..Request::default() };
    let input = encode(&turn(vec![signed("", ORIGIN), call("c1", &own), call("c2", &foreign), call("c3", &own)])).body
        ["input"]
        .clone();
    let kinds: Vec<&str> = input.as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reasoning", "function_call", "function_call", "function_call"]);
    assert_eq!(
        encode(&turn(vec![call("c1", &own)])).body["input"][0],
        json!({"type": "reasoning", "summary": [], "encrypted_content": "enc-openai"})
    );
}

#[test]
fn tool_results_with_images_are_part_lists_and_user_tool_calls_are_refused() {
    let req = Request {
        messages: vec![message(
            Role::User,
            vec![Part::ToolResult(ToolResult {
                call_id: "c".into(),
                content: vec![text("chart:"), Part::Image(ImageSource::Url("https://x/y.png".into()))],
                is_error: false,
            })],
        )],
        ..Request::default()
    };
    assert_eq!(
        encode(&req).body["input"][0]["output"],
        json!([{"type": "input_text", "text": "chart:"}, {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"}])
    );
    let bad = Request {
        messages: vec![message(
            Role::User,
            vec![Part::ToolCall(ToolCall {
                id: "c".into(),
                name: "f".into(),
                arguments: "{}".into(),
                signature: None,
            })],
        )],
        ..Request::default()
    };
    assert_eq!(encode_upstream(&bad, "gpt-5", ORIGIN, false).unwrap_err().param.as_deref(), Some("messages[0]"));
}

fn complete_body() -> Value {
    json!({
        "id": "resp_1", "object": "response", "status": "completed",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
                "encrypted_content": "gAAA"},
            {"type": "message", "id": "msg_1", "role": "assistant", "content": [
                {"type": "output_text", "text": "Hello", "annotations": []},
                {"type": "refusal", "refusal": "not that"},
            ]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": ""},
            {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ],
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 130},
    })
}

#[test]
fn a_complete_body_decodes_to_parts_stop_and_usage() {
    let response = decode_upstream_response(complete_body().as_object().unwrap(), "openai/gpt-5", ORIGIN).unwrap();
    assert_eq!(response.id, "resp_1");
    assert_eq!(
        response.parts,
        vec![
            Part::Reasoning {
                text: "a\n\nb".into(),
                signature: Some(Signature { origin: ORIGIN.into(), value: "gAAA".into() }),
                redacted: None
            },
            text("Hello"),
            Part::Refusal("not that".into()),
            Part::ToolCall(ToolCall { id: "call_1".into(), name: "f".into(), arguments: "{}".into(), signature: None }),
            Part::ToolCall(ToolCall {
                id: "call_2".into(),
                name: "apply_patch".into(),
                arguments: r#"{"input":"*** Begin Patch"}"#.into(),
                signature: None
            }),
        ]
    );
    assert_eq!(response.stop_reason, StopReason::ToolUse);
    assert_eq!(
        response.usage,
        Usage { input_total: 100, cache_read: 60, cache_write: 0, output_total: 30, reasoning: 12 }
    );
}

#[test]
fn incomplete_answers_stop_at_the_limit_or_the_filter_and_failures_are_found() {
    let stop = |reason: &str| {
        let body = json!({"id": "r", "object": "response", "status": "incomplete", "incomplete_details": {"reason": reason},
            "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hel"}]}]});
        decode_upstream_response(body.as_object().unwrap(), "m", ORIGIN).unwrap().stop_reason
    };
    assert_eq!(stop("max_output_tokens"), StopReason::MaxTokens);
    assert_eq!(stop("content_filter"), StopReason::ContentFilter);

    let failed = json!({"id": "r", "object": "response", "status": "failed", "output": [],
        "error": {"code": "rate_limit_exceeded", "message": "Please try again in 3s."}});
    let failure = error_in_body(failed.as_object().unwrap()).unwrap();
    assert_eq!((failure.class, failure.retry_after), (ErrorClass::RateLimit, Some(std::time::Duration::from_secs(3))));
    assert!(error_in_body(complete_body().as_object().unwrap()).is_none());
    let bare = json!({"error": {"message": "boom", "type": "server_error", "code": "server_error"}});
    assert_eq!(error_in_body(bare.as_object().unwrap()).unwrap().class, ErrorClass::ServerError);
}

fn sse(data: Value) -> SseEvent {
    SseEvent { event: data["type"].as_str().map(str::to_string), data: data.to_string() }
}

/// Every canonical event of a stream, and whether it ended with its terminal event.
fn decode_stream(events: &[Value]) -> (Vec<StreamEvent>, bool) {
    let mut decoder = ResponsesDecoder::new(ORIGIN);
    let mut out = Vec::new();
    for event in events {
        let decoded = decoder.event(&sse(event.clone())).unwrap();
        out.extend(decoded.events);
        if decoded.terminal {
            return (out, true);
        }
    }
    (out, false)
}

#[test]
fn a_stream_decodes_reasoning_text_and_calls() {
    let events = [
        json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "output": []}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.reasoning_summary_part.added", "output_index": 0, "summary_index": 0}),
        json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "think"}),
        json!({"type": "response.reasoning_summary_part.added", "output_index": 0, "summary_index": 1}),
        json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 1, "delta": "more"}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "think"}, {"type": "summary_text", "text": "more"}], "encrypted_content": "gAAA"}}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "id": "msg_1", "content": []}}),
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "Hi"}),
        json!({"type": "response.some_future_event", "output_index": 1}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "message", "id": "msg_1",
            "content": [{"type": "output_text", "text": "Hi"}]}}),
        json!({"type": "response.output_item.added", "output_index": 2, "item": {"type": "function_call", "id": "fc_1",
            "call_id": "call_1", "name": "f", "arguments": ""}}),
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2, "delta": "{\"a\":"}),
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2, "delta": "1}"}),
        json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 2, "arguments": "{\"a\":1}"}),
        json!({"type": "response.output_item.done", "output_index": 2, "item": {"type": "function_call", "id": "fc_1",
            "call_id": "call_1", "name": "f", "arguments": "{\"a\":1}"}}),
        // A call whose arguments arrive only with its done item.
        json!({"type": "response.output_item.added", "output_index": 3, "item": {"type": "function_call", "id": "fc_2",
            "call_id": "call_2", "name": "g", "arguments": ""}}),
        json!({"type": "response.output_item.done", "output_index": 3, "item": {"type": "function_call", "id": "fc_2",
            "call_id": "call_2", "name": "g", "arguments": "{}"}}),
        json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed",
            "usage": {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 7,
                "output_tokens_details": {"reasoning_tokens": 3}}}}),
        json!({"type": "response.output_text.delta", "output_index": 9, "delta": "after the end"}),
    ];
    let (decoded, terminal) = decode_stream(&events);
    assert!(terminal);
    let usage = Usage { input_total: 9, cache_read: 4, cache_write: 0, output_total: 7, reasoning: 3 };
    assert_eq!(
        decoded,
        vec![
            StreamEvent::ReasoningDelta("think".into()),
            StreamEvent::ReasoningDelta("\n\n".into()),
            StreamEvent::ReasoningDelta("more".into()),
            StreamEvent::ReasoningSignature(Signature { origin: ORIGIN.into(), value: "gAAA".into() }),
            StreamEvent::TextDelta("Hi".into()),
            StreamEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "f".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: "{\"a\":".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: "1}".into() },
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::ToolCallStart { index: 1, id: "call_2".into(), name: "g".into() },
            StreamEvent::ToolCallDelta { index: 1, json_fragment: "{}".into() },
            StreamEvent::ToolCallEnd { index: 1 },
            StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None },
            StreamEvent::Usage(usage),
        ]
    );
}

#[test]
fn custom_calls_refusals_and_items_without_deltas_are_decoded() {
    let events = [
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "m", "content": []}}),
        json!({"type": "response.refusal.delta", "output_index": 0, "delta": "no"}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "message", "id": "m",
            "content": [{"type": "refusal", "refusal": "no"}]}}),
        // Whole items with no deltas before them.
        json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "reasoning", "id": "rs",
            "summary": [{"type": "summary_text", "text": "why"}]}}),
        json!({"type": "response.output_item.done", "output_index": 2, "item": {"type": "message", "id": "m2",
            "content": [{"type": "output_text", "text": "whole"}]}}),
        json!({"type": "response.output_item.added", "output_index": 3, "item": {"type": "custom_tool_call", "id": "ct",
            "call_id": "call_p", "name": "apply_patch", "input": ""}}),
        json!({"type": "response.custom_tool_call_input.delta", "output_index": 3, "item_id": "ct", "delta": "*** Begin"}),
        json!({"type": "response.custom_tool_call_input.delta", "output_index": 3, "item_id": "ct", "delta": " Patch"}),
        json!({"type": "response.incomplete", "response": {"status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"}, "usage": {"input_tokens": 1, "output_tokens": 2}}}),
    ];
    let (decoded, terminal) = decode_stream(&events);
    assert!(terminal);
    assert_eq!(
        decoded,
        vec![
            StreamEvent::TextDelta("no".into()),
            StreamEvent::ReasoningDelta("why".into()),
            StreamEvent::TextDelta("whole".into()),
            StreamEvent::ToolCallStart { index: 0, id: "call_p".into(), name: "apply_patch".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: r#"{"input":"*** Begin Patch"}"#.into() },
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::Finish { stop_reason: StopReason::MaxTokens, stop_sequence: None },
            StreamEvent::Usage(Usage { input_total: 1, output_total: 2, ..Usage::default() }),
        ]
    );
}

#[test]
fn failures_in_the_stream_are_classified_and_an_early_end_is_premature() {
    let mut decoder = ResponsesDecoder::new(ORIGIN);
    let failed = json!({"type": "response.failed", "response": {"status": "failed",
        "error": {"code": "rate_limit_exceeded", "message": "Rate limit reached. Please try again in 20s."}}});
    let failure = decoder.event(&sse(failed)).err().expect("a failure");
    assert_eq!(failure.class, ErrorClass::RateLimit);
    assert_eq!(failure.retry_after, Some(std::time::Duration::from_secs(20)));
    assert_eq!(failure.code.as_deref(), Some("rate_limit_exceeded"));

    let error = json!({"type": "error", "code": "context_length_exceeded", "message": "too long", "param": "input"});
    assert_eq!(
        ResponsesDecoder::new(ORIGIN).event(&sse(error)).err().expect("a failure").class,
        ErrorClass::ContextWindow
    );
    let nested = json!({"type": "error", "error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "pay"}});
    assert_eq!(ResponsesDecoder::new(ORIGIN).event(&sse(nested)).err().expect("a failure").class, ErrorClass::Billing);
    let server = json!({"type": "response.failed", "response": {"status": "failed", "error": {"code": "server_error", "message": "x"}}});
    assert_eq!(
        ResponsesDecoder::new(ORIGIN).event(&sse(server)).err().expect("a failure").class,
        ErrorClass::ServerError
    );

    let mut decoder = ResponsesDecoder::new(ORIGIN);
    assert!(decoder.end().is_err());
    let delta = json!({"type": "response.output_text.delta", "output_index": 0, "delta": "x"});
    decoder.event(&sse(delta)).unwrap();
    assert_eq!(decoder.end().unwrap_err().message, "upstream stream ended prematurely");
}
