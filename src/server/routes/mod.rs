//! Route handlers, one module per API family or concern.

pub mod chat;
pub mod embeddings;
pub mod gemini;
pub mod messages;
pub mod models;
pub mod ops;
pub mod quota;
pub mod responses;
pub mod status;
pub mod tokens;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::request_log::RouteLog;
use super::sse::{sse_response, with_keepalive};
use crate::engine::session::session_key;
use crate::engine::{ClientRequest, Reply, RequestContext, Served};
use crate::formats::family::ErrorShape;

/// Longest routing header value sent: values derived from client input (the requested model, the
/// names of dropped parameters) stay far below what clients accept in a header.
const MAX_ROUTING_HEADER_BYTES: usize = 512;

/// The `x-llmkp-*` headers of a routed answer: who served it, after how many attempts, with
/// which (masked) credential, and what the proxy changed on the way. A value over
/// [`MAX_ROUTING_HEADER_BYTES`] is left out; a list is cut at a comma and ends with `...`.
pub(crate) fn routing_headers(
    headers: &mut HeaderMap,
    served: &Served,
    requested: &str,
    dropped: &[String],
    adjustments: &[String],
) {
    let mut set = |name: &'static str, value: &str| {
        if value.len() <= MAX_ROUTING_HEADER_BYTES
            && let Ok(value) = HeaderValue::from_str(value)
        {
            headers.insert(name, value);
        }
    };
    set("x-llmkp-provider", &served.provider);
    set("x-llmkp-model", &served.model);
    set("x-llmkp-attempts", &served.attempts.to_string());
    set("x-llmkp-credential", &served.credential);
    if requested != served.model {
        set("x-llmkp-requested-model", requested);
    }
    if !dropped.is_empty() {
        set("x-llmkp-dropped-params", &bounded_list(dropped));
    }
    if !adjustments.is_empty() {
        set("x-llmkp-adjustments", &bounded_list(adjustments));
    }
}

/// `a,b,c`, cut after the last item that fits in [`MAX_ROUTING_HEADER_BYTES`] with `,...` added.
fn bounded_list(items: &[String]) -> String {
    const MORE: &str = ",...";
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        let separator = if i == 0 { "" } else { "," };
        if out.len() + separator.len() + item.len() + MORE.len() > MAX_ROUTING_HEADER_BYTES {
            out.push_str(if out.is_empty() { "..." } else { MORE });
            return out;
        }
        out.push_str(separator);
        out.push_str(item);
    }
    out
}

/// A JSON body the engine already serialised.
pub(crate) fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// The bytes of a request body, or the error response for one the server could not read (too
/// large: 413; broken: 400) in `shape`.
pub(crate) fn body_or_error(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
    shape: ErrorShape,
    request_id: Option<&str>,
) -> Result<Bytes, Response> {
    body.map_err(|rejection| {
        ApiError::from_body_rejection(&rejection, state.settings.max_request_body_bytes)
            .into_response_shaped(shape, request_id)
    })
}

/// What a route does with an answer before it is written (the Responses route keeps a copy of the
/// finished response before the client can ask for it); a stream stays a stream.
pub(crate) type ReplyTap = Box<dyn FnOnce(Reply) -> futures::future::BoxFuture<'static, Reply> + Send>;

/// Serves a decoded chat turn of any family: the session key from its opening, the engine's
/// answer written as the family writes it (a complete body or its stream, with the routing
/// headers), or the error in the family's shape. `context` carries the arrival time and any
/// client headers the upstream may need.
pub(crate) async fn serve_turn(
    state: &AppState,
    headers: &HeaderMap,
    request: ClientRequest,
    mut context: RequestContext,
    request_id: Option<&str>,
    tap: Option<ReplyTap>,
) -> Response {
    let requested = request.model().to_string();
    let shape = request.family().error_shape();
    let presentation = request.family().stream_presentation();
    // Hashing the conversation's opening is work only stickiness uses.
    if state.engine.pool().uses_sessions() {
        context.session = Some(session_key(headers, request.body(), &request.opening()));
    }
    let (mut response, log) = match state.engine.respond(request, context).await {
        Ok(answer) => {
            let reply = match tap {
                Some(tap) => tap(answer.reply).await,
                None => answer.reply,
            };
            let mut response = match reply {
                Reply::Complete(body) => json_body(body),
                Reply::Stream(frames) => {
                    let mut response = match presentation.keepalive {
                        Some(keepalive) => {
                            sse_response(with_keepalive(frames, state.settings.sse_keepalive_interval, keepalive))
                        }
                        None => sse_response(frames),
                    };
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static(presentation.content_type));
                    response
                }
            };
            if state.settings.expose_routing_headers {
                routing_headers(
                    response.headers_mut(),
                    &answer.served,
                    &requested,
                    &answer.dropped,
                    &answer.adjustments,
                );
            }
            let log = RouteLog { requested, served: Some(answer.served.model), attempts: answer.served.attempts };
            (response, log)
        }
        Err(err) => {
            let attempts = err.attempts();
            (
                ApiError::from(err).into_response_shaped(shape, request_id),
                RouteLog { requested, served: None, attempts },
            )
        }
    };
    response.extensions_mut().insert(log);
    response
}
