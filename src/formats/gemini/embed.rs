//! OpenAI embeddings through Gemini's `:batchEmbedContents` (http-api §5.8): one request element
//! per input, in order, and the answer back as an OpenAI embeddings response.

use serde_json::{Map, Value, json};

use crate::formats::InvalidRequest;

/// The `:batchEmbedContents` body for `inputs`: `{"requests":[{"model":"models/<m>","content":
/// {"parts":[{"text"}]},"outputDimensionality"?}]}`, `outputDimensionality` only when the client
/// gave `dimensions`.
pub fn encode_batch_embed(inputs: &[String], upstream_model: &str, dimensions: Option<u64>) -> Map<String, Value> {
    let model = if upstream_model.starts_with("models/") {
        upstream_model.to_string()
    } else {
        format!("models/{upstream_model}")
    };
    let requests: Vec<Value> = inputs
        .iter()
        .map(|text| {
            let mut request = Map::new();
            request.insert("model".into(), json!(model));
            request.insert("content".into(), json!({"parts": [{"text": text}]}));
            if let Some(dimensions) = dimensions {
                request.insert("outputDimensionality".into(), json!(dimensions));
            }
            Value::Object(request)
        })
        .collect();
    let mut body = Map::new();
    body.insert("requests".into(), Value::Array(requests));
    body
}

/// A `:batchEmbedContents` answer (`{"embeddings":[{"values":[…]},…]}`, in input order) as the
/// OpenAI embeddings response for `served_model` (the id the client asked for). An answer with a
/// count other than `expected`, or without vectors, is refused. The public API reports no token
/// count: `usage` is then 0 and the caller substitutes its local estimate (§5.8); a
/// `usageMetadata.promptTokenCount` (Vertex-style answers) is used when present.
pub fn decode_batch_embed(
    body: &Map<String, Value>,
    served_model: &str,
    expected: usize,
) -> Result<Value, InvalidRequest> {
    let embeddings = match body.get("embeddings") {
        Some(Value::Array(embeddings)) => embeddings,
        None | Some(Value::Null) => return Err(InvalidRequest::missing("embeddings".into())),
        Some(_) => return Err(InvalidRequest::wrong_type("embeddings".into(), "an array")),
    };
    if embeddings.len() != expected {
        return Err(InvalidRequest::at(
            format!("the upstream returned {} embeddings for {expected} inputs", embeddings.len()),
            "embeddings",
        ));
    }
    let data = embeddings
        .iter()
        .enumerate()
        .map(|(index, embedding)| {
            let values = embedding
                .get("values")
                .and_then(Value::as_array)
                .filter(|values| values.iter().all(Value::is_number))
                .ok_or_else(|| {
                    InvalidRequest::wrong_type(format!("embeddings[{index}].values"), "an array of numbers")
                })?;
            Ok(json!({"object": "embedding", "index": index, "embedding": values}))
        })
        .collect::<Result<Vec<Value>, InvalidRequest>>()?;
    let tokens = body
        .get("usageMetadata")
        .and_then(|u| u.get("promptTokenCount").or_else(|| u.get("totalTokenCount")))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(json!({
        "object": "list",
        "data": data,
        "model": served_model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn one_request_per_input_in_order_with_dimensions_only_when_given() {
        let body = encode_batch_embed(&inputs(&["alpha", "beta"]), "text-embedding-004", None);
        assert_eq!(
            Value::Object(body),
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "alpha"}]}},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "beta"}]}},
            ]})
        );
        let body = encode_batch_embed(&inputs(&["x"]), "models/gemini-embedding-001", Some(256));
        assert_eq!(
            body["requests"][0],
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]},
                   "outputDimensionality": 256})
        );
        assert_eq!(encode_batch_embed(&[], "m", None)["requests"], json!([]));
    }

    #[test]
    fn answer_becomes_an_openai_list_in_input_order() {
        let answer = json!({"embeddings": [{"values": [0.1, -0.2]}, {"values": [0.3, 0.4]}, {"values": [1, 0]}]});
        let out = decode_batch_embed(answer.as_object().unwrap(), "gemini/text-embedding-004", 3).unwrap();
        assert_eq!(
            out,
            json!({
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 0, "embedding": [0.1, -0.2]},
                    {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
                    {"object": "embedding", "index": 2, "embedding": [1, 0]},
                ],
                "model": "gemini/text-embedding-004",
                "usage": {"prompt_tokens": 0, "total_tokens": 0},
            })
        );
    }

    #[test]
    fn token_counts_are_used_when_the_answer_has_them() {
        let answer = json!({"embeddings": [{"values": [0.5]}], "usageMetadata": {"promptTokenCount": 7}});
        let out = decode_batch_embed(answer.as_object().unwrap(), "m", 1).unwrap();
        assert_eq!(out["usage"], json!({"prompt_tokens": 7, "total_tokens": 7}));
    }

    #[test]
    fn count_mismatch_and_malformed_answers_are_refused_without_panicking() {
        let two = json!({"embeddings": [{"values": [0.1]}, {"values": [0.2]}]});
        let err = decode_batch_embed(two.as_object().unwrap(), "m", 3).unwrap_err();
        assert!(err.message.contains("2 embeddings for 3 inputs"), "{err}");
        for garbage in [
            json!({}),
            json!({"embeddings": null}),
            json!({"embeddings": {"values": [1]}}),
            json!({"embeddings": [{"values": "1,2"}]}),
            json!({"embeddings": [{"values": [1, "x"]}]}),
            json!({"embeddings": [null]}),
            json!({"embeddings": [{}]}),
        ] {
            assert!(decode_batch_embed(garbage.as_object().unwrap(), "m", 1).is_err(), "{garbage}");
        }
        let empty = json!({"embeddings": []});
        assert_eq!(decode_batch_embed(empty.as_object().unwrap(), "m", 0).unwrap()["data"], json!([]));
    }
}
