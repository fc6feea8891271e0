//! Adapter for upstreams that speak the OpenAI Chat Completions protocol: endpoints, auth
//! header, and the model-list body.

use bytes::Bytes;
use serde::Deserialize;

use super::Provider;
use crate::auth::Credential;

/// `POST {base}/chat/completions` with the credential as a bearer token.
pub fn chat_completions(
    http: &reqwest::Client,
    provider: &Provider,
    credential: &Credential,
    body: Bytes,
) -> reqwest::RequestBuilder {
    chat_completions_at(http, &provider.base_url, &credential.secret(), body)
}

/// `POST {base}/chat/completions` with `token` as a bearer token.
pub fn chat_completions_at(http: &reqwest::Client, base: &str, token: &str, body: Bytes) -> reqwest::RequestBuilder {
    http.post(format!("{base}/chat/completions"))
        .bearer_auth(token)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .body(body)
}

/// `POST {base}/embeddings` with the credential as a bearer token.
pub fn embeddings(
    http: &reqwest::Client,
    provider: &Provider,
    credential: &Credential,
    body: Bytes,
) -> reqwest::RequestBuilder {
    http.post(format!("{}/embeddings", provider.base_url))
        .bearer_auth(credential.secret())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body)
}

/// `GET {models_url}` with the credential as a bearer token.
pub fn list_models(http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
    http.get(url).bearer_auth(credential.secret()).header(http::header::ACCEPT, "application/json")
}

#[derive(Deserialize)]
struct ModelList {
    data: Vec<ListedModel>,
}

/// One entry of a model list; `created` is optional in many OpenAI-compatible servers.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct ListedModel {
    pub id: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub created: Option<u64>,
}

fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_u64())
}

/// The entries of an OpenAI-shape model list (`{"object":"list","data":[{"id":…}]}`).
pub fn parse_model_list(body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error> {
    Ok(serde_json::from_slice::<ModelList>(body)?.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_list_ids_keep_upstream_order() {
        let body = br#"{"object":"list","data":[{"id":"b","object":"model","created":1,"owned_by":"x"},{"id":"a"}]}"#;
        let models = parse_model_list(body).unwrap();
        assert_eq!(
            models,
            vec![ListedModel { id: "b".into(), created: Some(1) }, ListedModel { id: "a".into(), created: None }]
        );
    }
}
