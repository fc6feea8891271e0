//! Credential health probes (`llmkp keys test`): one cheap authenticated call per credential —
//! the OpenAI-protocol model list — run in parallel with bounded concurrency, classified like any
//! upstream failure and, when asked, recorded in the pool under the rules the server applies (an
//! invalid key is locked out, a working one is released). Print-free: progress goes to a callback.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use super::Engine;
use super::upstream_events::{ReadError, ReadLimits, read_body};
use crate::auth::Credential;
use crate::formats::failure::{ErrorClass, UpstreamFailure, classify_http};
use crate::providers::Provider;

/// What a probe says about a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    Ok,
    /// The upstream rejected the key as invalid.
    AuthFailed,
    Forbidden,
    RateLimited,
    QuotaExhausted,
    Billing,
    /// No answer: connection refused, DNS, TLS, timeout, or no endpoint to call.
    Unreachable,
    /// An answer that says nothing about the key: server errors, overload, or a refusal of the
    /// listing call itself (wrong URL, no listing endpoint).
    ServerError,
}

impl ProbeOutcome {
    pub const ALL: [Self; 8] = [
        Self::Ok,
        Self::AuthFailed,
        Self::Forbidden,
        Self::RateLimited,
        Self::QuotaExhausted,
        Self::Billing,
        Self::Unreachable,
        Self::ServerError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::AuthFailed => "auth_failed",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::QuotaExhausted => "quota_exhausted",
            Self::Billing => "billing",
            Self::Unreachable => "unreachable",
            Self::ServerError => "server_error",
        }
    }

    /// The outcome of a probe that failed with `class`.
    pub fn from_class(class: ErrorClass) -> Self {
        match class {
            ErrorClass::Auth => Self::AuthFailed,
            ErrorClass::Forbidden => Self::Forbidden,
            ErrorClass::RateLimit => Self::RateLimited,
            ErrorClass::Quota => Self::QuotaExhausted,
            ErrorClass::Billing => Self::Billing,
            ErrorClass::Connection => Self::Unreachable,
            ErrorClass::ServerError | ErrorClass::Overloaded | ErrorClass::ClientError | ErrorClass::ContextWindow => {
                Self::ServerError
            }
        }
    }

    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }
}

/// One credential's probe. Serialised as one entry of `keys test --json`; never holds a secret.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub provider: String,
    /// The masked credential (`…abcd`).
    pub credential: String,
    /// The variable it came from (`OPENAI_API_KEY_2`).
    pub source: String,
    pub result: ProbeOutcome,
    /// The HTTP status of the answer; `None` when there was none.
    pub status: Option<u16>,
    /// `2 models` on success, else the upstream's message (secrets scrubbed) or the reason.
    pub detail: String,
    /// Seconds the upstream asked to wait, when it said.
    pub retry_after: Option<u64>,
    /// Time to the full answer (or to the timeout); `None` when no call was made.
    pub latency_ms: Option<u64>,
}

/// What recording a probe tells the pool: success, or the failure class with the upstream's wait.
type Recorded = Result<(), (ErrorClass, Option<Duration>)>;

/// One credential to probe, in report order.
enum Job {
    Call(Arc<Provider>, Arc<Credential>),
    /// Keys of a provider this build cannot route: reported, never called.
    Skip {
        provider: String,
        credential: Arc<Credential>,
        reason: String,
    },
}

impl Job {
    fn provider(&self) -> &str {
        match self {
            Self::Call(provider, _) => &provider.name,
            Self::Skip { provider, .. } => provider,
        }
    }
}

