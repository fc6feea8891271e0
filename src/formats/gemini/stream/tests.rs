use serde_json::json;

use super::*;
use crate::formats::gemini::response::decode_upstream_response;
use crate::formats::gemini::{ORIGIN, signature_from_client};
use crate::formats::ir::{Part, Signature};

fn object(value: &Value) -> &Map<String, Value> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}"))
}

fn decode_all(origin: &str, chunks: &[Value]) -> Vec<StreamEvent> {
    let mut decoder = GeminiStreamDecoder::new(origin);
    let mut events: Vec<StreamEvent> = chunks.iter().flat_map(|c| decoder.push(object(c))).collect();
    events.extend(decoder.finish());
    events
}

fn encode_all(events: &[StreamEvent], native_origin: &str) -> Vec<Value> {
    let mut encoder = GeminiStreamEncoder::new(
        "Zq3abcdefghijklmnopqrs".into(),
        "gemini/gemini-2.5-flash".into(),
        native_origin.into(),
    );
    let mut chunks: Vec<Value> = events.iter().flat_map(|e| encoder.push(e)).collect();
    chunks.extend(encoder.finish());
    assert!(encoder.is_done());
    chunks
}

/// A chunk as Gemini streams it.
fn chunk(parts: Value) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
           "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10},
           "modelVersion": "gemini-2.5-flash", "responseId": "up-1"})
}

fn last_chunk(parts: Value, reason: &str, usage: Value) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": reason, "index": 0}],
           "usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "responseId": "up-1"})
}

fn sig(origin: &str, value: &str) -> Signature {
    Signature { origin: origin.into(), value: value.into() }
}

fn finish(stop_reason: StopReason) -> StreamEvent {
    StreamEvent::Finish { stop_reason, stop_sequence: None }
}

fn text(t: &str) -> StreamEvent {
    StreamEvent::TextDelta(t.into())
}

fn thinking(t: &str) -> StreamEvent {
    StreamEvent::ReasoningDelta(t.into())
}

/// The meaning of an event sequence: adjacent deltas of one kind joined.
fn merged(events: Vec<StreamEvent>) -> Vec<StreamEvent> {
    let mut out: Vec<StreamEvent> = Vec::new();
    for event in events {
        match (out.last_mut(), event) {
            (Some(StreamEvent::TextDelta(a)), StreamEvent::TextDelta(b)) => a.push_str(&b),
            (Some(StreamEvent::ReasoningDelta(a)), StreamEvent::ReasoningDelta(b)) => a.push_str(&b),
            (_, event) => out.push(event),
        }
    }
    out
}

fn usage_100() -> Value {
    json!({"promptTokenCount": 100, "toolUsePromptTokenCount": 5, "cachedContentTokenCount": 60,
           "candidatesTokenCount": 20, "thoughtsTokenCount": 30, "totalTokenCount": 155})
}

fn expected_usage_100() -> Usage {
    Usage { input_total: 105, cache_read: 60, cache_write: 0, output_total: 50, reasoning: 30 }
}

/// Thinking, a signed thought, text, a signed call, and the end.
fn sample_stream() -> Vec<Value> {
    vec![
        chunk(json!([{"text": "Let me ", "thought": true}])),
        chunk(json!([{"text": "think.", "thought": true, "thoughtSignature": "CiQBthought"}])),
        chunk(json!([{"text": "Checking "}])),
        chunk(json!([{"text": "Paris."}])),
        chunk(
            json!([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CsQBcall"},
                     {"functionCall": {"id": "fc_2", "name": "get_time", "args": {"tz": "CET"}}}]),
        ),
        last_chunk(json!([{"text": ""}]), "STOP", usage_100()),
    ]
}

