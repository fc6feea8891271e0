//! An OpenAI Chat Completions request as the client sent it: the JSON object kept whole (unknown
//! fields survive passthrough), with the few fields the proxy acts on decoded and validated.

use bytes::Bytes;
use serde_json::{Map, Value};

pub use crate::formats::InvalidRequest;

#[derive(Debug, Clone)]
pub struct ChatRequest {
    body: Map<String, Value>,
    /// The `model` the client asked for (`provider/model`, an alias, …).
    pub model: String,
    pub stream: bool,
    /// The client asked for the usage-only chunk at the end of a stream.
    pub include_usage: bool,
    /// The output limits as the client sent them (`max_completion_tokens`, `max_tokens`), so
    /// each target's cap starts from the client's value.
    requested_limits: [Option<u64>; 2],
}

/// The Chat fields that limit output tokens.
const LIMIT_FIELDS: [&str; 2] = ["max_completion_tokens", "max_tokens"];

impl ChatRequest {
    pub fn parse(bytes: &[u8]) -> Result<Self, InvalidRequest> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|err| InvalidRequest::new(format!("request body is not valid JSON: {err}"), None))?;
        let Value::Object(body) = value else {
            return Err(InvalidRequest::new("request body must be a JSON object", None));
        };
        Self::from_object(body)
    }

    /// A request already decoded into a JSON object (built by a translator or the CLI), checked
    /// like a client's.
    pub fn from_object(body: Map<String, Value>) -> Result<Self, InvalidRequest> {
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(InvalidRequest::at(
                    "missing required field 'model' (expected \"provider/model\")",
                    "model",
                ));
            }
            Some(_) => return Err(InvalidRequest::at("'model' must be a string", "model")),
        };
        match body.get("messages") {
            Some(Value::Array(messages)) if !messages.is_empty() => {
                if let Some(i) = messages.iter().position(|m| !m.get("role").is_some_and(Value::is_string)) {
                    return Err(InvalidRequest::at(
                        format!("messages[{i}] must be an object with a string 'role'"),
                        format!("messages[{i}]"),
                    ));
                }
            }
            Some(Value::Array(_)) => return Err(InvalidRequest::at("'messages' must not be empty", "messages")),
            None | Some(Value::Null) => {
                return Err(InvalidRequest::at("missing required field 'messages'", "messages"));
            }
            Some(_) => return Err(InvalidRequest::at("'messages' must be an array", "messages")),
        }
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(InvalidRequest::at("'stream' must be a boolean", "stream")),
        };
        let include_usage = match body.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(options)) => options.get("include_usage").and_then(Value::as_bool).unwrap_or(false),
            Some(_) => return Err(InvalidRequest::at("'stream_options' must be an object", "stream_options")),
        };
        let requested_limits = LIMIT_FIELDS.map(|key| body.get(key).and_then(Value::as_u64));
        Ok(Self { body, model, stream, include_usage, requested_limits })
    }

    /// Sets the output limits to the client's, lowered to `limit` (one target's), for the next
    /// [`Self::upstream_body`]; the limit it now asks for when one was lowered.
    pub fn cap_output_tokens(&mut self, limit: Option<u64>) -> Option<u64> {
        let mut lowered = None;
        for (requested, key) in self.requested_limits.iter().zip(LIMIT_FIELDS) {
            let capped = match (requested, limit) {
                (Some(requested), Some(limit)) if *requested > limit => {
                    lowered = Some(limit);
                    limit
                }
                (Some(requested), _) => *requested,
                (None, _) => continue,
            };
            self.body.insert(key.into(), Value::from(capped));
        }
        lowered
    }

    /// Applies `OVERRIDE_TEMPERATURE_ZERO` to a temperature of exactly 0.
    pub fn override_temperature_zero(&mut self, policy: crate::config::TemperatureZero) {
        policy.apply_to_body(&mut self.body);
    }

    /// The request as the client sent it (session keys are derived from it).
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }

    /// The body sent upstream: the client's JSON with `model` replaced, and for upstream streams
    /// `stream: true` plus `stream_options.include_usage: true` so usage is always reported.
    /// Edits the request in place (no copy of the messages); calling it again for another
    /// target overwrites the same fields.
    pub fn upstream_body(&mut self, upstream_model: &str, upstream_stream: bool) -> Bytes {
        let body = &mut self.body;
        body.insert("model".into(), Value::String(upstream_model.to_string()));

        if upstream_stream {
            body.insert("stream".into(), Value::Bool(true));
            let options = body.entry("stream_options").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(options) = options {
                options.insert("include_usage".into(), Value::Bool(true));
            }
        } else {
            body.remove("stream_options");
            if body.get("stream").is_some() {
                body.insert("stream".into(), Value::Bool(false));
            }
        }
        Bytes::from(serde_json::to_vec(body).expect("a JSON map always serialises"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_and_only_model_and_stream_options_change() {
        let mut req = ChatRequest::parse(
            br#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"x":1},"vendor_extra":{"k":[1,2]}}"#,
        )
        .unwrap();
        assert!(req.stream && !req.include_usage);
        let body: Value = serde_json::from_slice(&req.upstream_body("gpt-4o", true)).unwrap();
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(body["vendor_extra"]["k"][1], 2);
        assert_eq!(body["stream_options"], serde_json::json!({"x":1,"include_usage":true}));
    }

    #[test]
    fn non_stream_upstream_body_drops_stream_options() {
        let mut req =
            ChatRequest::parse(br#"{"model":"a/b","messages":[{"role":"user","content":"hi"}],"stream":false}"#)
                .unwrap();
        let body: Value = serde_json::from_slice(&req.upstream_body("b", false)).unwrap();
        assert_eq!(body["stream"], false);
        assert!(body.get("stream_options").is_none());
    }

    #[test]
    fn temperature_zero_is_kept_removed_or_set_to_one() {
        use crate::config::TemperatureZero;
        let parse = || ChatRequest::parse(br#"{"model":"a/b","messages":[{"role":"user"}],"temperature":0}"#).unwrap();
        let mut keep = parse();
        keep.override_temperature_zero(TemperatureZero::Keep);
        assert_eq!(keep.body()["temperature"], 0);
        let mut remove = parse();
        remove.override_temperature_zero(TemperatureZero::Remove);
        assert!(remove.body().get("temperature").is_none());
        let mut set = parse();
        set.override_temperature_zero(TemperatureZero::Set);
        assert_eq!(set.body()["temperature"], 1.0);
        let mut other =
            ChatRequest::parse(br#"{"model":"a/b","messages":[{"role":"user"}],"temperature":0.2}"#).unwrap();
        other.override_temperature_zero(TemperatureZero::Set);
        assert_eq!(other.body()["temperature"], 0.2);
    }

    #[test]
    fn validation_names_the_field() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (b"{not json", None),
            (b"[1]", None),
            (br#"{"messages":[{"role":"user"}]}"#, Some("model")),
            (br#"{"model":"a/b"}"#, Some("messages")),
            (br#"{"model":"a/b","messages":[]}"#, Some("messages")),
            (br#"{"model":"a/b","messages":[{"role":"user"}],"stream":"yes"}"#, Some("stream")),
        ];
        for (body, param) in cases {
            let err = ChatRequest::parse(body).unwrap_err();
            assert_eq!(err.param.as_deref(), param, "{}", err.message);
        }
    }
}
