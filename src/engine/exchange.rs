//! One client request against any target: the upstream call in the target's protocol, the relay
//! that turns its stream into the client's frames, and its complete answer in the client's
//! family. Same family on both sides is passthrough; anything else crosses the canonical model
//! (client → canonical → upstream, upstream → canonical → client).

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::classify::{ErrorClass, UpstreamFailure, classify_anthropic_error, classify_stream_error};
use super::relay::{
    AnthropicDecoder, ChatDecoder, ChatEncoder, ChatPassthrough, ClientEncoder, GeminiDecoder, GeminiEncoder,
    GeminiFraming, GeminiPassthrough, MessagesEncoder, MessagesPassthrough, RecordingEncoder, Relay, Translate,
    UpstreamDecoder,
};
use super::resolve::Target;
use super::signatures::SignatureCache;
use crate::auth::Credential;
use crate::formats::anthropic::upstream as anthropic_upstream;
use crate::formats::anthropic::{MessagesStreamEncoder, encode_response, new_message_id};
use crate::formats::gemini::{self, request::Dialect};
use crate::formats::ir;
use crate::formats::openai::ChatRequest;
use crate::formats::openai::chat_output::{ChatStreamEncoder, encode_completion, new_completion_id};
use crate::formats::openai::chunk::stream_error;
use crate::formats::openai::decode_request::{self as chat_request, decode_request};
use crate::formats::openai::embeddings::{EmbeddingInput, EmbeddingsRequest, encode_base64_in_place};
use crate::formats::openai::usage::TokenUsage;
use crate::formats::openai::{placeholder, think, translate};
use crate::formats::{InvalidRequest, random_base62};
use crate::providers::{Protocol, Provider, anthropic, code_assist, gemini as gemini_api, iflow, openai};

/// A client request in its own family.
pub enum Inbound {
    /// OpenAI Chat Completions.
    Chat {
        request: ChatRequest,
        /// The canonical form, decoded the first time a target of another family needs it.
        canonical: OnceLock<Result<ir::Request, InvalidRequest>>,
        /// Signatures of earlier translated answers, re-attached to the history (§10).
        signatures: Arc<SignatureCache>,
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
    /// Gemini generateContent.
    Gemini {
        request: ir::Request,
        /// The body as the client sent it (passthrough to Gemini upstreams).
        raw: Map<String, Value>,
        framing: GeminiFraming,
    },
    /// OpenAI embeddings.
    Embeddings(EmbeddingsRequest),
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

/// One upstream call's particulars.
pub struct Send<'a> {
    pub http: &'a reqwest::Client,
    pub target: &'a Target,
    pub credential: &'a Credential,
    pub client_headers: &'a [(HeaderName, HeaderValue)],
    pub body: Bytes,
    pub upstream_stream: bool,
}

impl Inbound {
    pub fn chat(request: ChatRequest, signatures: Arc<SignatureCache>) -> Self {
        Self::Chat { request, canonical: OnceLock::new(), signatures }
    }

    /// The `model` the client asked for.
    pub fn model(&self) -> &str {
        match self {
            Self::Chat { request, .. } => &request.model,
            Self::Messages { request, .. } | Self::Gemini { request, .. } => &request.model,
            Self::Embeddings(request) => &request.model,
        }
    }

    pub fn stream(&self) -> bool {
        match self {
            Self::Chat { request, .. } => request.stream,
            Self::Messages { request, .. } | Self::Gemini { request, .. } => request.stream,
            Self::Embeddings(_) => false,
        }
    }

    /// A chat turn (anything but embeddings): the kind of request an upstream can stream.
    pub fn is_conversation(&self) -> bool {
        !matches!(self, Self::Embeddings(_))
    }

    /// The upstream protocol this client speaks (same protocol → passthrough).
    fn native(&self) -> Option<Protocol> {
        match self {
            Self::Chat { .. } => Some(Protocol::OpenAi),
            Self::Messages { .. } => Some(Protocol::Anthropic),
            Self::Gemini { .. } => Some(Protocol::Gemini),
            Self::Embeddings(_) => None,
        }
    }

