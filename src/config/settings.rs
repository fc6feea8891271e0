//! Resolved settings: every knob of the server and the engine as a plain value, read once from
//! the merged environment with the defaults of the configuration reference.

use std::time::Duration;

use super::env::{Env, LoadWarning};
use super::env_names as names;
use super::values::ValueReader;

/// Knobs of the engine's attempt loop and upstream HTTP client.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Request deadline: waits, retries and each attempt up to its response head.
    pub global_timeout: Duration,
    pub stream_commit_timeout: Duration,
    pub connect_timeout: Duration,
    pub read_timeout_streaming: Duration,
    pub read_timeout_non_streaming: Duration,
    /// Longest upstream silence while a stream is folded for a non-stream client.
    pub idle_timeout_non_streaming: Duration,
    /// Largest single upstream SSE line or event.
    pub max_upstream_event_bytes: usize,
    /// Largest non-stream upstream body.
    pub max_upstream_body_bytes: usize,
    pub upstream_stream_for_non_stream: bool,
    pub max_attempts_per_credential: u32,
    pub transient_retry_delay: Duration,
    pub transient_retry_jitter: Duration,
    pub small_cooldown_retry_threshold: Duration,
    pub models_cache_ttl: Duration,
    pub temperature_zero: TemperatureZero,
    pub count_tokens_mode: CountTokensMode,
    /// `QWEN_CODE_DUMMY_TOOL`: requests without tools get a tool Qwen Code is told never to call.
    pub qwen_placeholder_tool: bool,
    /// How long reasoning signatures of translated answers are kept for Chat clients (§10).
    pub signature_cache_ttl: Duration,
    /// Responses API answers are kept (`RESPONSES_STORE`), for how long and how many at most.
    pub responses_store: bool,
    pub responses_store_ttl: Duration,
    pub responses_store_max: usize,
    /// Outbound proxies from the merged environment (reqwest only sees the process environment).
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self::from_reader(&mut ValueReader::new(&Env::default()))
    }
}

impl EngineSettings {
    fn from_reader(r: &mut ValueReader<'_>) -> Self {
        let env = r.env();
        Self {
            global_timeout: r.seconds(names::GLOBAL_TIMEOUT, 30.0),
            stream_commit_timeout: r.seconds(names::STREAM_COMMIT_TIMEOUT, 10.0),
            connect_timeout: r.seconds(names::TIMEOUT_CONNECT, 30.0),
            read_timeout_streaming: r.seconds(names::TIMEOUT_READ_STREAMING, 300.0),
            read_timeout_non_streaming: r.seconds(names::TIMEOUT_READ_NON_STREAMING, 600.0),
            idle_timeout_non_streaming: r.seconds(names::TIMEOUT_IDLE_NON_STREAMING, 120.0),
            max_upstream_event_bytes: usize::try_from(r.positive(names::MAX_UPSTREAM_EVENT_BYTES, 16 << 20))
                .unwrap_or(usize::MAX),
            max_upstream_body_bytes: usize::try_from(r.positive(names::MAX_UPSTREAM_BODY_BYTES, 128 << 20))
                .unwrap_or(usize::MAX),
            upstream_stream_for_non_stream: r.bool(names::UPSTREAM_STREAM_FOR_NON_STREAM, true),
            max_attempts_per_credential: u32::try_from(r.positive(names::MAX_ATTEMPTS_PER_CREDENTIAL, 2))
                .unwrap_or(u32::MAX),
            transient_retry_delay: r.seconds(names::TRANSIENT_RETRY_DELAY, 1.0),
            transient_retry_jitter: r.seconds(names::TRANSIENT_RETRY_JITTER, 0.5),
            small_cooldown_retry_threshold: r.seconds(names::SMALL_COOLDOWN_RETRY_THRESHOLD, 10.0),
            models_cache_ttl: r.seconds(names::MODELS_CACHE_TTL, 3600.0),
            temperature_zero: temperature_zero(r),
            count_tokens_mode: count_tokens_mode(r),
            qwen_placeholder_tool: r.bool(names::QWEN_CODE_DUMMY_TOOL, true),
            signature_cache_ttl: if env.get_nonempty(names::SIGNATURE_CACHE_TTL).is_none()
                && env.get_nonempty(names::GEMINI_CLI_SIGNATURE_CACHE_TTL).is_some()
            {
                r.seconds(names::GEMINI_CLI_SIGNATURE_CACHE_TTL, 3600.0)
            } else {
                r.seconds(names::SIGNATURE_CACHE_TTL, 3600.0)
            },
            responses_store: responses_store(r),
            responses_store_ttl: r.seconds(names::RESPONSES_STORE_TTL, 3600.0),
            responses_store_max: usize::try_from(r.positive(names::RESPONSES_STORE_MAX, 1000)).unwrap_or(usize::MAX),
            https_proxy: proxy_var(env, names::HTTPS_PROXY),
            http_proxy: proxy_var(env, names::HTTP_PROXY),
            no_proxy: proxy_var(env, names::NO_PROXY),
        }
    }
}

