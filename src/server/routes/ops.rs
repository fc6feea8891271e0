//! Routes for operators: `GET /metrics` (Prometheus text) and `GET /readyz` (whether this
//! instance should get traffic). `/healthz` stays "the process is up".

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::server::AppState;
use crate::store::StoreHealth;

/// The Prometheus exposition of everything recorded, with the credential-state gauges and the
/// state store's health read now.
pub async fn metrics(State(state): State<AppState>) -> Response {
    for standing in state.engine.pool().standing() {
        crate::telemetry::credential_states(&standing.provider, &standing.as_pairs());
    }
    crate::telemetry::state_store_health(state.engine.state_health().is_none_or(|h| h.is_ok()));
    match crate::telemetry::render() {
        Some(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled in this process\n").into_response(),
    }
}

/// 200 when the configuration is loaded, the state store answers and at least one credential is
/// usable; 503 otherwise, the body naming the failing checks. A shared store that is unreachable
/// makes the instance `degraded` (still 200: requests are served on local state).
pub async fn readyz(State(state): State<AppState>) -> Response {
    let engine = &state.engine;
    let mut checks = Map::new();
    let mut failing: Vec<&str> = Vec::new();
    let mut degraded = false;

    checks.insert("config".into(), json!({"status": "ok", "providers": engine.registry().names()}));

    let store = match engine.state_health() {
        None => json!({"status": "ok", "kind": "memory"}),
        Some(StoreHealth::Ok) => json!({"status": "ok"}),
        Some(StoreHealth::Degraded { since_ms, reason }) => {
            degraded = true;
            json!({"status": "degraded", "since_ms": since_ms, "reason": reason})
        }
    };
    checks.insert("state_store".into(), store);

    let standing = engine.pool().standing();
    let usable: usize = standing.iter().map(|s| s.usable()).sum();
    let providers: Map<String, Value> = standing
        .iter()
        .map(|s| {
            let counts: Map<String, Value> = s.as_pairs().iter().map(|(k, n)| ((*k).to_string(), json!(n))).collect();
            (s.provider.clone(), Value::Object(counts))
        })
        .collect();
    if usable == 0 {
        failing.push("credentials");
    }
    let status = if usable == 0 { "failing" } else { "ok" };
    checks.insert("credentials".into(), json!({"status": status, "usable": usable, "providers": providers}));

    let (code, overall) = match (failing.is_empty(), degraded) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        (true, true) => (StatusCode::OK, "degraded"),
        (true, false) => (StatusCode::OK, "ready"),
    };
    let mut body = json!({"status": overall, "checks": checks});
    if !failing.is_empty() {
        body["failing"] = json!(failing);
    }
    (code, Json(body)).into_response()
}