#[test]
fn deltas_calls_signatures_finish_and_usage_decode_in_order() {
    let events = decode_all(ORIGIN, &sample_stream());
    let StreamEvent::ToolCallStart { id: synthetic, .. } = &events[6] else { panic!("{events:?}") };
    assert!(synthetic.starts_with("call_"), "{synthetic}");
    assert_eq!(
        events,
        vec![
            thinking("Let me "),
            thinking("think."),
            StreamEvent::ReasoningSignature(sig(ORIGIN, "CiQBthought")),
            text("Checking "),
            text("Paris."),
            StreamEvent::ReasoningSignature(sig(ORIGIN, "CsQBcall")),
            StreamEvent::ToolCallStart { index: 0, id: synthetic.clone(), name: "get_weather".into() },
            StreamEvent::ToolCallDelta { index: 0, json_fragment: r#"{"city":"Paris"}"#.into() },
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::ToolCallStart { index: 1, id: "fc_2".into(), name: "get_time".into() },
            StreamEvent::ToolCallDelta { index: 1, json_fragment: r#"{"tz":"CET"}"#.into() },
            StreamEvent::ToolCallEnd { index: 1 },
            finish(StopReason::ToolUse),
            StreamEvent::Usage(expected_usage_100()),
        ]
    );
}

#[test]
fn stream_and_whole_body_decodings_agree_on_call_ids() {
    let events = decode_all(ORIGIN, &sample_stream());
    let whole = json!({"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
    ]}, "finishReason": "STOP"}], "responseId": "up-1"});
    let resp = decode_upstream_response(object(&whole), "m", ORIGIN).unwrap();
    let Part::ToolCall(call) = &resp.parts[0] else { panic!() };
    assert!(events.contains(&StreamEvent::ToolCallStart { index: 0, id: call.id.clone(), name: "get_weather".into() }));
}

#[test]
fn code_assist_chunks_are_unwrapped_and_signed_by_their_provider() {
    let chunks: Vec<Value> = sample_stream().into_iter().map(|c| json!({"response": c, "traceId": "t"})).collect();
    let events = decode_all("gemini_cli", &chunks);
    assert_eq!(events[2], StreamEvent::ReasoningSignature(sig("gemini_cli", "CiQBthought")));
    assert_eq!(events.len(), 14);
    assert_eq!(events[13], StreamEvent::Usage(expected_usage_100()));
}

