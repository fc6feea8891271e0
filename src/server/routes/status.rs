//! Routes that say the server is there: `/`, `/healthz`, `/v1/providers`, and the fallbacks for
//! unknown paths and methods.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::server::AppState;
use axum::Extension;
use axum::http::Uri;
use axum::response::Response;

use crate::server::error::{ApiError, shape_for_path};
use crate::server::request_log::RequestId;

/// Kept word for word from the Python proxy: scripts grep for it.
pub async fn root() -> Json<Value> {
    Json(json!({"Status": "API Key Proxy is running"}))
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Configured providers (with at least one credential), sorted.
pub async fn providers(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(state.engine.registry().names().into_iter().map(str::to_string).collect())
}

pub async fn not_found(uri: Uri, id: Option<Extension<RequestId>>) -> Response {
    let id = id.map(|Extension(RequestId(id))| id);
    ApiError::RouteNotFound.into_response_shaped(shape_for_path(uri.path()), id.as_deref())
}

pub async fn method_not_allowed(uri: Uri, id: Option<Extension<RequestId>>) -> Response {
    let id = id.map(|Extension(RequestId(id))| id);
    ApiError::MethodNotAllowed.into_response_shaped(shape_for_path(uri.path()), id.as_deref())
}
