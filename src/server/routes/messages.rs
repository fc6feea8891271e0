//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: the Anthropic Messages API (Claude
//! Code, the Anthropic SDKs) over any configured provider, with errors in Anthropic's shape.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use crate::engine::session::session_key;
use crate::engine::{Reply, RequestContext};
use crate::formats::anthropic::{MessagesRequest, PING};
use crate::providers::{Protocol, anthropic};
use crate::server::AppState;
use crate::server::error::{ApiError, Family};
use crate::server::request_log::{RequestArrival, RequestId, RouteLog};
use crate::server::sse::{sse_response, with_keepalive};
use crate::tokens::{self, CountOptions, Format};

/// `max_tokens` when the client sent none (Anthropic requires it; we do not refuse).
const DEFAULT_MAX_TOKENS: u64 = 8192;

fn error(err: impl Into<ApiError>, id: &str) -> Response {
    err.into().into_family_response(Family::Anthropic, Some(id))
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
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(ApiError::from_body_rejection(&rejection, state.settings.max_request_body_bytes), &id);
        }
    };
    let decoded = match MessagesRequest::parse(&body) {
        Ok(decoded) => decoded,
        Err(invalid) => return error(invalid, &id),
    };
    drop(body);
    let mut request = decoded.request;
    let raw = decoded.body;
    let mut adjustments: Vec<String> = Vec::new();
    if request.max_output_tokens.is_none() {
        request.max_output_tokens = Some(DEFAULT_MAX_TOKENS);
        adjustments.push("max_tokens_defaulted".into());
    }
    let requested = request.model.clone();
    let session = session_key(&headers, &raw);
    // The body goes to the counting thread and comes back: no copy of a big request.
    let (estimate, raw) = {
        let model = requested.clone();
        let counted = tokio::task::spawn_blocking(move || {
            let options = CountOptions { format: Some(Format::Anthropic), ..CountOptions::default() };
            let raw = Value::Object(raw);
            let tokens = tokens::count_messages_with(&model, &raw, &options).map(|c| c.tokens as u64).unwrap_or(1);
            let Value::Object(raw) = raw else { unreachable!("wrapped above") };
            (tokens, raw)
        })
        .await;
        match counted {
            Ok((tokens, raw)) => (tokens.max(1), raw),
            Err(_) => return error(ApiError::Internal("token count task failed".into()), &id),
        }
    };
    let mut context = RequestContext::new(arrival, Some(session));
    context.client_headers = forwarded(&headers);
    let (mut response, log) = match state.engine.messages(request, raw, context, estimate).await {
        Ok(answer) => {
            adjustments.extend(answer.adjustments.iter().cloned());
            let response = match answer.reply {
                Reply::Complete(body) => super::json_body(body),
                Reply::Stream(events) => {
                    sse_response(with_keepalive(events, state.settings.sse_keepalive_interval, PING))
                }
            };
            let mut response = response;
            let headers = response.headers_mut();
            if state.settings.expose_routing_headers {
                super::routing_headers(headers, &answer.served, &requested, &answer.dropped, &adjustments);
            }
            let log = RouteLog { requested, served: Some(answer.served.model), attempts: answer.served.attempts };
            (response, log)
        }
        Err(err) => {
            let attempts = err.attempts();
            (error(err, &id), RouteLog { requested, served: None, attempts })
        }
    };
    response.extensions_mut().insert(log);
    response
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
        let options = CountOptions { format: Some(Format::Anthropic), ..CountOptions::default() };
        tokens::count_messages_with(&model, &value, &options)
    })
    .await;
    match counted {
        Ok(Ok(count)) => counted_response(count.tokens as u64, "local"),
        Ok(Err(invalid)) => error(ApiError::BadRequest(invalid.message), &id),
        Err(_) => error(ApiError::Internal("token count task failed".into()), &id),
    }
}

/// The client headers Anthropic upstreams receive (`anthropic-version`, `anthropic-beta`).
fn forwarded(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    headers.iter().filter(|(name, _)| anthropic::forwards(name)).map(|(n, v)| (n.clone(), v.clone())).collect()
}

fn counted_response(tokens: u64, source: &'static str) -> Response {
    let mut response = Json(json!({"input_tokens": tokens})).into_response();
    response.headers_mut().insert("x-llmkp-token-count-source", HeaderValue::from_static(source));
    response
}
