//! One client request against any target: the upstream body in the target's protocol, the relay
//! that turns its stream into the client's frames, and its complete answer in the client's
//! family. Same family on both sides is passthrough; anything else crosses the canonical model.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Map, Value};

use super::classify::{ErrorClass, UpstreamFailure, classify_anthropic_error, classify_stream_error};
use super::relay::{
    AnthropicDecoder, ChatDecoder, ChatEncoder, ChatPassthrough, MessagesEncoder, MessagesPassthrough, Relay, Translate,
};
use super::resolve::Target;
use crate::formats::InvalidRequest;
use crate::formats::anthropic::upstream::{decode_upstream_response, encode_upstream};
use crate::formats::anthropic::{MessagesStreamEncoder, encode_response, new_message_id};
use crate::formats::ir;
use crate::formats::openai::ChatRequest;
use crate::formats::openai::chat_output::{ChatStreamEncoder, encode_completion, new_completion_id};
use crate::formats::openai::chunk::stream_error;
use crate::formats::openai::decode_request::{self as chat_request, decode_request};
use crate::formats::openai::translate;
use crate::formats::openai::usage::TokenUsage;
use crate::providers::Protocol;

/// A client request in its own family.
pub enum Inbound {
    /// OpenAI Chat Completions.
    Chat {
        request: ChatRequest,
        /// The canonical form, decoded the first time a target of another family needs it.
        canonical: OnceLock<Result<ir::Request, InvalidRequest>>,
    },
    /// Anthropic Messages.
    Messages {
        request: ir::Request,
        /// The body as the client sent it (passthrough to Anthropic upstreams).
        raw: Map<String, Value>,
        /// The local token count of the prompt, for `message_start` when the upstream reports
        /// usage only at the end.
        input_estimate: u64,
    },
}

/// The body for one target, with what its translation had to leave out or change.
pub struct Outbound {
    pub body: Bytes,
    /// For `x-llmkp-dropped-params`.
    pub dropped: Vec<String>,
    /// For `x-llmkp-adjustments`.
    pub adjustments: Vec<String>,
}

/// A complete answer in the client's family.
pub struct Completed {
    pub body: Bytes,
    pub usage: Option<TokenUsage>,
}

impl Inbound {
    pub fn chat(request: ChatRequest) -> Self {
        Self::Chat { request, canonical: OnceLock::new() }
    }

    /// The `model` the client asked for.
    pub fn model(&self) -> &str {
        match self {
            Self::Chat { request, .. } => &request.model,
            Self::Messages { request, .. } => &request.model,
        }
    }

    pub fn stream(&self) -> bool {
        match self {
            Self::Chat { request, .. } => request.stream,
            Self::Messages { request, .. } => request.stream,
        }
    }

    /// The request body for `target`; with `upstream_stream` the upstream is asked to stream
    /// (and to report usage in the stream where the protocol needs asking).
    pub fn outbound(&mut self, target: &Target, upstream_stream: bool) -> Result<Outbound, InvalidRequest> {
        let model = target.upstream_model.as_str();
        let (body, dropped, adjustments) = match (self, target.provider.protocol) {
            (Self::Chat { request, canonical }, Protocol::Anthropic) => {
                let canonical = canonical.get_or_init(|| decode_request(request.body())).clone()?;
                let encoded = encode_upstream(&canonical, model, upstream_stream)?;
                let mut dropped = chat_request::dropped_params(request.body());
                dropped.extend(encoded.dropped_params);
                (encoded.body, dropped, encoded.adjustments)
            }
            (Self::Messages { raw, request, .. }, Protocol::Anthropic) => {
                // Passthrough: only `model` changes (and the default `max_tokens` the API
                // requires); `stream` is the client's, as Messages upstreams are never folded.
                let mut body = raw.clone();
                body.insert("model".into(), Value::from(model));
                if let Some(max) = request.max_output_tokens {
                    body.entry("max_tokens").or_insert(Value::from(max));
                }
                (body, Vec::new(), Vec::new())
            }
            (Self::Messages { request, .. }, _) => {
                let body = translate::encode_request(request, model, &target.provider.name, upstream_stream)?;
                (body, translate::dropped_params(request), Vec::new())
            }
            // Passthrough: only `model` and the stream options change.
            (Self::Chat { request, .. }, _) => {
                return Ok(Outbound {
                    body: request.upstream_body(model, upstream_stream),
                    dropped: Vec::new(),
                    adjustments: Vec::new(),
                });
            }
        };
        Ok(Outbound {
            body: to_bytes(&body),
            dropped: dropped.into_iter().map(str::to_string).collect(),
            adjustments: adjustments.into_iter().map(str::to_string).collect(),
        })
    }

