//! Drives llmkp's parsers with arbitrary input: the SSE decoder, each client family's request
//! decoder (and the encoders into every upstream protocol after it), and each stream relay
//! (upstream decoder → client encoder, or passthrough). Shared by the property tests and the
//! fuzz targets (`tests/fuzz`, which include this file), so it uses only llmkp's public API.
//! Every function panics on a broken invariant; an `Err` from llmkp is a fine outcome.

#![allow(dead_code)]

use llmkp::engine::ClientRequest;
use llmkp::formats::anthropic::family::MessagesFamily;
use llmkp::formats::failure::{ErrorClass, UpstreamFailure};
use llmkp::formats::family::ClientFamily;
use llmkp::formats::gemini::family::GeminiFamily;
use llmkp::formats::gemini::relay::GeminiFraming;
use llmkp::formats::openai::embeddings::EmbeddingsRequest;
use llmkp::formats::openai::family::ChatFamily;
use llmkp::formats::protocol::Protocol;
use llmkp::formats::relay::{Relay, Translate};
use llmkp::formats::responses::family::ResponsesFamily;
use llmkp::formats::sse::{SseDecoder, SseEvent};
use llmkp::providers::Provider;
use llmkp::providers::protocol::EncodeTarget;
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
    Responses,
}

/// Every client family.
pub const FAMILIES: [Family; 5] =
    [Family::Chat, Family::Messages, Family::Gemini, Family::Embeddings, Family::Responses];

/// Decodes `body` as a request of `family`; a request that decodes is then encoded for every
/// upstream protocol, and passed through to its own.
pub fn decode_request(family: Family, body: &[u8]) {
    let request = match family {
        Family::Chat => ChatFamily::parse_bytes(body).ok().map(|(f, h, b)| ClientRequest::new(Box::new(f), h, b)),
        Family::Messages => {
            MessagesFamily::parse_bytes(body).ok().map(|(f, h, b)| ClientRequest::new(Box::new(f), h, b))
        }
        Family::Gemini => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => GeminiFamily::parse(&map, "provider/model", Some(GeminiFraming::Sse))
                .ok()
                .map(|(f, h)| ClientRequest::new(Box::new(f), h, map)),
            _ => None,
        },
        Family::Embeddings => {
            if let Ok(request) = EmbeddingsRequest::parse(body) {
                for provider in providers() {
                    let _ = provider.adapter.embeddings_body(&request, target(&provider, false));
                }
            }
            None
        }
        Family::Responses => ResponsesFamily::body_of(body)
            .ok()
            .and_then(|map| ResponsesFamily::parse(&map).ok().map(|(f, h)| ClientRequest::new(Box::new(f), h, map))),
    };
    let Some(request) = request else { return };
    let _ = request.opening();
    for provider in providers() {
        for stream in [false, true] {
            if request.family().protocol() == Some(provider.protocol) {
                let edits = llmkp::providers::protocol::PassthroughEdits {
                    upstream_model: "m",
                    stream,
                    output_limit: Some(100),
                    default_output: 8192,
                    temperature_zero: llmkp::config::TemperatureZero::Set,
                };
                let _ = provider.adapter.patch_passthrough(request.body(), edits);
            }
            if let Ok(canonical) = request.canonical() {
                let _ = provider.adapter.encode(canonical, target(&provider, stream));
            }
        }
    }
}

/// One provider of each upstream protocol (OpenAI's own platform and another Chat server).
fn providers() -> Vec<Provider> {
    [
        ("openai", Protocol::OpenAi),
        ("custom", Protocol::OpenAi),
        ("anthropic", Protocol::Anthropic),
        ("gemini", Protocol::Gemini),
        ("gemini_cli", Protocol::CodeAssist),
        ("resp", Protocol::Responses),
    ]
    .into_iter()
    .map(|(name, protocol)| Provider::new(name, protocol, "http://127.0.0.1:9".into()))
    .collect()
}

fn target(provider: &Provider, stream: bool) -> EncodeTarget<'_> {
    EncodeTarget { provider, upstream_model: "m", served: "provider/model", stream }
}

/// The upstream protocols a stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    OpenAi,
    Anthropic,
    Gemini,
    Responses,
}

/// The client encodings a stream goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Chat,
    Messages,
    GeminiSse,
    GeminiJson,
    Responses,
}

pub const UPSTREAMS: [Upstream; 4] = [Upstream::OpenAi, Upstream::Anthropic, Upstream::Gemini, Upstream::Responses];
pub const CLIENTS: [Client; 5] =
    [Client::Chat, Client::Messages, Client::GeminiSse, Client::GeminiJson, Client::Responses];