impl Engine {
    /// Probes every credential (of `provider`, a name or alias, when given; unknown names probe
    /// nothing), at most `concurrency` at a time, each within `timeout`. Results come back in
    /// provider then rotation order; `progress` sees each one as it completes. With `record`
    /// the outcomes update the pool (and its store) as the server's attempts would.
    pub async fn probe_credentials(
        &self,
        provider: Option<&str>,
        timeout: Duration,
        concurrency: usize,
        record: bool,
        progress: &(dyn Fn(&ProbeResult) + Sync),
    ) -> Vec<ProbeResult> {
        let wanted = provider.map(|name| self.registry.get(name).map_or(name, |p| p.name.as_str()));
        let selected = |name: &str| wanted.is_none_or(|w| w == name);
        let mut jobs: Vec<Job> = Vec::new();
        for p in self.registry.providers().filter(|p| selected(&p.name)) {
            jobs.extend(p.credentials.iter().map(|c| Job::Call(p.clone(), c.clone())));
        }
        for u in self.registry.unroutable.iter().filter(|u| selected(&u.name)) {
            jobs.extend(u.credentials.iter().map(|c| Job::Skip {
                provider: u.name.clone(),
                credential: c.clone(),
                reason: u.reason.clone(),
            }));
        }
        jobs.sort_by(|a, b| a.provider().cmp(b.provider()));

        futures::stream::iter(jobs)
            .map(|job| async move {
                let result = match job {
                    Job::Call(provider, credential) => {
                        let (result, recorded) = self.probe_one(&provider, &credential, timeout).await;
                        if let (true, Some(outcome)) = (record, recorded) {
                            self.pool.record_probe(&provider.name, &credential.id, outcome);
                        }
                        result
                    }
                    Job::Skip { provider, credential, reason } => ProbeResult {
                        provider,
                        credential: credential.masked.clone(),
                        source: credential.source.clone(),
                        result: ProbeOutcome::Unreachable,
                        status: None,
                        detail: reason,
                        retry_after: None,
                        latency_ms: None,
                    },
                };
                progress(&result);
                result
            })
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    /// An OAuth login is healthy when its token is (or can be made) fresh.
    async fn probe_oauth(
        &self,
        handle: &std::sync::Arc<crate::auth::oauth::runtime::OAuthHandle>,
        mut result: ProbeResult,
    ) -> (ProbeResult, Option<Recorded>) {
        use crate::auth::oauth::refresh::RefreshError;
        let started = Instant::now();
        let outcome = handle.ensure_fresh(&self.http).await;
        result.latency_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        match outcome {
            Ok(()) => {
                result.result = ProbeOutcome::Ok;
                result.detail = "token valid".to_string();
                (result, Some(Ok(())))
            }
            Err(RefreshError::NeedsReauth(_)) => {
                result.result = ProbeOutcome::from_class(ErrorClass::Auth);
                result.detail = format!("needs a new login: run `llmkp auth add {}`", handle.provider.name());
                (result, Some(Err((ErrorClass::Auth, None))))
            }
            Err(RefreshError::RateLimited { retry_after }) => {
                result.result = ProbeOutcome::from_class(ErrorClass::RateLimit);
                result.detail = "the token endpoint is rate limiting".to_string();
                result.retry_after = retry_after.map(|d| d.as_secs());
                (result, None)
            }
            Err(RefreshError::Transient(message)) => {
                result.result = ProbeOutcome::from_class(ErrorClass::Connection);
                result.detail = self.redactor.scrub(&message);
                (result, None)
            }
        }
    }

    /// One listing call; the result, and what to record (`None`: the answer says nothing either
    /// way, e.g. a 200 that is not a model list).
    async fn probe_one(
        &self,
        provider: &Provider,
        credential: &Credential,
        timeout: Duration,
    ) -> (ProbeResult, Option<Recorded>) {
        let mut result = ProbeResult {
            provider: provider.name.clone(),
            credential: credential.masked.clone(),
            source: credential.source.clone(),
            result: ProbeOutcome::Unreachable,
            status: None,
            detail: String::new(),
            retry_after: None,
            latency_ms: None,
        };
        if let Some(handle) = &credential.oauth {
            return self.probe_oauth(handle, result).await;
        }
        let url = provider
            .models_url
            .clone()
            .unwrap_or_else(|| format!("{}{}", provider.base_url, provider.protocol.models_path()));
        let started = Instant::now();
        let call = async {
            let response = provider
                .adapter
                .models_request(&self.http, &url, credential)
                .send()
                .await
                .map_err(ReadError::Transport)?;
            let (status, headers) = (response.status(), response.headers().clone());
            let body = read_body(response, ReadLimits::body(&self.settings)).await?;
            Ok::<_, ReadError>((status, headers, body))
        };
        let answer = tokio::time::timeout(timeout, call).await;
        result.latency_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        let failure = match answer {
            Ok(Ok((status, _, body))) if status.is_success() => {
                result.status = Some(status.as_u16());
                return match provider.adapter.parse_model_list(&body) {
                    Ok(models) => {
                        result.result = ProbeOutcome::Ok;
                        let plural = if models.len() == 1 { "" } else { "s" };
                        result.detail = format!("{} model{plural}", models.len());
                        (result, Some(Ok(())))
                    }
                    Err(_) => {
                        result.result = ProbeOutcome::ServerError;
                        result.detail = "the answer is not a model list; check the base URL".to_string();
                        (result, None)
                    }
                };
            }
            Ok(Ok((status, headers, body))) => classify_http(status.as_u16(), &headers, &body),
            Ok(Err(err)) => err.failure(),
            // No answer in time counts as a connection failure, as in the attempt loop.
            Err(_) => UpstreamFailure::new(ErrorClass::Connection, format!("no answer within {timeout:?}")),
        };
        result.result = ProbeOutcome::from_class(failure.class);
        result.status = failure.status;
        result.detail = self.redactor.scrub(&failure.message);
        result.retry_after = failure.retry_after.map(|d| d.as_secs());
        (result, Some(Err((failure.class, failure.retry_after))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;
    use crate::engine::EngineConfig;
    use crate::pool::{CredentialPool, PoolSettings};
    use crate::providers::Registry;
    use crate::store::StateStore;
    use crate::store::memory::MemoryStore;

    #[test]
    fn every_error_class_maps_to_a_probe_result() {
        let expected = [
            (ErrorClass::ClientError, "server_error"),
            (ErrorClass::ContextWindow, "server_error"),
            (ErrorClass::Auth, "auth_failed"),
            (ErrorClass::Forbidden, "forbidden"),
            (ErrorClass::Billing, "billing"),
            (ErrorClass::Quota, "quota_exhausted"),
            (ErrorClass::RateLimit, "rate_limited"),
            (ErrorClass::Overloaded, "server_error"),
            (ErrorClass::ServerError, "server_error"),
            (ErrorClass::Connection, "unreachable"),
        ];
        assert_eq!(expected.len(), ErrorClass::ALL.len(), "a new class needs a mapping here");
        for (class, name) in expected {
            let outcome = ProbeOutcome::from_class(class);
            assert_eq!(outcome.as_str(), name, "{class:?}");
            assert!(!outcome.is_ok(), "a failure is never ok: {class:?}");
        }
        assert!(ProbeOutcome::Ok.is_ok());
    }

    #[test]
    fn outcomes_serialise_as_their_names() {
        for outcome in ProbeOutcome::ALL {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
        }
    }

    #[test]
    fn a_result_serialises_with_the_documented_fields_in_order() {
        let result = ProbeResult {
            provider: "openai".into(),
            credential: "…abcd".into(),
            source: "OPENAI_API_KEY_1".into(),
            result: ProbeOutcome::RateLimited,
            status: Some(429),
            detail: "slow down".into(),
            retry_after: Some(7),
            latency_ms: Some(12),
        };
        let json = serde_json::to_value(&result).unwrap();
        let fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["provider", "credential", "source", "result", "status", "detail", "retry_after", "latency_ms"]
        );
        assert_eq!(json["result"], "rate_limited");
    }

    /// A model-list upstream: keys `slow…` never answer in time, the rest list one model after
    /// 30 ms; counts the most fast calls it was answering at once.
    async fn listing_upstream() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let handler = {
            let most = most.clone();
            move |headers: http::HeaderMap| async move {
                // A slow call's handler may outlive the probe's timeout: it is counted as one
                // call held open for the whole run.
                let slow = headers.get("authorization").is_some_and(|v| v.as_bytes().starts_with(b"Bearer slow"));
                if slow {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                } else {
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                }
                axum::Json(serde_json::json!({"object": "list", "data": [{"id": "m"}]}))
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/v1/models", axum::routing::get(handler));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, most)
    }

    #[tokio::test]
    async fn probes_run_at_most_n_at_once_report_in_order_and_time_out_as_unreachable() {
        let (base, most) = listing_upstream().await;
        let mut pairs = vec![("OPENAI_API_BASE".to_string(), base)];
        for i in 1..=5 {
            let key = if i == 3 { format!("slow-key-00000000000{i}") } else { format!("sk-key-000000000000{i}") };
            pairs.push((format!("OPENAI_API_KEY_{i}"), key));
        }
        let (config, _) = EngineConfig::from_env(&Env::from_pairs(pairs));
        let engine = Engine::new(config, Vec::new()).unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let progress = |r: &ProbeResult| seen.lock().unwrap().push(r.source.clone());
        let results = engine.probe_credentials(None, Duration::from_millis(500), 2, false, &progress).await;
        let sources: Vec<&str> = results.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(sources, (1..=5).map(|i| format!("OPENAI_API_KEY_{i}")).collect::<Vec<_>>(), "rotation order");
        assert_eq!(seen.lock().unwrap().len(), 5, "progress for every credential");
        // Keys 1 and 2 run together; the slow key 3 then holds a slot until its timeout.
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2, "parallel, and bounded");
        let outcomes: Vec<&str> = results.iter().map(|r| r.result.as_str()).collect();
        assert_eq!(outcomes, ["ok", "ok", "unreachable", "ok", "ok"]);
        assert_eq!((results[0].status, results[0].detail.as_str()), (Some(200), "1 model"));
        assert_eq!(results[2].detail, "no answer within 500ms");
        assert!(results[2].latency_ms.is_some_and(|ms| ms >= 500));
        assert!(engine.probe_credentials(Some("nosuch"), Duration::from_secs(1), 2, false, &|_| {}).await.is_empty());
    }

    fn pool_with_store(pairs: &[(&str, &str)]) -> (Registry, CredentialPool, Arc<MemoryStore>) {
        let env = Env::from_pairs(pairs.iter().copied());
        let (registry, _) = Registry::from_env(&env);
        let (settings, _) = PoolSettings::from_env(&env, &registry.names());
        let store = Arc::new(MemoryStore::new());
        let pool = CredentialPool::new(settings, &registry, Some(store.clone()));
        (registry, pool, store)
    }

    #[tokio::test]
    async fn a_recorded_auth_failure_locks_the_key_out_and_a_recorded_success_releases_it() {
        let (registry, pool, store) = pool_with_store(&[("OPENAI_API_KEY_1", "sk-probe-aaaaaaaa1111")]);
        let id = registry.get("openai").unwrap().credentials[0].id.clone();
        let cooldown = pool.record_probe("openai", &id, Err((ErrorClass::Auth, None))).unwrap();
        assert_eq!(cooldown.scope, "_global_", "credential-wide");
        let (_, locked) = pool.unavailable_until("openai", "gpt-4o");
        assert!(locked.is_some(), "no model may use it");
        let saved = store.load(crate::store::now_ms()).unwrap();
        assert_eq!(saved.cooldowns.len(), 1);
        assert_eq!((saved.cooldowns[0].kind.as_str(), saved.cooldowns[0].reason.as_str()), ("lockout", "auth"));
        assert!(saved.usage.is_empty(), "a probe is not a request against the quota");

        assert!(pool.record_probe("openai", &id, Ok(())).is_none());
        assert_eq!(pool.unavailable_until("openai", "gpt-4o"), (None, None));
        let saved = store.load(crate::store::now_ms()).unwrap();
        assert!(saved.cooldowns.is_empty() && saved.ladders.is_empty(), "{saved:?}");
    }

    #[tokio::test]
    async fn a_recorded_rate_limit_cools_the_key_for_the_upstreams_wait() {
        let (registry, pool, store) = pool_with_store(&[("OPENAI_API_KEY_1", "sk-probe-bbbbbbbb2222")]);
        let id = registry.get("openai").unwrap().credentials[0].id.clone();
        let cooldown = pool.record_probe("openai", &id, Err((ErrorClass::RateLimit, Some(Duration::from_secs(7)))));
        let cooldown = cooldown.unwrap();
        assert_eq!(cooldown.until - cooldown.set_at, Duration::from_secs(7));
        let (cooling, _) = pool.unavailable_until("openai", "gpt-4o");
        assert!(cooling.is_some());
        store.flush().unwrap();
        assert_eq!(store.load(crate::store::now_ms()).unwrap().cooldowns[0].kind.as_str(), "quota");
        assert!(pool.record_probe("openai", &id, Err((ErrorClass::ClientError, None))).is_none());
        assert!(pool.record_probe("nosuch", &id, Ok(())).is_none(), "an unknown provider changes nothing");
    }
}
