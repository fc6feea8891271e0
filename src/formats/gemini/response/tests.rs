use serde_json::json;

use super::*;
use crate::formats::gemini::{ORIGIN, signature_from_client};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn decode(body: Value) -> Response {
    decode_upstream_response(&object(body), "gemini/gemini-2.5-flash", ORIGIN).unwrap()
}

fn sig(origin: &str, value: &str) -> Option<Signature> {
    Some(Signature { origin: origin.into(), value: value.into() })
}

fn text(text: &str) -> Part {
    Part::Text { text: text.into(), cache_control: None }
}

fn thought(text: &str, signature: Option<Signature>) -> Part {
    Part::Reasoning { text: text.into(), signature, redacted: None }
}

fn call(id: &str, name: &str, arguments: &str, signature: Option<Signature>) -> Part {
    Part::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments: arguments.into(), signature })
}

fn response(parts: Vec<Part>, stop_reason: StopReason, usage: Usage) -> Response {
    Response {
        id: "Zq3abcdefghijklmnopqrs".into(),
        model: "gemini/gemini-2.5-flash".into(),
        parts,
        stop_reason,
        stop_sequence: None,
        usage,
    }
}

#[test]
fn thoughts_text_and_signed_call_decode_with_usage_and_id() {
    let resp = decode(json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Let me check", "thought": true, "thoughtSignature": "CiQBsig1"},
                {"text": "Checking the weather."},
                {"functionCall": {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris", "units": "C"}},
                 "thoughtSignature": "CiQBsig2"},
            ]},
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
        }],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 30,
                          "cachedContentTokenCount": 40, "totalTokenCount": 150},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-abc",
    }));
    assert_eq!(resp.id, "resp-abc");
    assert_eq!(resp.model, "gemini/gemini-2.5-flash");
    assert_eq!(
        resp.parts,
        vec![
            thought("Let me check", sig(ORIGIN, "CiQBsig1")),
            text("Checking the weather."),
            call("fc_1", "get_weather", r#"{"city":"Paris","units":"C"}"#, sig(ORIGIN, "CiQBsig2")),
        ]
    );
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(resp.stop_sequence, None);
    assert_eq!(resp.usage, Usage { input_total: 100, cache_read: 40, cache_write: 0, output_total: 50, reasoning: 30 });
}

#[test]
fn signatures_are_recorded_with_the_serving_provider() {
    let body = object(json!({"candidates": [{"content": {"parts": [
        {"text": "hm", "thought": true, "thoughtSignature": "S1"},
    ]}, "finishReason": "STOP"}]}));
    let resp = decode_upstream_response(&body, "gemini_cli/gemini-2.5-pro", "gemini_cli").unwrap();
    assert_eq!(resp.parts, vec![thought("hm", sig("gemini_cli", "S1"))]);
}

