//! Route handlers, one module per API family or concern.

pub mod chat;
pub mod embeddings;
pub mod gemini;
pub mod messages;
pub mod models;
pub mod quota;
pub mod status;
pub mod tokens;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::engine::Served;

/// The `x-llmkp-*` headers of a routed answer: who served it, after how many attempts, with
/// which (masked) credential, and what the proxy changed on the way.
pub(crate) fn routing_headers(
    headers: &mut HeaderMap,
    served: &Served,
    requested: &str,
    dropped: &[String],
    adjustments: &[String],
) {
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
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
        set("x-llmkp-dropped-params", &dropped.join(","));
    }
    if !adjustments.is_empty() {
        set("x-llmkp-adjustments", &adjustments.join(","));
    }
}

/// A JSON body the engine already serialised.
pub(crate) fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}