/// `OVERRIDE_TEMPERATURE_ZERO`: some upstreams treat `temperature: 0` badly (greedy loops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemperatureZero {
    Keep,
    Remove,
    /// Replace by 1.0.
    Set,
}

impl TemperatureZero {
    /// The temperature to send for the one the client asked for.
    pub fn apply(self, temperature: Option<f64>) -> Option<f64> {
        if temperature != Some(0.0) {
            return temperature;
        }
        match self {
            Self::Keep => temperature,
            Self::Remove => None,
            Self::Set => Some(1.0),
        }
    }

    /// [`Self::apply`] to the `temperature` field of a request body.
    pub fn apply_to_body(self, body: &mut serde_json::Map<String, serde_json::Value>) {
        let current = body.get("temperature").and_then(serde_json::Value::as_f64);
        if current != Some(0.0) || self == Self::Keep {
            return;
        }
        match self.apply(current) {
            Some(t) => body.insert("temperature".into(), serde_json::Value::from(t)),
            None => body.remove("temperature"),
        };
    }
}

/// `RESPONSES_STORE`: `state` (default; `memory` and `on` are taken as it) or `off`.
fn responses_store(r: &mut ValueReader<'_>) -> bool {
    match r.env().get_nonempty(names::RESPONSES_STORE).map(|v| v.trim().to_ascii_lowercase()) {
        None => true,
        Some(v) if matches!(v.as_str(), "state" | "memory" | "on" | "true") => true,
        Some(v) if matches!(v.as_str(), "off" | "false" | "none") => false,
        Some(_) => {
            r.warnings.push(LoadWarning(format!(
                "{}: expected state or off; using the default state",
                names::RESPONSES_STORE
            )));
            true
        }
    }
}

fn temperature_zero(r: &mut ValueReader<'_>) -> TemperatureZero {
    let Some(raw) = r.env().get_nonempty(names::OVERRIDE_TEMPERATURE_ZERO) else { return TemperatureZero::Keep };
    match raw.to_ascii_lowercase().as_str() {
        "remove" => TemperatureZero::Remove,
        "set" | "true" | "1" | "yes" => TemperatureZero::Set,
        "false" | "0" | "no" | "off" => TemperatureZero::Keep,
        _ => {
            r.warnings.push(LoadWarning(format!(
                "{}: expected false, remove or set; using false",
                names::OVERRIDE_TEMPERATURE_ZERO
            )));
            TemperatureZero::Keep
        }
    }
}

/// `COUNT_TOKENS_MODE`: where `count_tokens` routes get their numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountTokensMode {
    /// Never contact an upstream.
    Local,
    /// The provider's count endpoint when it has one, local on any failure.
    Upstream,
    /// As `Upstream`, but only when a credential is free without waiting.
    Auto,
}