#[test]
fn every_finish_reason_maps_per_the_table() {
    let cases = [
        (Some("STOP"), false, StopReason::EndTurn),
        (Some("STOP"), true, StopReason::ToolUse),
        (None, false, StopReason::EndTurn),
        (None, true, StopReason::ToolUse),
        (Some("MAX_TOKENS"), false, StopReason::MaxTokens),
        (Some("MAX_TOKENS"), true, StopReason::MaxTokens),
        (Some("SAFETY"), false, StopReason::ContentFilter),
        (Some("RECITATION"), false, StopReason::ContentFilter),
        (Some("BLOCKLIST"), false, StopReason::ContentFilter),
        (Some("PROHIBITED_CONTENT"), false, StopReason::ContentFilter),
        (Some("SPII"), false, StopReason::ContentFilter),
        (Some("IMAGE_SAFETY"), false, StopReason::ContentFilter),
        (Some("IMAGE_PROHIBITED_CONTENT"), false, StopReason::ContentFilter),
        (Some("IMAGE_RECITATION"), false, StopReason::ContentFilter),
        (Some("LANGUAGE"), false, StopReason::ContentFilter),
        (Some("SAFETY"), true, StopReason::ContentFilter),
        // malformed_tool_call and other have no canonical variant: end of turn, as Chat and
        // Messages render them.
        (Some("MALFORMED_FUNCTION_CALL"), false, StopReason::EndTurn),
        (Some("UNEXPECTED_TOOL_CALL"), false, StopReason::EndTurn),
        (Some("TOO_MANY_TOOL_CALLS"), false, StopReason::EndTurn),
        (Some("OTHER"), false, StopReason::EndTurn),
        (Some("OTHER"), true, StopReason::EndTurn),
        (Some("FINISH_REASON_UNSPECIFIED"), false, StopReason::EndTurn),
        (Some("IMAGE_OTHER"), false, StopReason::EndTurn),
        (Some("NO_IMAGE"), false, StopReason::EndTurn),
        (Some("SOMETHING_NEW"), false, StopReason::EndTurn),
    ];
    for (reason, has_calls, expected) in cases {
        assert_eq!(stop_reason(reason, has_calls), expected, "{reason:?} with calls: {has_calls}");
    }
    // Through the whole body too.
    let resp =
        decode(json!({"candidates": [{"content": {"parts": [{"text": "partial"}]}, "finishReason": "MAX_TOKENS"}]}));
    assert_eq!(resp.stop_reason, StopReason::MaxTokens);
    let resp = decode(json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f"}}]}}]}));
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
}

#[test]
fn every_canonical_stop_reason_has_a_gemini_finish_reason() {
    assert_eq!(finish_reason(StopReason::EndTurn), "STOP");
    assert_eq!(finish_reason(StopReason::StopSequence), "STOP");
    assert_eq!(finish_reason(StopReason::ToolUse), "STOP");
    assert_eq!(finish_reason(StopReason::MaxTokens), "MAX_TOKENS");
    assert_eq!(finish_reason(StopReason::ContentFilter), "SAFETY");
    assert_eq!(finish_reason(StopReason::Refusal), "SAFETY");
}

#[test]
fn usage_counts_tool_prompts_as_input_and_thoughts_as_output() {
    let usage = decode_usage(&json!({
        "promptTokenCount": 1000, "toolUsePromptTokenCount": 50, "cachedContentTokenCount": 600,
        "candidatesTokenCount": 120, "thoughtsTokenCount": 80, "totalTokenCount": 1250,
    }));
    assert_eq!(usage, Usage { input_total: 1050, cache_read: 600, cache_write: 0, output_total: 200, reasoning: 80 });
    assert_eq!(decode_usage(&json!({"promptTokenCount": 7})), Usage { input_total: 7, ..Usage::default() });
    assert_eq!(decode_usage(&json!("garbage")), Usage::default());
    assert_eq!(decode_usage(&json!({"promptTokenCount": -3, "candidatesTokenCount": "9"})), Usage::default());
}

#[test]
fn usage_metadata_splits_thoughts_out_and_omits_zero_details() {
    let usage = Usage { input_total: 1050, cache_read: 600, cache_write: 0, output_total: 200, reasoning: 80 };
    assert_eq!(
        usage_metadata(&usage),
        json!({"promptTokenCount": 1050, "cachedContentTokenCount": 600, "candidatesTokenCount": 120,
               "thoughtsTokenCount": 80, "totalTokenCount": 1250})
    );
    assert_eq!(decode_usage(&usage_metadata(&usage)), usage);
    let plain = Usage { input_total: 12, output_total: 3, ..Usage::default() };
    assert_eq!(
        usage_metadata(&plain),
        json!({"promptTokenCount": 12, "candidatesTokenCount": 3, "totalTokenCount": 15})
    );
    // Inconsistent numbers never underflow.
    let odd = Usage { input_total: 1, cache_read: 0, cache_write: 9, output_total: 2, reasoning: 5 };
    assert_eq!(usage_metadata(&odd)["candidatesTokenCount"], 0);
}

#[test]
fn code_assist_envelope_is_unwrapped() {
    let resp = decode(json!({
        "response": {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1, "totalTokenCount": 6},
            "responseId": "ca-1",
        },
        "traceId": "t-9",
    }));
    assert_eq!(resp.id, "ca-1");
    assert_eq!(resp.parts, vec![text("hi")]);
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
    assert_eq!(resp.usage, Usage { input_total: 5, output_total: 1, ..Usage::default() });
}

#[test]
fn blocked_prompt_is_an_empty_content_filtered_answer() {
    let resp = decode(json!({
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
    }));
    assert!(resp.parts.is_empty());
    assert_eq!(resp.stop_reason, StopReason::ContentFilter);
    assert_eq!(resp.usage.input_total, 9);
    let resp = decode(json!({"candidates": [], "promptFeedback": {"blockReason": "SAFETY"}}));
    assert_eq!(resp.stop_reason, StopReason::ContentFilter);
    // A candidate stopped for safety, without content.
    let resp = decode(json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]}));
    assert!(resp.parts.is_empty());
    assert_eq!(resp.stop_reason, StopReason::ContentFilter);
    // No candidates and nothing blocked: an empty answer, for the caller to judge.
    let resp = decode(json!({"usageMetadata": {"promptTokenCount": 3}}));
    assert!(resp.parts.is_empty());
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
}