#[test]
fn the_last_usage_wins_and_follows_the_single_finish() {
    let mut decoder = GeminiStreamDecoder::new(ORIGIN);
    let early = json!({"candidates": [{"content": {"parts": [{"text": "Hi"}]}}],
                       "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1}});
    assert_eq!(decoder.push(object(&early)), vec![text("Hi")]);
    assert_eq!(decoder.usage(), Some(Usage { input_total: 10, output_total: 1, ..Usage::default() }));
    // Finish without usage on its chunk: the held usage follows it.
    let end = json!({"candidates": [{"content": {"parts": [{"text": "!"}]}, "finishReason": "MAX_TOKENS"}]});
    assert_eq!(
        decoder.push(object(&end)),
        vec![
            text("!"),
            finish(StopReason::MaxTokens),
            StreamEvent::Usage(Usage { input_total: 10, output_total: 1, ..Usage::default() })
        ]
    );
    assert!(decoder.finished());
    // A usage-only chunk after the finish updates it; content and a second finish are ignored.
    let late = json!({"candidates": [{"content": {"parts": [{"text": "late"}]}, "finishReason": "STOP"}],
                      "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2}});
    assert_eq!(
        decoder.push(object(&late)),
        vec![StreamEvent::Usage(Usage { input_total: 10, output_total: 2, ..Usage::default() })]
    );
    assert!(decoder.finish().is_empty(), "everything was already emitted");
}

#[test]
fn eof_without_a_finish_reason_invents_nothing() {
    let mut decoder = GeminiStreamDecoder::new(ORIGIN);
    decoder.push(object(&chunk(json!([{"text": "cut"}]))));
    assert!(!decoder.finished());
    assert!(decoder.finish().is_empty());
    assert_eq!(decoder.usage(), Some(Usage { input_total: 10, ..Usage::default() }));
}

#[test]
fn every_finish_reason_finishes_once_with_the_mapped_reason() {
    for (reason, expected) in [
        ("STOP", StopReason::EndTurn),
        ("MAX_TOKENS", StopReason::MaxTokens),
        ("SAFETY", StopReason::ContentFilter),
        ("RECITATION", StopReason::ContentFilter),
        ("PROHIBITED_CONTENT", StopReason::ContentFilter),
        ("MALFORMED_FUNCTION_CALL", StopReason::EndTurn),
        ("OTHER", StopReason::EndTurn),
    ] {
        let events = decode_all(ORIGIN, &[last_chunk(json!([]), reason, json!({"promptTokenCount": 1}))]);
        assert_eq!(
            events,
            vec![finish(expected), StreamEvent::Usage(Usage { input_total: 1, ..Usage::default() })],
            "{reason}"
        );
    }
}

#[test]
fn blocked_prompt_stream_is_a_content_filter_finish() {
    let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 8}});
    let mut decoder = GeminiStreamDecoder::new(ORIGIN);
    assert_eq!(
        decoder.push(object(&blocked)),
        vec![finish(StopReason::ContentFilter), StreamEvent::Usage(Usage { input_total: 8, ..Usage::default() })]
    );
    assert!(decoder.finished());
}

#[test]
fn encoder_sends_deltas_at_once_calls_whole_and_the_finish_last() {
    let mut encoder = GeminiStreamEncoder::new("RID".into(), "gemini/gemini-2.5-flash".into(), ORIGIN.into());
    let base = |parts: Value| {
        json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
               "modelVersion": "gemini/gemini-2.5-flash", "responseId": "RID"})
    };
    assert_eq!(encoder.push(&thinking("Hmm")), vec![base(json!([{"text": "Hmm", "thought": true}]))]);
    assert_eq!(
        encoder.push(&StreamEvent::ReasoningSignature(sig(ORIGIN, "S1"))),
        vec![base(json!([{"text": "", "thought": true, "thoughtSignature": "S1"}]))]
    );
    assert_eq!(encoder.push(&text("Hello")), vec![base(json!([{"text": "Hello"}]))]);
    assert!(encoder.push(&StreamEvent::ReasoningSignature(sig(ORIGIN, "S2"))).is_empty());
    assert!(encoder.push(&StreamEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "f".into() }).is_empty());
    assert!(encoder.push(&StreamEvent::ToolCallDelta { index: 0, json_fragment: "{\"a\":".into() }).is_empty());
    assert!(encoder.push(&StreamEvent::ToolCallDelta { index: 0, json_fragment: "1}".into() }).is_empty());
    assert_eq!(
        encoder.push(&StreamEvent::ToolCallEnd { index: 0 }),
        vec![base(
            json!([{"functionCall": {"id": "call_1", "name": "f", "args": {"a": 1}}, "thoughtSignature": "S2"}])
        )]
    );
    assert!(encoder.push(&finish(StopReason::ToolUse)).is_empty());
    assert!(
        encoder.push(&StreamEvent::Usage(Usage { input_total: 7, output_total: 3, ..Usage::default() })).is_empty()
    );
    assert!(encoder.push(&text("after the finish")).is_empty());
    assert!(!encoder.is_done());
    assert_eq!(
        encoder.finish(),
        vec![json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "index": 0, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10},
            "modelVersion": "gemini/gemini-2.5-flash",
            "responseId": "RID",
        })]
    );
    assert!(encoder.is_done());
    assert!(encoder.finish().is_empty(), "the last chunk is sent once");
    assert!(encoder.push(&text("x")).is_empty());
}

#[test]
fn spec_example_anthropic_upstream_to_gemini_client() {
    // §13.6.
    let events = [
        text("echo: "),
        text("hello"),
        finish(StopReason::EndTurn),
        StreamEvent::Usage(Usage { input_total: 12, output_total: 3, ..Usage::default() }),
    ];
    let mut encoder = GeminiStreamEncoder::new("Zq3".into(), "anthropic/claude-haiku-4-5".into(), ORIGIN.into());
    let mut frames: Vec<u8> = events.iter().flat_map(|e| encoder.push(e)).flat_map(|c| sse_frame(&c)).collect();
    frames.extend(encoder.finish().iter().flat_map(sse_frame));
    let expected = concat!(
        r#"data: {"candidates":[{"content":{"role":"model","parts":[{"text":"echo: "}]},"index":0}],"modelVersion":"anthropic/claude-haiku-4-5","responseId":"Zq3"}"#,
        "\r\n\r\n",
        r#"data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hello"}]},"index":0}],"modelVersion":"anthropic/claude-haiku-4-5","responseId":"Zq3"}"#,
        "\r\n\r\n",
        r#"data: {"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"index":0,"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":3,"totalTokenCount":15},"modelVersion":"anthropic/claude-haiku-4-5","responseId":"Zq3"}"#,
        "\r\n\r\n",
    );
    assert_eq!(String::from_utf8(frames).unwrap(), expected);
}