    /// Same family on both sides: the upstream's own bytes reach the client.
    pub fn is_passthrough(&self, target: &Target) -> bool {
        self.passthrough(target)
    }

    fn passthrough(&self, target: &Target) -> bool {
        self.native() == Some(target.provider.protocol)
    }

    /// The request in canonical form (history signatures restored for Chat clients).
    fn canonical(&self) -> Result<ir::Request, InvalidRequest> {
        match self {
            Self::Chat { request, canonical, signatures } => {
                let mut canonical = canonical.get_or_init(|| decode_request(request.body())).clone()?;
                signatures.restore(&mut canonical);
                Ok(canonical)
            }
            Self::Messages { request, .. } | Self::Gemini { request, .. } => Ok(request.clone()),
            Self::Embeddings(_) => Err(InvalidRequest::body("an embeddings request has no conversation")),
        }
    }

    /// The request body for `target`; with `upstream_stream` the upstream is asked to stream
    /// (and to report usage in the stream where the protocol needs asking).
    /// `placeholder_tool`: `QWEN_CODE_DUMMY_TOOL`.
    pub fn outbound(
        &mut self,
        target: &Target,
        upstream_stream: bool,
        placeholder_tool: bool,
    ) -> Result<Outbound, InvalidRequest> {
        let mut outbound = self.outbound_body(target, upstream_stream)?;
        if matches!(target.provider.name.as_str(), "iflow" | "qwen_code")
            && let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&outbound.body)
        {
            let dropped = portal_request(&target.provider.name, &mut body, placeholder_tool);
            outbound.dropped.extend(dropped);
            outbound.body = to_bytes(&body);
        }
        Ok(outbound)
    }

    fn outbound_body(&mut self, target: &Target, upstream_stream: bool) -> Result<Outbound, InvalidRequest> {
        let model = target.upstream_model.as_str();
        if let Self::Embeddings(request) = self {
            return embeddings_outbound(request, target);
        }
        if self.passthrough(target) {
            let body = match self {
                // Only `model` and the stream options change.
                Self::Chat { request, .. } => request.upstream_body(model, upstream_stream),
                // Only `model` changes (and the `max_tokens` the API requires); `stream` is the
                // client's, as Messages upstreams are never folded.
                // Edited in place (no copy of a big request); another target overwrites the same fields.
                Self::Messages { raw, request, .. } => {
                    raw.insert("model".into(), Value::from(model));
                    if let Some(max) = request.max_output_tokens {
                        raw.entry("max_tokens").or_insert(Value::from(max));
                    }
                    to_bytes(raw)
                }
                // The model travels in the URL; the body is the client's.
                Self::Gemini { raw, .. } => to_bytes(raw),
                Self::Embeddings(_) => unreachable!("handled above"),
            };
            return Ok(Outbound { body, dropped: Vec::new(), adjustments: Vec::new() });
        }
        let canonical = self.canonical()?;
        let mut dropped = match self {
            Self::Chat { request, .. } => chat_request::dropped_params(request.body()),
            Self::Gemini { raw, .. } => gemini::request::dropped_client_params(raw),
            _ => Vec::new(),
        };
        let (body, more_dropped, adjustments) = encode_canonical(&canonical, target, upstream_stream)?;
        dropped.extend(more_dropped);
        Ok(Outbound {
            body: to_bytes(&body),
            dropped: dropped.into_iter().map(str::to_string).collect(),
            adjustments: adjustments.into_iter().map(str::to_string).collect(),
        })
    }

