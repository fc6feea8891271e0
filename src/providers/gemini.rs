//! Adapter for the Gemini API (generativelanguage): endpoints under `{base}/v1beta/models/{m}`,
//! the `x-goog-api-key` header, and the model-list body.

use bytes::Bytes;
use serde::Deserialize;

use super::Provider;
use super::openai::ListedModel;
use crate::auth::Credential;

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
