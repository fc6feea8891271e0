use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::formats::ir::Signature;
use crate::formats::sse::SseDecoder;

/// Decodes SSE bytes into `(event, data)` pairs, checking each `event:` equals the data's type.
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    decoder.push(bytes, &mut out);
    decoder.finish(&mut out);
    out.into_iter()
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).unwrap();
            let event = e.event.expect("every event is named");
            assert_eq!(data["type"], event.as_str());
            (event, data)
        })
        .collect()
}

fn run(encoder: &mut MessagesStreamEncoder, stream: &[StreamEvent]) -> Vec<u8> {
    let mut out = encoder.start();
    for event in stream {
        out.extend(encoder.push(event));
    }
    out.extend(encoder.finish());
    out
}

fn types(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(t, _)| t.as_str()).collect()
}

fn start(index: usize, id: &str, name: &str) -> StreamEvent {
    StreamEvent::ToolCallStart { index, id: id.into(), name: name.into() }
}

fn fragment(index: usize, json: &str) -> StreamEvent {
    StreamEvent::ToolCallDelta { index, json_fragment: json.into() }
}

fn usage(input_total: u64, output_total: u64) -> StreamEvent {
    StreamEvent::Usage(Usage { input_total, output_total, ..Usage::default() })
}

#[test]
fn chat_tool_call_stream_reproduces_the_spec_example_byte_for_byte() {
    let expected = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_4bX","type":"message","role":"assistant","model":"openai/gpt-4o","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":49,"output_tokens":1}}}"#,
        "\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n",
        "event: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"call_9","name":"get_weather","input":{}}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city"}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\": \"Par"}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":52,"output_tokens":18}}"#,
        "\n\nevent: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );
    let stream = [
        start(0, "call_9", "get_weather"),
        fragment(0, "{\"city"),
        fragment(0, "\": \"Par"),
        fragment(0, "is\"}"),
        StreamEvent::Finish { stop_reason: StopReason::ToolUse, stop_sequence: None },
        usage(52, 18),
    ];
    let mut encoder = MessagesStreamEncoder::new("msg_4bX", "openai/gpt-4o", 49);
    assert_eq!(String::from_utf8(run(&mut encoder, &stream)).unwrap(), expected);
    // An explicit end of the call changes nothing.
    let mut with_end = stream.to_vec();
    with_end.insert(4, StreamEvent::ToolCallEnd { index: 0 });
    let mut encoder = MessagesStreamEncoder::new("msg_4bX", "openai/gpt-4o", 49);
    assert_eq!(String::from_utf8(run(&mut encoder, &with_end)).unwrap(), expected);
}

