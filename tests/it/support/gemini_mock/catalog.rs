//! The Gemini mock's side routes: `GET /v1beta/models[/{m}]`, `:countTokens`, `:embedContent` and
//! `:batchEmbedContents`.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::reply::{prompt_tokens, validate};
use super::{Shared, error, json_response, query_param};

/// Values per embedding when the request has no `outputDimensionality`.
pub const DEFAULT_DIMENSIONS: usize = 8;
const MAX_BATCH: usize = 100;
const DEFAULT_PAGE_SIZE: usize = 50;
const GENERATE_METHODS: &[&str] = &["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"];

pub(super) fn default_models() -> Vec<Value> {
    let mut models = vec![
        chat_model("gemini-2.5-flash", "001", "Gemini 2.5 Flash", "Stable version of Gemini 2.5 Flash."),
        chat_model("gemini-2.5-pro", "2.5", "Gemini 2.5 Pro", "Stable release of Gemini 2.5 Pro."),
        chat_model("gemini-3-pro-preview", "3-pro-preview-11-2025", "Gemini 3 Pro Preview", "Gemini 3 Pro Preview."),
    ];
    models.push(json!({
        "name": "models/text-embedding-004",
        "version": "004",
        "displayName": "Text Embedding 004",
        "description": "Obtain a distributed representation of a text.",
        "inputTokenLimit": 2048,
        "outputTokenLimit": 1,
        "supportedGenerationMethods": ["embedContent"],
    }));
    models
}

fn chat_model(id: &str, version: &str, display: &str, description: &str) -> Value {
    json!({
        "name": format!("models/{id}"),
        "version": version,
        "displayName": display,
        "description": description,
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": GENERATE_METHODS,
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
        "thinking": true,
    })
}

/// A chat model with generic metadata (display name = id).
pub(super) fn generic_model(id: &str) -> Value {
    let mut m = chat_model(id, "001", id, id);
    m["displayName"] = json!(id);
    m
}

/// `GET /v1beta/models`: `pageSize` (default 50, at most 1000) and an opaque `pageToken` / `nextPageToken`.
pub(super) fn list(shared: &Shared, query: Option<&str>) -> Response {
    let size = query_param(query, "pageSize").and_then(|s| s.parse::<usize>().ok()).filter(|n| *n > 0);
    let size = size.unwrap_or(DEFAULT_PAGE_SIZE).min(1000);
    let start = match query_param(query, "pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => match decode_token(token) {
            Some(start) => start,
            None => return error(400, "INVALID_ARGUMENT", "Invalid page token.", vec![]),
        },
    };
    let models = shared.models.lock().unwrap().clone();
    let page: Vec<Value> = models.iter().skip(start).take(size).cloned().collect();
    let mut body = json!({"models": page});
    if start + size < models.len() {
        body["nextPageToken"] = json!(URL_SAFE_NO_PAD.encode(format!("mock-models-page:{}", start + size)));
    }
    json_response(200, &body)
}

fn decode_token(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    String::from_utf8(raw).ok()?.strip_prefix("mock-models-page:")?.parse().ok()
}

/// `GET /v1beta/models/{m}`.
pub(super) fn get(shared: &Shared, id: &str) -> Response {
    let name = format!("models/{id}");
    match shared.models.lock().unwrap().iter().find(|m| m["name"] == name.as_str()) {
        Some(m) => json_response(200, m),
        None => error(404, "NOT_FOUND", &format!("Model is not found: {name} for api version v1beta"), vec![]),
    }
}

