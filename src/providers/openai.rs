//! The OpenAI Chat Completions protocol (`{base}/chat/completions`, `{base}/embeddings`,
//! `{base}/models`): the upstream protocol of every OpenAI-compatible provider.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Provider;
use super::protocol::{
    EncodeTarget, Encoded, FoldPolicy, PassthroughEdits, UpstreamCall, UpstreamProtocol, edit_temperature,
};
use crate::auth::Credential;
use crate::formats::InvalidRequest;
use crate::formats::failure::{UpstreamFailure, classify_stream_error};
use crate::formats::ir;
use crate::formats::json::Edits;
use crate::formats::openai::chunk::stream_error;
use crate::formats::openai::embeddings::EmbeddingsRequest;
use crate::formats::openai::stream_decoder::ChatDecoder;
use crate::formats::openai::translate;
use crate::formats::protocol::Protocol;
use crate::formats::relay::UpstreamDecoder;

/// The Chat fields that limit output tokens.
const LIMIT_FIELDS: [&str; 2] = ["max_completion_tokens", "max_tokens"];

pub struct OpenAiChat;

impl UpstreamProtocol for OpenAiChat {
    fn id(&self) -> Protocol {
        Protocol::OpenAi
    }

    fn encode(&self, request: &ir::Request, target: EncodeTarget<'_>) -> Result<Encoded, InvalidRequest> {
        let openai_platform = target.provider.profile.openai_platform();
        let body = translate::encode_request(request, target.upstream_model, openai_platform, target.stream)?;
        Ok(Encoded { body, dropped: translate::dropped_params(request), adjustments: Vec::new() })
    }

    /// Only `model`, the stream options (usage is always asked for, so accounting sees it), a
    /// limit the model would refuse, and the temperature policy change.
    fn patch_passthrough(&self, body: &Map<String, Value>, edits: PassthroughEdits<'_>) -> (Bytes, Vec<String>) {
        let mut changes = Edits::default();
        let mut adjustments = Vec::new();
        changes.set("model", edits.upstream_model);
        if edits.stream {
            changes.set("stream", true);
            let mut options = match body.get("stream_options") {
                Some(Value::Object(options)) => options.clone(),
                _ => Map::new(),
            };
            options.insert("include_usage".into(), Value::Bool(true));
            changes.set("stream_options", options);
        } else {
            changes.remove("stream_options");
            if body.contains_key("stream") {
                changes.set("stream", false);
            }
        }
        if let Some(limit) = edits.output_limit {
            let over: Vec<&'static str> = LIMIT_FIELDS
                .into_iter()
                .filter(|key| body.get(*key).and_then(Value::as_u64).is_some_and(|v| v > limit))
                .collect();
            for key in &over {
                changes.set(key, limit);
            }
            if !over.is_empty() {
                adjustments.push(format!("max_tokens_lowered_to_{limit}"));
            }
        }
        edit_temperature(&mut changes, body, edits.temperature_zero);
        (changes.apply(body), adjustments)
    }

    /// At the account's own API host when the profile names one, signed when it signs.
    fn generate(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        let profile = call.provider.profile;
        let secret = call.credential.secret();
        let base = profile.api_base(call.provider, call.credential);
        profile.sign(chat_completions_at(call.http, &base, &secret, call.body), &secret)
    }

    fn stream_decoder(&self, _provider: &Provider, _renames: Vec<(String, String)>) -> Box<dyn UpstreamDecoder> {
        Box::new(ChatDecoder::default())
    }

    fn decode_complete(
        &self,
        body: &Map<String, Value>,
        _provider: &Provider,
        served: &str,
    ) -> Result<ir::Response, InvalidRequest> {
        translate::decode_response(body, served)
    }

    fn error_in_body(&self, body: &Map<String, Value>) -> Option<UpstreamFailure> {
        stream_error(body).map(classify_stream_error)
    }

    /// A folded Chat stream keeps what the upstream wrote (choices, logprobs, fingerprint), so
    /// passthrough clients are folded too.
    fn fold(&self) -> FoldPolicy {
        FoldPolicy::Configured
    }

    fn models_request(&self, http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
        list_models(http, url, credential)
    }

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error> {
        parse_model_list(body)
    }

    fn embeddings_body(&self, request: &EmbeddingsRequest, target: EncodeTarget<'_>) -> Result<Bytes, InvalidRequest> {
        Ok(request.upstream_body(target.upstream_model))
    }

    fn embeddings_call(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        embeddings(call.http, call.provider, call.credential, call.body)
    }
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
    use crate::config::TemperatureZero;
    use crate::formats::protocol::Protocol;

    fn edits(model: &str, stream: bool) -> PassthroughEdits<'_> {
        PassthroughEdits {
            upstream_model: model,
            stream,
            output_limit: None,
            default_output: 8192,
            temperature_zero: TemperatureZero::Keep,
        }
    }

    fn patched(body: serde_json::Value, edits: PassthroughEdits<'_>) -> (serde_json::Value, Vec<String>) {
        let (bytes, adjustments) = OpenAiChat.patch_passthrough(body.as_object().unwrap(), edits);
        (serde_json::from_slice(&bytes).unwrap(), adjustments)
    }

    #[test]
    fn unknown_fields_survive_and_only_model_and_stream_options_change() {
        let body = serde_json::json!({"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],
            "stream":true,"stream_options":{"x":1},"vendor_extra":{"k":[1,2]}});
        let (sent, adjustments) = patched(body, edits("gpt-4o", true));
        assert_eq!(sent["model"], "gpt-4o");
        assert_eq!(sent["vendor_extra"]["k"][1], 2);
        assert_eq!(sent["stream_options"], serde_json::json!({"x":1,"include_usage":true}));
        assert!(adjustments.is_empty());
        assert_eq!(OpenAiChat.id(), Protocol::OpenAi);
    }

    #[test]
    fn non_stream_upstream_body_drops_stream_options() {
        let body = serde_json::json!({"model":"a/b","messages":[{"role":"user","content":"hi"}],"stream":false,
            "stream_options":{"include_usage":true}});
        let (sent, _) = patched(body, edits("b", false));
        assert_eq!(sent["stream"], false);
        assert!(sent.get("stream_options").is_none());
    }

    #[test]
    fn temperature_zero_is_kept_removed_or_set_to_one_and_limits_are_capped() {
        let body = serde_json::json!({"model":"a/b","messages":[{"role":"user"}],"temperature":0,"max_tokens":32000});
        for (policy, expected) in [
            (TemperatureZero::Keep, Some(serde_json::json!(0))),
            (TemperatureZero::Remove, None),
            (TemperatureZero::Set, Some(serde_json::json!(1.0))),
        ] {
            let (sent, _) = patched(body.clone(), PassthroughEdits { temperature_zero: policy, ..edits("b", false) });
            assert_eq!(sent.get("temperature").cloned(), expected, "{policy:?}");
        }
        let other = serde_json::json!({"model":"a/b","messages":[{"role":"user"}],"temperature":0.2});
        let (sent, _) =
            patched(other, PassthroughEdits { temperature_zero: TemperatureZero::Set, ..edits("b", false) });
        assert_eq!(sent["temperature"], 0.2);
        let (sent, adjustments) = patched(body, PassthroughEdits { output_limit: Some(16384), ..edits("b", false) });
        assert_eq!(
            (sent["max_tokens"].clone(), adjustments),
            (serde_json::json!(16384), vec!["max_tokens_lowered_to_16384".to_string()])
        );
    }

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