fn count_tokens_mode(r: &mut ValueReader<'_>) -> CountTokensMode {
    let Some(raw) = r.env().get_nonempty(names::COUNT_TOKENS_MODE) else { return CountTokensMode::Auto };
    match raw.to_ascii_lowercase().as_str() {
        "local" => CountTokensMode::Local,
        "upstream" => CountTokensMode::Upstream,
        "auto" => CountTokensMode::Auto,
        _ => {
            r.warnings.push(LoadWarning(format!(
                "{}: expected local, upstream or auto; using auto",
                names::COUNT_TOKENS_MODE
            )));
            CountTokensMode::Auto
        }
    }
}

/// The upper-case name wins; the lower-case spelling is the curl convention many users have.
fn proxy_var(env: &Env, name: &str) -> Option<String> {
    env.get_nonempty(name).or_else(|| env.get_nonempty(&name.to_ascii_lowercase())).map(str::to_string)
}

/// Knobs of the HTTP server around the engine.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub require_proxy_key: bool,
    pub health_public: bool,
    /// `GET /metrics` without the proxy key (`METRICS_PUBLIC`).
    pub metrics_public: bool,
    /// Detailed request logs (`ENABLE_REQUEST_LOGGING`) and their retention.
    pub request_logging: bool,
    pub request_log_max_age: Duration,
    pub request_log_max_bytes: u64,
    pub cors_allow_origins: Vec<String>,
    pub max_request_body_bytes: usize,
    pub expose_routing_headers: bool,
    /// `None` when keep-alives are off.
    pub sse_keepalive_interval: Option<Duration>,
    pub shutdown_grace: Duration,
    /// `MAX_CONNECTIONS` as configured; the server lowers it to what the open-file limit allows.
    pub max_connections: usize,
    /// Headers of a request (and the next request on an idle keep-alive connection) must arrive
    /// within this.
    pub header_timeout: Duration,
    /// Longest silence while a request body is being received.
    pub body_idle_timeout: Duration,
    /// Longest time to receive a whole request body.
    pub body_timeout: Duration,
    /// Queued state changes reach the database at most this long after they happen.
    pub state_flush_interval: Duration,
}

impl ServerSettings {
    fn from_reader(r: &mut ValueReader<'_>) -> Self {
        let env = r.env();
        let host = env.get_nonempty(names::LLMKP_HOST).unwrap_or("127.0.0.1").to_string();
        let port_var = if env.get_nonempty(names::LLMKP_PORT).is_some() { names::LLMKP_PORT } else { names::PORT };
        let port = u16::try_from(r.u64(port_var, 8000)).unwrap_or_else(|_| {
            r.warnings.push(LoadWarning(format!("{port_var}: expected a port number; using the default 8000")));
            8000
        });
        let keepalive = r.seconds(names::SSE_KEEPALIVE_INTERVAL, 15.0);
        let mut cors = r.list(names::CORS_ALLOW_ORIGINS);
        if env.get(names::CORS_ALLOW_ORIGINS).is_none() {
            cors = vec!["*".to_string()];
        }
        Self {
            host,
            port,
            require_proxy_key: r.bool(names::REQUIRE_PROXY_KEY, false),
            health_public: r.bool(names::HEALTH_PUBLIC, true),
            metrics_public: r.bool(names::METRICS_PUBLIC, false),
            request_logging: r.bool(names::ENABLE_REQUEST_LOGGING, false),
            request_log_max_age: Duration::from_secs(r.positive(names::REQUEST_LOG_MAX_AGE_HOURS, 168) * 3600),
            request_log_max_bytes: r.positive(names::REQUEST_LOG_MAX_MB, 512) << 20,
            cors_allow_origins: cors,
            max_request_body_bytes: usize::try_from(r.u64(names::MAX_REQUEST_BODY_BYTES, 33_554_432))
                .unwrap_or(usize::MAX),
            expose_routing_headers: r.bool(names::EXPOSE_ROUTING_HEADERS, true),
            sse_keepalive_interval: (!keepalive.is_zero()).then_some(keepalive),
            shutdown_grace: r.seconds(names::SHUTDOWN_GRACE_SECONDS, 30.0),
            max_connections: usize::try_from(r.positive(names::MAX_CONNECTIONS, 4096)).unwrap_or(usize::MAX),
            header_timeout: r.seconds(names::REQUEST_HEADER_TIMEOUT, 30.0).max(Duration::from_millis(1)),
            body_idle_timeout: r.seconds(names::REQUEST_BODY_IDLE_TIMEOUT, 30.0).max(Duration::from_millis(1)),
            body_timeout: r.seconds(names::REQUEST_BODY_TIMEOUT, 120.0).max(Duration::from_millis(1)),
            state_flush_interval: Duration::from_millis(r.positive(names::STATE_FLUSH_INTERVAL_MS, 500)),
        }
    }
}

