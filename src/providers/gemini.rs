//! The Gemini API protocol (generativelanguage): endpoints under `{base}/v1beta/models/{m}`, the
//! `x-goog-api-key` header, the model-list body, embeddings and the exact token count.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Provider;
use super::openai::ListedModel;
use super::protocol::{EncodeTarget, Encoded, PassthroughEdits, UpstreamCall, UpstreamProtocol};
use crate::auth::Credential;
use crate::formats::InvalidRequest;
use crate::formats::failure::{UpstreamFailure, classify_stream_error};
use crate::formats::gemini::relay::GeminiDecoder;
use crate::formats::gemini::{self as wire, ORIGIN};
use crate::formats::ir;
use crate::formats::json::{Edits, to_bytes};
use crate::formats::openai::chunk::stream_error;
use crate::formats::openai::embeddings::{EmbeddingInput, EmbeddingsRequest};
use crate::formats::protocol::Protocol;
use crate::formats::relay::UpstreamDecoder;

pub struct GeminiApi;

impl UpstreamProtocol for GeminiApi {
    fn id(&self) -> Protocol {
        Protocol::Gemini
    }

    fn encode(&self, request: &ir::Request, target: EncodeTarget<'_>) -> Result<Encoded, InvalidRequest> {
        let encoded = wire::request::encode_upstream(request, target.upstream_model, ORIGIN, Protocol::Gemini)?;
        Ok(Encoded { body: encoded.body, dropped: encoded.dropped_params, adjustments: encoded.adjustments })
    }

    /// The body is the client's (the model travels in the URL), its output limit capped and the
    /// temperature policy applied inside `generationConfig`.
    fn patch_passthrough(&self, body: &Map<String, Value>, edits: PassthroughEdits<'_>) -> (Bytes, Vec<String>) {
        generation_config_edits(body, edits)
    }

    fn generate(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        let method = if call.stream { Method::Stream } else { Method::Generate };
        self::call(call.http, call.provider, call.credential, call.upstream_model, method, call.body)
    }

    fn stream_decoder(&self, _provider: &Provider, renames: Vec<(String, String)>) -> Box<dyn UpstreamDecoder> {
        Box::new(GeminiDecoder::new(ORIGIN, renames))
    }

    fn decode_complete(
        &self,
        body: &Map<String, Value>,
        _provider: &Provider,
        served: &str,
    ) -> Result<ir::Response, InvalidRequest> {
        wire::response::decode_upstream_response(body, served, ORIGIN)
    }

    fn error_in_body(&self, body: &Map<String, Value>) -> Option<UpstreamFailure> {
        stream_error(body).map(classify_stream_error)
    }

    fn tool_renames(&self, request: &ir::Request) -> Vec<(String, String)> {
        tool_renames(request)
    }

    fn model_in_path(&self) -> bool {
        true
    }

    fn models_request(&self, http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
        list_models(http, url, credential)
    }

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error> {
        parse_model_list(body)
    }

    fn embeddings_body(&self, request: &EmbeddingsRequest, target: EncodeTarget<'_>) -> Result<Bytes, InvalidRequest> {
        match &request.input {
            EmbeddingInput::Texts(texts) => {
                Ok(to_bytes(&wire::embed::encode_batch_embed(texts, target.upstream_model, request.dimensions)))
            }
            EmbeddingInput::Tokens(_) => {
                Err(InvalidRequest::at("token inputs cannot be sent to Gemini; send text", "input"))
            }
        }
    }

    fn embeddings_call(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        self::call(call.http, call.provider, call.credential, call.upstream_model, Method::BatchEmbed, call.body)
    }

    fn decode_embeddings(
        &self,
        body: Map<String, Value>,
        request: &EmbeddingsRequest,
    ) -> Result<Map<String, Value>, InvalidRequest> {
        match wire::embed::decode_batch_embed(&body, &request.model, request.input.len())? {
            Value::Object(answer) => Ok(answer),
            _ => Err(InvalidRequest::body("embeddings answer is not an object")),
        }
    }

    /// Gemini's own count of a `countTokens` body, the model named inside it.
    fn count_tokens(&self, call: UpstreamCall<'_>, body: &Map<String, Value>) -> Option<reqwest::RequestBuilder> {
        let mut request = body.clone();
        for key in ["generateContentRequest", "generate_content_request"] {
            if let Some(Value::Object(inner)) = request.get_mut(key) {
                inner.insert("model".into(), Value::from(format!("models/{}", call.upstream_model)));
            }
        }
        let body = to_bytes(&request);
        Some(self::call(call.http, call.provider, call.credential, call.upstream_model, Method::CountTokens, body))
    }
}

