//! Rotation, concurrency, cooldowns, lockouts, fallback groups and model filters through the
//! real router with mock upstreams.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::gateway::{Gateway, PROXY_KEY, chat_body, error_of};
use crate::support::openai_mock::OpenAiMock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_requests_over_two_keys_with_max_one_never_exceed_one_in_flight_per_key() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(
        &mock.base_url(),
        &["sk-one-0001", "sk-two-0002"],
        &[("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "1"), ("UPSTREAM_STREAM_FOR_NON_STREAM", "false")],
    )
    .await;
    let bodies: Vec<Value> = (0..20).map(|i| chat_body("openai/delay-100", &format!("req {i}"))).collect();
    let responses = futures::future::join_all(bodies.iter().map(|b| gw.post("/v1/chat/completions", b))).await;
    for response in responses {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(mock.chat_requests().len(), 20, "every request waited for a slot instead of failing");
    assert_eq!(mock.max_in_flight("sk-one-0001"), 1);
    assert_eq!(mock.max_in_flight("sk-two-0002"), 1);
    assert_eq!(gw.engine.pool().active_counts("openai"), [0, 0], "every lease was released");
}

#[tokio::test]
async fn every_key_busy_until_the_deadline_is_429_credentials_busy() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(
        &mock.base_url(),
        &["sk-one-0001"],
        &[("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "1"), ("GLOBAL_TIMEOUT", "1")],
    )
    .await;
    // A stream holds its lease until it ends (1.5 s), past the second request's deadline.
    let mut slow_body = chat_body("openai/slow", "first");
    slow_body["stream"] = json!(true);
    let slow = async { gw.post("/v1/chat/completions", &slow_body).await.text().await.unwrap() };
    let blocked = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "second")).await
    };
    let (slow, blocked) = tokio::join!(slow, blocked);
    assert_eq!(blocked.status(), 429);
    assert_eq!(blocked.headers()["retry-after"], "1");
    assert_eq!(error_of(blocked).await["code"], "credentials_busy");
    assert!(slow.ends_with("data: [DONE]\n\n"), "the deadline does not cut a stream that started: {slow}");
}

#[tokio::test]
async fn a_rate_limited_key_rests_for_its_retry_after_and_an_invalid_key_is_locked_out() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(
        &mock.base_url(),
        &["rl1-key-0001", "bad-key-0002", "sk-good-0003"],
        &[
            ("ROTATION_MODE_OPENAI", "balanced"),
            ("ROTATION_TOLERANCE", "0"),
            ("OPTIMAL_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "0"),
        ],
    )
    .await;
    for _ in 0..4 {
        let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
        assert_eq!(response.status(), 200);
    }
    let used = mock.keys_used();
    assert_eq!(used.iter().filter(|k| k.starts_with("rl1")).count(), 1, "{used:?}");
    assert_eq!(used.iter().filter(|k| k.starts_with("bad")).count(), 1, "{used:?}");
    assert_eq!(used.iter().filter(|k| k.starts_with("sk-good")).count(), 4, "{used:?}");

    // After its 1 s cooldown the rate-limited key is the least used again and gets tried; the
    // locked key (5 min) is not.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 200);
    let used = mock.keys_used();
    assert_eq!(used.iter().filter(|k| k.starts_with("rl1")).count(), 2, "{used:?}");
    assert_eq!(used.iter().filter(|k| k.starts_with("bad")).count(), 1, "{used:?}");
}

#[tokio::test]
async fn all_keys_cooling_answers_429_at_once_without_calling_the_upstream() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["rl-key-1", "rl-key-2"], &[("GLOBAL_TIMEOUT", "3")]).await;
    let first = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(first.status(), 429);
    assert_eq!(mock.chat_requests().len(), 2);

    let started = Instant::now();
    let second = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(second.status(), 429);
    let retry_after: u64 = second.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((6..=7).contains(&retry_after), "{retry_after}");
    assert_eq!(mock.chat_requests().len(), 2, "no upstream call while every key cools down");
}

#[tokio::test]
async fn keys_rejected_by_the_upstream_are_locked_out_and_then_answered_503_without_a_call() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["bad-key-1"], &[]).await;
    let first = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(first.status(), 502);
    assert_eq!(error_of(first).await["code"], "upstream_auth_failed");
    let second = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(second.status(), 503);
    let retry_after: u64 = second.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((299..=300).contains(&retry_after), "{retry_after}");
    assert_eq!(error_of(second).await["code"], "credentials_unavailable");
    assert_eq!(mock.chat_requests().len(), 1);
}