#[test]
fn text_then_a_tool_call_closes_the_text_block_first() {
    let mut encoder = MessagesStreamEncoder::new("msg_1", "openai/gpt-4o", 10);
    let out = events(&run(
        &mut encoder,
        &[
            StreamEvent::TextDelta("Let me ".into()),
            StreamEvent::TextDelta("check.".into()),
            start(0, "call_1", "get_weather"),
            fragment(0, "{\"city\":"),
            fragment(0, "\"Paris\"}"),
        ],
    ));
    assert_eq!(
        types(&out),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(out[2].1["content_block"], json!({"type": "text", "text": ""}));
    assert_eq!(out[4].1["delta"], json!({"type": "text_delta", "text": "check."}));
    assert_eq!(out[5].1["index"], 0);
    assert_eq!(out[6].1["index"], 1);
    assert_eq!(out[8].1["delta"]["partial_json"], "\"Paris\"}");
    assert_eq!(out[10].1["delta"]["stop_reason"], "tool_use", "no finish event: tool calls imply tool_use");
}

#[test]
fn thinking_gets_its_signature_delta_right_before_its_stop() {
    let mut encoder = MessagesStreamEncoder::new("msg_1", "anthropic/claude-sonnet-4-5", 10);
    let out = events(&run(
        &mut encoder,
        &[
            StreamEvent::ReasoningDelta("The user ".into()),
            StreamEvent::ReasoningSignature(Signature { origin: "anthropic".into(), value: "old".into() }),
            StreamEvent::ReasoningDelta("wants".into()),
            StreamEvent::ReasoningSignature(Signature { origin: "anthropic".into(), value: "EqQB".into() }),
            StreamEvent::TextDelta("Hello".into()),
            StreamEvent::Finish { stop_reason: StopReason::MaxTokens, stop_sequence: None },
        ],
    ));
    let blocks: Vec<(&str, &Value)> = out[2..out.len() - 2].iter().map(|(t, d)| (t.as_str(), d)).collect();
    assert_eq!(blocks[0].1["content_block"], json!({"type": "thinking", "thinking": "", "signature": ""}));
    assert_eq!(blocks[1].1["delta"], json!({"type": "thinking_delta", "thinking": "The user "}));
    assert_eq!(blocks[2].1["delta"], json!({"type": "thinking_delta", "thinking": "wants"}));
    assert_eq!(blocks[3].1["delta"], json!({"type": "signature_delta", "signature": "EqQB"}));
    assert_eq!(blocks[4], ("content_block_stop", &json!({"type": "content_block_stop", "index": 0})));
    assert_eq!(blocks[5].1["content_block"]["type"], "text");
    assert_eq!(blocks[5].1["index"], 1);
    assert_eq!(blocks[6].1["delta"], json!({"type": "text_delta", "text": "Hello"}));
    assert_eq!(blocks[7].0, "content_block_stop");
    assert_eq!(blocks.len(), 8, "exactly one signature_delta");
    assert_eq!(out[out.len() - 2].1["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn foreign_signatures_and_redacted_thinking_get_their_own_blocks() {
    let mut encoder = MessagesStreamEncoder::new("msg_1", "gemini/gemini-3-pro", 10);
    let out = events(&run(
        &mut encoder,
        &[
            StreamEvent::RedactedReasoning("opaque".into()),
            StreamEvent::TextDelta("Hi".into()),
            StreamEvent::ReasoningSignature(Signature { origin: "gemini".into(), value: "Cs".into() }),
        ],
    ));
    assert_eq!(out[2].1["content_block"], json!({"type": "redacted_thinking", "data": "opaque"}));
    assert_eq!(out[3].1, json!({"type": "content_block_stop", "index": 0}));
    assert_eq!(out[7].1["content_block"]["type"], "thinking");
    assert_eq!(out[8].1["delta"], json!({"type": "signature_delta", "signature": "llmkp1.gemini.Cs"}));
    assert_eq!(out[9].1, json!({"type": "content_block_stop", "index": 2}));
}

#[test]
fn a_tool_call_without_arguments_gets_one_empty_object_delta() {
    let mut encoder = MessagesStreamEncoder::new("msg_1", "m", 10);
    let out = events(&run(
        &mut encoder,
        &[start(0, "", "get_time"), StreamEvent::ToolCallEnd { index: 0 }, start(1, "call_2", "get_date")],
    ));
    assert!(out[2].1["content_block"]["id"].as_str().unwrap().starts_with("toolu_"), "missing id is minted");
    for (at, index) in [(3, 0), (6, 1)] {
        assert_eq!(out[at].1["index"], index);
        assert_eq!(out[at].1["delta"], json!({"type": "input_json_delta", "partial_json": "{}"}));
        assert_eq!(out[at + 1].1, json!({"type": "content_block_stop", "index": index}));
    }
}

#[test]
fn fragments_for_a_tool_not_yet_open_wait_for_its_start() {
    let mut encoder = MessagesStreamEncoder::new("msg_1", "m", 10);
    let out = events(&run(
        &mut encoder,
        &[
            start(0, "call_a", "a"),
            fragment(1, "{\"b\":"),
            fragment(0, "{\"a\":1}"),
            fragment(1, "2}"),
            start(1, "call_b", "b"),
            fragment(1, ""),
        ],
    ));
    let deltas: Vec<(u64, &str)> = out
        .iter()
        .filter(|(t, _)| t == "content_block_delta")
        .map(|(_, d)| (d["index"].as_u64().unwrap(), d["delta"]["partial_json"].as_str().unwrap()))
        .collect();
    assert_eq!(deltas, [(0, "{\"a\":1}"), (1, "{\"b\":2}")]);
    assert_eq!(out[5].1["content_block"]["id"], "call_b");
}

#[test]
fn a_fragment_for_a_closed_tool_ends_the_stream_with_an_error() {
    let mut encoder = MessagesStreamEncoder::new("msg_1", "m", 10);
    let mut bytes = encoder.start();
    bytes.extend(encoder.push(&start(0, "call_a", "a")));
    bytes.extend(encoder.push(&StreamEvent::TextDelta("x".into())));
    bytes.extend(encoder.push(&fragment(0, "{}")));
    assert!(encoder.is_done());
    bytes.extend(encoder.push(&StreamEvent::TextDelta("more".into())));
    bytes.extend(encoder.finish());
    let out = events(&bytes);
    let (last, data) = out.last().unwrap();
    assert_eq!(last, "error");
    assert_eq!(data["error"]["type"], "api_error");
    assert_eq!(types(&out).iter().filter(|t| **t == "content_block_stop").count(), 1, "text block left open");
}

#[test]
fn an_error_mid_stream_is_the_last_event() {
    let mut encoder = MessagesStreamEncoder::new("msg_1", "m", 10);
    let mut bytes = encoder.start();
    bytes.extend(encoder.push(&StreamEvent::TextDelta("partial".into())));
    bytes.extend(encoder.error("overloaded_error", "upstream overloaded"));
    assert!(encoder.push(&StreamEvent::TextDelta("late".into())).is_empty());
    assert!(encoder.finish().is_empty());
    assert!(encoder.error("api_error", "again").is_empty());
    let out = events(&bytes);
    assert_eq!(types(&out), ["message_start", "ping", "content_block_start", "content_block_delta", "error"]);
    assert_eq!(
        out[4].1,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "upstream overloaded"}})
    );
}

