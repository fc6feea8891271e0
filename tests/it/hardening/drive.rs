//! Drives llmkp's parsers with arbitrary input: the SSE decoder, each client family's request
//! decoder (and the encoders into every upstream protocol after it), and each stream relay
//! (upstream decoder → client encoder, or passthrough). Shared by the property tests and the
//! fuzz targets (`tests/fuzz`, which include this file), so it uses only llmkp's public API.
//! Every function panics on a broken invariant; an `Err` from llmkp is a fine outcome.

#![allow(dead_code)]

use llmkp::engine::classify::{ErrorClass, UpstreamFailure};
use llmkp::engine::relay::{
    AnthropicDecoder, ChatDecoder, ChatEncoder, ChatPassthrough, ClientEncoder, GeminiDecoder, GeminiEncoder,
    GeminiFraming, GeminiPassthrough, MessagesEncoder, MessagesPassthrough, Relay, Translate, UpstreamDecoder,
};
use llmkp::formats::anthropic::upstream::encode_upstream as encode_anthropic;
use llmkp::formats::anthropic::{MessagesRequest, MessagesStreamEncoder};
use llmkp::formats::gemini::request::{Dialect, decode_client_request, encode_upstream as encode_gemini};
use llmkp::formats::gemini::stream::GeminiStreamEncoder;
use llmkp::formats::ir;
use llmkp::formats::openai::ChatRequest;
use llmkp::formats::openai::chat_output::ChatStreamEncoder;
use llmkp::formats::openai::decode_request::decode_request as decode_chat;
use llmkp::formats::openai::embeddings::EmbeddingsRequest;
use llmkp::formats::openai::translate::encode_request as encode_openai;
use llmkp::formats::sse::{SseDecoder, SseEvent};
use serde_json::Value;

/// The events `bytes` decode to when fed in pieces cut at `cuts` (positions, any order, any
/// value), and whether the decoder stopped at `limit`.
pub fn sse_events(bytes: &[u8], cuts: &[usize], limit: usize) -> (Vec<SseEvent>, bool) {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut decoder = SseDecoder::with_limit(limit);
    let mut events = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        decoder.push(&bytes[from..cut], &mut events);
        from = cut;
    }
    decoder.finish(&mut events);
    (events, decoder.overflowed())
}

/// The same stream split anywhere gives the same events (and the same overflow), with or without
/// a limit; no event holds more than the limit.
pub fn sse_splits_agree(bytes: &[u8], cuts: &[usize], limit: usize) {
    let whole = sse_events(bytes, &[], usize::MAX);
    assert_eq!(sse_events(bytes, cuts, usize::MAX), whole, "split at {cuts:?}");
    let (bounded, overflowed) = sse_events(bytes, &[], limit);
    assert_eq!(sse_events(bytes, cuts, limit), (bounded.clone(), overflowed), "limited, split at {cuts:?}");
    assert!(bounded.iter().all(|e| e.data.len() <= limit), "an event over the limit was dispatched");
    if !overflowed {
        assert_eq!(bounded, whole.0, "under the limit nothing changes");
    }
}

/// The client families whose requests the proxy decodes.
#[derive(Debug, Clone, Copy)]
pub enum Family {
    Chat,
    Messages,
    Gemini,
    Embeddings,
}

/// Decodes `body` as a request of `family`; a request that decodes is then encoded for every
/// upstream protocol.
pub fn decode_request(family: Family, body: &[u8]) {
    let canonical = match family {
        Family::Chat => {
            let Ok(request) = ChatRequest::parse(body) else { return };
            let mut request = request;
            let _ = request.upstream_body("m", true);
            decode_chat(request.body()).ok()
        }
        Family::Messages => MessagesRequest::parse(body).ok().map(|r| r.request),
        Family::Gemini => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => decode_client_request(&map, "provider/model", true).ok(),
            _ => None,
        },
        Family::Embeddings => {
            if let Ok(request) = EmbeddingsRequest::parse(body) {
                let _ = request.upstream_body("m");
            }
            None
        }
    };
    if let Some(canonical) = canonical {
        encode_everywhere(&canonical);
    }
}