#[test]
fn a_gemini_stream_decoded_and_re_encoded_means_the_same() {
    let original = decode_all(ORIGIN, &sample_stream());
    let re_encoded = encode_all(&original, ORIGIN);
    let again = decode_all(ORIGIN, &re_encoded);
    assert_eq!(merged(again), merged(original));
    // Own signatures travel verbatim.
    let calls: Vec<&Value> =
        re_encoded.iter().flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().unwrap()).collect();
    assert!(calls.iter().any(|p| p["thoughtSignature"] == "CsQBcall" && p["functionCall"]["name"] == "get_weather"));
    assert!(calls.iter().any(|p| p["thoughtSignature"] == "CiQBthought" && p["thought"] == true));
}

#[test]
fn signatures_on_text_parts_and_trailing_empty_parts_round_trip() {
    let chunks = vec![
        chunk(json!([{"text": "A", "thought": true}])),
        chunk(json!([{"text": "B", "thoughtSignature": "X"}])),
        chunk(json!([{"text": "C", "thought": true, "thoughtSignature": "Y"}, {"text": "D", "thought": true}])),
        last_chunk(json!([{"text": "", "thoughtSignature": "Z"}]), "STOP", json!({"promptTokenCount": 4})),
    ];
    let original = decode_all(ORIGIN, &chunks);
    assert_eq!(
        original[..7],
        [
            thinking("A"),
            StreamEvent::ReasoningSignature(sig(ORIGIN, "X")),
            text("B"),
            thinking("C"),
            StreamEvent::ReasoningSignature(sig(ORIGIN, "Y")),
            thinking("D"),
            StreamEvent::ReasoningSignature(sig(ORIGIN, "Z")),
        ]
    );
    let again = decode_all(ORIGIN, &encode_all(&original, ORIGIN));
    assert_eq!(merged(again), merged(original));
}

#[test]
fn code_assist_signatures_reach_a_gemini_client_wrapped_and_come_back_to_their_origin() {
    let chunks: Vec<Value> = sample_stream().into_iter().map(|c| json!({"response": c})).collect();
    let original = decode_all("gemini_cli", &chunks);
    let re_encoded = encode_all(&original, ORIGIN);
    let again: Vec<StreamEvent> = decode_all(ORIGIN, &re_encoded)
        .into_iter()
        .map(|event| match event {
            StreamEvent::ReasoningSignature(s) => {
                StreamEvent::ReasoningSignature(signature_from_client(&s.value, ORIGIN))
            }
            other => other,
        })
        .collect();
    assert_eq!(merged(again), merged(original));
    let parts: Vec<&Value> =
        re_encoded.iter().flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().unwrap()).collect();
    let signed: Vec<&str> = parts.iter().filter_map(|p| p["thoughtSignature"].as_str()).collect();
    assert_eq!(signed.len(), 2);
    assert!(!signed.contains(&"CiQBthought") && !signed.contains(&"CsQBcall"), "foreign signatures are wrapped");
}