/// A Gemini body's `generationConfig` (either spelling) with the output limit capped and the
/// temperature policy applied; everything else as the client sent it.
pub fn generation_config_edits(body: &Map<String, Value>, edits: PassthroughEdits<'_>) -> (Bytes, Vec<String>) {
    let mut adjustments = Vec::new();
    let mut changes = Edits::default();
    for key in ["generationConfig", "generation_config"] {
        let Some(Value::Object(config)) = body.get(key) else { continue };
        let mut edited = config.clone();
        for limit_key in ["maxOutputTokens", "max_output_tokens"] {
            if let (Some(limit), Some(max)) = (edits.output_limit, edited.get(limit_key).and_then(Value::as_u64))
                && max > limit
            {
                edited.insert(limit_key.into(), Value::from(limit));
                adjustments.push(format!("max_tokens_lowered_to_{limit}"));
            }
        }
        edits.temperature_zero.apply_to_body(&mut edited);
        if &edited != config {
            changes.set(if key == "generationConfig" { "generationConfig" } else { "generation_config" }, edited);
        }
    }
    (changes.apply(body), adjustments)
}

/// The client's tool names Gemini cannot take as they are: (the name sent, the client's).
pub fn tool_renames(request: &ir::Request) -> Vec<(String, String)> {
    request
        .tools
        .iter()
        .filter_map(|tool| match tool {
            ir::Tool::Function { name, .. } => {
                let sent = wire::request::wire_tool_name(name);
                (sent != name.as_str()).then(|| (sent.into_owned(), name.clone()))
            }
            ir::Tool::Server { .. } => None,
        })
        .collect()
}

/// What a call to a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Generate,
    /// `:streamGenerateContent?alt=sse`.
    Stream,
    CountTokens,
    BatchEmbed,
}

impl Method {
    fn suffix(self) -> &'static str {
        match self {
            Self::Generate => ":generateContent",
            Self::Stream => ":streamGenerateContent?alt=sse",
            Self::CountTokens => ":countTokens",
            Self::BatchEmbed => ":batchEmbedContents",
        }
    }
}

/// The URL of `method` on `model` (a bare id such as `gemini-2.5-flash`).
pub fn model_url(provider: &Provider, model: &str, method: Method) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    format!("{}/v1beta/models/{model}{}", provider.base_url, method.suffix())
}

/// `POST` a JSON body to `method` on `model`.
pub fn call(
    http: &reqwest::Client,
    provider: &Provider,
    credential: &Credential,
    model: &str,
    method: Method,
    body: Bytes,
) -> reqwest::RequestBuilder {
    let accept = if method == Method::Stream { "text/event-stream" } else { "application/json" };
    http.post(model_url(provider, model, method))
        .header("x-goog-api-key", credential.secret().as_ref())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, accept)
        .body(body)
}

/// `GET {models_url}` (one page of up to 1000 models, the API's largest).
pub fn list_models(http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
    let separator = if url.contains('?') { '&' } else { '?' };
    http.get(format!("{url}{separator}pageSize=1000"))
        .header("x-goog-api-key", credential.secret().as_ref())
        .header(http::header::ACCEPT, "application/json")
}

#[derive(Deserialize)]
struct ModelList {
    #[serde(default)]
    models: Vec<GeminiModel>,
}

#[derive(Deserialize)]
struct GeminiModel {
    name: String,
}

/// The model ids (`models/` removed) of a Gemini model list body.
pub fn parse_model_list(body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error> {
    let list: ModelList = serde_json::from_slice(body)?;
    Ok(list
        .models
        .into_iter()
        .map(|m| ListedModel { id: m.name.strip_prefix("models/").unwrap_or(&m.name).to_string(), created: None })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists_lose_the_models_prefix() {
        let body = br#"{"models":[{"name":"models/gemini-2.5-flash","displayName":"Gemini 2.5 Flash"},{"name":"models/text-embedding-004"}],"nextPageToken":"x"}"#;
        let ids: Vec<String> = parse_model_list(body).unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["gemini-2.5-flash", "text-embedding-004"]);
        assert!(parse_model_list(b"{\"data\":[]}").unwrap().is_empty());
    }
}
