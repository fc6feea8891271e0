//! `GET /v1/models` and `GET /v1/models/{id}`: live model lists in the OpenAI list shape, or in
//! Anthropic's when the request carries `anthropic-version` (Anthropic SDKs, Claude Code).

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::values::parse_bool;
use crate::engine::EngineError;
use crate::server::AppState;
use crate::server::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    refresh: Option<String>,
    /// A Gemini client's proxy key (checked by the auth layer).
    #[serde(rename = "key")]
    _key: Option<String>,
}

/// The client speaks the Anthropic API.
fn anthropic_client(headers: &HeaderMap) -> bool {
    headers.contains_key("anthropic-version")
}

/// The client speaks the Gemini API: it authenticated the Gemini way.
fn gemini_client(headers: &HeaderMap, uri: &Uri) -> bool {
    headers.contains_key("x-goog-api-key") || crate::server::auth::query_key(uri.query()).is_some()
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let refresh = match query.refresh.as_deref() {
        None => false,
        Some(raw) => parse_bool(raw)
            .ok_or_else(|| ApiError::BadRequest(format!("refresh must be true or false, not '{raw}'")))?,
    };
    let cards = state.engine.list_models(refresh).await;
    if gemini_client(&headers, &uri) {
        let models: Vec<Value> = cards.iter().map(super::gemini::gemini_model).collect();
        return Ok(Json(json!({ "models": models })));
    }
    if anthropic_client(&headers) {
        let data: Vec<Value> = cards.iter().map(|c| c.anthropic_json()).collect();
        let (first, last) = (cards.first().map(|c| c.id.clone()), cards.last().map(|c| c.id.clone()));
        return Ok(Json(json!({"data": data, "has_more": false, "first_id": first, "last_id": last})));
    }
    Ok(Json(json!({"object": "list", "data": cards})))
}

/// `{id}` is `provider/model` and so contains `/`.
pub async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let cards = state.engine.list_models(false).await;
    let card = cards.into_iter().find(|c| c.id == id).ok_or_else(|| EngineError::ModelNotFound {
        message: format!("model '{id}' not found in any configured provider's model list"),
    })?;
    if anthropic_client(&headers) {
        return Ok(Json(card.anthropic_json()));
    }
    Ok(Json(json!(card)))
}