fn encode_everywhere(request: &ir::Request) {
    for stream in [false, true] {
        let _ = encode_openai(request, "m", "openai", stream);
        let _ = encode_openai(request, "m", "custom", stream);
        let _ = encode_anthropic(request, "m", stream);
    }
    let _ = encode_gemini(request, "m", "gemini", Dialect::Public);
    let _ = encode_gemini(request, "m", "gemini_cli", Dialect::CodeAssist);
}

/// The upstream protocols a stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    OpenAi,
    Anthropic,
    Gemini,
}

/// The client encodings a stream goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Chat,
    Messages,
    GeminiSse,
    GeminiJson,
}

pub const UPSTREAMS: [Upstream; 3] = [Upstream::OpenAi, Upstream::Anthropic, Upstream::Gemini];
pub const CLIENTS: [Client; 4] = [Client::Chat, Client::Messages, Client::GeminiSse, Client::GeminiJson];

/// The relay the engine uses for this pair: passthrough when they speak the same protocol.
pub fn relay(upstream: Upstream, client: Client) -> Box<dyn Relay> {
    let served = "provider/model".to_string();
    let framing = |client| if client == Client::GeminiSse { GeminiFraming::Sse } else { GeminiFraming::JsonArray };
    match (upstream, client) {
        (Upstream::OpenAi, Client::Chat) => Box::new(ChatPassthrough::new(served, true)),
        (Upstream::Anthropic, Client::Messages) => Box::new(MessagesPassthrough::new(served)),
        (Upstream::Gemini, Client::GeminiSse | Client::GeminiJson) => {
            Box::new(GeminiPassthrough::new(framing(client), served))
        }
        _ => {
            let decoder: Box<dyn UpstreamDecoder> = match upstream {
                Upstream::OpenAi => Box::new(ChatDecoder::default()),
                Upstream::Anthropic => Box::new(AnthropicDecoder::default()),
                Upstream::Gemini => Box::new(GeminiDecoder::new("gemini", vec![("wire_name".into(), "name".into())])),
            };
            let encoder: Box<dyn ClientEncoder> = match client {
                Client::Chat => Box::new(ChatEncoder(ChatStreamEncoder::new("chatcmpl-1", served, 1, true))),
                Client::Messages => Box::new(MessagesEncoder(MessagesStreamEncoder::new("msg_1", served, 7))),
                Client::GeminiSse | Client::GeminiJson => Box::new(GeminiEncoder::new(
                    GeminiStreamEncoder::new("r1".into(), served, "gemini".into()),
                    framing(client),
                )),
            };
            Box::new(Translate::new(decoder, encoder))
        }
    }
}

/// Feeds `bytes` (an upstream SSE body, cut at `cuts`) through the pair's relay the way
/// [`llmkp::engine::client_stream`] does: events until the terminal one or a failure, then the
/// end of the body. The client's bytes are valid UTF-8 and nothing follows the terminal frames.
pub fn relay_stream(upstream: Upstream, client: Client, bytes: &[u8], cuts: &[usize]) -> Vec<u8> {
    let (events, _) = sse_events(bytes, cuts, 1 << 20);
    let mut relay = relay(upstream, client);
    let mut out = Vec::new();
    let mut ended = false;
    for event in &events {
        match relay.event(event) {
            Ok(step) => {
                out.extend(step.frames);
                if step.done {
                    ended = true;
                    break;
                }
            }
            Err(failure) => {
                out.extend(relay.error(&failure, &failure.message));
                ended = true;
                break;
            }
        }
    }
    if !ended {
        match relay.end() {
            Ok(frames) => out.extend(frames),
            Err(failure) => out.extend(relay.error(&failure, &failure.message)),
        }
    }
    let _ = relay.usage();
    assert!(std::str::from_utf8(&out).is_ok(), "client frames are UTF-8");
    out
}

/// A stream cut by the server (shutdown) or by the network in the middle: the relay can always
/// produce its in-band error.
pub fn relay_cut(upstream: Upstream, client: Client, bytes: &[u8], after: usize) {
    let (events, _) = sse_events(bytes, &[], 1 << 20);
    let mut relay = relay(upstream, client);
    for event in events.iter().take(after) {
        if relay.event(event).is_err() {
            return;
        }
    }
    let failure = UpstreamFailure::new(ErrorClass::Connection, "cut");
    let frames = relay.error(&failure, "cut");
    assert!(std::str::from_utf8(&frames).is_ok());
}