    /// The HTTP request for one attempt.
    pub fn send(&self, call: Send<'_>) -> reqwest::RequestBuilder {
        let Send { http, target, credential, client_headers, body, upstream_stream } = call;
        let provider: &Provider = &target.provider;
        let model = target.upstream_model.as_str();
        match (self, provider.protocol) {
            (Self::Embeddings(_), Protocol::Gemini) => {
                gemini_api::call(http, provider, credential, model, gemini_api::Method::BatchEmbed, body)
            }
            (Self::Embeddings(_), _) => openai::embeddings(http, provider, credential, body),
            (_, Protocol::Anthropic) => anthropic::messages(http, provider, credential, client_headers, body),
            (_, Protocol::Gemini) => {
                let method = if upstream_stream { gemini_api::Method::Stream } else { gemini_api::Method::Generate };
                gemini_api::call(http, provider, credential, model, method, body)
            }
            (_, Protocol::CodeAssist) => {
                let project = credential.oauth.as_ref().and_then(|h| h.project()).unwrap_or_default();
                let inner: Map<String, Value> = serde_json::from_slice(&body).unwrap_or_default();
                let wrapped = code_assist::wrap(code_assist::Flavor::of(provider), model, &project, inner);
                code_assist::generate(http, provider, &credential.secret(), model, upstream_stream, to_bytes(&wrapped))
            }
            _ => chat_request_for(http, provider, credential, body),
        }
    }

    /// The relay for a stream from `target`.
    pub fn relay(&self, target: &Target) -> Box<dyn Relay> {
        let served = target.served_id.clone();
        if self.passthrough(target) {
            return match self {
                Self::Chat { request, .. } => {
                    let relay = ChatPassthrough::new(served, request.include_usage);
                    Box::new(if think_tags(target) { relay.with_think_tags() } else { relay })
                }
                Self::Messages { .. } => Box::new(MessagesPassthrough::new(served)),
                Self::Gemini { framing, .. } => Box::new(GeminiPassthrough::new(*framing, served)),
                Self::Embeddings(_) => unreachable!("embeddings never stream"),
            };
        }
        let decoder = self.decoder(target);
        let encoder: Box<dyn ClientEncoder> = match self {
            Self::Chat { request, signatures, .. } => {
                let encoder = ChatStreamEncoder::new(new_completion_id(), served, unix_now(), request.include_usage);
                Box::new(RecordingEncoder::new(ChatEncoder(encoder), signatures.clone()))
            }
            Self::Messages { input_estimate, .. } => {
                let encoder = MessagesStreamEncoder::new(new_message_id(), served, *input_estimate);
                Box::new(MessagesEncoder(encoder))
            }
            Self::Gemini { framing, .. } => {
                let encoder = gemini::stream::GeminiStreamEncoder::new(response_id(), served, gemini::ORIGIN.into());
                Box::new(GeminiEncoder::new(encoder, *framing))
            }
            Self::Embeddings(_) => unreachable!("embeddings never stream"),
        };
        Box::new(Translate::new(decoder, encoder))
    }

    /// The target's stream as canonical events.
    pub fn decoder(&self, target: &Target) -> Box<dyn UpstreamDecoder> {
        match target.provider.protocol {
            Protocol::Anthropic => Box::new(AnthropicDecoder::default()),
            Protocol::Gemini => Box::new(GeminiDecoder::new(gemini::ORIGIN, self.gemini_renames())),
            Protocol::CodeAssist => Box::new(GeminiDecoder::new(&target.provider.name, self.gemini_renames())),
            _ if think_tags(target) => Box::new(ChatDecoder::with_think_tags()),
            _ => Box::new(ChatDecoder::default()),
        }
    }

