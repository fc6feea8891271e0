//! The OpenAI Responses protocol (`{base}/responses`, `{base}/responses/compact`, `{base}/models`):
//! for providers (or models of a provider, `<NAME>_RESPONSES_MODELS`) offered on the Responses API
//! only. Bearer authorisation and the model list are OpenAI's.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::Provider;
use super::openai::{ListedModel, list_models, parse_model_list};
use super::protocol::{EncodeTarget, Encoded, PassthroughEdits, UpstreamCall, UpstreamProtocol, edit_temperature};
use crate::auth::Credential;
use crate::formats::InvalidRequest;
use crate::formats::failure::UpstreamFailure;
use crate::formats::ir;
use crate::formats::json::{Edits, to_bytes};
use crate::formats::protocol::Protocol;
use crate::formats::relay::UpstreamDecoder;
use crate::formats::responses::upstream::{self as wire, ResponsesDecoder};

/// The adjustment named when reasoning items the API would refuse were taken out of `input`.
pub const REASONING_ITEMS_REMOVED: &str = "reasoning_items_without_encrypted_content_removed";

pub struct ResponsesApi;

impl UpstreamProtocol for ResponsesApi {
    fn id(&self) -> Protocol {
        Protocol::Responses
    }

    fn encode(&self, request: &ir::Request, target: EncodeTarget<'_>) -> Result<Encoded, InvalidRequest> {
        let encoded = wire::encode_upstream(request, target.upstream_model, &target.provider.name, target.stream)?;
        Ok(Encoded { body: encoded.body, dropped: encoded.dropped_params, adjustments: encoded.adjustments })
    }

    /// `model`, `stream`, a `max_output_tokens` over the model's limit, the temperature policy,
    /// and with `store: false` the `reasoning` input items without `encrypted_content` (the API
    /// refuses them: it cannot look them up). Everything else is the client's.
    fn patch_passthrough(&self, body: &Map<String, Value>, edits: PassthroughEdits<'_>) -> (Bytes, Vec<String>) {
        let mut changes = Edits::default();
        let mut adjustments = Vec::new();
        changes.set("model", edits.upstream_model);
        if edits.stream {
            changes.set("stream", true);
        } else if body.contains_key("stream") {
            changes.set("stream", false);
        }
        if let Some(limit) = edits.output_limit
            && body.get("max_output_tokens").and_then(Value::as_u64).is_some_and(|max| max > limit)
        {
            changes.set("max_output_tokens", limit);
            adjustments.push(format!("max_tokens_lowered_to_{limit}"));
        }
        edit_temperature(&mut changes, body, edits.temperature_zero);
        if body.get("store") == Some(&Value::Bool(false))
            && let Some(Value::Array(items)) = body.get("input")
        {
            let kept: Vec<Value> = items.iter().filter(|item| !unreadable_reasoning(item)).cloned().collect();
            if kept.len() < items.len() {
                changes.set("input", kept);
                adjustments.push(REASONING_ITEMS_REMOVED.to_string());
            }
        }
        (changes.apply(body), adjustments)
    }

    fn generate(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        let profile = call.provider.profile;
        let secret = call.credential.secret();
        let base = profile.api_base(call.provider, call.credential);
        let accept = if call.stream { "text/event-stream" } else { "application/json" };
        let request = call
            .http
            .post(format!("{base}/responses"))
            .bearer_auth(&secret)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, accept)
            .body(call.body);
        profile.sign(request, &secret)
    }

    fn stream_decoder(&self, provider: &Provider, _renames: Vec<(String, String)>) -> Box<dyn UpstreamDecoder> {
        Box::new(ResponsesDecoder::new(provider.name.clone()))
    }

    fn decode_complete(
        &self,
        body: &Map<String, Value>,
        provider: &Provider,
        served: &str,
    ) -> Result<ir::Response, InvalidRequest> {
        wire::decode_upstream_response(body, served, &provider.name)
    }

    fn error_in_body(&self, body: &Map<String, Value>) -> Option<UpstreamFailure> {
        wire::error_in_body(body)
    }

    /// A reasoning item's `encrypted_content` comes when the item is done, after its summary.
    fn signatures_sign_reasoning(&self) -> bool {
        true
    }

    fn models_request(&self, http: &reqwest::Client, url: &str, credential: &Credential) -> reqwest::RequestBuilder {
        list_models(http, url, credential)
    }

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error> {
        parse_model_list(body)
    }

    /// `POST {base}/responses/compact` with the client's body.
    fn compact(&self, call: UpstreamCall<'_>) -> Option<reqwest::RequestBuilder> {
        Some(json_call(&call, "responses/compact", call.body.clone()))
    }

    /// `POST {base}/responses/input_tokens` with the fields of the client's body it takes.
    fn count_tokens(&self, call: UpstreamCall<'_>, body: &Map<String, Value>) -> Option<reqwest::RequestBuilder> {
        let mut request: Map<String, Value> =
            COUNT_FIELDS.iter().filter_map(|k| Some(((*k).to_string(), body.get(*k)?.clone()))).collect();
        request.insert("model".into(), Value::from(call.upstream_model));
        Some(json_call(&call, "responses/input_tokens", to_bytes(&request)))
    }
}