#[test]
fn calls_without_id_get_a_deterministic_synthetic_one_and_args_default_to_an_object() {
    let body = json!({"responseId": "r1", "candidates": [{"content": {"parts": [
        {"functionCall": {"name": "get_time"}},
        {"functionCall": {"name": "get_time", "args": {"tz": "CET"}}},
    ]}, "finishReason": "STOP"}]});
    let first = decode(body.clone());
    assert_eq!(first, decode(body));
    let [Part::ToolCall(a), Part::ToolCall(b)] = first.parts.as_slice() else { panic!("{:?}", first.parts) };
    assert!(a.id.starts_with("call_") && a.id.len() == 29, "{}", a.id);
    assert_ne!(a.id, b.id);
    assert_eq!(a.arguments, "{}");
    assert_eq!(b.arguments, r#"{"tz":"CET"}"#);
    assert_eq!(first.stop_reason, StopReason::ToolUse);
}

#[test]
fn a_text_part_signature_becomes_a_carrier_before_the_text_and_parts_follow_the_canonical_order() {
    let resp = decode(json!({"candidates": [{"content": {"parts": [
        {"text": "Thinking", "thought": true},
        {"text": "Answer", "thoughtSignature": "T1"},
        {"text": "", "thoughtSignature": "T2"},
        {"text": ""},
        {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
    ]}, "finishReason": "STOP"}]}));
    assert_eq!(
        resp.parts,
        vec![thought("Thinking", None), thought("", sig(ORIGIN, "T1")), text("Answer"), thought("", sig(ORIGIN, "T2"))]
    );
    // Interleaved upstream output comes out as reasoning, text, calls (§5).
    let resp = decode(json!({"candidates": [{"content": {"parts": [
        {"functionCall": {"id": "c", "name": "f", "args": {}}},
        {"text": "B"},
        {"text": "A", "thought": true},
    ]}}]}));
    assert_eq!(resp.parts, vec![thought("A", None), text("B"), call("c", "f", "{}", None)]);
}

#[test]
fn client_response_has_the_documented_shape() {
    let resp = response(
        vec![
            thought("The user wants", sig(ORIGIN, "CiQBnative")),
            text("Checking."),
            call("call_1", "get_weather", r#"{"city":"Paris","units":{"z":1,"a":2}}"#, sig(ORIGIN, "CsQBcall")),
        ],
        StopReason::ToolUse,
        Usage { input_total: 40, cache_read: 0, cache_write: 0, output_total: 9, reasoning: 4 },
    );
    let out = encode_client_response(&resp, "gemini/gemini-2.5-flash", ORIGIN);
    assert_eq!(
        out,
        json!({
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"text": "The user wants", "thought": true, "thoughtSignature": "CiQBnative"},
                    {"text": "Checking."},
                    {"functionCall": {"id": "call_1", "name": "get_weather",
                                      "args": {"city": "Paris", "units": {"z": 1, "a": 2}}},
                     "thoughtSignature": "CsQBcall"},
                ]},
                "finishReason": "STOP",
                "index": 0,
            }],
            "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 5, "thoughtsTokenCount": 4,
                              "totalTokenCount": 49},
            "modelVersion": "gemini/gemini-2.5-flash",
            "responseId": "Zq3abcdefghijklmnopqrs",
        })
    );
    // Key order of args is kept.
    let args = out["candidates"][0]["content"]["parts"][2]["functionCall"]["args"].to_string();
    assert_eq!(args, r#"{"city":"Paris","units":{"z":1,"a":2}}"#);
}

#[test]
fn foreign_signatures_are_wrapped_for_gemini_clients_and_come_back_to_their_origin() {
    let resp = response(
        vec![
            thought("plan", sig("anthropic", "EqQBthinking")),
            call("toolu_1", "f", "{}", sig("gemini_cli", "CsQBcli")),
        ],
        StopReason::ToolUse,
        Usage::default(),
    );
    let out = encode_client_response(&resp, "anthropic/claude-sonnet-4-5", ORIGIN);
    let parts = &out["candidates"][0]["content"]["parts"];
    let thinking = parts[0]["thoughtSignature"].as_str().unwrap();
    let on_call = parts[1]["thoughtSignature"].as_str().unwrap();
    assert_ne!(thinking, "EqQBthinking");
    assert_ne!(on_call, "CsQBcli");
    assert_eq!(signature_from_client(thinking, ORIGIN), sig("anthropic", "EqQBthinking").unwrap());
    assert_eq!(signature_from_client(on_call, ORIGIN), sig("gemini_cli", "CsQBcli").unwrap());
    // Served by a Code Assist provider, that provider's signatures are the native ones.
    let out = encode_client_response(&resp, "gemini_cli/gemini-2.5-pro", "gemini_cli");
    assert_eq!(out["candidates"][0]["content"]["parts"][1]["thoughtSignature"], "CsQBcli");
}

