//! `GET /v1/models` and `GET /v1/models/{id}`: live model lists in the OpenAI list shape.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::values::parse_bool;
use crate::engine::EngineError;
use crate::server::AppState;
use crate::server::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    refresh: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let refresh = match query.refresh.as_deref() {
        None => false,
        Some(raw) => parse_bool(raw)
            .ok_or_else(|| ApiError::BadRequest(format!("refresh must be true or false, not '{raw}'")))?,
    };
    let cards = state.engine.list_models(refresh).await;
    Ok(Json(json!({"object": "list", "data": cards})))
}

/// `{id}` is `provider/model` and so contains `/`.
pub async fn one(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let cards = state.engine.list_models(false).await;
    let card = cards.into_iter().find(|c| c.id == id).ok_or_else(|| EngineError::ModelNotFound {
        message: format!("model '{id}' not found in any configured provider's model list"),
    })?;
    Ok(Json(json!(card)))
}
