//! Stream translation is independent of how the network splits bytes: an upstream Chat stream
//! cut at every possible byte boundary translates into exactly the same Anthropic events.

use llmkp::formats::anthropic::MessagesStreamEncoder;
use llmkp::formats::openai::stream_decoder::ChatStreamDecoder;
use llmkp::formats::sse::SseDecoder;
use serde_json::{Map, Value};

/// A Chat stream with reasoning, text with multi-byte characters, and a tool call in fragments.
const UPSTREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n",
    ": keep-alive\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Denke nach… \"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Grüße 👋 \"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Zürich\\\"}\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":9,\"total_tokens\":29}}\n\n",
    "data: [DONE]\n\n",
);

fn translate(pieces: &[&[u8]]) -> Vec<u8> {
    let mut sse = SseDecoder::new();
    let mut decoder = ChatStreamDecoder::new();
    let mut encoder = MessagesStreamEncoder::new("msg_fixed", "openai/gpt-4o", 12);
    let mut out = encoder.start();
    let mut events = Vec::new();
    for piece in pieces {
        sse.push(piece, &mut events);
    }
    sse.finish(&mut events);
    for event in events {
        if event.data == "[DONE]" {
            for e in decoder.finish() {
                out.extend(encoder.push(&e));
            }
            out.extend(encoder.finish());
            continue;
        }
        let chunk: Map<String, Value> = serde_json::from_str(&event.data).unwrap();
        for e in decoder.push(&chunk) {
            out.extend(encoder.push(&e));
        }
    }
    out
}

#[test]
fn every_byte_split_of_an_upstream_stream_translates_identically() {
    let bytes = UPSTREAM.as_bytes();
    let whole = translate(&[bytes]);
    let text = String::from_utf8(whole.clone()).unwrap();
    assert!(
        text.contains("Grüße 👋")
            && text.contains("Zürich")
            && text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{text}"
    );
    for cut in 1..bytes.len() {
        assert_eq!(translate(&[&bytes[..cut], &bytes[cut..]]), whole, "split at byte {cut}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(translate(&singles), whole, "one byte at a time");
}
