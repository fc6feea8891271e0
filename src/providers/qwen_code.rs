//! Qwen Code logins (credentials specification §11): the portal's request shape, a placeholder
//! tool when the request has none (`QWEN_CODE_DUMMY_TOOL`; its calls never reach the client),
//! the account's own API host (`resource_url`), and reasoning written inline as
//! `<think>…</think>`, shown to clients as reasoning.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Provider;
use super::portal::keep_portal_params;
use super::profile::ProviderProfile;
use crate::auth::Credential;
use crate::formats::openai::placeholder::{self, PlaceholderFilter};
use crate::formats::openai::think::{self, ThinkSplitter, rewrite_chunk};
use crate::formats::relay::EventFilter;
use crate::formats::sse::SseEvent;

pub struct QwenCode;

impl ProviderProfile for QwenCode {
    fn shapes_body(&self) -> bool {
        true
    }

    fn shape_body(&self, body: &mut Map<String, Value>, placeholder_tool: bool) -> Vec<String> {
        let dropped = keep_portal_params(body);
        if placeholder_tool && body.get("tools").is_none_or(|t| t.as_array().is_none_or(Vec::is_empty)) {
            body.insert(
                "tools".into(),
                json!([{"type": "function", "function": {"name": "do_not_call_me",
                    "description": "Do not call this tool.", "parameters": {"type": "object", "properties": {}}}}]),
            );
        }
        dropped
    }

    fn api_base<'a>(&self, provider: &'a Provider, credential: &Credential) -> Cow<'a, str> {
        match credential.oauth.as_ref().and_then(|h| h.resource_url()) {
            Some(resource) if !provider.base_overridden => Cow::Owned(qwen_base(&resource)),
            _ => Cow::Borrowed(&provider.base_url),
        }
    }

    fn event_filter(&self) -> Option<Box<dyn EventFilter>> {
        Some(Box::new(QwenStream::default()))
    }

    fn rewrite_body(&self, body: &mut Map<String, Value>) {
        think::rewrite_completion(body);
        placeholder::rewrite_completion(body);
    }
}

/// One Qwen stream: a think splitter per choice, and the placeholder calls seen so far.
#[derive(Default)]
struct QwenStream {
    splitters: BTreeMap<u64, ThinkSplitter>,
    placeholder: PlaceholderFilter,
}

impl EventFilter for QwenStream {
    fn filter(&mut self, event: SseEvent) -> Option<SseEvent> {
        let Ok(Value::Object(mut chunk)) = serde_json::from_str::<Value>(&event.data) else { return Some(event) };
        rewrite_chunk(&mut chunk, &mut self.splitters);
        if !self.placeholder.rewrite_chunk(&mut chunk) {
            return None;
        }
        Some(SseEvent { event: event.event, data: Value::Object(chunk).to_string() })
    }
}

/// Qwen Code's `resource_url` as an API base: `https://` added when there is no scheme, `/v1`
/// appended unless present (§11).
fn qwen_base(resource: &str) -> String {
    let resource = resource.trim().trim_end_matches('/');
    let with_scheme = if resource.contains("://") { resource.to_string() } else { format!("https://{resource}") };
    if with_scheme.ends_with("/v1") { with_scheme } else { format!("{with_scheme}/v1") }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_portal_shape_keeps_known_parameters_cleans_schemas_and_adds_the_placeholder() {
        let mut body = json!({"model": "m", "messages": [], "max_completion_tokens": 9, "logit_bias": {}, "user": "u",
            "stream": true, "stream_options": {"include_usage": true},
            "tools": [{"type": "function", "function": {"name": "f", "strict": true, "parameters": {"type": "object",
                "additionalProperties": false, "properties": {"strict": {"type": "boolean",
                "additionalProperties": false}}}}}]})
        .as_object()
        .unwrap()
        .clone();
        let dropped = QwenCode.shape_body(&mut body, true);
        assert_eq!(dropped, ["logit_bias"]);
        assert_eq!(body["max_tokens"], 9);
        let function = &body["tools"][0]["function"];
        assert!(function.get("strict").is_none() && function["parameters"].get("additionalProperties").is_none());
        assert_eq!(function["parameters"]["properties"]["strict"], json!({"type": "boolean"}));
        assert!(body.get("stream_options").is_some());

        let mut bare = json!({"model": "m", "messages": [], "stream_options": {}}).as_object().unwrap().clone();
        QwenCode.shape_body(&mut bare, true);
        assert_eq!(bare["tools"][0]["function"]["name"], "do_not_call_me");
        let mut without = json!({"model": "m", "messages": []}).as_object().unwrap().clone();
        QwenCode.shape_body(&mut without, false);
        assert!(without.get("tools").is_none(), "QWEN_CODE_DUMMY_TOOL=false");
    }

    #[test]
    fn resource_urls_become_api_bases() {
        assert_eq!(qwen_base("portal.qwen.ai"), "https://portal.qwen.ai/v1");
        assert_eq!(qwen_base("https://x.example/v1/"), "https://x.example/v1");
    }
}