/// `:countTokens` with `{"contents"}` or `{"generateContentRequest": {"model", "contents", …}}`.
pub(super) fn count_tokens(body: &Value) -> Response {
    let request = match body.get("generateContentRequest") {
        Some(inner) => {
            if !inner["model"].as_str().is_some_and(|m| m.starts_with("models/")) {
                let msg = "* CountTokensRequest.generate_content_request.model: unexpected model name format\n";
                return error(400, "INVALID_ARGUMENT", msg, vec![]);
            }
            inner
        }
        None => body,
    };
    if let Err(msg) = validate(request) {
        return error(400, "INVALID_ARGUMENT", &msg.replace("GenerateContentRequest", "CountTokensRequest"), vec![]);
    }
    let n = prompt_tokens(request);
    json_response(200, &json!({"totalTokens": n, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]}))
}

/// `:embedContent`: `{"content", "outputDimensionality"?}` → `{"embedding": {"values"}}`.
pub(super) fn embed(body: &Value) -> Response {
    match embedding(body, "EmbedContentRequest") {
        Ok(values) => json_response(200, &json!({"embedding": {"values": values}})),
        Err(msg) => error(400, "INVALID_ARGUMENT", &msg, vec![]),
    }
}

/// `:batchEmbedContents`: one embedding per request, in order. Each request must name the URL's model.
pub(super) fn batch_embed(body: &Value, model: &str) -> Response {
    let requests = body["requests"].as_array().map(Vec::as_slice).unwrap_or_default();
    if requests.is_empty() {
        let msg = "* BatchEmbedContentsRequest.requests: at least one request is required\n";
        return error(400, "INVALID_ARGUMENT", msg, vec![]);
    }
    if requests.len() > MAX_BATCH {
        let msg = "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n";
        return error(400, "INVALID_ARGUMENT", msg, vec![]);
    }
    let mut embeddings = Vec::with_capacity(requests.len());
    for (i, req) in requests.iter().enumerate() {
        let field = format!("BatchEmbedContentsRequest.requests[{i}]");
        match req["model"].as_str() {
            Some(m) if m.strip_prefix("models/") == Some(model) => {}
            Some(m) if m.starts_with("models/") => {
                let msg = format!("* {field}.model: model must be the model of the batch request (models/{model})\n");
                return error(400, "INVALID_ARGUMENT", &msg, vec![]);
            }
            _ => {
                let msg = format!("* {field}.model: unexpected model name format\n");
                return error(400, "INVALID_ARGUMENT", &msg, vec![]);
            }
        }
        match embedding(req, &field) {
            Ok(values) => embeddings.push(json!({"values": values})),
            Err(msg) => return error(400, "INVALID_ARGUMENT", &msg, vec![]),
        }
    }
    json_response(200, &json!({"embeddings": embeddings}))
}

/// The embedding of one `EmbedContentRequest`; `Err` holds the 400 message.
fn embedding(req: &Value, field: &str) -> Result<Vec<f64>, String> {
    let parts = req["content"]["parts"].as_array().map(Vec::as_slice).unwrap_or_default();
    if parts.is_empty() {
        return Err(format!("* {field}.content.parts: contents.parts must not be empty.\n"));
    }
    let text = parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(" ");
    let dims = match &req["outputDimensionality"] {
        Value::Null => DEFAULT_DIMENSIONS,
        v => match v.as_u64() {
            Some(n @ 1..=3072) => n as usize,
            _ => return Err(format!("* {field}.output_dimensionality: must be between 1 and 3072\n")),
        },
    };
    Ok(embedding_values(&text, dims))
}

/// `dims` deterministic values for `text` (SHA-256 blocks), normalised to unit length, 6 decimals.
pub fn embedding_values(text: &str, dims: usize) -> Vec<f64> {
    let mut raw = Vec::with_capacity(dims);
    let mut block = 0u32;
    while raw.len() < dims {
        let digest = Sha256::new().chain_update(text.as_bytes()).chain_update(block.to_le_bytes()).finalize();
        for pair in digest.chunks(2).take(dims - raw.len()) {
            raw.push(f64::from(u16::from_le_bytes([pair[0], pair[1]])) / 32_767.5 - 1.0);
        }
        block += 1;
    }
    let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
    raw.iter().map(|v| (v / norm * 1e6).round() / 1e6).collect()
}
