//! The upstream-protocol abstraction: everything the engine needs from the wire protocol a
//! provider speaks, behind one trait, so that the engine never asks which protocol it calls.
//! A protocol encodes the canonical request, edits a same-protocol client body for
//! passthrough, builds the HTTP request, decodes streams and complete bodies, finds errors in
//! them, classifies failures, says how non-stream clients are served, and lists models.
//! Adding a protocol is one module implementing [`UpstreamProtocol`] and one line in
//! [`adapter_for`].

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::Provider;
use super::code_assist::Discovered;
use super::openai::ListedModel;
use crate::auth::Credential;
use crate::config::TemperatureZero;
use crate::formats::InvalidRequest;
use crate::formats::failure::{ErrorClass, UpstreamFailure, classify_http};
use crate::formats::ir;
use crate::formats::json::Edits;
use crate::formats::openai::embeddings::EmbeddingsRequest;
use crate::formats::protocol::Protocol;
use crate::formats::relay::UpstreamDecoder;

/// The canonical request as one protocol's body, with what the translation left out and what
/// it repaired (`x-llmkp-dropped-params`, `x-llmkp-adjustments`).
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub body: Map<String, Value>,
    pub dropped: Vec<&'static str>,
    pub adjustments: Vec<&'static str>,
}

/// Where an encoded request goes.
#[derive(Clone, Copy)]
pub struct EncodeTarget<'a> {
    pub provider: &'a Provider,
    pub upstream_model: &'a str,
    /// `provider/model` as the client names it.
    pub served: &'a str,
    /// The upstream is asked to stream (and to report usage in the stream where it must be
    /// asked).
    pub stream: bool,
}

/// The edits a same-protocol client body gets for one target.
#[derive(Debug, Clone, Copy)]
pub struct PassthroughEdits<'a> {
    pub upstream_model: &'a str,
    /// The upstream is asked to stream (only protocols that take `stream` in the body use it).
    pub stream: bool,
    /// The model's known output limit: a larger requested limit is lowered to it.
    pub output_limit: Option<u64>,
    /// The limit to send when the client named none and the protocol requires one.
    pub default_output: u64,
    pub temperature_zero: TemperatureZero,
}

/// One upstream call.
pub struct UpstreamCall<'a> {
    pub http: &'a reqwest::Client,
    pub provider: &'a Provider,
    pub credential: &'a Credential,
    pub upstream_model: &'a str,
    /// Client headers the protocol may forward (`anthropic-version`, `anthropic-beta`).
    pub client_headers: &'a [(HeaderName, HeaderValue)],
    pub body: Bytes,
    pub stream: bool,
}

/// How a non-stream client of this protocol's upstreams is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldPolicy {
    /// Always from an upstream stream folded into one answer (the API has no other way).
    Always,
    /// From a folded upstream stream when `UPSTREAM_STREAM_FOR_NON_STREAM` is on, for translated
    /// and passthrough requests alike.
    Configured,
    /// As [`Self::Configured`], but a same-protocol client gets the upstream's complete body as
    /// written (a fold would rewrite it).
    ConfiguredUnlessPassthrough,
}