#[tokio::test]
async fn a_fallback_group_moves_to_the_next_provider_when_the_first_is_rate_limited() {
    let a = OpenAiMock::start().await;
    let b = OpenAiMock::start().await;
    let (base_a, base_b) = (a.base_url(), b.base_url());
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("ALPHA_API_BASE", &base_a),
        ("ALPHA_API_KEY_1", "rl-a-1"),
        ("ALPHA_API_KEY_2", "rl-a-2"),
        ("BETA_API_BASE", &base_b),
        ("BETA_API_KEY_1", "sk-b-1"),
        ("MODEL_FALLBACK_GROUPS", r#"{"smart": ["alpha/m", "beta/m"]}"#),
        // Shorter than alpha's 7 s cooldowns, so they are not waited out.
        ("GLOBAL_TIMEOUT", "5"),
    ])
    .await;
    let started = Instant::now();
    let response = gw.post("/v1/chat/completions", &chat_body("smart", "hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-model"], "beta/m");
    assert_eq!(response.headers()["x-llmkp-requested-model"], "smart");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "beta/m", "the response says which model served");
    assert!(started.elapsed() < Duration::from_secs(2), "falls back instead of waiting out a short limit");
    assert_eq!(a.chat_requests().len(), 2);
    assert_eq!(b.chat_requests()[0].body["model"], "m");
    // Outside the group, alpha's cooling keys answer for themselves.
    assert_eq!(gw.post("/v1/chat/completions", &chat_body("alpha/m", "hi")).await.status(), 429);
    assert_eq!(a.chat_requests().len(), 2);
    let ids: Vec<String> = gw.get("/v1/models").await.json::<Value>().await.unwrap()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"smart".to_string()), "named groups are listed: {ids:?}");
}

#[tokio::test]
async fn a_fallback_group_never_moves_on_after_a_client_error() {
    let a = OpenAiMock::start().await;
    let b = OpenAiMock::start().await;
    let (base_a, base_b) = (a.base_url(), b.base_url());
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("ALPHA_API_BASE", &base_a),
        ("ALPHA_API_KEY_1", "sk-a-1"),
        ("BETA_API_BASE", &base_b),
        ("BETA_API_KEY_1", "sk-b-1"),
        ("MODEL_FALLBACK_GROUPS", r#"[["alpha/invalid-x", "beta/invalid-x"]]"#),
    ])
    .await;
    let response = gw.post("/v1/chat/completions", &chat_body("alpha/invalid-x", "hi")).await;
    assert_eq!(response.status(), 400);
    assert!(b.chat_requests().is_empty());
}

#[tokio::test]
async fn b05_ignored_models_are_refused_without_an_upstream_call_and_hidden_from_the_list() {
    let mock = OpenAiMock::start_with_models(&["gpt-4o", "gpt-4o-mini", "o3"]).await;
    let gw = Gateway::openai(
        &mock.base_url(),
        &["sk-good"],
        &[("IGNORE_MODELS_OPENAI", "gpt-4o*"), ("WHITELIST_MODELS_OPENAI", "gpt-4o-mini")],
    )
    .await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 404);
    let error = error_of(response).await;
    assert_eq!(error["code"], "model_not_found");
    assert!(error["message"].as_str().unwrap().contains("IGNORE_MODELS_OPENAI"));
    assert!(mock.chat_requests().is_empty());
    assert_eq!(gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o-mini", "hi")).await.status(), 200);

    let body: Value = gw.get("/v1/models").await.json().await.unwrap();
    let ids: Vec<&str> = body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["openai/gpt-4o-mini", "openai/o3"]);
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_releases_its_lease_without_a_cooldown() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "1")]).await;
    let mut request = chat_body("openai/slow", "hi");
    request["stream"] = json!(true);
    let response = gw.post("/v1/chat/completions", &request).await;
    let mut body = response.bytes_stream();
    body.next().await.unwrap().unwrap();
    assert_eq!(gw.engine.pool().active_counts("openai"), [1]);
    drop(body);
    let released = async {
        while gw.engine.pool().active_counts("openai") != [0] {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(2), released).await.expect("lease released after the disconnect");
    assert_eq!(gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await.status(), 200, "no cooldown");
}

#[tokio::test]
async fn sequential_rotation_keeps_one_key_while_it_works() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-one", "sk-two", "sk-three"], &[]).await;
    for i in 0..5 {
        let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", &format!("msg {i}"))).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(mock.keys_used(), ["sk-one"; 5]);
}

#[tokio::test]
async fn balanced_rotation_spreads_requests_over_the_keys() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(
        &mock.base_url(),
        &["sk-one", "sk-two", "sk-three"],
        &[("ROTATION_MODE_OPENAI", "balanced"), ("ROTATION_TOLERANCE", "0")],
    )
    .await;
    for i in 0..6 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", &format!("msg {i}"))).await.status(),
            200
        );
    }
    let used = mock.keys_used();
    for key in ["sk-one", "sk-two", "sk-three"] {
        assert_eq!(used.iter().filter(|k| *k == key).count(), 2, "{used:?}");
    }
}

#[tokio::test]
async fn model_aliases_route_client_names_to_a_provider_model() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(
        &mock.base_url(),
        &["sk-good"],
        &[("MODEL_ALIASES", r#"{"claude-sonnet-4-5": "openai/gpt-4o", "claude-*": "openai/gpt-4o-mini"}"#)],
    )
    .await;
    for (requested, served) in [("claude-sonnet-4-5", "openai/gpt-4o"), ("claude-haiku-4-5", "openai/gpt-4o-mini")] {
        let response = gw.post("/v1/chat/completions", &chat_body(requested, "hi")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-llmkp-requested-model"], requested);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["model"], served);
    }
    let models: Value = gw.get("/v1/models").await.json().await.unwrap();
    let alias = models["data"].as_array().unwrap().iter().find(|m| m["id"] == "claude-sonnet-4-5").unwrap();
    assert_eq!(alias["owned_by"], "alias");
}
