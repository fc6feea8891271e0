//! The Anthropic Messages protocol (`{base}/v1/messages`): the `x-api-key` header, the API
//! version, which client headers travel upstream, and the exact token count endpoint.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::Provider;
use super::openai::{ListedModel, parse_model_list};
use super::protocol::{EncodeTarget, Encoded, PassthroughEdits, UpstreamCall, UpstreamProtocol, edit_temperature};
use crate::auth::Credential;
use crate::formats::InvalidRequest;
use crate::formats::anthropic::upstream::{self as messages_upstream, AnthropicDecoder};
use crate::formats::failure::{UpstreamFailure, classify_anthropic_error};
use crate::formats::ir;
use crate::formats::json::{Edits, to_bytes};
use crate::formats::protocol::Protocol;
use crate::formats::relay::UpstreamDecoder;

pub struct AnthropicMessages;

impl UpstreamProtocol for AnthropicMessages {
    fn id(&self) -> Protocol {
        Protocol::Anthropic
    }

    fn encode(&self, request: &ir::Request, target: EncodeTarget<'_>) -> Result<Encoded, InvalidRequest> {
        let encoded = messages_upstream::encode_upstream(request, target.upstream_model, target.stream)?;
        Ok(Encoded { body: encoded.body, dropped: encoded.dropped_params, adjustments: encoded.adjustments })
    }

    /// Only `model`, `max_tokens` (required by the API: the client's, capped at the model's
    /// limit, else the default) and the temperature policy change; `stream` is the client's, as
    /// Messages passthrough is never folded.
    fn patch_passthrough(&self, body: &Map<String, Value>, edits: PassthroughEdits<'_>) -> (Bytes, Vec<String>) {
        let mut changes = Edits::default();
        let mut adjustments = Vec::new();
        changes.set("model", edits.upstream_model);
        let max = match (body.get("max_tokens").and_then(Value::as_u64), edits.output_limit) {
            (Some(max), Some(limit)) if max > limit => {
                adjustments.push(format!("max_tokens_lowered_to_{limit}"));
                limit
            }
            (Some(max), _) => max,
            (None, _) => {
                adjustments.push("max_tokens_defaulted".to_string());
                edits.default_output
            }
        };
        changes.set("max_tokens", max);
        edit_temperature(&mut changes, body, edits.temperature_zero);
        (changes.apply(body), adjustments)
    }

    fn requires_output_limit(&self) -> bool {
        true
    }

    fn generate(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        messages(call.http, call.provider, call.credential, call.client_headers, call.body)
    }

    fn stream_decoder(&self, _provider: &Provider, _renames: Vec<(String, String)>) -> Box<dyn UpstreamDecoder> {
        Box::new(AnthropicDecoder::default())
    }

    fn decode_complete(
        &self,
        body: &Map<String, Value>,
        _provider: &Provider,
        served: &str,
    ) -> Result<ir::Response, InvalidRequest> {
        messages_upstream::decode_upstream_response(body, served)
    }

    fn error_in_body(&self, body: &Map<String, Value>) -> Option<UpstreamFailure> {
        (body.get("type").and_then(Value::as_str) == Some("error"))
            .then(|| classify_anthropic_error(body.get("error").unwrap_or(&Value::Null)))
    }

    fn models_request(&self, http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
        list_models(http, url, credential)
    }

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error> {
        parse_model_list(body)
    }

    /// Anthropic's own count of a Messages body (only the fields the endpoint takes).
    fn count_tokens(&self, call: UpstreamCall<'_>, body: &Map<String, Value>) -> Option<reqwest::RequestBuilder> {
        let mut request: Map<String, Value> =
            COUNT_FIELDS.iter().filter_map(|k| Some(((*k).to_string(), body.get(*k)?.clone()))).collect();
        request.insert("model".into(), Value::from(call.upstream_model));
        Some(count_tokens(call.http, call.provider, call.credential, call.client_headers, to_bytes(&request)))
    }
}

/// The API version sent when the client named none (translation specification §2).
pub const DEFAULT_VERSION: &str = "2023-06-01";

const VERSION_HEADER: &str = "anthropic-version";
const BETA_HEADER: &str = "anthropic-beta";

/// Whether a client header is forwarded to Anthropic upstreams.
pub fn forwards(name: &HeaderName) -> bool {
    name == VERSION_HEADER || name == BETA_HEADER
}

/// `POST {base}/v1/messages` with the credential as `x-api-key`, the client's `anthropic-version`
/// (or [`DEFAULT_VERSION`]) and its `anthropic-beta` values.
pub fn messages(
    http: &reqwest::Client,
    provider: &Provider,
    credential: &Credential,
    client_headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
) -> reqwest::RequestBuilder {
    let request = http
        .post(format!("{}/v1/messages", provider.base_url))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .body(body);
    authorise(request, credential, client_headers)
}

/// `POST {base}/v1/messages/count_tokens`, authorised like [`messages`].
pub fn count_tokens(
    http: &reqwest::Client,
    provider: &Provider,
    credential: &Credential,
    client_headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
) -> reqwest::RequestBuilder {
    let request = http
        .post(format!("{}/v1/messages/count_tokens", provider.base_url))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body);
    authorise(request, credential, client_headers)
}

/// The fields of a Messages request the count endpoint takes (it refuses the others).
pub const COUNT_FIELDS: &[&str] = &["messages", "system", "tools", "tool_choice", "thinking", "mcp_servers"];

/// `GET {models_url}` for the credential.
pub fn list_models(http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
    authorise(http.get(url).header(http::header::ACCEPT, "application/json"), credential, &[])
}

fn authorise(
    mut request: reqwest::RequestBuilder,
    credential: &Credential,
    client_headers: &[(HeaderName, HeaderValue)],
) -> reqwest::RequestBuilder {
    let mut version_sent = false;
    for (name, value) in client_headers.iter().filter(|(name, _)| forwards(name)) {
        version_sent |= name == VERSION_HEADER;
        request = request.header(name, value);
    }
    if !version_sent {
        request = request.header(VERSION_HEADER, DEFAULT_VERSION);
    }
    request.header("x-api-key", credential.secret().as_ref())
}