    /// The relay for a stream from `target`.
    pub fn relay(&self, target: &Target) -> Box<dyn Relay> {
        let served = target.served_id.clone();
        match (self, target.provider.protocol) {
            (Self::Chat { request, .. }, Protocol::Anthropic) => {
                let encoder = ChatStreamEncoder::new(new_completion_id(), served, unix_now(), request.include_usage);
                Box::new(Translate::new(AnthropicDecoder::default(), ChatEncoder(encoder)))
            }
            (Self::Chat { request, .. }, _) => Box::new(ChatPassthrough::new(served, request.include_usage)),
            (Self::Messages { request, .. }, Protocol::Anthropic) => {
                Box::new(MessagesPassthrough::new(request.model.clone()))
            }
            (Self::Messages { request, input_estimate, .. }, _) => {
                let encoder = MessagesStreamEncoder::new(new_message_id(), request.model.clone(), *input_estimate);
                Box::new(Translate::new(ChatDecoder::default(), MessagesEncoder(encoder)))
            }
        }
    }

    /// The client's complete answer from the upstream's complete body (read whole, or folded
    /// from its stream).
    pub fn complete(&self, target: &Target, mut upstream: Map<String, Value>) -> Result<Completed, UpstreamFailure> {
        let protocol = target.provider.protocol;
        if let Some(failure) = error_in_body(protocol, &upstream) {
            return Err(failure);
        }
        let served = target.served_id.as_str();
        let (body, usage) = match (self, protocol) {
            (Self::Chat { .. }, Protocol::Anthropic) => {
                let response = decode_upstream_response(&upstream, served).map_err(untranslatable)?;
                (encode_completion(&response, true), Some(TokenUsage::from_canonical(&response.usage)))
            }
            (Self::Chat { .. }, _) => {
                let usage = upstream.get("usage").filter(|u| u.is_object()).map(TokenUsage::from_openai);
                upstream.insert("model".into(), Value::from(served));
                (Value::Object(upstream), usage)
            }
            (Self::Messages { request, .. }, Protocol::Anthropic) => {
                let usage =
                    decode_upstream_response(&upstream, served).ok().map(|r| TokenUsage::from_canonical(&r.usage));
                upstream.insert("model".into(), Value::from(request.model.clone()));
                (Value::Object(upstream), usage)
            }
            (Self::Messages { request, .. }, _) => {
                let usage = upstream.get("usage").filter(|u| u.is_object()).map(TokenUsage::from_openai);
                let response = translate::decode_response(&upstream, served).map_err(untranslatable)?;
                (encode_response(&response, &request.model), usage)
            }
        };
        let body = Bytes::from(serde_json::to_vec(&body).expect("a JSON value always serialises"));
        Ok(Completed { body, usage })
    }
}

/// An error reported inside a 200 body.
fn error_in_body(protocol: Protocol, body: &Map<String, Value>) -> Option<UpstreamFailure> {
    match protocol {
        Protocol::Anthropic if body.get("type").and_then(Value::as_str) == Some("error") => {
            Some(classify_anthropic_error(body.get("error").unwrap_or(&Value::Null)))
        }
        Protocol::Anthropic => None,
        _ => stream_error(body).map(classify_stream_error),
    }
}

fn untranslatable(err: InvalidRequest) -> UpstreamFailure {
    UpstreamFailure::new(ErrorClass::ServerError, format!("the upstream answer cannot be translated: {err}"))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub fn to_bytes(map: &Map<String, Value>) -> Bytes {
    Bytes::from(serde_json::to_vec(map).expect("a JSON map always serialises"))
}