#[test]
fn what_gemini_cannot_show_is_left_out_and_refusals_are_text() {
    let resp = response(
        vec![
            Part::Reasoning { text: String::new(), signature: None, redacted: Some("opaque".into()) },
            thought("", None),
            Part::Refusal("I can't help with that.".into()),
            text(""),
            call("", "f", "not json", None),
        ],
        StopReason::Refusal,
        Usage::default(),
    );
    let out = encode_client_response(&resp, "m", ORIGIN);
    let parts = out["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0], json!({"text": "I can't help with that."}));
    let function = &parts[1]["functionCall"];
    assert!(function["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(function["args"], json!({"_raw": "not json"}));
    assert_eq!(out["candidates"][0]["finishReason"], "SAFETY");
}

#[test]
fn foreign_response_ids_are_replaced_by_minted_ones() {
    let mut resp = response(vec![text("hi")], StopReason::EndTurn, Usage::default());
    resp.id = "msg_01ABC".into();
    let out = encode_client_response(&resp, "m", ORIGIN);
    let id = out["responseId"].as_str().unwrap();
    assert_eq!(id.len(), 22);
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    let again = Response { id: id.to_string(), ..resp };
    assert_eq!(encode_client_response(&again, "m", ORIGIN)["responseId"], id);
}

#[test]
fn canonical_to_gemini_to_canonical_is_the_identity() {
    let x = || sig(ORIGIN, "X");
    let y = || sig(ORIGIN, "Y");
    let cases: Vec<Vec<Part>> = vec![
        vec![thought("A", x()), text("B"), call("c1", "f", r#"{"a":1}"#, y())],
        vec![thought("A", None), thought("", x()), text("B")],
        vec![thought("", x())],
        vec![text("B"), thought("", x())],
        vec![thought("", x()), thought("A", None), text("B")],
        vec![thought("", x()), thought("", y())],
        vec![thought("", x()), call("c1", "f", "{}", None)],
        vec![text("B"), thought("", x()), text("C")],
        vec![call("c1", "f", "{}", x()), call("c2", "g", r#"{"k":[1,2]}"#, None)],
        vec![],
    ];
    for parts in cases {
        let resp = response(parts.clone(), StopReason::EndTurn, Usage { input_total: 3, ..Usage::default() });
        let wire = encode_client_response(&resp, "m", ORIGIN);
        let back = decode_upstream_response(wire.as_object().unwrap(), "m", ORIGIN).unwrap();
        assert_eq!(back.parts, parts, "{wire}");
        assert_eq!(back.usage, resp.usage);
    }
}

#[test]
fn garbage_never_panics() {
    let bodies = [
        json!({}),
        json!({"candidates": "x"}),
        json!({"candidates": [1]}),
        json!({"candidates": [null]}),
        json!({"candidates": [{"content": "x"}]}),
        json!({"candidates": [{"content": {"parts": "x"}}]}),
        json!({"candidates": [{"content": {"parts": [1, null, "s", [], {"text": 5}, {"thought": "yes"}]}}]}),
        json!({"candidates": [{"content": {"parts": [{"functionCall": "f"}, {"functionCall": {"name": 3, "args": [1]}}]}}]}),
        json!({"candidates": [{"finishReason": 7, "index": "0"}]}),
        json!({"response": "x"}),
        json!({"response": {"response": {}}}),
        json!({"usageMetadata": [1, 2], "promptFeedback": "blocked", "responseId": 9}),
        json!({"candidates": [{"content": {"parts": [{"text": "a", "thoughtSignature": 5}]}}]}),
    ];
    for body in bodies {
        let _ = decode_upstream_response(&object(body), "m", ORIGIN);
    }
    let resp = decode(json!({"candidates": [{"content": {"parts": [
        {"functionCall": {"name": 3, "args": [1]}}, {"text": 5}, 7
    ]}}]}));
    assert_eq!(resp.parts, vec![call(&resp_call_id(&resp), "", "[1]", None)]);
    assert!(decode_upstream_response(&object(json!({"candidates": "x"})), "m", ORIGIN).is_err());
}

fn resp_call_id(resp: &Response) -> String {
    match &resp.parts[0] {
        Part::ToolCall(call) => call.id.clone(),
        other => panic!("{other:?}"),
    }
}
