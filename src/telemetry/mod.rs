//! Operational metrics in the Prometheus text format (`GET /metrics`). Call sites in every layer
//! record through the functions here, so names, label sets and their bounds live in one place
//! ([`labels`]). Without [`install`] (tests in-process, CLI commands) recording is a no-op.

pub mod detailed;
pub mod detailed_writer;
pub mod labels;
pub mod request_scope;

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

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
    let (provider, model) = match (served, requested) {
        (Some(served), _) => (labels::provider_of(served), labels::model(served)),
        (None, Some(requested)) => (labels::provider_of(requested), labels::model(requested)),
        (None, None) => (labels::NONE.to_string(), labels::NONE.to_string()),
    };
    let status = status.to_string();
    counter!(REQUESTS, "route" => route.to_string(), "provider" => provider, "model" => model, "status" => status)
        .increment(1);
    histogram!(REQUEST_SECONDS, "route" => route.to_string()).record(took.as_secs_f64());
    histogram!(OVERHEAD_SECONDS).record(took.saturating_sub(upstream).as_secs_f64());
}

/// Counts a request in flight until the returned guard drops.
pub fn request_in_flight() -> InFlight {
    gauge!(IN_FLIGHT_REQUESTS).increment(1.0);
    InFlight(IN_FLIGHT_REQUESTS)
}

/// Counts a committed stream until the returned guard drops.
pub fn stream_in_flight() -> InFlight {
    gauge!(IN_FLIGHT_STREAMS).increment(1.0);
    InFlight(IN_FLIGHT_STREAMS)
}

/// Decrements its gauge when dropped.
#[derive(Debug)]
pub struct InFlight(&'static str);

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(self.0).decrement(1.0);
    }
}

/// One upstream attempt ended after `took`: `result` is `success` or an error class name (a
/// fixed set).
pub fn attempt(provider: &str, result: &'static str, took: Duration) {
    let provider = labels::provider(provider);
    counter!(UPSTREAM_ATTEMPTS, "provider" => provider.clone(), "result" => result).increment(1);
    histogram!(UPSTREAM_SECONDS, "provider" => provider).record(took.as_secs_f64());
    request_scope::add_upstream_wait(took);
}

/// An upstream's response head arrived `took` after the attempt began.
pub fn upstream_head(provider: &str, took: Duration) {
    histogram!(UPSTREAM_TTFB_SECONDS, "provider" => labels::provider(provider)).record(took.as_secs_f64());
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

/// Tokens and list-price cost of one request served by `served` (`provider/model`).
pub fn usage(served: &str, tokens: &[(&'static str, u64)], cost_usd: f64) {
    let (provider, model) = (labels::provider_of(served), labels::model(served));
    for (kind, n) in tokens.iter().filter(|(_, n)| *n > 0) {
        counter!(TOKENS, "provider" => provider.clone(), "model" => model.clone(), "kind" => *kind).increment(*n);
    }
    if cost_usd > 0.0 {
        // The facade's counters are integers: the running USD total is a gauge that only grows.
        gauge!(COST_USD, "provider" => provider, "model" => model).increment(cost_usd);
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
