//! Properties over arbitrary input, with bounded case counts so `cargo test` stays fast
//! (`PROPTEST_CASES` raises them): the SSE decoder gives the same events however the bytes are
//! split, and never dispatches more than its limit; no client-family decoder and no stream relay
//! panics on arbitrary JSON. Failing cases are kept in `properties.proptest-regressions`.
//! The fuzz targets in `tests/fuzz` drive the same functions ([`super::drive`]) for longer.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value};

use super::drive::{CLIENTS, FAMILIES, UPSTREAMS, decode_request, relay_cut, relay_stream, sse_splits_agree};

/// `cases` unless `PROPTEST_CASES` says otherwise; failures are kept next to this file.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

/// Pieces SSE bodies are made of, and the bytes that break them.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event: message_start".to_vec()),
        Just(b": keep-alive".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"{\"a\":\"\xc3\xa9\xf0\x9f\x98\x80\"}".to_vec()),
        Just(b"[DONE]".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Field names and values the decoders and relays read, so arbitrary JSON reaches deep.
const KEYS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "tools",
    "tool_choice",
    "function",
    "name",
    "parameters",
    "arguments",
    "tool_calls",
    "id",
    "index",
    "system",
    "contents",
    "parts",
    "stream",
    "max_tokens",
    "thinking",
    "input",
    "image_url",
    "url",
    "source",
    "data",
    "delta",
    "choices",
    "finish_reason",
    "usage",
    "candidates",
    "functionCall",
    "args",
    "thought",
    "thoughtSignature",
    "content_block",
    "stop_reason",
    "message",
    "input_schema",
    "tool_use_id",
    "partial_json",
    "reasoning_content",
    "signature",
    "error",
    "generationConfig",
    "systemInstruction",
    "inlineData",
    "mimeType",
    "temperature",
    "stop",
    "response_format",
    "budget_tokens",
    "item",
    "output_index",
    "item_id",
    "call_id",
    "summary",
    "encrypted_content",
    "output",
    "status",
    "response",
    "instructions",
    "previous_response_id",
    "namespace",
    "reasoning",
    "include",
    "store",
    "format",
    "effort",
    "max_output_tokens",
    "parallel_tool_calls",
];
const WORDS: &[&str] = &[
    "user",
    "assistant",
    "system",
    "tool",
    "model",
    "developer",
    "function",
    "text",
    "image_url",
    "tool_use",
    "tool_result",
    "thinking",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "text_delta",
    "input_json_delta",
    "stop",
    "length",
    "tool_calls",
    "STOP",
    "MAX_TOKENS",
    "provider/model",
    "auto",
    "none",
    "required",
    "enabled",
    "data:image/png;base64,AAAA",
    "response.output_item.added",
    "response.output_item.done",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
    "function_call",
    "custom_tool_call",
    "reasoning",
    "incomplete",
    "message",
    "input_text",
    "output_text",
    "input_image",
    "function_call_output",
    "custom_tool_call_output",
    "namespace",
    "web_search",
    "custom",
    "json_schema",
    "reasoning.encrypted_content",
    "",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        proptest::sample::select(WORDS).prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// A request-shaped object: the fields every family requires, each arbitrary.
fn request() -> impl Strategy<Value = Value> {
    let fields = (json(), json(), json(), json());
    (fields, proptest::collection::vec((proptest::sample::select(KEYS), json()), 0..6)).prop_map(
        |((model, messages, contents, input), extra)| {
            let mut body: Map<String, Value> = extra.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            body.insert("model".into(), if model.is_string() { model } else { Value::from("provider/model") });
            body.insert("messages".into(), messages);
            body.insert("contents".into(), contents);
            body.insert("input".into(), input);
            Value::Object(body)
        },
    )
}

/// An upstream SSE body: events with arbitrary names from the protocols' vocabulary and
/// arbitrary JSON data (and the odd non-JSON line).
fn stream_body() -> impl Strategy<Value = Vec<u8>> {
    let event =
        (proptest::option::of(proptest::sample::select(WORDS)), json(), any::<u8>()).prop_map(|(name, data, odd)| {
            let data = if odd < 8 { "[DONE]".to_string() } else { data.to_string() };
            match name {
                Some(name) => format!("event: {name}\ndata: {data}\n\n"),
                None => format!("data: {data}\n\n"),
            }
        });
    proptest::collection::vec(event, 0..12).prop_map(|events| events.concat().into_bytes())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sse_events_do_not_depend_on_where_the_bytes_are_split(
        bytes in sse_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limit in prop_oneof![1usize..64, Just(1 << 20)],
    ) {
        sse_splits_agree(&bytes, &cuts, limit);
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn no_client_family_decoder_panics_on_arbitrary_json(body in request(), raw in json()) {
        for family in FAMILIES {
            decode_request(family, body.to_string().as_bytes());
            decode_request(family, raw.to_string().as_bytes());
        }
    }

    #[test]
    fn no_stream_relay_panics_on_arbitrary_events(
        body in stream_body(),
        cuts in proptest::collection::vec(any::<usize>(), 0..4),
        after in 0usize..6,
    ) {
        for upstream in UPSTREAMS {
            for client in CLIENTS {
                relay_stream(upstream, client, &body, &cuts);
                relay_cut(upstream, client, &body, after);
            }
        }
    }
}