pub trait UpstreamProtocol: Send + Sync + 'static {
    /// Which protocol this is (client families name their own to get passthrough).
    fn id(&self) -> Protocol;

    /// The canonical request as this protocol's body.
    fn encode(&self, request: &ir::Request, target: EncodeTarget<'_>) -> Result<Encoded, InvalidRequest>;

    /// A client body of this protocol's own shape, edited for one target (model, stream, output
    /// limit, temperature policy), with the adjustments made.
    fn patch_passthrough(&self, body: &Map<String, Value>, edits: PassthroughEdits<'_>) -> (Bytes, Vec<String>);

    /// The HTTP request of one generation call.
    fn generate(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder;

    /// The decoder of this protocol's streams from `provider`; `renames` are tool names the
    /// protocol could not take as they were (the name sent, the client's).
    fn stream_decoder(&self, provider: &Provider, renames: Vec<(String, String)>) -> Box<dyn UpstreamDecoder>;

    /// A complete body in canonical form; `served` is the `provider/model` that served.
    fn decode_complete(
        &self,
        body: &Map<String, Value>,
        provider: &Provider,
        served: &str,
    ) -> Result<ir::Response, InvalidRequest>;

    /// An error reported inside a 2xx body.
    fn error_in_body(&self, body: &Map<String, Value>) -> Option<UpstreamFailure>;

    /// A non-2xx answer, classified (resilience specification §6).
    fn classify(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> UpstreamFailure {
        classify_http(status, headers, body)
    }

    fn fold(&self) -> FoldPolicy {
        FoldPolicy::ConfiguredUnlessPassthrough
    }

    /// Every request must name an output limit (Messages' `max_tokens`).
    fn requires_output_limit(&self) -> bool {
        false
    }

    /// Every signature this protocol's decoder emits signs the reasoning before it (Responses'
    /// `encrypted_content` of a reasoning item), never the part after it (Gemini's call
    /// signatures): how a folded stream attaches them.
    fn signatures_sign_reasoning(&self) -> bool {
        false
    }

    /// Tool names of `request` this protocol cannot take as they are: (the name sent, the
    /// client's). Answers get the client's names back.
    fn tool_renames(&self, _request: &ir::Request) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The model is a URL path segment: ids that are not one are refused at resolution.
    fn model_in_path(&self) -> bool {
        false
    }

    /// Logins of this protocol need a project before they can generate (Code Assist).
    fn needs_project(&self) -> bool {
        false
    }

    /// After a failed attempt: protocols with several generation bases may move on.
    fn attempt_failed(&self, _provider: &Provider, _class: ErrorClass) {}

    /// The project a login of this protocol works in, found (or onboarded) for `token`;
    /// `Ok(None)` for protocols without projects.
    fn discover_project<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        _provider: &'a Provider,
        _token: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<Discovered>, String>> {
        Box::pin(async { Ok(None) })
    }

    /// The request for one page of the model list at `url`.
    fn models_request(&self, http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder;

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error>;

    /// The embeddings body for `request`, when the protocol has embeddings.
    fn embeddings_body(&self, _request: &EmbeddingsRequest, target: EncodeTarget<'_>) -> Result<Bytes, InvalidRequest> {
        Err(InvalidRequest::at(format!("model '{}' does not support embeddings", target.served), "model"))
    }

    /// The HTTP request of one embeddings call.
    fn embeddings_call(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        self.generate(call)
    }

    /// An embeddings answer in OpenAI's shape (`data`, `usage`).
    fn decode_embeddings(
        &self,
        body: Map<String, Value>,
        _request: &EmbeddingsRequest,
    ) -> Result<Map<String, Value>, InvalidRequest> {
        Ok(body)
    }

    /// `POST …/responses/compact` with a client's body, when the protocol has that endpoint.
    fn compact(&self, _call: UpstreamCall<'_>) -> Option<reqwest::RequestBuilder> {
        None
    }

    /// The call that counts a same-protocol client body's input tokens exactly, when the
    /// protocol has a count endpoint.
    fn count_tokens(&self, _call: UpstreamCall<'_>, _body: &Map<String, Value>) -> Option<reqwest::RequestBuilder> {
        None
    }
}

/// The behaviour of `protocol` as spoken by the provider `name` (Code Assist differs between the
/// Gemini CLI and Antigravity logins).
pub fn adapter_for(protocol: Protocol, name: &str) -> &'static dyn UpstreamProtocol {
    match protocol {
        Protocol::OpenAi => &super::openai::OpenAiChat,
        Protocol::Anthropic => &super::anthropic::AnthropicMessages,
        Protocol::Gemini => &super::gemini::GeminiApi,
        Protocol::CodeAssist => super::code_assist::adapter(name),
        Protocol::Responses => &super::responses::ResponsesApi,
    }
}

/// Whether a client header may travel upstream (to the protocols that use it: Anthropic's
/// `anthropic-version` and `anthropic-beta`).
pub fn forwards_client_header(name: &HeaderName) -> bool {
    super::anthropic::forwards(name)
}

/// `OVERRIDE_TEMPERATURE_ZERO` applied to a passthrough body's top-level `temperature`.
pub fn edit_temperature(changes: &mut Edits, body: &Map<String, Value>, policy: TemperatureZero) {
    let Some(value) = body.get("temperature").and_then(Value::as_f64) else { return };
    match policy.apply(Some(value)) {
        Some(t) if t == value => {}
        Some(t) => changes.set("temperature", t),
        None => changes.remove("temperature"),
    }
}