#[test]
fn message_start_reports_the_estimate_or_upstream_input_and_never_zero() {
    let first_usage = |encoder: &mut MessagesStreamEncoder| events(&encoder.start())[0].1["message"]["usage"].clone();
    assert_eq!(
        first_usage(&mut MessagesStreamEncoder::new("m", "x", 0)),
        json!({"input_tokens": 1, "output_tokens": 1})
    );
    let mut encoder = MessagesStreamEncoder::new("m", "x", 49);
    assert!(encoder.push(&usage(186, 0)).is_empty());
    assert_eq!(first_usage(&mut encoder), json!({"input_tokens": 186, "output_tokens": 1}));
    assert!(encoder.start().is_empty(), "started once");
    // Content before `start` starts the stream itself.
    let mut encoder = MessagesStreamEncoder::new("m", "x", 7);
    let out = events(&encoder.push(&StreamEvent::TextDelta("a".into())));
    assert_eq!(types(&out), ["message_start", "ping", "content_block_start", "content_block_delta"]);
    assert_eq!(events(PING), [("ping".to_string(), json!({"type": "ping"}))]);
}

#[test]
fn final_usage_is_the_last_reported_with_cache_counts_and_the_estimate_as_fallback() {
    let mut encoder = MessagesStreamEncoder::new("m", "x", 40);
    let mut stream = vec![StreamEvent::TextDelta("a".into()), usage(100, 1)];
    stream.push(StreamEvent::Usage(Usage {
        input_total: 1210,
        cache_read: 1000,
        cache_write: 24,
        output_total: 256,
        reasoning: 0,
    }));
    stream.push(StreamEvent::Finish { stop_reason: StopReason::StopSequence, stop_sequence: Some("###".into()) });
    let out = events(&run(&mut encoder, &stream));
    let delta = &out[out.len() - 2].1;
    assert_eq!(delta["delta"], json!({"stop_reason": "stop_sequence", "stop_sequence": "###"}));
    assert_eq!(
        delta["usage"],
        json!({"input_tokens": 186, "output_tokens": 256, "cache_read_input_tokens": 1000,
               "cache_creation_input_tokens": 24})
    );
    let mut encoder = MessagesStreamEncoder::new("m", "x", 40);
    let out = events(&run(&mut encoder, &[StreamEvent::TextDelta("a".into())]));
    assert_eq!(out[out.len() - 2].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(out[out.len() - 2].1["usage"], json!({"input_tokens": 40, "output_tokens": 0}));
}

/// Checks the §9.1 grammar; returns each tool_use block's id with its joined arguments.
fn check_grammar(out: &[(String, Value)]) -> Vec<(String, String)> {
    assert_eq!(out[0].0, "message_start");
    let (mut next, mut open): (u64, Option<(u64, String)>) = (0, None);
    let mut tools = Vec::new();
    let mut signature_pending_stop = false;
    let mut ended = false;
    for (i, (kind, data)) in out.iter().enumerate().skip(1) {
        assert!(!ended, "nothing after message_stop/error: {kind} at {i}");
        assert!(!signature_pending_stop || kind == "content_block_stop", "signature_delta right before stop");
        match kind.as_str() {
            "ping" => {}
            "content_block_start" => {
                assert!(open.is_none(), "a block opens only when none is open");
                assert_eq!(data["index"], next, "indices 0, 1, 2, … in order");
                let block_type = data["content_block"]["type"].as_str().unwrap().to_string();
                if block_type == "tool_use" {
                    tools.push((data["content_block"]["id"].as_str().unwrap().to_string(), String::new()));
                }
                open = Some((next, block_type));
                next += 1;
            }
            "content_block_delta" => {
                let (index, block_type) = open.as_ref().expect("deltas only for the open block");
                assert_eq!(data["index"], *index);
                let delta_type = data["delta"]["type"].as_str().unwrap();
                let allowed: &[&str] = match block_type.as_str() {
                    "thinking" => &["thinking_delta", "signature_delta"],
                    "text" => &["text_delta"],
                    "tool_use" => &["input_json_delta"],
                    _ => &[],
                };
                assert!(allowed.contains(&delta_type), "{delta_type} in a {block_type} block");
                signature_pending_stop = delta_type == "signature_delta";
                if delta_type == "input_json_delta" {
                    tools.last_mut().unwrap().1.push_str(data["delta"]["partial_json"].as_str().unwrap());
                }
            }
            "content_block_stop" => {
                assert_eq!(data["index"], open.take().expect("stop for an open block").0);
                signature_pending_stop = false;
            }
            "message_delta" => {
                assert!(open.is_none(), "every start has a stop");
                assert!(data["delta"]["stop_reason"].is_string());
                assert_eq!(out[i + 1].0, "message_stop");
            }
            "message_stop" | "error" => ended = true,
            other => panic!("unexpected event {other}"),
        }
    }
    assert!(ended, "the stream ends with message_stop or error");
    tools
}

#[test]
fn random_event_sequences_always_give_well_formed_streams() {
    for seed in 0..300 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut stream = Vec::new();
        let mut expected_tools = Vec::new();
        let mut call = 0;
        for _ in 0..rng.random_range(0..12) {
            match rng.random_range(0..7) {
                0 => stream.push(StreamEvent::ReasoningDelta(["", "hm", "ok"][rng.random_range(0..3)].into())),
                1 => stream.push(StreamEvent::ReasoningSignature(Signature {
                    origin: ["anthropic", "gemini"][rng.random_range(0..2)].into(),
                    value: format!("s{seed}"),
                })),
                2 => stream.push(StreamEvent::RedactedReasoning("r".into())),
                3 => stream.push(StreamEvent::TextDelta(["", "a", "b c"][rng.random_range(0..3)].into())),
                4 => stream.push(usage(rng.random_range(0..100), rng.random_range(0..100))),
                _ => {
                    // A call whose arguments arrive in pieces, some before its start.
                    let arguments =
                        if rng.random_bool(0.3) { String::new() } else { format!("{{\"n\":{call},\"s\":\"x y\"}}") };
                    let mut pieces = Vec::new();
                    let mut rest = arguments.as_str();
                    while !rest.is_empty() {
                        let cut = rng.random_range(1..=rest.len());
                        pieces.push(fragment(call, &rest[..cut]));
                        rest = &rest[cut..];
                    }
                    let early = rng.random_range(0..=pieces.len());
                    stream.extend(pieces.drain(..early));
                    stream.push(start(call, &format!("call_{call}"), "f"));
                    stream.extend(pieces);
                    if rng.random_bool(0.5) {
                        stream.push(StreamEvent::ToolCallEnd { index: call });
                    }
                    let shown = if arguments.is_empty() { "{}".to_string() } else { arguments };
                    expected_tools.push((format!("call_{call}"), shown));
                    call += 1;
                }
            }
        }
        let mut encoder = MessagesStreamEncoder::new("msg_p", "m", 5);
        let out = events(&run(&mut encoder, &stream));
        assert_eq!(check_grammar(&out), expected_tools, "seed {seed}");
        assert_eq!(out.last().unwrap().0, "message_stop", "seed {seed}");
    }
}
