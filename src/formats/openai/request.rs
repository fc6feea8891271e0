//! An OpenAI Chat Completions request as the routes check it before routing: the few fields
//! the proxy acts on (`model`, `messages`, `stream`, `stream_options`) decoded and validated;
//! the body itself stays the client's (unknown fields survive passthrough).

use serde_json::{Map, Value};

use crate::formats::fields::{req_messages, req_model};

pub use crate::formats::InvalidRequest;

#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The `model` the client asked for (`provider/model`, an alias, …).
    pub model: String,
    pub stream: bool,
    /// The client asked for the usage-only chunk at the end of a stream.
    pub include_usage: bool,
}

impl ChatRequest {
    /// The body as a JSON object, checked.
    pub fn parse(bytes: &[u8]) -> Result<(Self, Map<String, Value>), InvalidRequest> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|err| InvalidRequest::new(format!("request body is not valid JSON: {err}"), None))?;
        let Value::Object(body) = value else {
            return Err(InvalidRequest::new("request body must be a JSON object", None));
        };
        Ok((Self::check(&body)?, body))
    }

    /// A request already decoded into a JSON object (built by a translator or the CLI), checked
    /// like a client's.
    pub fn check(body: &Map<String, Value>) -> Result<Self, InvalidRequest> {
        let model = req_model(body)?;
        let messages = req_messages(body)?;
        if let Some(i) = messages.iter().position(|m| !m.get("role").is_some_and(Value::is_string)) {
            return Err(InvalidRequest::at(
                format!("messages[{i}] must be an object with a string 'role'"),
                format!("messages[{i}]"),
            ));
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
        Ok(Self { model, stream, include_usage })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
