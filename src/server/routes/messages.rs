//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: the Anthropic Messages API (Claude
//! Code, the Anthropic SDKs) over any configured provider, with errors in Anthropic's shape.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use crate::engine::{ClientRequest, RequestContext, forwarded_headers};
use crate::formats::anthropic::family::MessagesFamily;
use crate::formats::family::ErrorShape;
use crate::formats::protocol::Protocol;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::request_log::{RequestArrival, RequestId};
use crate::tokens::{self, CountOptions, Family};

fn error(err: impl Into<ApiError>, id: &str) -> Response {
    err.into().into_response_shaped(ErrorShape::Anthropic, Some(id))
}

fn request_id(id: Option<Extension<RequestId>>) -> String {
    id.map(|Extension(RequestId(id))| id).unwrap_or_default()
}

pub async fn messages(
    State(state): State<AppState>,
    arrival: Option<Extension<RequestArrival>>,
    id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = request_id(id);
    let arrival = arrival.map_or_else(tokio::time::Instant::now, |Extension(RequestArrival(at))| at);
    let body = match super::body_or_error(&state, body, ErrorShape::Anthropic, Some(&id)) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let decoded = MessagesFamily::parse_bytes(&body);
    drop(body);
    let (family, head, raw) = match decoded {
        Ok(decoded) => decoded,
        Err(invalid) => return error(invalid, &id),
    };
    let mut context = RequestContext::new(arrival, None);
    context.client_headers = forwarded(&headers);
    let request = ClientRequest::new(Box::new(family), head, raw);
    super::serve_turn(&state, &headers, request, context, Some(&id), None).await
}

/// The upstream's exact count for `anthropic/…` models (`COUNT_TOKENS_MODE`), else the offline
/// estimate over system, messages and tools.
pub async fn count_tokens(
    State(state): State<AppState>,
    id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = request_id(id);
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(ApiError::from_body_rejection(&rejection, state.settings.max_request_body_bytes), &id);
        }
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value @ Value::Object(_)) => value,
        _ => return error(ApiError::BadRequest("request body must be a JSON object".into()), &id),
    };
    let Some(model) = value.get("model").and_then(Value::as_str).map(str::to_string) else {
        return error(ApiError::BadRequest("missing required field 'model'".into()), &id);
    };
    if !value.get("messages").is_some_and(Value::is_array) {
        return error(ApiError::BadRequest("missing required field 'messages'".into()), &id);
    }
    let client_headers = forwarded(&headers);
    if let Some(body) = value.as_object()
        && let Some(counted) =
            state.engine.count_tokens_upstream(Protocol::Anthropic, &model, body, &client_headers).await
    {
        return counted_response(counted, "upstream");
    }
    let counted = tokio::task::spawn_blocking(move || {
        let options = CountOptions { format: Some(Family::Anthropic), ..CountOptions::default() };
        tokens::count_messages_with(&model, &value, &options)
    })
    .await;
    match counted {
        Ok(Ok(count)) => counted_response(count.tokens as u64, "local"),
        Ok(Err(invalid)) => error(ApiError::BadRequest(invalid.message), &id),
        Err(_) => error(ApiError::Internal("token count task failed".into()), &id),
    }
}

/// The client headers an upstream may need (`anthropic-version`, `anthropic-beta`).
fn forwarded(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    forwarded_headers(headers)
}

fn counted_response(tokens: u64, source: &'static str) -> Response {
    let mut response = Json(json!({"input_tokens": tokens})).into_response();
    response.headers_mut().insert("x-llmkp-token-count-source", HeaderValue::from_static(source));
    response
}
