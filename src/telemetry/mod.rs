//! Operational metrics in the Prometheus text format (`GET /metrics`). Call sites in every layer
//! record through the functions here, so names, label sets and their bounds live in one place
//! ([`labels`]). Without [`install`] (tests in-process, CLI commands) recording is a no-op.

pub mod detailed;
pub mod detailed_writer;
pub mod labels;
pub mod request_scope;
mod series;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use series::Series;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// A recorder is installed: the hot paths below record only then (and only then cache handles,
/// which would otherwise be the no-op recorder's).
fn on() -> bool {
    HANDLE.get().is_some()
}

/// The handle of an unlabelled series, registered once.
fn single<H: Clone>(cell: &'static OnceLock<H>, make: impl FnOnce() -> H) -> H {
    cell.get_or_init(make).clone()
}

/// Latency buckets (seconds): from a sub-millisecond proxy overhead to a long upstream answer.
const SECONDS_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

pub const REQUESTS: &str = "llmkp_requests_total";
pub const REQUEST_SECONDS: &str = "llmkp_request_duration_seconds";
pub const OVERHEAD_SECONDS: &str = "llmkp_overhead_seconds";
pub const IN_FLIGHT_REQUESTS: &str = "llmkp_in_flight_requests";
pub const IN_FLIGHT_STREAMS: &str = "llmkp_in_flight_streams";
pub const UPSTREAM_ATTEMPTS: &str = "llmkp_upstream_attempts_total";
pub const UPSTREAM_RETRIES: &str = "llmkp_upstream_retries_total";
pub const UPSTREAM_ROTATIONS: &str = "llmkp_upstream_rotations_total";
pub const FALLBACKS: &str = "llmkp_fallbacks_total";
pub const UPSTREAM_SECONDS: &str = "llmkp_upstream_latency_seconds";
pub const UPSTREAM_TTFB_SECONDS: &str = "llmkp_upstream_ttfb_seconds";
pub const CREDENTIALS: &str = "llmkp_credentials";
pub const COOLDOWNS: &str = "llmkp_cooldowns_total";
pub const TOKENS: &str = "llmkp_tokens_total";
pub const COST_USD: &str = "llmkp_cost_usd";
pub const OAUTH_REFRESHES: &str = "llmkp_oauth_refreshes_total";
pub const STATE_WRITE_SECONDS: &str = "llmkp_state_write_seconds";
pub const STATE_BACKLOG: &str = "llmkp_state_write_backlog";
pub const STATE_STORE_UP: &str = "llmkp_state_store_up";
pub const STATE_STORE_OUTAGES: &str = "llmkp_state_store_outages_total";
pub const CONFIG_RELOADS: &str = "llmkp_config_reloads_total";
pub const REQUEST_LOG_DROPPED: &str = "llmkp_request_log_dropped_total";

/// Installs the process-wide recorder (once; later calls are no-ops) and describes every metric.
pub fn install() {
    if HANDLE.get().is_some() {
        return;
    }
    let builder =
        match PrometheusBuilder::new().set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS) {
            Ok(builder) => builder,
            Err(err) => {
                tracing::warn!("metrics are off: {err}");
                return;
            }
        };
    match builder.install_recorder() {
        Ok(handle) => {
            let _ = HANDLE.set(handle);
            describe();
        }
        Err(err) => tracing::warn!("metrics are off: {err}"),
    }
}

/// The Prometheus text of everything recorded; `None` when no recorder is installed.
pub fn render() -> Option<String> {
    HANDLE.get().map(|h| {
        h.run_upkeep();
        h.render()
    })
}

