//! `llmkp serve`: build the engine from the configuration, bind, and serve until a signal.

use std::sync::Arc;

use super::{CliError, Context, ServeArgs};
use crate::config::LoadWarning;
use crate::engine::Engine;
use crate::providers::Registry;
use crate::server::{AppState, ProxyAuth};

pub async fn run(context: Context, args: ServeArgs) -> Result<(), CliError> {
    let mut settings = context.settings.server.clone();
    if let Some(host) = args.host {
        settings.host = host;
    }
    if let Some(port) = args.port {
        settings.port = port;
    }

    let (registry, warnings) = Registry::from_env(&context.env);
    for LoadWarning(message) in &warnings {
        tracing::warn!("{message}");
    }
    let auth = ProxyAuth::from_env(&context.env);
    let loopback = is_loopback(&settings.host);
    if auth.is_open() {
        if settings.require_proxy_key {
            return Err(CliError::usage(
                "REQUIRE_PROXY_KEY is set but no PROXY_API_KEY or PROXY_API_KEYS is configured",
            ));
        }
        if loopback {
            tracing::warn!("no PROXY_API_KEY set: every route is open to anyone who can reach {}", settings.host);
        } else {
            tracing::warn!(
                "no PROXY_API_KEY set and listening on non-loopback address {}: every route is open to the network",
                settings.host
            );
        }
    }
    if registry.is_empty() {
        tracing::warn!("no provider has credentials: set e.g. OPENAI_API_KEY_1 in {}/.env", context.home.display());
    }

    let engine = Engine::new(registry, context.settings.engine.clone(), auth.secrets().to_vec())
        .map_err(|e| CliError::usage(e.to_string()))?;
    let summary: Vec<String> =
        engine.registry().providers().map(|p| format!("{} ({} key(s))", p.name, p.credentials.len())).collect();
    let address = format!("{}:{}", settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(&address).await.map_err(|err| {
        let hint = if err.kind() == std::io::ErrorKind::AddrInUse { "; pick another with --port" } else { "" };
        CliError::usage(format!("cannot listen on {address}: {err}{hint}"))
    })?;
    let local = listener.local_addr().map_or(address, |a| a.to_string());
    tracing::info!("llmkp {} listening on http://{local}", env!("CARGO_PKG_VERSION"));
    if !summary.is_empty() {
        tracing::info!("providers: {}", summary.join(", "));
    }

    let state = AppState { engine: Arc::new(engine), auth: Arc::new(auth), settings: Arc::new(settings) };
    crate::server::serve(listener, state, shutdown_signal())
        .await
        .map_err(|err| CliError::failed(format!("server error: {err}")))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