/// The fields of a Responses request the input token count takes.
pub const COUNT_FIELDS: &[&str] = &[
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "previous_response_id",
    "conversation",
    "truncation",
];

/// `POST {base}/{path}` with a JSON body and a JSON answer, authorised like generation.
fn json_call(call: &UpstreamCall<'_>, path: &str, body: Bytes) -> reqwest::RequestBuilder {
    let profile = call.provider.profile;
    let secret = call.credential.secret();
    let base = profile.api_base(call.provider, call.credential);
    let request = call
        .http
        .post(format!("{base}/{path}"))
        .bearer_auth(&secret)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body);
    profile.sign(request, &secret)
}

/// A `reasoning` item the API can only find by its id (it has no `encrypted_content`).
fn unreadable_reasoning(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("reasoning")
        && item.get("encrypted_content").and_then(Value::as_str).is_none_or(str::is_empty)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::TemperatureZero;

    fn edits(model: &str, stream: bool) -> PassthroughEdits<'_> {
        PassthroughEdits {
            upstream_model: model,
            stream,
            output_limit: None,
            default_output: 8192,
            temperature_zero: TemperatureZero::Keep,
        }
    }

    fn patched(body: Value, edits: PassthroughEdits<'_>) -> (Value, Vec<String>) {
        let (bytes, adjustments) = ResponsesApi.patch_passthrough(body.as_object().unwrap(), edits);
        (serde_json::from_slice(&bytes).unwrap(), adjustments)
    }

    #[test]
    fn passthrough_changes_model_stream_limit_and_temperature_and_keeps_the_rest() {
        let body = json!({"model": "openai/gpt-5", "input": "hi", "stream": false, "max_output_tokens": 999_999,
            "temperature": 0, "tools": [{"type": "web_search"}], "vendor": {"k": 1}});
        let (sent, adjustments) = patched(
            body,
            PassthroughEdits {
                output_limit: Some(128_000),
                temperature_zero: TemperatureZero::Remove,
                ..edits("gpt-5", true)
            },
        );
        assert_eq!(
            sent,
            json!({"model": "gpt-5", "input": "hi", "stream": true, "max_output_tokens": 128_000,
                "tools": [{"type": "web_search"}], "vendor": {"k": 1}})
        );
        assert_eq!(adjustments, ["max_tokens_lowered_to_128000"]);
        assert_eq!(ResponsesApi.id(), Protocol::Responses);
    }

    #[test]
    fn compaction_and_token_counts_go_to_their_endpoints_with_the_key() {
        let provider = Provider::new("resp", Protocol::Responses, "http://127.0.0.1:9/v1".into());
        let credential = Credential::api_key("resp", "RESP_API_KEY", "sk-resp");
        let http = reqwest::Client::new();
        let call = || UpstreamCall {
            http: &http,
            provider: &provider,
            credential: &credential,
            upstream_model: "gpt-5",
            client_headers: &[],
            body: Bytes::from_static(b"{\"model\":\"gpt-5\",\"input\":[]}"),
            stream: false,
        };
        let compact = ResponsesApi.compact(call()).unwrap().build().unwrap();
        assert_eq!(compact.url().as_str(), "http://127.0.0.1:9/v1/responses/compact");
        assert_eq!(compact.headers()["authorization"], "Bearer sk-resp");
        let body = json!({"model": "resp/gpt-5", "input": "hi", "instructions": "x", "stream": true, "store": false,
            "max_output_tokens": 5, "tools": []});
        let count = ResponsesApi.count_tokens(call(), body.as_object().unwrap()).unwrap().build().unwrap();
        assert_eq!(count.url().as_str(), "http://127.0.0.1:9/v1/responses/input_tokens");
        let sent: Value = serde_json::from_slice(count.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(sent, json!({"input": "hi", "instructions": "x", "tools": [], "model": "gpt-5"}));
        let generate = ResponsesApi.generate(UpstreamCall { stream: true, ..call() }).build().unwrap();
        assert_eq!(generate.url().as_str(), "http://127.0.0.1:9/v1/responses");
        assert_eq!(generate.headers()["accept"], "text/event-stream");
    }

    #[test]
    fn reasoning_items_the_api_cannot_find_are_removed_only_when_nothing_is_stored() {
        let input = json!([
            {"type": "message", "role": "user", "content": "hi"},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAA"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        ]);
        let body = json!({"model": "a/b", "store": false, "input": input});
        let (sent, adjustments) = patched(body, edits("b", false));
        let kinds: Vec<&str> = sent["input"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["message", "reasoning", "function_call"]);
        assert_eq!(sent["input"][1]["id"], "rs_2");
        assert_eq!(adjustments, [REASONING_ITEMS_REMOVED]);
        assert!(sent.get("stream").is_none(), "a body without `stream` gets none for a non-stream call");

        let stored = json!({"model": "a/b", "input": input});
        let (sent, adjustments) = patched(stored, edits("b", false));
        assert_eq!(sent["input"], input, "a stored conversation can refer to its items by id");
        assert!(adjustments.is_empty());
    }
}
