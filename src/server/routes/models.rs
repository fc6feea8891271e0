//! `GET /v1/models` and `GET /v1/models/{id}`: live model lists in the OpenAI list shape.

use axum::Json;
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

pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Json<Value> {
    let refresh = query.refresh.as_deref().and_then(parse_bool).unwrap_or(false);
    let cards = state.engine.list_models(refresh).await;
    Json(json!({"object": "list", "data": cards}))
}

/// `{id}` is `provider/model` and so contains `/`.
pub async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let cards = state.engine.list_models(false).await;
    let card = cards.into_iter().find(|c| c.id == id).ok_or_else(|| EngineError::ModelNotFound {
        message: format!("model '{id}' not found in any configured provider's model list"),
    })?;
    Ok(Json(json!(card)))
}
