//! llmkp served in-process on a loopback port, configured from a list of variables, with a
//! small client for the tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use llmkp::config::{Env, Settings};
use llmkp::engine::{Engine, EngineConfig};
use llmkp::server::{AppState, ProxyAuth};
use llmkp::store::StateStore;
use serde_json::Value;

pub const PROXY_KEY: &str = "test-proxy-key-0001";

pub struct Gateway {
    pub addr: SocketAddr,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The engine behind the server, for tests that look at pool state.
    pub engine: Arc<Engine>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Tests do not wait a second between same-credential retries unless they say so.
const TEST_DEFAULTS: &[(&str, &str)] = &[("TRANSIENT_RETRY_DELAY", "0"), ("TRANSIENT_RETRY_JITTER", "0")];

impl Gateway {
    /// A gateway whose environment is exactly `vars` plus the test defaults (which `vars` may override).
    pub async fn start(vars: &[(&str, &str)]) -> Self {
        Self::start_with_store(vars, None).await
    }

    /// The same, persisting credential state in `store` (share one between two gateways to
    /// test a restart).
    pub async fn start_with_store(vars: &[(&str, &str)], store: Option<Arc<dyn StateStore>>) -> Self {
        let mut pairs: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
        for (k, v) in TEST_DEFAULTS {
            if !pairs.iter().any(|(name, _)| name == k) {
                pairs.push(((*k).to_string(), (*v).to_string()));
            }
        }
        let env = Env::from_pairs(pairs);
        let settings = Settings::resolve(&env);
        assert!(settings.warnings.is_empty(), "test configuration rejected: {:?}", settings.warnings);
        let (mut config, _) = EngineConfig::from_env(&env);
        config.store = store;
        let auth = ProxyAuth::from_env(&env);
        let engine = Arc::new(Engine::new(config, auth.secrets().to_vec()).expect("engine"));
        let state = AppState { engine: engine.clone(), auth: Arc::new(auth), settings: Arc::new(settings.server) };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gateway");
        let addr = listener.local_addr().expect("gateway addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(llmkp::server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Self { addr, client: reqwest::Client::new(), shutdown: Some(tx), engine }
    }

    /// A gateway in front of one OpenAI mock, with the given keys and the test proxy key.
    pub async fn openai(base_url: &str, keys: &[&str], extra: &[(&str, &str)]) -> Self {
        Self::provider("OPENAI", base_url, keys, extra).await
    }

    /// A gateway in front of one mock of provider `prefix` (`ANTHROPIC`, `GEMINI`, …):
    /// `<PREFIX>_API_BASE`, the keys as `<PREFIX>_API_KEY_<n>`, the test proxy key, and `extra`.
    pub async fn provider(prefix: &str, base_url: &str, keys: &[&str], extra: &[(&str, &str)]) -> Self {
        let base_var = format!("{prefix}_API_BASE");
        let names: Vec<String> = (1..=keys.len()).map(|i| format!("{prefix}_API_KEY_{i}")).collect();
        let mut vars: Vec<(&str, &str)> = vec![(&base_var, base_url), ("PROXY_API_KEY", PROXY_KEY)];
        vars.extend(names.iter().map(String::as_str).zip(keys.iter().copied()));
        vars.extend_from_slice(extra);
        Self::start(&vars).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POST with the test proxy key.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(PROXY_KEY).json(body).send().await.expect("request to gateway")
    }

    /// POST a raw body with the test proxy key.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(PROXY_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request to gateway")
    }

    /// GET with the test proxy key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(PROXY_KEY).send().await.expect("request to gateway")
    }

    /// Starts a graceful shutdown, as SIGTERM does for the binary.
    pub fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// A chat request for `model` saying `text`.
pub fn chat_body(model: &str, text: &str) -> Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|frame| frame.lines().find_map(|l| l.strip_prefix("data: ")).map(str::to_string))
        .collect()
}

/// The JSON chunks of an OpenAI stream body (everything but `[DONE]`).
pub fn chunks(body: &str) -> Vec<Value> {
    sse_data(body).iter().filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).expect("chunk is JSON")).collect()
}

/// The OpenAI error object of a response body.
pub async fn error_of(response: reqwest::Response) -> Value {
    let body: Value = response.json().await.expect("error body is JSON");
    body.get("error").cloned().unwrap_or_else(|| panic!("not an OpenAI error body: {body}"))
}
