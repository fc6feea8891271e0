//! The OpenAI Responses API (Codex CLI, the OpenAI SDKs' `responses`): `POST /v1/responses` over
//! any provider, stored responses for `previous_response_id` and `GET`/`DELETE
//! /v1/responses/{id}` (`…/input_items` too), and `POST /v1/responses/compact` for Responses
//! upstreams. Errors in OpenAI's shape.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::ReplyTap;
use crate::engine::client_stream::ClientStream;
use crate::engine::{ClientRequest, Reply, RequestContext};
use crate::formats::family::ErrorShape;
use crate::formats::protocol::Protocol;
use crate::formats::responses::family::ResponsesFamily;
use crate::formats::sse::SseDecoder;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::request_log::RequestArrival;

fn error(err: impl Into<ApiError>) -> Response {
    err.into().into_response_shaped(ErrorShape::OpenAi, None)
}

fn object_of(body: &Bytes) -> Result<Map<String, Value>, Response> {
    ResponsesFamily::body_of(body).map_err(error)
}

/// `input` as items: a plain string is one user message.
fn input_items(body: &Map<String, Value>) -> Vec<Value> {
    match body.get("input") {
        Some(Value::String(text)) => vec![json!({"type": "message", "role": "user", "content": text})],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// An input item as the API lists it: with an `id`, and a message's text content as parts.
fn listed_item(mut item: Value) -> Value {
    let Some(map) = item.as_object_mut() else { return item };
    let message = map.get("type").is_none_or(|t| t == "message") && map.contains_key("role");
    if message {
        map.insert("type".into(), json!("message"));
        if let Some(Value::String(text)) = map.get("content") {
            let kind = if map.get("role").is_some_and(|r| r == "assistant") { "output_text" } else { "input_text" };
            let parts = json!([{ "type": kind, "text": text }]);
            map.insert("content".into(), parts);
        }
    }
    if !map.contains_key("id") {
        let prefix = if message { "msg" } else { "item" };
        map.insert("id".into(), json!(crate::formats::responses::new_item_id(prefix)));
    }
    item
}

/// `POST /v1/responses`.
pub async fn create(
    State(state): State<AppState>,
    arrival: Option<Extension<RequestArrival>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let arrival = arrival.map_or_else(tokio::time::Instant::now, |Extension(RequestArrival(at))| at);
    let body = match super::body_or_error(&state, body, ErrorShape::OpenAi, None) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let parsed = object_of(&body);
    drop(body);
    let mut body = match parsed {
        Ok(body) => body,
        Err(response) => return response,
    };
    let owner = state.auth.owner(&headers);
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(previous) = body.get("previous_response_id").and_then(Value::as_str).map(str::to_string) {
        match state.engine.kept_response(&previous, &owner).await {
            // The stored conversation goes in front of this turn's input (§5.4).
            Ok(Some(kept)) => {
                let mut input = kept.input;
                input.extend(kept.response.get("output").and_then(Value::as_array).cloned().unwrap_or_default());
                input.extend(input_items(&body));
                body.insert("input".into(), Value::Array(input));
                body.remove("previous_response_id");
            }
            // A Responses upstream keeps its own responses: the id is forwarded as sent.
            Ok(None) if state.engine.served_natively(&model, Protocol::Responses) => {}
            Ok(None) => {
                return error(ApiError::NotFound {
                    message: format!("Previous response with id '{previous}' not found."),
                    code: "previous_response_not_found",
                    param: Some("previous_response_id"),
                });
            }
            Err(err) => return error(ApiError::Internal(format!("stored responses cannot be read: {err}"))),
        }
    }
    let keep = state.engine.keeps_responses() && body.get("store") != Some(&Value::Bool(false));
    let input = if keep { input_items(&body).into_iter().map(listed_item).collect() } else { Vec::new() };
    let (family, head) = match ResponsesFamily::parse(&body) {
        Ok(parsed) => parsed,
        Err(invalid) => return error(invalid),
    };
    let request = ClientRequest::new(Box::new(family), head, body);
    let tap = keep.then(|| keeper(state.clone(), owner, input));
    super::serve_turn(&state, &headers, request, RequestContext::new(arrival, None), None, tap).await
}

/// Keeps the finished response before the client can read it, so a `GET` or a
/// `previous_response_id` sent the moment it arrives finds it: a complete body is stored before
/// it is written, a stream's terminal event (`response.completed` / `response.incomplete`) before
/// it is passed on.
fn keeper(state: AppState, owner: String, input: Vec<Value>) -> ReplyTap {
    Box::new(move |reply| Box::pin(kept(state, owner, input, reply)))
}

async fn kept(state: AppState, owner: String, input: Vec<Value>, reply: Reply) -> Reply {
    match reply {
        Reply::Complete(body) => {
            if let Ok(response) = serde_json::from_slice::<Value>(&body) {
                state.engine.keep_response(&owner, input, response).await;
            }
            Reply::Complete(body)
        }
        Reply::Stream(frames) => {
            let mut decoder = SseDecoder::new();
            let mut pending = Some((state, owner, input));
            let tee = frames.then(move |frame| {
                let finished = frame.as_ref().ok().and_then(|frame| terminal_response(&mut decoder, frame));
                let keep = finished.and_then(|response| pending.take().map(|p| (p, response)));
                async move {
                    if let Some(((state, owner, input), response)) = keep {
                        state.engine.keep_response(&owner, input, response).await;
                    }
                    frame
                }
            });
            Reply::Stream(ClientStream::from_stream(tee))
        }
    }
}

/// The `response` of the terminal event `frame` completes, if it does. Only that event is read:
/// the family's encoder and a Responses upstream name every event, so the others pass unparsed.
fn terminal_response(decoder: &mut SseDecoder, frame: &Bytes) -> Option<Value> {
    let mut events = Vec::new();
    decoder.push(frame, &mut events);
    events
        .into_iter()
        .filter(|event| matches!(event.event.as_deref(), Some("response.completed" | "response.incomplete")))
        .find_map(|event| serde_json::from_str::<Value>(&event.data).ok())
        .map(|mut data| data["response"].take())
}

fn not_found(id: &str) -> Response {
    error(ApiError::NotFound {
        message: format!("No response found with id '{id}'."),
        code: "response_not_found",
        param: None,
    })
}

/// `GET /v1/responses/{id}`: the stored response object.
pub async fn get(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match state.engine.kept_response(&id, &state.auth.owner(&headers)).await {
        Ok(Some(kept)) => axum::Json(kept.response).into_response(),
        Ok(None) => not_found(&id),
        Err(err) => error(ApiError::Internal(format!("stored responses cannot be read: {err}"))),
    }
}

/// `GET /v1/responses/{id}/input_items`: the input that produced it, as a list (`order`
/// `desc` by default, `limit` 1–100, default 20, `after` an item id).
pub async fn input_items_of(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Response {
    let kept = match state.engine.kept_response(&id, &state.auth.owner(&headers)).await {
        Ok(Some(kept)) => kept,
        Ok(None) => return not_found(&id),
        Err(err) => return error(ApiError::Internal(format!("stored responses cannot be read: {err}"))),
    };
    let mut items = kept.input;
    match page.order.as_deref() {
        None | Some("desc") => items.reverse(),
        Some("asc") => {}
        Some(other) => {
            return error(ApiError::BadRequest(format!("'order' must be \"asc\" or \"desc\", got \"{other}\"")));
        }
    }
    if let Some(after) = &page.after {
        let at = items.iter().position(|i| i.get("id").and_then(Value::as_str) == Some(after));
        items.drain(..at.map_or(items.len(), |at| at + 1));
    }
    let limit = page.limit.unwrap_or(20).clamp(1, 100);
    let has_more = items.len() > limit;
    items.truncate(limit);
    let id_of = |item: Option<&Value>| item.and_then(|i| i.get("id")).cloned().unwrap_or(Value::Null);
    let (first, last) = (id_of(items.first()), id_of(items.last()));
    axum::Json(json!({"object": "list", "data": items, "first_id": first, "last_id": last, "has_more": has_more}))
        .into_response()
}

/// The paging of `input_items`.
#[derive(Debug, serde::Deserialize)]
pub struct Page {
    order: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match state.engine.delete_response(&id, &state.auth.owner(&headers)).await {
        Ok(true) => axum::Json(json!({"id": id, "object": "response.deleted", "deleted": true})).into_response(),
        Ok(false) => not_found(&id),
        Err(err) => error(ApiError::Internal(format!("stored responses cannot be changed: {err}"))),
    }
}

/// `POST /v1/responses/compact`: forwarded to a Responses upstream; refused (400, naming why)
/// for models served by any other protocol.
pub async fn compact(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match super::body_or_error(&state, body, ErrorShape::OpenAi, None) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let body = match object_of(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(model) = body.get("model").and_then(Value::as_str).map(str::to_string) else {
        return error(ApiError::BadRequest("missing required field 'model'".into()));
    };
    match state.engine.compact(&model, body).await {
        Ok(forwarded) => {
            let status = StatusCode::from_u16(forwarded.status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], forwarded.body)
                .into_response()
        }
        Err(err) => error(err),
    }
}
