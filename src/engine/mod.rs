//! The engine every entry point calls: resolves the model, owns the one attempt loop (credential
//! → upstream call → classification → retry, rotate or fail), and the shared upstream client.

pub mod chat;
pub mod chat_stream;
pub mod classify;
pub mod error;
pub mod models;
pub mod redact;
pub mod resolve;
pub mod upstream_events;

use std::sync::Arc;

pub use chat::{ChatReply, ChatResponse, Served};
pub use error::EngineError;

use crate::catalog::ModelCatalog;
use crate::config::EngineSettings;
use crate::pool::CredentialPool;
use crate::providers::Registry;
use redact::Redactor;

/// The upstream HTTP client could not be built (bad proxy URL, TLS setup).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the upstream HTTP client: {0}")]
pub struct ClientBuildError(String);

pub struct Engine {
    registry: Arc<Registry>,
    http: reqwest::Client,
    settings: EngineSettings,
    pool: CredentialPool,
    redactor: Arc<Redactor>,
    catalog: ModelCatalog,
}

impl Engine {
    /// `extra_secrets` are values that are not provider credentials but must never leave the
    /// process either (the proxy keys).
    pub fn new(
        registry: Registry,
        settings: EngineSettings,
        extra_secrets: Vec<String>,
    ) -> Result<Self, ClientBuildError> {
        let http = upstream_client(&settings)?;
        let redactor = Arc::new(Redactor::new(registry.secrets().into_iter().chain(extra_secrets)));
        let catalog = ModelCatalog::new(settings.models_cache_ttl);
        Ok(Self { registry: Arc::new(registry), http, settings, pool: CredentialPool::new(), redactor, catalog })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }
}

/// One client for every upstream call: pooled connections, no total timeout (it would cut long
/// streams), no redirects, no hidden retries.
fn upstream_client(settings: &EngineSettings) -> Result<reqwest::Client, ClientBuildError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("llmkp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout_streaming)
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        // The engine's attempt loop is the only retry loop: reqwest would otherwise resend on
        // protocol-level refusals behind the loop's back.
        .retry(reqwest::retry::never())
        // The process environment is not our configuration: proxies come from the merged env.
        .no_proxy();
    let no_proxy = settings.no_proxy.as_deref().and_then(reqwest::NoProxy::from_string);
    for (url, scheme_https) in [(&settings.https_proxy, true), (&settings.http_proxy, false)] {
        let Some(url) = url else { continue };
        let proxy = if scheme_https { reqwest::Proxy::https(url) } else { reqwest::Proxy::http(url) };
        let proxy = proxy.map_err(|e| ClientBuildError(format!("invalid proxy URL: {e}")))?.no_proxy(no_proxy.clone());
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| ClientBuildError(e.to_string()))
}