fn describe() {
    describe_counter!(REQUESTS, "Client requests by route, provider, model and status");
    describe_histogram!(REQUEST_SECONDS, Unit::Seconds, "Client request time to the response head");
    describe_histogram!(OVERHEAD_SECONDS, Unit::Seconds, "Request time minus time spent waiting on upstreams");
    describe_gauge!(IN_FLIGHT_REQUESTS, "Client requests being served");
    describe_gauge!(IN_FLIGHT_STREAMS, "Committed client streams being relayed");
    describe_counter!(UPSTREAM_ATTEMPTS, "Upstream attempts by provider and result (success or error class)");
    describe_counter!(UPSTREAM_RETRIES, "Attempts repeated on the same credential");
    describe_counter!(UPSTREAM_ROTATIONS, "Moves to another credential of the same provider after a failure");
    describe_counter!(FALLBACKS, "Moves to the next member of a fallback group");
    describe_histogram!(UPSTREAM_SECONDS, Unit::Seconds, "Upstream attempt time until the answer (or stream commit)");
    describe_histogram!(UPSTREAM_TTFB_SECONDS, Unit::Seconds, "Upstream attempt time to the response head");
    describe_gauge!(CREDENTIALS, "Credentials per provider by state (available, resting, cooling, locked)");
    describe_counter!(COOLDOWNS, "Cooldowns and lockouts set, per provider and kind");
    describe_counter!(TOKENS, "Tokens counted by provider, model and kind");
    describe_gauge!(COST_USD, "Running total of list-price cost in USD by provider and model");
    describe_counter!(OAUTH_REFRESHES, "OAuth token refreshes by provider and result");
    describe_histogram!(STATE_WRITE_SECONDS, Unit::Seconds, "State-store write batch time");
    describe_gauge!(STATE_BACKLOG, "State changes queued for the store");
    describe_gauge!(STATE_STORE_UP, "1 when the state store answers, 0 while a shared store is unreachable");
    describe_counter!(STATE_STORE_OUTAGES, "Times the shared state store became unreachable");
    describe_counter!(CONFIG_RELOADS, "Configuration reloads by result");
    describe_counter!(REQUEST_LOG_DROPPED, "Request-log records dropped because the writer queue was full");
}

/// One client request answered (`route` is the matched route template, bounded by the router).
pub fn request_done(
    route: &str,
    served: Option<&str>,
    requested: Option<&str>,
    status: u16,
    took: Duration,
    upstream: Duration,
) {
    #[derive(Clone)]
    struct RequestSeries {
        requests: Counter,
        seconds: Histogram,
    }
    static SERIES: Series<RequestSeries> = Series::new();
    static OVERHEAD: OnceLock<Histogram> = OnceLock::new();
    if !on() {
        return;
    }
    let model_id = served.or(requested);
    let code = http::StatusCode::from_u16(status).ok();
    let status_text = code.as_ref().map_or("other", http::StatusCode::as_str);
    // "none" and "model" keep a request without a model apart from one naming the empty string.
    let (kind, id) = match model_id {
        Some(id) => ("model", id),
        None => ("none", ""),
    };
    let series = SERIES.get(&[route, status_text, kind, id], || {
        let (provider, model) = match model_id {
            Some(id) => (labels::provider_of(id), labels::model(id)),
            None => (labels::NONE.to_string(), labels::NONE.to_string()),
        };
        let requests = counter!(REQUESTS, "route" => route.to_string(), "provider" => provider, "model" => model,
            "status" => status_text.to_string());
        RequestSeries { requests, seconds: histogram!(REQUEST_SECONDS, "route" => route.to_string()) }
    });
    series.requests.increment(1);
    series.seconds.record(took.as_secs_f64());
    single(&OVERHEAD, || histogram!(OVERHEAD_SECONDS)).record(took.saturating_sub(upstream).as_secs_f64());
}

/// Counts a request in flight until the returned guard drops.
pub fn request_in_flight() -> InFlight {
    static REQUESTS_IN_FLIGHT: OnceLock<Gauge> = OnceLock::new();
    InFlight::new(&REQUESTS_IN_FLIGHT, IN_FLIGHT_REQUESTS)
}

/// Counts a committed stream until the returned guard drops.
pub fn stream_in_flight() -> InFlight {
    static STREAMS_IN_FLIGHT: OnceLock<Gauge> = OnceLock::new();
    InFlight::new(&STREAMS_IN_FLIGHT, IN_FLIGHT_STREAMS)
}

/// Decrements its gauge when dropped.
#[derive(Debug)]
pub struct InFlight(Option<Gauge>);

impl InFlight {
    fn new(cell: &'static OnceLock<Gauge>, name: &'static str) -> Self {
        let gauge = on().then(|| single(cell, || gauge!(name)));
        if let Some(gauge) = &gauge {
            gauge.increment(1.0);
        }
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.decrement(1.0);
        }
    }
}

/// One upstream attempt ended after `took`: `result` is `success` or an error class name (a
/// fixed set).
pub fn attempt(provider: &str, result: &'static str, took: Duration) {
    #[derive(Clone)]
    struct AttemptSeries {
        attempts: Counter,
        seconds: Histogram,
    }
    static SERIES: Series<AttemptSeries> = Series::new();
    request_scope::add_upstream_wait(took);
    if !on() {
        return;
    }
    let series = SERIES.get(&[provider, result], || {
        let provider = labels::provider(provider);
        AttemptSeries {
            attempts: counter!(UPSTREAM_ATTEMPTS, "provider" => provider.clone(), "result" => result),
            seconds: histogram!(UPSTREAM_SECONDS, "provider" => provider),
        }
    });
    series.attempts.increment(1);
    series.seconds.record(took.as_secs_f64());
}

