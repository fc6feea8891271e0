//! `POST /v1/token-count` (the local count of a text or a request body) and
//! `POST /v1/cost-estimate` (USD from the bundled pricing table), http-api.md §5.12.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde_json::{Map, Value, json};

use crate::catalog::pricing::{self, ModelInfo, PRICES_AS_OF};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::tokens::{self, TokenCount};

/// `{"model", "messages": […]}` (with `system`/`tools` as the request would carry them) or
/// `{"model", "text"}` → `{"token_count", "exact", "encoding"}`. `messages` wins when both are
/// given. Counting runs on a blocking thread: a large body must not stall the async workers.
pub async fn token_count(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = object_body(&state, body)?;
    let model = model_of(&body)?;
    let messages = body.get("messages").is_some_and(|m| !m.is_null());
    let text = body.get("text").filter(|t| !t.is_null());
    if messages && !body["messages"].is_array() {
        return Err(ApiError::BadRequest("`messages` must be an array".to_string()));
    }
    if !messages && text.is_some_and(|t| !t.is_string()) {
        return Err(ApiError::BadRequest("`text` must be a string".to_string()));
    }
    if !messages && text.is_none() {
        return Err(ApiError::BadRequest("either `messages` or `text` is required".to_string()));
    }
    let body = Value::Object(body);
    let count = tokio::task::spawn_blocking(move || -> Result<TokenCount, ApiError> {
        if messages {
            tokens::count_messages(&model, &body).map_err(|e| ApiError::BadRequest(e.message))
        } else {
            Ok(tokens::count_text(&model, body["text"].as_str().unwrap_or_default()))
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("token counting did not finish: {e}")))??;
    Ok(Json(json!({"token_count": count.tokens, "exact": count.exact, "encoding": count.encoding})))
}

/// `{"model", "prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens"}`
/// (counts default to 0; `prompt_tokens` are the uncached input) →
/// `{"model", "cost", "currency", "pricing", "source"}`. A model the table does not know is
/// not an error: `cost` is null, `source` is `unknown` and `error` says why.
pub async fn cost_estimate(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = object_body(&state, body)?;
    let model = model_of(&body)?;
    let prompt = token_field(&body, "prompt_tokens")?;
    let completion = token_field(&body, "completion_tokens")?;
    let cache_read = token_field(&body, "cache_read_tokens")?;
    let cache_write = token_field(&body, "cache_creation_tokens")?;
    let Some(info) = pricing::lookup(&model) else {
        return Ok(Json(json!({
            "model": model,
            "cost": null,
            "currency": "USD",
            "pricing": null,
            "source": "unknown",
            "error": format!("no pricing known for model '{model}'"),
        })));
    };
    let cost = pricing::cost(info, prompt, completion, cache_read, cache_write);
    let prompt_total = prompt.saturating_add(cache_read).saturating_add(cache_write);
    Ok(Json(json!({
        "model": model,
        "cost": cost,
        "currency": "USD",
        "pricing": pricing_object(info, prompt_total),
        "source": "catalog",
    })))
}

/// The rates that priced this request, USD per million tokens (cache rates the vendor does not
/// charge are shown as the input rate they fall back to).
fn pricing_object(info: &ModelInfo, prompt_total: u64) -> Value {
    let rates = info.rates_for(prompt_total);
    json!({
        "model": info.id(),
        "input_per_million": rates.input,
        "output_per_million": rates.output,
        "cache_read_per_million": rates.cache_read.unwrap_or(rates.input),
        "cache_write_per_million": rates.cache_write.unwrap_or(rates.input),
        "long_context": info.long_context.is_some_and(|l| prompt_total > l.above),
        "as_of": PRICES_AS_OF,
    })
}

fn object_body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let body = body.map_err(|r| ApiError::from_body_rejection(&r, state.settings.max_request_body_bytes))?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest("the request body must be a JSON object".to_string())),
        Err(e) => Err(ApiError::BadRequest(format!("invalid JSON body: {e}"))),
    }
}

fn model_of(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("model") {
        None | Some(Value::Null) => Err(ApiError::BadRequest("`model` is required".to_string())),
        Some(Value::String(model)) if !model.trim().is_empty() => Ok(model.clone()),
        Some(_) => Err(ApiError::BadRequest("`model` must be a non-empty string".to_string())),
    }
}

/// A token count: absent or null is 0; anything but a non-negative integer is a client error.
fn token_field(body: &Map<String, Value>, name: &str) -> Result<u64, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(value) => {
            value.as_u64().ok_or_else(|| ApiError::BadRequest(format!("`{name}` must be a non-negative integer")))
        }
    }
}
