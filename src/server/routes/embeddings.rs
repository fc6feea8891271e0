//! `POST /v1/embeddings` (HTTP API §5.8): OpenAI's embeddings request, served by OpenAI-compatible
//! upstreams as is and by Gemini through `batchEmbedContents`, with key rotation like chat.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::engine::session::session_key;
use crate::engine::{Reply, RequestContext};
use crate::formats::openai::embeddings::EmbeddingsRequest;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::request_log::{RequestArrival, RouteLog};

pub async fn embeddings(
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
    let request = match EmbeddingsRequest::parse(&body) {
        Ok(request) => request,
        Err(invalid) => return ApiError::from(invalid).into_response(),
    };
    drop(body);
    let requested = request.model.clone();
    let context =
        RequestContext::new(arrival, Some(session_key(&headers, &serde_json::Map::new(), &Default::default())));
    let (mut response, log) = match state.engine.embeddings(request, context).await {
        Ok(answer) => {
            let mut response = match answer.reply {
                Reply::Complete(body) => super::json_body(body),
                Reply::Stream(_) => {
                    ApiError::Internal("an embeddings answer cannot be a stream".into()).into_response()
                }
            };
            if state.settings.expose_routing_headers {
                super::routing_headers(response.headers_mut(), &answer.served, &requested, &[], &[]);
            }
            let log = RouteLog { requested, served: Some(answer.served.model), attempts: answer.served.attempts };
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
