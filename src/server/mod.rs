//! The HTTP server: the router with its layers, and serving it with graceful shutdown.

pub mod auth;
pub mod connections;
pub mod cross_site;
pub mod detailed_body;
pub mod error;
pub mod fd_limit;
pub mod inbound;
pub mod listener;
pub mod live;
pub mod request_log;
pub mod routes;
pub mod sse;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};

use crate::config::ServerSettings;
use crate::engine::Engine;
pub use auth::ProxyAuth;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub auth: Arc<ProxyAuth>,
    pub settings: Arc<ServerSettings>,
}

/// The whole HTTP surface. Layers, outermost first: request id + log line, CORS (answers
/// preflights before authentication), the origin and body-type guard ([`cross_site`]), body
/// limit; per protected route the proxy key, then the
/// body is received ([`inbound::read_body`]: never for a caller without the key).
pub fn app(state: AppState) -> Router {
    let origins = Arc::new(cross_site::OriginPolicy::new(&state.settings.cors_allow_origins, state.auth.is_open()));
    let protected = Router::new()
        .route("/v1/chat/completions", post(routes::chat::completions))
        .route("/v1/messages", post(routes::messages::messages))
        .route("/v1/messages/count_tokens", post(routes::messages::count_tokens))
        .route("/v1/embeddings", post(routes::embeddings::embeddings))
        .route("/v1/responses", post(routes::responses::create))
        .route("/v1/responses/compact", post(routes::responses::compact))
        .route("/v1/responses/{id}", get(routes::responses::get).delete(routes::responses::delete))
        .route("/v1/responses/{id}/input_items", get(routes::responses::input_items_of))
        .route("/v1/models", get(routes::models::list))
        .route("/v1/models/{*id}", get(routes::models::one).post(routes::gemini::model_action))
        .route("/v1beta/models", get(routes::gemini::list))
        .route("/v1beta/models/{*rest}", get(routes::gemini::one).post(routes::gemini::model_action))
        .route("/v1/providers", get(routes::status::providers))
        .route("/v1/quota-stats", get(routes::quota::get).post(routes::quota::post))
        .route("/v1/token-count", post(routes::tokens::token_count))
        .route("/v1/cost-estimate", post(routes::tokens::cost_estimate));
    let health =
        Router::new().route("/healthz", get(routes::status::healthz)).route("/readyz", get(routes::ops::readyz));
    let (protected, health) =
        if state.settings.health_public { (protected, health) } else { (protected.merge(health), Router::new()) };
    let metrics = Router::new().route("/metrics", get(routes::ops::metrics));
    let (protected, metrics) =
        if state.settings.metrics_public { (protected, metrics) } else { (protected.merge(metrics), Router::new()) };
    let protected = protected
        .route_layer(from_fn_with_state(state.clone(), inbound::read_body))
        .route_layer(from_fn_with_state(state.clone(), auth::require_proxy_key));

    Router::new()
        .route("/", get(routes::status::root))
        .merge(health)
        .merge(metrics)
        .merge(protected)
        .fallback(routes::status::not_found)
        .method_not_allowed_fallback(routes::status::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.max_request_body_bytes))
        .layer(from_fn_with_state(origins.clone(), cross_site::guard))
        .layer(origins.cors_layer())
        .layer(from_fn(request_log::request_log))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then drains in-flight requests (streams included) for at
/// most the configured grace time; idle and half-sent connections are closed at once.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings = listener::ListenerSettings {
        max_connections: fd_limit::connection_cap(state.settings.max_connections, fd_limit::soft_limit()),
        header_timeout: state.settings.header_timeout,
        grace: state.settings.shutdown_grace,
    };
    tracing::debug!(max_connections = settings.max_connections, "client connection limit");
    let engine = state.engine.clone();
    listener::run(listener, app(state), settings, shutdown, move || engine.cut_streams()).await
}
