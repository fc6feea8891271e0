//! `GET /v1/quota-stats` (the credential report, `?provider=`) and `POST /v1/quota-stats`
//! (`reload`, `force_refresh`, `reset` of cooldowns and lockouts in a scope).

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::AppState;
use crate::server::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    provider: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    Ok(Json(report(&state, query.provider).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    action: String,
    #[serde(default = "all")]
    scope: String,
    provider: Option<String>,
    credential: Option<String>,
}

fn all() -> String {
    "all".to_string()
}

pub async fn post(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|r| ApiError::from_body_rejection(&r, state.settings.max_request_body_bytes))?;
    let action: Action =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))?;
    let started = Instant::now();
    let (provider, credential) = match action.scope.as_str() {
        "all" => (None, None),
        "provider" => (Some(required(&action.provider, "provider")?), None),
        "credential" => (action.provider.clone(), Some(required(&action.credential, "credential")?)),
        other => return Err(ApiError::BadRequest(format!("scope must be all, provider or credential, not '{other}'"))),
    };
    if let Some(p) = &provider
        && state.engine.registry().get(p).is_none()
    {
        return Err(ApiError::BadRequest(format!("unknown provider '{p}'")));
    }
    let refreshed = match action.action.as_str() {
        // Nothing is cached outside the store, and no provider here has a quota API: reading
        // the store again (below) is the reload.
        "reload" | "force_refresh" => 0,
        "reset" => {
            // A reset also gives logins marked for a new login one more try (resilience §10.3).
            state.engine.clear_needs_reauth(provider.as_deref(), credential.as_deref());
            state.engine.pool().reset(provider.as_deref(), credential.as_deref())
        }
        other => {
            return Err(ApiError::BadRequest(format!("action must be reload, force_refresh or reset, not '{other}'")));
        }
    };
    let mut payload = report(&state, provider.clone()).await?;
    payload["refresh_result"] = json!({
        "action": action.action,
        "scope": action.scope,
        "provider": provider,
        "credential": credential,
        "credentials_refreshed": refreshed,
        "success_count": refreshed,
        "failed_count": 0,
        "duration_ms": started.elapsed().as_millis() as u64,
        "errors": [],
        "success": true,
    });
    Ok(Json(payload))
}

fn required(value: &Option<String>, name: &str) -> Result<String, ApiError> {
    value.clone().ok_or_else(|| ApiError::BadRequest(format!("'{name}' is required for this scope")))
}

async fn report(state: &AppState, provider: Option<String>) -> Result<Value, ApiError> {
    let engine = state.engine.clone();
    let report = tokio::task::spawn_blocking(move || engine.quota_report(provider.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(format!("report task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    serde_json::to_value(report).map_err(|e| ApiError::Internal(e.to_string()))
}
