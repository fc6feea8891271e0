//! Defect 6: usage the upstream was paid for is recorded. A stream the client abandons counts as a
//! request with the tokens seen so far; server errors and broken connections count as requests
//! like client errors and rate limits do.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use llmkp::store::memory::MemoryStore;
use llmkp::store::{StateStore, UsageCounters, now_ms};
use serde_json::json;

use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::openai_mock::OpenAiMock;

/// The persisted window counters of every credential of `openai`, summed.
fn counters(store: &MemoryStore) -> UsageCounters {
    let mut total = UsageCounters::default();
    for record in store.load(now_ms()).unwrap().usage.iter().filter(|r| r.key.provider == "openai") {
        total.add(&record.window);
    }
    total
}

/// Waits (up to 5 s) until `done` holds for the store's counters.
async fn eventually(store: &MemoryStore, done: impl Fn(&UsageCounters) -> bool) -> UsageCounters {
    for _ in 0..100 {
        let now = counters(store);
        if done(&now) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    counters(store)
}

#[tokio::test]
async fn a_stream_the_client_abandons_is_recorded_with_the_tokens_seen_so_far() {
    let mock = OpenAiMock::start().await;
    let store = Arc::new(MemoryStore::new());
    let base = mock.base_url();
    let vars = [("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY_1", "sk-good-0001"), ("PROXY_API_KEY", PROXY_KEY)];
    let gw = Gateway::start_with_store(&vars, Some(store.clone() as Arc<dyn StateStore>)).await;
    // Chat passthrough (the upstream reports usage only at the end) and a translated Messages
    // stream: both are cut after their first content.
    let requests = [
        (
            "/v1/chat/completions",
            json!({"model": "openai/slow", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/v1/messages",
            json!({"model": "openai/slow", "stream": true, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ];
    for (i, (path, body)) in requests.into_iter().enumerate() {
        let response = gw.post(path, &body).await;
        assert_eq!(response.status(), 200);
        let mut stream = response.bytes_stream();
        let mut seen = String::new();
        while !seen.contains("one") {
            seen.push_str(&String::from_utf8_lossy(&stream.next().await.expect("content").unwrap()));
        }
        drop(stream);
        let expected = i as u64 + 1;
        let usage = eventually(&store, |c| c.requests >= expected).await;
        assert_eq!(usage.requests, expected, "{path}: the abandoned stream is a request: {usage:?}");
        assert!(usage.completion_tokens >= expected, "{path}: the output so far is charged: {usage:?}");
        assert_eq!((usage.successes, usage.failures), (0, 0), "{path}: neither success nor failure");
    }
    // No cooldown, and the lease went back.
    assert!(store.load(now_ms()).unwrap().cooldowns.is_empty());
    for _ in 0..50 {
        if gw.engine.pool().active_counts("openai") == [0] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gw.engine.pool().active_counts("openai"), [0]);
}

#[tokio::test]
async fn server_errors_and_connection_failures_count_as_requests() {
    let mock = OpenAiMock::start().await;
    let store = Arc::new(MemoryStore::new());
    let base = mock.base_url();
    // `err…` answers 500; port 9 on loopback refuses connections.
    let vars = [
        ("OPENAI_API_BASE", base.as_str()),
        ("OPENAI_API_KEY_1", "err-key-0001"),
        ("PROXY_API_KEY", PROXY_KEY),
        ("DEAD_API_BASE", "http://127.0.0.1:9/v1"),
        ("DEAD_API_KEY_1", "sk-dead-0001"),
    ];
    let gw = Gateway::start_with_store(&vars, Some(store.clone() as Arc<dyn StateStore>)).await;
    let body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(gw.post("/v1/chat/completions", &body).await.status(), 502);
    let usage = counters(&store);
    assert_eq!((usage.requests, usage.failures), (2, 2), "both 500 attempts are requests: {usage:?}");

    let body = json!({"model": "dead/m", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(gw.post("/v1/chat/completions", &body).await.status(), 502);
    let dead: u64 = store
        .load(now_ms())
        .unwrap()
        .usage
        .iter()
        .filter(|r| r.key.provider == "dead")
        .map(|r| r.window.requests)
        .sum();
    assert_eq!(dead, 2, "connection failures are requests too");
}
