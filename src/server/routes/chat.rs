//! `POST /v1/chat/completions`: decode the OpenAI request, run it through the engine, and answer
//! with a completion, a stream, or an error in OpenAI shape.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::engine::session::session_key;
use crate::engine::{Reply, RequestContext};
use crate::formats::openai::ChatRequest;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::request_log::{RequestArrival, RouteLog};
use crate::server::sse::{sse_response, with_keepalive};

/// OpenAI clients ignore SSE comments; this keeps proxies and load balancers from idling out.
const KEEPALIVE: &[u8] = b": keep-alive\n\n";

pub async fn completions(
    State(state): State<AppState>,
    arrival: Option<Extension<RequestArrival>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let arrival = arrival.map_or_else(tokio::time::Instant::now, |Extension(RequestArrival(at))| at);
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return ApiError::from_body_rejection(&rejection, state.settings.max_request_body_bytes).into_response();
        }
    };
    let request = match ChatRequest::parse(&body) {
        Ok(request) => request,
        Err(invalid) => return ApiError::from(invalid).into_response(),
    };
    // The decoded request is all that is needed from here: a big body is not held twice.
    drop(body);
    let requested = request.model.clone();
    let context = RequestContext::new(arrival, Some(session_key(&headers, request.body())));
    let (mut response, log) = match state.engine.chat(request, context).await {
        Ok(answer) => {
            let response = match answer.reply {
                Reply::Complete(body) => super::json_body(body),
                Reply::Stream(frames) => {
                    sse_response(with_keepalive(frames, state.settings.sse_keepalive_interval, KEEPALIVE))
                }
            };
            let mut response = response;
            if state.settings.expose_routing_headers {
                super::routing_headers(
                    response.headers_mut(),
                    &answer.served,
                    &requested,
                    &answer.dropped,
                    &answer.adjustments,
                );
            }
            let log =
                RouteLog { requested, served: Some(answer.served.model.clone()), attempts: answer.served.attempts };
            (response, log)
        }
        Err(err) => {
            let attempts = err.attempts();
            (ApiError::from(err).into_response(), RouteLog { requested, served: None, attempts })
        }
    };
    response.extensions_mut().insert(log);
    response
}
