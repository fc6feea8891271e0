//! `llmkp serve`: build the engine from the configuration, bind, and serve until a signal.

use std::sync::Arc;

use super::reload::Reloader;
use super::{CliError, Context, ServeArgs};
use crate::config::LoadWarning;
use crate::engine::{Engine, EngineConfig};
use crate::server::live::LiveApp;
use crate::server::{AppState, ProxyAuth};

pub async fn run(context: Context, args: ServeArgs) -> Result<(), CliError> {
    crate::telemetry::install();
    let mut settings = context.settings.server.clone();
    if let Some(host) = args.host {
        settings.host = host;
    }
    if let Some(port) = args.port {
        settings.port = port;
    }

    // `<PROVIDER>_OAUTH_<N>=<path>`: credential files copied in once (credentials spec §4.2).
    for line in crate::auth::oauth::store::import_paths(&context.env, &context.home) {
        tracing::info!("{line}");
    }
    let (mut config, warnings) = EngineConfig::load(&context.env, Some(&context.home));
    for LoadWarning(message) in &warnings {
        tracing::warn!("{message}");
    }
    // One writer per home: a second `serve` on the same home stops here (exit 2) — unless the
    // state is shared (Redis), which is what several instances are for.
    let store = super::state::open(&context, super::state::Writer::Serve).await?;
    config.store = Some(store.clone());
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
    if config.registry.is_empty() {
        tracing::warn!("no provider has credentials: set e.g. OPENAI_API_KEY_1 in {}/.env", context.home.display());
    }

    // Each client connection and its upstream call hold a file descriptor each; the connection
    // limit follows from what the process may open.
    let files = crate::server::fd_limit::raise_soft_limit();
    let cap = crate::server::fd_limit::connection_cap(settings.max_connections, files);
    if cap < settings.max_connections {
        tracing::info!(
            "at most {cap} client connections (the open-file limit is {}; MAX_CONNECTIONS={})",
            files.unwrap_or_default(),
            settings.max_connections
        );
    }

    let address = format!("{}:{}", settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(&address).await.map_err(|err| {
        let hint = if err.kind() == std::io::ErrorKind::AddrInUse { "; pick another with --port" } else { "" };
        CliError::usage(format!("cannot listen on {address}: {err}{hint}"))
    })?;
    let local =
        listener.local_addr().map_err(|err| CliError::failed(format!("cannot read the listen address: {err}")))?;
    for (name, base) in
        config.registry.remove_where(|p| points_at_listener(&p.base_url, local).then(|| p.base_url.clone()))
    {
        tracing::warn!("provider '{name}' is not used: its base URL {base} is this server's own address");
    }

    let engine = Engine::new(config, auth.secrets().to_vec()).map_err(|e| CliError::usage(e.to_string()))?;
    crate::telemetry::labels::set_providers(engine.registry().names());
    let summary: Vec<String> =
        engine.registry().providers().map(|p| format!("{} ({} key(s))", p.name, p.credentials.len())).collect();
    // The tokenizer is not loaded here: it costs tens of MB and many deployments never count
    // tokens. It loads on first use (`crate::tokens`) and is shared from then on.
    tracing::info!("llmkp {} listening on http://{local}", env!("CARGO_PKG_VERSION"));
    if !summary.is_empty() {
        tracing::info!("providers: {}", summary.join(", "));
    }

    let engine = Arc::new(engine);
    if args.enable_request_logging || settings.request_logging {
        let dir = context.home.join("logs").join("detailed_logs");
        let log = crate::telemetry::detailed_writer::RequestLogSettings {
            dir: dir.clone(),
            max_age: settings.request_log_max_age,
            max_bytes: settings.request_log_max_bytes,
        };
        match crate::telemetry::detailed_writer::install(log, engine.redactor()) {
            Ok(()) => tracing::info!("request logging on: {}", dir.display()),
            Err(err) => tracing::warn!("request logging is off: cannot use {}: {err}", dir.display()),
        }
    }
    // Tokens refreshed before they are due and projects found ahead of requests (§6); the first
    // pass is the start-up check unless SKIP_OAUTH_INIT_CHECK is set.
    let skip_first = context
        .env
        .get_nonempty(crate::config::env_names::SKIP_OAUTH_INIT_CHECK)
        .is_some_and(|v| crate::config::values::parse_bool(v) == Some(true));
    let refresher = engine.spawn_login_refresher(!skip_first);
    let state = AppState { engine, auth: Arc::new(auth), settings: Arc::new(settings) };
    let live = LiveApp::new(state);
    // `.env`, the other env files and `oauth_creds/` are watched; SIGHUP reloads too.
    let reloader =
        Reloader::new(context.home.clone(), context.files, context.env, store.clone(), local, live.clone(), refresher);
    let watching = reloader.spawn();
    let served = crate::server::live::serve(listener, live, shutdown_signal()).await;
    reloader.stop(&watching);
    // Everything counted while serving reaches the database before the process ends.
    if let Err(err) = store.flush() {
        tracing::error!("could not save credential state: {err}");
    }
    served.map_err(|err| CliError::failed(format!("server error: {err}")))
}

/// A base URL that would send requests back into this server (client-side variables such as
/// `OPENAI_BASE_URL` often point at the proxy; copied into `<NAME>_API_BASE` it loops forever).
pub(super) fn points_at_listener(base_url: &str, local: std::net::SocketAddr) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else { return false };
    if url.port_or_known_default() != Some(local.port()) {
        return false;
    }
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let same_ip = host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip == local.ip());
    let listens_on_loopback = local.ip().is_loopback() || local.ip().is_unspecified();
    same_ip || (is_loopback(host) && listens_on_loopback)
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

#[cfg(test)]
mod tests {
    use super::points_at_listener;

    #[test]
    fn g05_a_base_url_pointing_at_the_listener_is_recognised() {
        let local: std::net::SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert!(points_at_listener("http://127.0.0.1:8000/v1", local));
        assert!(points_at_listener("http://localhost:8000/v1", local));
        assert!(!points_at_listener("http://127.0.0.1:8001/v1", local));
        assert!(!points_at_listener("https://api.openai.com/v1", local));
        let any: std::net::SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert!(points_at_listener("http://localhost/v1", any));
    }
}
