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
use llmkp::formats::responses::passthrough::ResponsesPassthrough;
use llmkp::formats::responses::response::Shell;
use llmkp::formats::responses::stream::ResponsesStreamEncoder;
use llmkp::formats::responses::tools::ToolNames;
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

/// A Responses stream with a reasoning item, multi-byte text, a function call in fragments, an
/// event type no client knows, and usage in `response.completed`.
const RESPONSES_UPSTREAM: &str = concat!(
    "event: response.created\r\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-5.5\",\"output\":[]}}\r\n\r\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]}}\n\n",
    "event: response.reasoning_summary_text.delta\ndata: {\"type\":\"response.reasoning_summary_text.delta\",\"sequence_number\":2,\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":0,\"delta\":\"Denke nach…\"}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":3,\"output_index\":0,\"item\":{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"Denke nach…\"}],\"encrypted_content\":\"gAAAA\"}}\n\n",
    "event: response.vendor_extension\ndata: {\"type\":\"response.vendor_extension\",\"sequence_number\":4}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":5,\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"delta\":\"Grüße 👋\"}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":6,\"output_index\":2,\"item\":{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"\"}}\n\n",
    "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":7,\"item_id\":\"fc_1\",\"output_index\":2,\"delta\":\"{\\\"city\\\":\\\"Zürich\\\"}\"}\n\n",
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":8,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5.5\",\"output\":[],\"usage\":{\"input_tokens\":20,\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":9,\"output_tokens_details\":{\"reasoning_tokens\":3},\"total_tokens\":29}}}\n\n",
);

/// A Responses client encoder whose ids and times are fixed.
fn responses_encoder(model: &str) -> Box<ResponsesStreamEncoder> {
    let shell = Shell { id: "resp_fixed".into(), created_at: 1, model: model.into() };
    Box::new(ResponsesStreamEncoder::new(shell, std::sync::Arc::new(ToolNames::default())))
}

/// The client bytes a relay makes of an upstream body that arrives in `pieces`.
pub fn relay_all(relay: &mut dyn Relay, pieces: &[&[u8]]) -> Vec<u8> {
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

#[test]
fn a_chat_upstream_stream_translates_to_responses_identically_at_every_split() {
    let text = assert_split_invariant(CHAT_UPSTREAM, || {
        Box::new(Translate::new(Box::new(ChatDecoder::default()), responses_encoder("openai/gpt-4o")))
    });
    assert!(text.starts_with("event: response.created\n"), "{text}");
    assert!(text.contains(r#""delta":"Denke nach… ""#) && text.contains(r#""delta":"Grüße 👋 ""#), "{text}");
    assert!(text.contains(r#""arguments":"{\"city\":\"Zürich\"}""#), "{text}");
    let last = text.rsplit("event: ").next().unwrap();
    assert!(last.starts_with("response.completed\n") && last.contains(r#""total_tokens":29"#), "{text}");
    assert!(!text.contains("[DONE]"));
}

#[test]
fn a_messages_upstream_stream_translates_to_responses_identically_at_every_split() {
    let text = assert_split_invariant(MESSAGES_UPSTREAM, || {
        Box::new(Translate::new(Box::new(AnthropicDecoder::default()), responses_encoder("anthropic/claude-x")))
    });
    // The thinking signature rides in the reasoning item's encrypted_content.
    assert!(text.contains(r#""encrypted_content":"llmkp:r1:anthropic:"#), "{text}");
    assert!(!text.contains("response.custom_tool_call_input") && text.contains("Zürich"), "{text}");
    assert!(text.rsplit("event: ").next().unwrap().starts_with("response.completed\n"), "{text}");
}

#[test]
fn a_responses_passthrough_forwards_every_event_unchanged_at_every_split() {
    let text =
        assert_split_invariant(RESPONSES_UPSTREAM, || Box::new(ResponsesPassthrough::new("resp/gpt-5.5".into())));
    // Events without a response object keep the upstream's bytes; unknown events pass.
    let middle = &RESPONSES_UPSTREAM[RESPONSES_UPSTREAM.find("\r\n\r\n").unwrap() + 4
        ..RESPONSES_UPSTREAM.find("event: response.completed").unwrap()];
    assert!(text.contains(middle), "{text}");
    assert!(
        text.contains("response.vendor_extension") && text.matches(r#""model":"resp/gpt-5.5""#).count() == 2,
        "{text}"
    );
}

/// What a stream the client abandons is charged by estimate: every relay counts the output its
/// upstream's events carried (reasoning, text, tool-call arguments; never ids, names, or the
/// signature), whichever way the events are relayed.
#[test]
fn every_relay_counts_the_output_characters_of_its_stream() {
    use llmkp::formats::gemini::relay::GeminiPassthrough;
    use llmkp::formats::openai::passthrough::ChatPassthrough;
    // "Denke nach… " (12), "Grüße 👋 " (8), {"city":"Zürich"} (17); the Messages and Responses
    // streams carry the reasoning and text without the trailing spaces.
    let (chat, others) = (12 + 8 + 17, 11 + 7 + 17);
    let messages_encoder = || Box::new(MessagesEncoder(MessagesStreamEncoder::new("msg_fixed", "openai/gpt-4o", 12)));
    let relays: Vec<(&str, &str, u64, Box<dyn Relay>)> = vec![
        ("chat passthrough", CHAT_UPSTREAM, chat, Box::new(ChatPassthrough::new("openai/gpt-4o".into(), true))),
        (
            "chat → messages",
            CHAT_UPSTREAM,
            chat,
            Box::new(Translate::new(Box::new(ChatDecoder::default()), messages_encoder())),
        ),
        ("messages passthrough", MESSAGES_UPSTREAM, others, Box::new(MessagesPassthrough::new("claude-alias".into()))),
        (
            "messages → responses",
            MESSAGES_UPSTREAM,
            others,
            Box::new(Translate::new(Box::new(AnthropicDecoder::default()), responses_encoder("anthropic/claude-x"))),
        ),
        (
            "responses passthrough",
            RESPONSES_UPSTREAM,
            others,
            Box::new(ResponsesPassthrough::new("resp/gpt-5.5".into())),
        ),
    ];
    for (name, upstream, expected, mut relay) in relays {
        relay_all(relay.as_mut(), &[upstream.as_bytes()]);
        assert_eq!(relay.output_chars(), expected, "{name}");
    }
    let gemini = concat!(
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Denke nach…\",\"thought\":true}]}}]}\r\n\r\n",
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Grüße 👋\"}]}}]}\r\n\r\n",
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Zürich\"}}}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":9}}\r\n\r\n",
    );
    let framing = llmkp::formats::gemini::relay::GeminiFraming::Sse;
    let mut relay = GeminiPassthrough::new(framing, "gemini/gemini-2.5-pro".into());
    relay_all(&mut relay, &[gemini.as_bytes()]);
    assert_eq!(relay.output_chars(), others);
}
