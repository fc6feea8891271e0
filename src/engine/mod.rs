//! The engine every entry point calls: resolves the model (filters, fallback groups), owns the
//! one attempt loop (credential lease → upstream call → classification → retry, rotate, fall
//! back or fail), and the shared upstream client.

pub mod attempt;
pub mod client_stream;
pub mod count_tokens;
pub mod embeddings;
pub mod error;
pub mod exchange;
pub mod logins;
pub mod models;
pub mod probe;
pub mod redact;
pub mod request;
pub mod resolve;
pub mod responses;
pub mod session;
pub mod signatures;
pub mod transport;
pub mod upstream_events;

use std::sync::Arc;

pub use attempt::{Answer, Reply, RequestContext, Served};
pub use error::EngineError;
pub use request::ClientRequest;

use crate::catalog::ModelCatalog;
use crate::catalog::filter::ModelFilter;
use crate::config::aliases::ModelAliases;
use crate::config::fallbacks::FallbackGroups;
use crate::config::{EngineSettings, Env, LoadWarning, Settings};
use crate::pool::report::QuotaReport;
use crate::pool::{CredentialPool, PoolSettings};
use crate::providers::Registry;
use crate::store::{self, StateSnapshot, StateStore, StoreError};
use redact::Redactor;

/// The client headers of a request that an upstream protocol may forward.
pub fn forwarded_headers(headers: &http::HeaderMap) -> Vec<(http::HeaderName, http::HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| crate::providers::protocol::forwards_client_header(name))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// The upstream HTTP client could not be built (bad proxy URL, TLS setup).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the upstream HTTP client: {0}")]
pub struct ClientBuildError(String);

/// Everything the engine is built from, resolved from one environment.
pub struct EngineConfig {
    pub registry: Registry,
    pub settings: EngineSettings,
    pub pool: PoolSettings,
    pub filter: ModelFilter,
    pub fallbacks: FallbackGroups,
    pub aliases: ModelAliases,
    /// Where credential state is persisted; `None` keeps it in memory only.
    pub store: Option<Arc<dyn StateStore>>,
}

impl EngineConfig {
    /// Providers, credentials, pool settings, filters and fallback groups; warnings for every
    /// rejected value (the caller logs them).
    pub fn from_env(env: &Env) -> (Self, Vec<LoadWarning>) {
        Self::load(env, None)
    }

    /// [`Self::from_env`] plus the OAuth credential files of the home directory.
    pub fn load(env: &Env, home: Option<&std::path::Path>) -> (Self, Vec<LoadWarning>) {
        let (registry, mut warnings) = Registry::load(env, home);
        let settings = Settings::resolve(env).engine;
        let names = registry.names();
        let (pool, pool_warnings) = PoolSettings::from_env(env, &names);
        warnings.extend(pool_warnings);
        let filter = ModelFilter::from_env(env, &names);
        let (fallbacks, fallback_warnings) = FallbackGroups::from_env(env);
        warnings.extend(fallback_warnings);
        let (aliases, alias_warnings) = ModelAliases::from_env(env);
        warnings.extend(alias_warnings);
        (Self { registry, settings, pool, filter, fallbacks, aliases, store: None }, warnings)
    }
}

pub struct Engine {
    registry: Arc<Registry>,
    http: reqwest::Client,
    settings: EngineSettings,
    pool: CredentialPool,
    filter: ModelFilter,
    fallbacks: FallbackGroups,
    aliases: ModelAliases,
    redactor: Arc<Redactor>,
    catalog: ModelCatalog,
    store: Option<Arc<dyn StateStore>>,
    /// Where stored Responses live: the state store, or memory when there is none.
    responses: Arc<dyn StateStore>,
    signatures: Arc<signatures::SignatureCache>,
    /// Set once the server's shutdown grace time is over: committed streams end with their
    /// family's in-band error.
    streams_cut: tokio::sync::watch::Sender<bool>,
}

impl Engine {
    /// Serves one chat turn of any client family; the answer is the family's complete body or
    /// its stream.
    pub async fn respond(&self, request: ClientRequest, context: RequestContext) -> Result<Answer, EngineError> {
        self.serve(&exchange::Conversation::new(request, &self.signatures), context).await
    }

    /// `extra_secrets` are values that are not provider credentials but must never leave the
    /// process either (the proxy keys).
    pub fn new(config: EngineConfig, extra_secrets: Vec<String>) -> Result<Self, ClientBuildError> {
        let EngineConfig { registry, settings, pool, filter, fallbacks, aliases, store } = config;
        let http = upstream_client(&settings)?;
        let logins = registry.providers().flat_map(|p| p.credentials.iter().filter_map(|c| c.oauth.clone())).collect();
        let redactor = Arc::new(Redactor::new(registry.secrets().into_iter().chain(extra_secrets)).with_logins(logins));
        let catalog = ModelCatalog::new(settings.models_cache_ttl);
        let pool = CredentialPool::new(pool, &registry, store.clone());
        let signatures = Arc::new(signatures::SignatureCache::new(settings.signature_cache_ttl));
        let responses = store.clone().unwrap_or_else(|| Arc::new(store::memory::MemoryStore::new()));
        Ok(Self {
            registry: Arc::new(registry),
            http,
            settings,
            pool,
            filter,
            fallbacks,
            aliases,
            redactor,
            catalog,
            store,
            responses,
            signatures,
            streams_cut: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Ends every committed stream (now and later) with the client family's in-band error, so a
    /// client cut off at the end of the shutdown grace time learns why; their usage so far is
    /// recorded as for an abandoned stream.
    pub fn cut_streams(&self) {
        self.streams_cut.send_replace(true);
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Scrubs this engine's secrets (credentials, OAuth tokens, proxy keys) from text.
    pub fn redactor(&self) -> Arc<Redactor> {
        self.redactor.clone()
    }

    pub fn pool(&self) -> &CredentialPool {
        &self.pool
    }

    /// Whether the state store answers (`None`: state kept in memory only). A shared store that
    /// is down reports degraded while requests are served on local state (for `/readyz`).
    pub fn state_health(&self) -> Option<store::StoreHealth> {
        self.store.as_ref().map(|s| s.health())
    }

    /// The credential report with live in-flight counts. Reads the store (blocking: call it
    /// off the async workers).
    pub fn quota_report(&self, provider: Option<&str>) -> Result<QuotaReport, StoreError> {
        let now = store::now_ms();
        let snapshot = match &self.store {
            Some(store) => store.load(now)?,
            None => StateSnapshot::default(),
        };
        let active = |name: &str| Some(self.pool.active_counts(name));
        let mut report = QuotaReport::build(&self.registry, self.pool.settings(), &snapshot, provider, &active, now);
        report.data_source = "live";
        Ok(report)
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
        // Kept-alive connections per upstream host: enough for a busy server to reuse them, few
        // enough that a burst of streams does not leave hundreds of idle buffers behind.
        .pool_max_idle_per_host(128)
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
