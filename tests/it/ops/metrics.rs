//! `GET /metrics` after real traffic through mock upstreams: every counter and histogram the
//! traffic should move has moved, labels stay bounded, and the route is behind the proxy key.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::cli::{Server, llmkp};
use crate::support::metrics_text::{label_values, observations, parse, sum};
use crate::support::openai_mock::OpenAiMock;

const PROXY_KEY: &str = "ops-proxy-key-000000000001";

async fn scrape(client: &reqwest::Client, server: &Server) -> prometheus_parse::Scrape {
    let response = client.get(server.url("/metrics")).bearer_auth(PROXY_KEY).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse(&response.text().await.unwrap())
}

async fn chat(client: &reqwest::Client, server: &Server, model: &str, stream: bool) -> reqwest::Response {
    let body = json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    client.post(server.url("/v1/chat/completions")).bearer_auth(PROXY_KEY).json(&body).send().await.unwrap()
}

fn write_env(home: &std::path::Path, lines: &[String]) {
    std::fs::write(home.join(".env"), lines.join("\n") + "\n").unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn traffic_moves_every_counter_and_histogram() {
    let openai = OpenAiMock::start().await;
    let alpha = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    write_env(
        home.path(),
        &[
            format!("PROXY_API_KEY={PROXY_KEY}"),
            format!("OPENAI_API_BASE={}", openai.base_url()),
            "OPENAI_API_KEY_1=rl-metrics-key-000000001".into(),
            "OPENAI_API_KEY_2=sk-metrics-key-000000002".into(),
            format!("ALPHA_API_BASE={}", alpha.base_url()),
            "ALPHA_API_KEY_1=err-metrics-key-00000003".into(),
            r#"MODEL_FALLBACK_GROUPS={"smart": ["alpha/gpt-4o", "openai/gpt-4o"]}"#.into(),
            "TRANSIENT_RETRY_DELAY=0".into(),
            "TRANSIENT_RETRY_JITTER=0".into(),
            "SMALL_COOLDOWN_RETRY_THRESHOLD=0".into(),
        ],
    );
    let server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();

    // Success and 429 rotation: balanced rotation takes the unused rate-limited key within two
    // requests, and the request moves on to the other key.
    for _ in 0..3 {
        assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
    }
    // Fallback: alpha answers 500 (retried once on its only key), then openai serves.
    let response = chat(&client, &server, "smart", false).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-model"], "openai/gpt-4o");
    // A stream, read to its end.
    let response = chat(&client, &server, "openai/gpt-4o", true).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("[DONE]"), "{text}");

    let m = scrape(&client, &server).await;
    let chat_route = ("route", "/v1/chat/completions");
    assert_eq!(sum(&m, "llmkp_requests_total", &[chat_route, ("status", "200")]), 5.0);
    assert_eq!(sum(&m, "llmkp_requests_total", &[chat_route, ("provider", "openai"), ("model", "openai/gpt-4o")]), 5.0);
    assert!(sum(&m, "llmkp_upstream_attempts_total", &[("provider", "openai"), ("result", "success")]) >= 5.0);
    assert!(sum(&m, "llmkp_upstream_attempts_total", &[("provider", "openai"), ("result", "rate_limit")]) >= 1.0);
    assert!(sum(&m, "llmkp_upstream_attempts_total", &[("provider", "alpha"), ("result", "server_error")]) >= 1.0);
    assert!(sum(&m, "llmkp_upstream_rotations_total", &[("provider", "openai")]) >= 1.0);
    assert!(sum(&m, "llmkp_upstream_retries_total", &[("provider", "alpha")]) >= 1.0);
    assert_eq!(sum(&m, "llmkp_fallbacks_total", &[("from", "alpha/gpt-4o"), ("to", "openai/gpt-4o")]), 1.0);
    assert!(sum(&m, "llmkp_cooldowns_total", &[("provider", "openai"), ("kind", "cooldown")]) >= 1.0);
    assert_eq!(sum(&m, "llmkp_credentials", &[("provider", "openai"), ("state", "cooling")]), 1.0);
    assert_eq!(sum(&m, "llmkp_credentials", &[("provider", "openai"), ("state", "available")]), 1.0);
    assert!(observations(&m, "llmkp_upstream_latency_seconds", &[("provider", "openai")]) >= 6.0);
    assert!(observations(&m, "llmkp_upstream_ttfb_seconds", &[("provider", "openai")]) >= 6.0);
    assert!(observations(&m, "llmkp_overhead_seconds", &[]) >= 5.0);
    assert!(observations(&m, "llmkp_request_duration_seconds", &[chat_route]) >= 5.0);
    assert!(sum(&m, "llmkp_tokens_total", &[("provider", "openai"), ("kind", "prompt")]) > 0.0);
    assert!(sum(&m, "llmkp_tokens_total", &[("model", "openai/gpt-4o"), ("kind", "completion")]) > 0.0);
    assert!(sum(&m, "llmkp_cost_usd", &[("provider", "openai"), ("model", "openai/gpt-4o")]) > 0.0);
    // Nothing is in flight once the stream has ended (the scrape itself is the one request).
    assert_eq!(sum(&m, "llmkp_in_flight_streams", &[]), 0.0);
    assert_eq!(sum(&m, "llmkp_in_flight_requests", &[]), 1.0);
    assert_eq!(sum(&m, "llmkp_state_store_up", &[]), 1.0);

    // The state writer commits in the background (every STATE_FLUSH_INTERVAL_MS).
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let m = scrape(&client, &server).await;
        if observations(&m, "llmkp_state_write_seconds", &[]) > 0.0 {
            assert!(m.samples.iter().any(|s| s.metric == "llmkp_state_write_backlog"));
            break;
        }
        assert!(Instant::now() < until, "the state writer never committed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn random_model_names_do_not_grow_the_label_set() {
    let openai = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    write_env(
        home.path(),
        &[
            format!("PROXY_API_KEY={PROXY_KEY}"),
            format!("OPENAI_API_BASE={}", openai.base_url()),
            "OPENAI_API_KEY_1=sk-cardinality-0000000001".into(),
        ],
    );
    let server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();
    for i in 0..40 {
        let invented = format!("openai/made-up-{i}-{}", rand::random::<u32>());
        chat(&client, &server, &invented, false).await;
        let unknown_provider = format!("nosuch{i}/model-{}", rand::random::<u32>());
        chat(&client, &server, &unknown_provider, false).await;
    }
    assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
    let m = scrape(&client, &server).await;
    let models = label_values(&m, "llmkp_requests_total", "model");
    let providers = label_values(&m, "llmkp_requests_total", "provider");
    assert!(models.iter().all(|m| m == "other" || m == "openai/gpt-4o" || m == "none"), "{models:?}");
    assert!(providers.iter().all(|p| p == "other" || p == "openai" || p == "none"), "{providers:?}");
    assert!(models.contains("other") && models.contains("openai/gpt-4o"), "{models:?}");
    // Everything the proxy labels stays within a small fixed set of series.
    let series = m.samples.iter().filter(|s| s.metric.starts_with("llmkp_")).count();
    assert!(series < 300, "{series} series after 80 random model names");
    let text = client.get(server.url("/metrics")).bearer_auth(PROXY_KEY).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("made-up") && !text.contains("nosuch"), "client strings reached a label");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_the_proxy_key_unless_public() {
    let home = tempfile::tempdir().unwrap();
    write_env(home.path(), &[format!("PROXY_API_KEY={PROXY_KEY}")]);
    let server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();
    assert_eq!(client.get(server.url("/metrics")).send().await.unwrap().status(), 401);
    drop(server);

    write_env(home.path(), &[format!("PROXY_API_KEY={PROXY_KEY}"), "METRICS_PUBLIC=true".into()]);
    let server = Server::start(llmkp(home.path()));
    let response = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let m = parse(&response.text().await.unwrap());
    assert_eq!(sum(&m, "llmkp_state_store_up", &[]), 1.0);
}

/// Labels resolved once are kept with their series; a reload that configures a new provider
/// makes the same request count under that provider, not under the `other` it got before.
#[tokio::test(flavor = "multi_thread")]
async fn a_provider_added_by_a_reload_gets_its_own_label() {
    let openai = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    let before = [format!("PROXY_API_KEY={PROXY_KEY}"), format!("OPENAI_API_BASE={}", openai.base_url())];
    write_env(home.path(), &before);
    let server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();
    // Unknown provider: refused with 404 by the gateway.
    let refused = chat(&client, &server, "later/gpt-4o", false).await;
    assert_eq!(refused.status(), 404);
    assert!(refused.text().await.unwrap().contains("unknown provider"));

    let mut after = before.to_vec();
    // A base without the route: the upstream answers 404 itself, the same status as before.
    after.extend([
        format!("LATER_API_BASE={}/nowhere", openai.base_url()),
        "LATER_API_KEY_1=sk-later-0000000001".into(),
    ]);
    write_env(home.path(), &after);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let response = chat(&client, &server, "later/gpt-4o", false).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        if !text.contains("unknown provider") {
            assert_eq!(status, 404, "{text}");
            break;
        }
        assert!(Instant::now() < until, "the reload never configured `later`");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = scrape(&client, &server).await;
    let route = ("route", "/v1/chat/completions");
    assert_eq!(sum(&m, "llmkp_requests_total", &[route, ("provider", "later"), ("status", "404")]), 1.0);
    assert!(sum(&m, "llmkp_requests_total", &[route, ("provider", "other"), ("status", "404")]) >= 1.0);
}
