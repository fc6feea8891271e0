//! Routes that say the server is there: `/`, `/healthz`, `/v1/providers`, and the fallbacks for
//! unknown paths and methods.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::server::AppState;
use crate::server::error::ApiError;

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

pub async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
