//! An OpenAI embeddings request as the client sent it (HTTP API §5.8): the JSON object kept whole
//! for passthrough, with `model`, the inputs and the output options decoded and validated; and
//! the `base64` output encoding.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::formats::InvalidRequest;

#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingInput {
    Texts(Vec<String>),
    /// Token ids (one array per input): only OpenAI-compatible upstreams take them.
    Tokens(usize),
}

impl EmbeddingInput {
    pub fn len(&self) -> usize {
        match self {
            Self::Texts(texts) => texts.len(),
            Self::Tokens(count) => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub struct EmbeddingsRequest {
    body: Map<String, Value>,
    pub model: String,
    pub input: EmbeddingInput,
    pub dimensions: Option<u64>,
    /// `encoding_format: "base64"`: vectors as base64 of little-endian float32.
    pub base64: bool,
}

impl EmbeddingsRequest {
    pub fn parse(bytes: &[u8]) -> Result<Self, InvalidRequest> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|err| InvalidRequest::body(format!("request body is not valid JSON: {err}")))?;
        let Value::Object(body) = value else { return Err(InvalidRequest::body("request body must be a JSON object")) };
        let model = crate::formats::fields::req_model(&body)?;
        let input = decode_input(body.get("input"))?;
        let dimensions = match body.get("dimensions") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|d| *d > 0)
                    .ok_or_else(|| InvalidRequest::wrong_type("dimensions".into(), "a positive integer"))?,
            ),
        };
        let base64 = match body.get("encoding_format") {
            None | Some(Value::Null) => false,
            Some(Value::String(f)) if f == "float" => false,
            Some(Value::String(f)) if f == "base64" => true,
            Some(_) => {
                return Err(InvalidRequest::at("'encoding_format' must be \"float\" or \"base64\"", "encoding_format"));
            }
        };
        Ok(Self { body, model, input, dimensions, base64 })
    }

    /// The body for an OpenAI-compatible upstream: the client's JSON with `model` replaced.
    pub fn upstream_body(&self, upstream_model: &str) -> Bytes {
        let mut body = self.body.clone();
        body.insert("model".into(), Value::from(upstream_model));
        Bytes::from(serde_json::to_vec(&body).expect("a JSON map always serialises"))
    }
}

fn decode_input(input: Option<&Value>) -> Result<EmbeddingInput, InvalidRequest> {
    let empty = || InvalidRequest::at("'input' must not be empty", "input");
    match input {
        None | Some(Value::Null) => Err(InvalidRequest::missing("input".into())),
        Some(Value::String(text)) => Ok(EmbeddingInput::Texts(vec![text.clone()])),
        Some(Value::Array(items)) if items.is_empty() => Err(empty()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            Ok(EmbeddingInput::Texts(items.iter().filter_map(Value::as_str).map(str::to_string).collect()))
        }
        Some(Value::Array(items)) if items.iter().all(Value::is_u64) => Ok(EmbeddingInput::Tokens(1)),
        Some(Value::Array(items))
            if items.iter().all(|i| i.as_array().is_some_and(|t| t.iter().all(Value::is_u64))) =>
        {
            Ok(EmbeddingInput::Tokens(items.len()))
        }
        Some(_) => Err(InvalidRequest::wrong_type(
            "input".into(),
            "a string, an array of strings, an array of token ids, or an array of token-id arrays",
        )),
    }
}

/// A float vector as the `base64` encoding format sends it: little-endian float32 bytes.
pub fn base64_vector(values: &[Value]) -> Value {
    let bytes: Vec<u8> = values.iter().flat_map(|v| (v.as_f64().unwrap_or(0.0) as f32).to_le_bytes()).collect();
    Value::String(STANDARD.encode(bytes))
}

/// Every float `embedding` of an embeddings response body re-encoded as base64 (those already in
/// base64 are left alone).
pub fn encode_base64_in_place(response: &mut Map<String, Value>) {
    let Some(Value::Array(data)) = response.get_mut("data") else { return };
    for item in data {
        if let Some(embedding) = item.get_mut("embedding")
            && let Value::Array(values) = embedding
        {
            *embedding = base64_vector(values);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<EmbeddingsRequest, InvalidRequest> {
        EmbeddingsRequest::parse(body.to_string().as_bytes())
    }

    #[test]
    fn inputs_of_every_documented_form_are_read() {
        let one = parse(json!({"model": "a/b", "input": "x"})).unwrap();
        assert_eq!(one.input, EmbeddingInput::Texts(vec!["x".into()]));
        let many = parse(json!({"model": "a/b", "input": ["x", "y", "z"], "dimensions": 8})).unwrap();
        assert_eq!((many.input.len(), many.dimensions), (3, Some(8)));
        assert_eq!(parse(json!({"model": "a/b", "input": [1, 2, 3]})).unwrap().input, EmbeddingInput::Tokens(1));
        assert_eq!(parse(json!({"model": "a/b", "input": [[1], [2]]})).unwrap().input, EmbeddingInput::Tokens(2));
        assert!(parse(json!({"model": "a/b", "input": "x", "encoding_format": "base64"})).unwrap().base64);
    }

    #[test]
    fn bad_requests_name_the_field() {
        for (body, param) in [
            (json!({"input": "x"}), "model"),
            (json!({"model": "a/b"}), "input"),
            (json!({"model": "a/b", "input": []}), "input"),
            (json!({"model": "a/b", "input": [1, "x"]}), "input"),
            (json!({"model": "a/b", "input": "x", "dimensions": 0}), "dimensions"),
            (json!({"model": "a/b", "input": "x", "encoding_format": "hex"}), "encoding_format"),
        ] {
            assert_eq!(parse(body).unwrap_err().param.as_deref(), Some(param));
        }
    }

    #[test]
    fn base64_is_little_endian_float32() {
        let encoded = base64_vector(&[json!(1.0), json!(-2.5)]);
        let bytes = STANDARD.decode(encoded.as_str().unwrap()).unwrap();
        assert_eq!(bytes, [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat());
        let mut response = json!({"data": [{"embedding": [1.0]}, {"embedding": "AACAPw=="}]});
        encode_base64_in_place(response.as_object_mut().unwrap());
        assert_eq!(response["data"][0]["embedding"], "AACAPw==");
        assert_eq!(response["data"][1]["embedding"], "AACAPw==");
    }
}