/// An upstream's response head arrived `took` after the attempt began.
pub fn upstream_head(provider: &str, took: Duration) {
    static SERIES: Series<Histogram> = Series::new();
    if on() {
        let ttfb =
            SERIES.get(&[provider], || histogram!(UPSTREAM_TTFB_SECONDS, "provider" => labels::provider(provider)));
        ttfb.record(took.as_secs_f64());
    }
}

pub fn retry(provider: &str) {
    counter!(UPSTREAM_RETRIES, "provider" => labels::provider(provider)).increment(1);
}

pub fn rotation(provider: &str) {
    counter!(UPSTREAM_ROTATIONS, "provider" => labels::provider(provider)).increment(1);
}

/// The request moved from one fallback member to the next (`provider/model` ids).
pub fn fallback(from: &str, to: &str) {
    counter!(FALLBACKS, "from" => labels::model(from), "to" => labels::model(to)).increment(1);
}

/// A cooldown or lockout was set (`kind`: cooldown, rest, locked).
pub fn cooldown(provider: &str, kind: &'static str) {
    counter!(COOLDOWNS, "provider" => labels::provider(provider), "kind" => kind).increment(1);
}

/// How many credentials of `provider` are in each state now (set when `/metrics` is read).
pub fn credential_states(provider: &str, counts: &[(&'static str, usize)]) {
    let provider = labels::provider(provider);
    for (state, n) in counts {
        gauge!(CREDENTIALS, "provider" => provider.clone(), "state" => *state).set(*n as f64);
    }
}

/// The kinds of token [`usage`] counts, in the order of its `tokens`.
pub const TOKEN_KINDS: [&str; 5] = ["prompt", "completion", "reasoning", "cache_read", "cache_write"];

/// Tokens (by [`TOKEN_KINDS`]) and list-price cost of one request served by `served`
/// (`provider/model`).
pub fn usage(served: &str, tokens: [u64; 5], cost_usd: f64) {
    /// A series appears once it has something to say: each is registered on first use.
    struct UsageSeries {
        provider: String,
        model: String,
        tokens: [OnceLock<Counter>; 5],
        cost: OnceLock<Gauge>,
    }
    static SERIES: Series<Arc<UsageSeries>> = Series::new();
    if !on() {
        return;
    }
    let series = SERIES.get(&[served], || {
        Arc::new(UsageSeries {
            provider: labels::provider_of(served),
            model: labels::model(served),
            tokens: Default::default(),
            cost: OnceLock::new(),
        })
    });
    let (provider, model) = (&series.provider, &series.model);
    for ((kind, counter), n) in TOKEN_KINDS.into_iter().zip(&series.tokens).zip(tokens) {
        if n > 0 {
            let counter = counter.get_or_init(
                || counter!(TOKENS, "provider" => provider.clone(), "model" => model.clone(), "kind" => kind),
            );
            counter.increment(n);
        }
    }
    if cost_usd > 0.0 {
        // The facade's counters are integers: the running USD total is a gauge that only grows.
        let cost =
            series.cost.get_or_init(|| gauge!(COST_USD, "provider" => provider.clone(), "model" => model.clone()));
        cost.increment(cost_usd);
    }
}

/// An OAuth refresh ended (`result`: ok, failed, needs_reauth).
pub fn oauth_refresh(provider: &str, result: &'static str) {
    counter!(OAUTH_REFRESHES, "provider" => labels::provider(provider), "result" => result).increment(1);
}

/// A batch of state changes was written.
pub fn state_write(took: Duration) {
    histogram!(STATE_WRITE_SECONDS).record(took.as_secs_f64());
}

/// Changes waiting for the store's writer.
pub fn state_backlog(queued: usize) {
    gauge!(STATE_BACKLOG).set(queued as f64);
}

/// The state store's health as read now (set when `/metrics` is read).
pub fn state_store_health(up: bool) {
    gauge!(STATE_STORE_UP).set(if up { 1.0 } else { 0.0 });
}

/// A shared state store became unreachable (`false`) or reachable again.
pub fn state_store_up(up: bool) {
    gauge!(STATE_STORE_UP).set(if up { 1.0 } else { 0.0 });
    if !up {
        counter!(STATE_STORE_OUTAGES).increment(1);
    }
}

/// A configuration reload was applied (`applied`), refused (`rejected`) or found nothing new.
pub fn config_reload(result: &'static str) {
    counter!(CONFIG_RELOADS, "result" => result).increment(1);
}

pub fn request_log_dropped() {
    counter!(REQUEST_LOG_DROPPED).increment(1);
}