#[test]
fn a_signature_waiting_for_a_part_is_not_lost() {
    // Anthropic-style: thinking, signature, then more thinking (a second block), then the end.
    let events = [
        thinking("one"),
        text("x"),
        StreamEvent::ReasoningSignature(sig("anthropic", "A1")),
        StreamEvent::ReasoningSignature(sig("anthropic", "A2")),
        thinking("two"),
        StreamEvent::ReasoningSignature(sig("anthropic", "A3")),
        StreamEvent::ToolCallStart { index: 0, id: String::new(), name: "f".into() },
        StreamEvent::ReasoningSignature(sig("anthropic", "A4")),
        finish(StopReason::EndTurn),
    ];
    let chunks = encode_all(&events, ORIGIN);
    let back: Vec<Signature> = decode_all(ORIGIN, &chunks)
        .into_iter()
        .filter_map(|e| match e {
            StreamEvent::ReasoningSignature(s) => Some(signature_from_client(&s.value, ORIGIN)),
            _ => None,
        })
        .collect();
    let values: Vec<&str> = back.iter().map(|s| s.value.as_str()).collect();
    assert_eq!(values, ["A1", "A2", "A3", "A4"]);
    assert!(back.iter().all(|s| s.origin == "anthropic"));
    // The call that never ended is still sent, whole, in the last chunk, with a minted id.
    let last = chunks.last().unwrap();
    let function = &last["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(function["name"], "f");
    assert_eq!(function["args"], json!({}));
    assert!(function["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
}

#[test]
fn finish_without_a_finish_event_says_stop_and_redacted_reasoning_is_dropped() {
    let chunks = encode_all(&[StreamEvent::RedactedReasoning("opaque".into()), text("")], ORIGIN);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        chunks[0]["usageMetadata"],
        json!({"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0})
    );
    for (reason, wire) in [
        (StopReason::MaxTokens, "MAX_TOKENS"),
        (StopReason::ContentFilter, "SAFETY"),
        (StopReason::Refusal, "SAFETY"),
        (StopReason::StopSequence, "STOP"),
    ] {
        let chunks = encode_all(&[finish(reason), finish(StopReason::EndTurn)], ORIGIN);
        assert_eq!(chunks[0]["candidates"][0]["finishReason"], wire, "the first finish counts");
    }
}

#[test]
fn error_chunk_and_sse_framing_follow_http_api() {
    let error = error_chunk(429, "RESOURCE_EXHAUSTED", "quota");
    assert_eq!(error.to_string(), r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#);
    assert_eq!(sse_frame(&json!({"a": 1})), b"data: {\"a\":1}\r\n\r\n".to_vec());
    let mut encoder = GeminiStreamEncoder::new("R".into(), "m".into(), ORIGIN.into());
    encoder.push(&text("partial"));
    assert_eq!(
        encoder.error(502, "UNAVAILABLE", "upstream cut"),
        vec![error_chunk(502, "UNAVAILABLE", "upstream cut")]
    );
    assert!(encoder.is_done());
    assert!(encoder.finish().is_empty(), "nothing follows an error");
    assert!(encoder.error(502, "UNAVAILABLE", "again").is_empty());
}

#[test]
fn garbage_never_panics() {
    let chunks = [
        json!({}),
        json!({"response": 5}),
        json!({"candidates": "x", "usageMetadata": "y"}),
        json!({"candidates": [null, 1]}),
        json!({"candidates": [{"content": {"parts": {"text": "x"}}}]}),
        json!({"candidates": [{"content": {"parts": [1, "s", null, {"text": 3}, {"functionCall": []}]}}]}),
        json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": 1, "args": "s"}}]}, "finishReason": 3}]}),
        json!({"promptFeedback": {"blockReason": null}}),
        json!({"candidates": [{"finishReason": ""}]}),
    ];
    let events = decode_all(ORIGIN, &chunks);
    assert!(!events.iter().any(|e| matches!(e, StreamEvent::Finish { .. })), "{events:?}");
    let odd_events = [
        StreamEvent::ToolCallDelta { index: 3, json_fragment: "{".into() },
        StreamEvent::ToolCallEnd { index: 9 },
        StreamEvent::ToolCallEnd { index: 3 },
        StreamEvent::ToolCallStart { index: 3, id: "c".into(), name: "f".into() },
        StreamEvent::ToolCallStart { index: 3, id: "c".into(), name: "f".into() },
        StreamEvent::ReasoningSignature(sig("", "")),
    ];
    let chunks = encode_all(&odd_events, "");
    let last = &chunks.last().unwrap()["candidates"][0]["content"]["parts"][0];
    assert_eq!(last["functionCall"]["args"], json!({"_raw": "{"}));
}