    /// The client's complete answer from the upstream's complete body (read whole, or folded
    /// from its stream).
    pub fn complete(&self, target: &Target, mut upstream: Map<String, Value>) -> Result<Completed, UpstreamFailure> {
        let protocol = target.provider.protocol;
        if let Some(failure) = error_in_body(protocol, &upstream) {
            return Err(failure);
        }
        if let Self::Embeddings(request) = self {
            return embeddings_complete(request, protocol, upstream);
        }
        if think_tags(target) {
            think::rewrite_completion(&mut upstream);
            placeholder::rewrite_completion(&mut upstream);
        }
        let served = target.served_id.as_str();
        if self.passthrough(target) {
            let usage = match self {
                Self::Chat { .. } => {
                    upstream.insert("model".into(), Value::from(served));
                    upstream.get("usage").filter(|u| u.is_object()).map(TokenUsage::from_openai)
                }
                Self::Messages { .. } | Self::Gemini { .. } => {
                    let decoded = decode_complete(target, &upstream).ok();
                    if decoded.as_ref().is_some_and(is_empty_answer) {
                        return Err(empty_answer());
                    }
                    let key = if matches!(self, Self::Messages { .. }) { "model" } else { "modelVersion" };
                    upstream.insert(key.into(), Value::from(served));
                    decoded.map(|r| TokenUsage::from_canonical(&r.usage))
                }
                Self::Embeddings(_) => unreachable!("handled above"),
            };
            return Ok(Completed { body: to_bytes(&upstream), usage });
        }
        let response = decode_complete(target, &upstream).map_err(untranslatable)?;
        self.complete_canonical(target, response)
    }

    /// The client's complete answer from a canonical one (decoded from a body, or folded from a
    /// stream).
    pub fn complete_canonical(
        &self,
        target: &Target,
        mut response: ir::Response,
    ) -> Result<Completed, UpstreamFailure> {
        let served = target.served_id.as_str();
        if is_empty_answer(&response) {
            return Err(empty_answer());
        }
        if matches!(target.provider.protocol, Protocol::Gemini | Protocol::CodeAssist) {
            let renames = self.gemini_renames();
            for part in &mut response.parts {
                if let ir::Part::ToolCall(call) = part
                    && let Some((_, original)) = renames.iter().find(|(wire, _)| *wire == call.name)
                {
                    call.name.clone_from(original);
                }
            }
        }
        let body = match self {
            Self::Chat { signatures, .. } => {
                signatures.remember_response(&response);
                encode_completion(&response, true)
            }
            Self::Messages { .. } => encode_response(&response, served),
            Self::Gemini { .. } => gemini::response::encode_client_response(&response, served, gemini::ORIGIN),
            Self::Embeddings(_) => unreachable!("handled above"),
        };
        let usage = Some(TokenUsage::from_canonical(&response.usage));
        Ok(Completed { body: Bytes::from(serde_json::to_vec(&body).expect("JSON serialises")), usage })
    }
}

impl Inbound {
    /// The client's tool names Gemini cannot take as they are: (the name sent, the client's).
    fn gemini_renames(&self) -> Vec<(String, String)> {
        let Ok(canonical) = self.canonical() else { return Vec::new() };
        canonical
            .tools
            .iter()
            .filter_map(|tool| match tool {
                ir::Tool::Function { name, .. } => {
                    let wire = gemini::request::wire_tool_name(name);
                    (wire != name.as_str()).then(|| (wire.into_owned(), name.clone()))
                }
                ir::Tool::Server { .. } => None,
            })
            .collect()
    }
}

/// A Chat Completions call: at the account's own API host for Qwen Code logins, signed for
/// iFlow (credentials specification §11, §12), plain otherwise.
fn chat_request_for(
    http: &reqwest::Client,
    provider: &Provider,
    credential: &Credential,
    body: Bytes,
) -> reqwest::RequestBuilder {
    let secret = credential.secret();
    let base = match credential.oauth.as_ref().and_then(|h| h.resource_url()) {
        Some(resource) if provider.name == "qwen_code" && !provider.base_overridden => qwen_base(&resource),
        _ => provider.base_url.clone(),
    };
    let mut request = openai::chat_completions_at(http, &base, &secret, body);
    if provider.name == "iflow" {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        for (name, value) in iflow::signed_headers(&secret, &iflow::new_session_id(), now as i64) {
            request = request.header(name, value);
        }
    }
    request
}

/// Parameters the Qwen Code and iFlow portals accept (credentials specification §11, §12).
const PORTAL_PARAMS: [&str; 15] = [
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "stop",
    "seed",
    "response_format",
];

