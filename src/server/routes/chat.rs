//! `POST /v1/chat/completions`: the OpenAI Chat Completions family through the engine.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::engine::{ClientRequest, RequestContext};
use crate::formats::family::ErrorShape;
use crate::formats::openai::family::ChatFamily;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::request_log::RequestArrival;

pub async fn completions(
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
    let decoded = ChatFamily::parse_bytes(&body);
    // The decoded request is all that is needed from here: a big body is not held twice.
    drop(body);
    let (family, head, body) = match decoded {
        Ok(decoded) => decoded,
        Err(invalid) => return ApiError::from(invalid).into_response_shaped(ErrorShape::OpenAi, None),
    };
    let request = ClientRequest::new(Box::new(family), head, body);
    super::serve_turn(&state, &headers, request, RequestContext::new(arrival, None), None, None).await
}
