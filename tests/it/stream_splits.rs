//! Stream translation is independent of how the network splits bytes: upstream streams cut at
//! every possible byte boundary come out of each relay (Chat → Messages, Messages → Chat,
//! Messages passthrough) exactly as they do whole.

use llmkp::formats::anthropic::MessagesStreamEncoder;
use llmkp::formats::anthropic::passthrough::MessagesPassthrough;
use llmkp::formats::anthropic::stream::MessagesEncoder;
use llmkp::formats::anthropic::upstream::AnthropicDecoder;
use llmkp::formats::openai::chat_output::{ChatEncoder, ChatStreamEncoder};
use llmkp::formats::openai::stream_decoder::ChatDecoder;
use llmkp::formats::relay::{Relay, Translate};
use llmkp::formats::sse::SseDecoder;

/// A Chat stream with reasoning, text with multi-byte characters, and a tool call in fragments.
const CHAT_UPSTREAM: &str = concat!(
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

/// A Messages stream with thinking and its signature, multi-byte text, a ping, and a tool call
/// whose input arrives in fragments.
const MESSAGES_UPSTREAM: &str = concat!(
    "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\r\n\r\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Denke nach…\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCkYI\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Grüße 👋\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Zürich\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":30}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

/// The client bytes a relay makes of an upstream body that arrives in `pieces`.
fn relay_all(relay: &mut dyn Relay, pieces: &[&[u8]]) -> Vec<u8> {
    let mut sse = SseDecoder::new();
    let mut events = Vec::new();
    for piece in pieces {
        sse.push(piece, &mut events);
    }
    sse.finish(&mut events);
    let mut out = Vec::new();
    for event in events {
        let step = relay.event(&event).expect("no upstream error in these streams");
        out.extend(step.frames);
        if step.done {
            return out;
        }
    }
    out.extend(relay.end().expect("the stream ends properly"));
    out
}

/// Whole, split at every byte, and one byte at a time: the same output.
fn assert_split_invariant(upstream: &str, make: impl Fn() -> Box<dyn Relay>) -> String {
    let bytes = upstream.as_bytes();
    let whole = relay_all(make().as_mut(), &[bytes]);
    for cut in 1..bytes.len() {
        assert_eq!(relay_all(make().as_mut(), &[&bytes[..cut], &bytes[cut..]]), whole, "split at byte {cut}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(relay_all(make().as_mut(), &singles), whole, "one byte at a time");
    String::from_utf8(whole).unwrap()
}

#[test]
fn a_chat_upstream_stream_translates_to_messages_identically_at_every_split() {
    let text = assert_split_invariant(CHAT_UPSTREAM, || {
        let encoder = MessagesStreamEncoder::new("msg_fixed", "openai/gpt-4o", 12);
        Box::new(Translate::new(Box::new(ChatDecoder::default()), Box::new(MessagesEncoder(encoder))))
    });
    assert!(text.starts_with("event: message_start\n"), "{text}");
    assert!(text.contains("Grüße 👋") && text.contains("Zürich"), "{text}");
    assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "{text}");
}

#[test]
fn a_messages_upstream_stream_translates_to_chat_identically_at_every_split() {
    let text = assert_split_invariant(MESSAGES_UPSTREAM, || {
        let encoder = ChatStreamEncoder::new("chatcmpl-fixed", "anthropic/claude-x", 1, true);
        Box::new(Translate::new(Box::new(AnthropicDecoder::default()), Box::new(ChatEncoder(encoder))))
    });
    assert!(text.contains(r#""reasoning_content":"Denke nach…""#), "{text}");
    assert!(text.contains(r#""content":"Grüße 👋""#), "{text}");
    assert!(text.contains(r#""arguments":"\"Zürich\"}""#), "{text}");
    assert!(text.contains(r#""finish_reason":"tool_calls""#), "{text}");
    assert!(text.contains(r#""prompt_tokens":25"#) && text.ends_with("data: [DONE]\n\n"), "{text}");
}

#[test]
fn a_messages_passthrough_forwards_every_event_unchanged_at_every_split() {
    let text = assert_split_invariant(MESSAGES_UPSTREAM, || Box::new(MessagesPassthrough::new("claude-alias".into())));
    // Only message_start's model changes; every other event keeps the upstream's bytes.
    let upstream_tail = &MESSAGES_UPSTREAM[MESSAGES_UPSTREAM.find("\r\n\r\n").unwrap() + 4..];
    assert!(text.ends_with(upstream_tail), "{text}");
    assert!(text.starts_with("event: message_start\ndata: {") && text.contains(r#""model":"claude-alias""#));
}