/// The relay the engine uses for this pair: passthrough when they speak the same protocol.
pub fn relay(upstream: Upstream, client: Client) -> Box<dyn Relay> {
    let served = "provider/model";
    let family: Box<dyn ClientFamily> = match client {
        Client::Chat => Box::new(ChatFamily { include_usage: true }),
        Client::Messages => Box::new(MessagesFamily),
        Client::GeminiSse => Box::new(gemini_family(GeminiFraming::Sse)),
        Client::GeminiJson => Box::new(gemini_family(GeminiFraming::JsonArray)),
        Client::Responses => Box::new(ResponsesFamily::default()),
    };
    let protocol = match upstream {
        Upstream::OpenAi => Protocol::OpenAi,
        Upstream::Anthropic => Protocol::Anthropic,
        Upstream::Gemini => Protocol::Gemini,
        Upstream::Responses => Protocol::Responses,
    };
    if family.protocol() == Some(protocol) {
        return family.passthrough_relay(served);
    }
    let provider = Provider::new(protocol.as_str(), protocol, "http://127.0.0.1:9".into());
    let decoder = provider.adapter.stream_decoder(&provider, vec![("wire_name".into(), "name".into())]);
    Box::new(Translate::new(decoder, family.stream_encoder(served, None)))
}

fn gemini_family(framing: GeminiFraming) -> GeminiFamily {
    let body = serde_json::json!({"contents": [{"parts": [{"text": "x"}]}]});
    GeminiFamily::parse(body.as_object().unwrap(), "provider/model", Some(framing)).unwrap().0
}

/// Feeds `bytes` (an upstream SSE body, cut at `cuts`) through the pair's relay the way
/// the engine's committed stream does: events until the terminal one or a failure, then the
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

/// The fuzz targets in `tests/fuzz/fuzz_targets`, one per name (each file calls [`fuzz_one`]).
pub const FUZZ_TARGETS: &[&str] = &[
    "sse_split",
    "decode_chat",
    "decode_messages",
    "decode_gemini",
    "decode_embeddings",
    "decode_responses",
    "relay_openai_to_chat",
    "relay_openai_to_messages",
    "relay_openai_to_gemini",
    "relay_openai_to_responses",
    "relay_anthropic_to_chat",
    "relay_anthropic_to_messages",
    "relay_anthropic_to_gemini",
    "relay_anthropic_to_responses",
    "relay_gemini_to_chat",
    "relay_gemini_to_messages",
    "relay_gemini_to_gemini",
    "relay_gemini_to_responses",
    "relay_responses_to_chat",
    "relay_responses_to_messages",
    "relay_responses_to_gemini",
    "relay_responses_to_responses",
];

/// What the fuzz target `name` does with one input, so a fuzz target and the seed replay in
/// `cargo test` run the same code. Panics on an unknown name.
///
/// - `sse_split`: two bytes choose the event limit, four more the cut points, the rest is the body.
/// - `decode_<family>`: the whole input is a request body of that family.
/// - `relay_<upstream>_to_<client>`: the first byte picks the Gemini framing (even: SSE, odd: a
///   JSON array), the second the cut point and how many events pass before the stream is cut;
///   the rest is the upstream's SSE body.
pub fn fuzz_one(name: &str, data: &[u8]) {
    if name == "sse_split" {
        if data.len() < 6 {
            return;
        }
        let limit = 1 + usize::from(u16::from_le_bytes([data[0], data[1]]));
        let cuts: Vec<usize> = data[2..6].iter().map(|b| usize::from(*b) * 7).collect();
        sse_splits_agree(&data[6..], &cuts, limit);
    } else if let Some(family) = name.strip_prefix("decode_") {
        let family = match family {
            "chat" => Family::Chat,
            "messages" => Family::Messages,
            "gemini" => Family::Gemini,
            "embeddings" => Family::Embeddings,
            "responses" => Family::Responses,
            _ => panic!("no fuzz target {name}"),
        };
        decode_request(family, data);
    } else if let Some((upstream, client)) = name.strip_prefix("relay_").and_then(|pair| pair.split_once("_to_")) {
        if data.len() < 2 {
            return;
        }
        let upstream = match upstream {
            "openai" => Upstream::OpenAi,
            "anthropic" => Upstream::Anthropic,
            "gemini" => Upstream::Gemini,
            "responses" => Upstream::Responses,
            _ => panic!("no fuzz target {name}"),
        };
        let client = match client {
            "chat" => Client::Chat,
            "messages" => Client::Messages,
            "gemini" if data[0].is_multiple_of(2) => Client::GeminiSse,
            "gemini" => Client::GeminiJson,
            "responses" => Client::Responses,
            _ => panic!("no fuzz target {name}"),
        };
        let cuts = [usize::from(data[1]) * 13];
        relay_stream(upstream, client, &data[2..], &cuts);
        relay_cut(upstream, client, &data[2..], usize::from(data[1] % 8));
    } else {
        panic!("no fuzz target {name}");
    }
}