/// The Qwen Code / iFlow request shape: only the parameters they accept (the rest named as
/// dropped), `strict` and `additionalProperties` removed from tool schemas; iFlow gets no
/// `stream_options` (it answers 406) and Qwen Code a tool it is told never to call when the
/// request has none (`QWEN_CODE_DUMMY_TOOL`).
fn portal_request(provider: &str, body: &mut Map<String, Value>, placeholder_tool: bool) -> Vec<String> {
    if let Some(max) = body.remove("max_completion_tokens") {
        body.entry("max_tokens").or_insert(max);
    }
    let dropped: Vec<String> = body.keys().filter(|k| !PORTAL_PARAMS.contains(&k.as_str())).cloned().collect();
    for key in &dropped {
        body.remove(key);
    }
    if let Some(Value::Array(tools)) = body.get_mut("tools") {
        for tool in tools.iter_mut() {
            if let Some(function) = tool.get_mut("function").and_then(Value::as_object_mut) {
                function.remove("strict");
                if let Some(parameters) = function.get_mut("parameters") {
                    strip_schema_keys(parameters);
                }
            }
        }
    }
    if provider == "iflow" {
        body.remove("stream_options");
        // An explicitly empty tool list gets one placeholder function (§12).
        if body.get("tools").and_then(Value::as_array).is_some_and(Vec::is_empty) {
            body.insert(
                "tools".into(),
                serde_json::json!([{"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}}]),
            );
        }
    } else if placeholder_tool && body.get("tools").is_none_or(|t| t.as_array().is_none_or(Vec::is_empty)) {
        body.insert(
            "tools".into(),
            serde_json::json!([{"type": "function", "function": {"name": "do_not_call_me",
                "description": "Do not call this tool.", "parameters": {"type": "object", "properties": {}}}}]),
        );
    }
    // Bookkeeping fields of the proxy itself are not client parameters worth reporting.
    dropped.into_iter().filter(|k| k != "user").collect()
}

/// `strict` and `additionalProperties` removed at every depth of a JSON schema (property names
/// of the same spelling are kept).
fn strip_schema_keys(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            map.remove("strict");
            map.remove("additionalProperties");
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value) {
                    ("properties", Value::Object(properties)) => properties.values_mut().for_each(strip_schema_keys),
                    (_, value) => strip_schema_keys(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_schema_keys),
        _ => {}
    }
}

/// Upstreams that write reasoning inline as `<think>…</think>` (credentials specification §11).
fn think_tags(target: &Target) -> bool {
    target.provider.name == "qwen_code"
}

/// Qwen Code's `resource_url` as an API base: `https://` added when there is no scheme, `/v1`
/// appended unless present (§11).
fn qwen_base(resource: &str) -> String {
    let resource = resource.trim().trim_end_matches('/');
    let with_scheme = if resource.contains("://") { resource.to_string() } else { format!("https://{resource}") };
    if with_scheme.ends_with("/v1") { with_scheme } else { format!("{with_scheme}/v1") }
}

/// The canonical request as `target`'s protocol body, with what was dropped and adjusted.
type Encoded = (Map<String, Value>, Vec<&'static str>, Vec<&'static str>);

fn encode_canonical(canonical: &ir::Request, target: &Target, stream: bool) -> Result<Encoded, InvalidRequest> {
    let model = target.upstream_model.as_str();
    Ok(match target.provider.protocol {
        Protocol::Anthropic => {
            let encoded = anthropic_upstream::encode_upstream(canonical, model, stream)?;
            (encoded.body, encoded.dropped_params, encoded.adjustments)
        }
        Protocol::Gemini => {
            let encoded = gemini::request::encode_upstream(canonical, model, gemini::ORIGIN, Dialect::Public)?;
            (encoded.body, encoded.dropped_params, encoded.adjustments)
        }
        // Code Assist signatures are only valid for the login that issued them.
        Protocol::CodeAssist => {
            let origin = target.provider.name.as_str();
            let encoded = gemini::request::encode_upstream(canonical, model, origin, Dialect::CodeAssist)?;
            (encoded.body, encoded.dropped_params, encoded.adjustments)
        }
        _ => {
            let body = translate::encode_request(canonical, model, &target.provider.name, stream)?;
            (body, translate::dropped_params(canonical), Vec::new())
        }
    })
}

/// A complete upstream body in canonical form.
fn decode_complete(target: &Target, body: &Map<String, Value>) -> Result<ir::Response, InvalidRequest> {
    let served = target.served_id.as_str();
    match target.provider.protocol {
        Protocol::Anthropic => anthropic_upstream::decode_upstream_response(body, served),
        Protocol::Gemini => gemini::response::decode_upstream_response(body, served, gemini::ORIGIN),
        Protocol::CodeAssist => gemini::response::decode_upstream_response(body, served, &target.provider.name),
        Protocol::OpenAi => translate::decode_response(body, served),
    }
}

fn embeddings_outbound(request: &EmbeddingsRequest, target: &Target) -> Result<Outbound, InvalidRequest> {
    let model = target.upstream_model.as_str();
    let body = match (target.provider.protocol, &request.input) {
        (Protocol::Gemini, EmbeddingInput::Texts(texts)) => {
            to_bytes(&gemini::embed::encode_batch_embed(texts, model, request.dimensions))
        }
        (Protocol::Gemini, EmbeddingInput::Tokens(_)) => {
            return Err(InvalidRequest::at("token inputs cannot be sent to Gemini; send text", "input"));
        }
        (Protocol::OpenAi, _) => request.upstream_body(model),
        _ => {
            return Err(InvalidRequest::at(
                format!("model '{}' does not support embeddings", target.served_id),
                "model",
            ));
        }
    };
    Ok(Outbound { body, dropped: Vec::new(), adjustments: Vec::new() })
}

/// The embeddings answer in OpenAI's shape, `model` as requested, `base64` when asked for, and
/// the local estimate as usage when the upstream reported none.
fn embeddings_complete(
    request: &EmbeddingsRequest,
    protocol: Protocol,
    upstream: Map<String, Value>,
) -> Result<Completed, UpstreamFailure> {
    let mut answer = match protocol {
        Protocol::Gemini => {
            let decoded = gemini::embed::decode_batch_embed(&upstream, &request.model, request.input.len());
            match decoded.map_err(untranslatable)? {
                Value::Object(answer) => answer,
                _ => return Err(untranslatable(InvalidRequest::body("embeddings answer is not an object"))),
            }
        }
        _ => upstream,
    };
    answer.insert("model".into(), Value::from(request.model.clone()));
    let reported = answer.get("usage").and_then(|u| u.get("prompt_tokens")).and_then(Value::as_u64).unwrap_or(0);
    let prompt_tokens = if reported > 0 { reported } else { estimate_input_tokens(request) };
    answer.insert("usage".into(), serde_json::json!({"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}));
    if request.base64 {
        encode_base64_in_place(&mut answer);
    }
    let usage = TokenUsage { prompt: prompt_tokens, ..TokenUsage::default() };
    Ok(Completed { body: to_bytes(&answer), usage: Some(usage) })
}

fn estimate_input_tokens(request: &EmbeddingsRequest) -> u64 {
    match &request.input {
        EmbeddingInput::Texts(texts) => {
            texts.iter().map(|t| crate::tokens::count_text(&request.model, t).tokens as u64).sum()
        }
        EmbeddingInput::Tokens(_) => 0,
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

/// No text, no reasoning, no tool call, and an ordinary stop: nothing a client could use
/// (pitfall A08; resilience §6 `server_error`, retried elsewhere). A filtered answer is not empty.
fn is_empty_answer(response: &ir::Response) -> bool {
    let has_output = response.parts.iter().any(|part| match part {
        ir::Part::Text { text, .. } | ir::Part::Refusal(text) => !text.is_empty(),
        ir::Part::Reasoning { text, redacted, .. } => !text.is_empty() || redacted.is_some(),
        ir::Part::ToolCall(_) => true,
        _ => false,
    });
    !has_output && response.stop_reason == ir::StopReason::EndTurn
}

fn empty_answer() -> UpstreamFailure {
    UpstreamFailure::new(ErrorClass::ServerError, "upstream answered with no content")
}

fn untranslatable(err: InvalidRequest) -> UpstreamFailure {
    UpstreamFailure::new(ErrorClass::ServerError, format!("the upstream answer cannot be translated: {err}"))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A `responseId` for answers the proxy translates into Gemini's shape.
fn response_id() -> String {
    random_base62(22)
}

pub fn to_bytes(map: &Map<String, Value>) -> Bytes {
    Bytes::from(serde_json::to_vec(map).expect("a JSON map always serialises"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{is_empty_answer, portal_request};
    use crate::formats::ir::{Part, Response, StopReason, Usage};

    #[test]
    fn an_answer_without_output_is_empty_unless_it_was_filtered_or_cut() {
        let answer = |parts: Vec<Part>, stop_reason| Response {
            id: "r".into(),
            model: "m".into(),
            parts,
            stop_reason,
            stop_sequence: None,
            usage: Usage::default(),
        };
        let text = |t: &str| Part::Text { text: t.into(), cache_control: None };
        assert!(is_empty_answer(&answer(vec![], StopReason::EndTurn)));
        assert!(is_empty_answer(&answer(vec![text("")], StopReason::EndTurn)));
        assert!(!is_empty_answer(&answer(vec![text("hi")], StopReason::EndTurn)));
        assert!(!is_empty_answer(&answer(vec![], StopReason::ContentFilter)));
        assert!(!is_empty_answer(&answer(vec![], StopReason::MaxTokens)));
    }

    #[test]
    fn portal_requests_keep_known_parameters_and_clean_tool_schemas() {
        let mut body = json!({"model": "m", "messages": [], "max_completion_tokens": 9, "logit_bias": {}, "user": "u",
            "stream": true, "stream_options": {"include_usage": true},
            "tools": [{"type": "function", "function": {"name": "f", "strict": true, "parameters": {"type": "object",
                "additionalProperties": false, "properties": {"strict": {"type": "boolean",
                "additionalProperties": false}}}}}]})
        .as_object()
        .unwrap()
        .clone();
        let dropped = portal_request("qwen_code", &mut body, true);
        assert_eq!(dropped, ["logit_bias"]);
        assert_eq!(body["max_tokens"], 9);
        let function = &body["tools"][0]["function"];
        assert!(function.get("strict").is_none() && function["parameters"].get("additionalProperties").is_none());
        assert_eq!(function["parameters"]["properties"]["strict"], json!({"type": "boolean"}));
        assert!(body.get("stream_options").is_some());

        let mut bare = json!({"model": "m", "messages": [], "stream_options": {}}).as_object().unwrap().clone();
        portal_request("qwen_code", &mut bare, true);
        assert_eq!(bare["tools"][0]["function"]["name"], "do_not_call_me");
        let mut without = json!({"model": "m", "messages": []}).as_object().unwrap().clone();
        portal_request("qwen_code", &mut without, false);
        assert!(without.get("tools").is_none(), "QWEN_CODE_DUMMY_TOOL=false");
        let mut iflow = json!({"model": "m", "messages": [], "stream_options": {}}).as_object().unwrap().clone();
        portal_request("iflow", &mut iflow, true);
        assert!(iflow.get("stream_options").is_none() && iflow.get("tools").is_none());
        let mut empty = json!({"model": "m", "messages": [], "tools": []}).as_object().unwrap().clone();
        portal_request("iflow", &mut empty, true);
        assert_eq!(empty["tools"][0]["function"]["name"], "noop");
    }
}