/// Where credential state lives: the embedded SQLite file, or a shared Redis.
#[derive(Debug, Clone)]
pub struct StateSettings {
    /// `LLMKP_STATE_URL`; `None`: the embedded store.
    pub url: Option<String>,
    pub prefix: String,
    pub lease_ttl: Duration,
}

impl StateSettings {
    fn from_reader(r: &mut ValueReader<'_>) -> Self {
        let env = r.env();
        let url = env.get_nonempty(names::LLMKP_STATE_URL).map(|u| u.trim().to_string());
        let prefix = match env.get_nonempty(names::LLMKP_STATE_PREFIX).map(str::trim) {
            Some(p) if !p.is_empty() && !p.contains(char::is_whitespace) => p.to_string(),
            Some(_) => {
                r.warnings.push(LoadWarning(format!(
                    "{}: expected a key prefix without spaces; using llmkp",
                    names::LLMKP_STATE_PREFIX
                )));
                "llmkp".to_string()
            }
            None => "llmkp".to_string(),
        };
        let lease_ttl = r.seconds(names::LLMKP_STATE_LEASE_TTL, 30.0).max(Duration::from_secs(1));
        Self { url, prefix, lease_ttl }
    }
}

/// Everything resolved from one environment, plus the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub engine: EngineSettings,
    pub state: StateSettings,
    pub warnings: Vec<LoadWarning>,
}

impl Settings {
    pub fn resolve(env: &Env) -> Self {
        let mut r = ValueReader::new(env);
        let server = ServerSettings::from_reader(&mut r);
        let engine = EngineSettings::from_reader(&mut r);
        let state = StateSettings::from_reader(&mut r);
        Self { server, engine, state, warnings: r.warnings }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_configuration_reference() {
        let s = Settings::resolve(&Env::default());
        assert_eq!((s.server.host.as_str(), s.server.port), ("127.0.0.1", 8000));
        assert_eq!(s.server.max_request_body_bytes, 33_554_432);
        assert_eq!(s.server.cors_allow_origins, vec!["*"]);
        assert_eq!(s.server.sse_keepalive_interval, Some(Duration::from_secs(15)));
        assert_eq!(s.engine.global_timeout, Duration::from_secs(30));
        assert_eq!(s.engine.stream_commit_timeout, Duration::from_secs(10));
        assert_eq!(s.engine.read_timeout_streaming, Duration::from_secs(300));
        assert_eq!(s.engine.max_attempts_per_credential, 2);
        assert_eq!(s.engine.transient_retry_delay, Duration::from_secs(1));
        assert_eq!(s.engine.models_cache_ttl, Duration::from_secs(3600));
        assert!(s.engine.upstream_stream_for_non_stream);
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn llmkp_port_wins_over_port() {
        let s = Settings::resolve(&Env::from_pairs([("PORT", "9000"), ("LLMKP_PORT", "9001")]));
        assert_eq!(s.server.port, 9001);
        let s = Settings::resolve(&Env::from_pairs([("PORT", "9000")]));
        assert_eq!(s.server.port, 9000);
    }

    #[test]
    fn zero_keepalive_turns_it_off() {
        let s = Settings::resolve(&Env::from_pairs([("SSE_KEEPALIVE_INTERVAL", "0")]));
        assert_eq!(s.server.sse_keepalive_interval, None);
    }
}
