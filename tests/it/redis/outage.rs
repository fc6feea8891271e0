//! Redis going away never fails a request: instances serve on local state and catch up when it
//! is back.

use std::time::Duration;

use super::{PrivateRedis, chat_urls, post, post_url, prefix, quota_show, serve, vars};
use crate::support::gateway::chat_body;
use crate::support::openai_mock::OpenAiMock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serve_whose_redis_is_down_at_start_serves_on_local_state() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "sk-local-key-0001"),
        ("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "1"),
        ("LLMKP_STATE_URL", &url),
    ]);
    let (mut server, _home) = serve(&env).await;
    let client = reqwest::Client::new();
    for i in 0..3 {
        let response = post(&client, &server, &chat_body("openai/gpt-4o", &format!("q{i}"))).await;
        assert_eq!(response.status(), 200);
    }
    let (_, log) = tokio::task::block_in_place(|| server.stop());
    assert_eq!(log.matches("unreachable").count(), 1, "logged once: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_under_load_and_started_again_fails_no_request_and_usage_converges() {
    let Some(mut redis) = PrivateRedis::start() else { return };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let url = redis.url();
    let prefix = prefix("outage");
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "sk-outage-key-0001"),
        ("OPENAI_API_KEY_2", "sk-outage-key-0002"),
        ("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "2"),
        // A second provider whose only key the upstream refuses (`insufficient_quota`: a lockout).
        ("LIMITED_API_BASE", &base),
        ("LIMITED_API_KEY_1", "quota-exhausted-0001"),
        ("STATE_FLUSH_INTERVAL_MS", "100"),
        ("LLMKP_STATE_URL", &url),
        ("LLMKP_STATE_PREFIX", &prefix),
    ]);
    let (a, _home_a) = serve(&env).await;
    let (b, _home_b) = serve(&env).await;
    let servers = chat_urls(&[&a, &b]);
    let client = reqwest::Client::new();
    let mut sent = 0;
    let burst = |round: usize| {
        let (servers, client) = (servers.clone(), client.clone());
        async move {
            let requests = (0..8).map(|i| {
                let (servers, client) = (servers.clone(), client.clone());
                async move {
                    let body = chat_body("openai/delay-20", &format!("round {round} request {i}"));
                    let response = post_url(&client, &servers[i % 2], &body).await;
                    let status = response.status().as_u16();
                    (status, response.text().await.unwrap())
                }
            });
            for (status, text) in futures::future::join_all(requests).await {
                assert_eq!(status, 200, "round {round}: {text}");
            }
        }
    };
    for round in 0..3 {
        burst(round).await;
        sent += 8;
    }
    redis.kill();
    for round in 3..8 {
        burst(round).await;
        sent += 8;
    }
    // A lockout seen by A while Redis is away…
    let locked = post_url(&client, &servers[0], &chat_body("limited/gpt-4o", "during the outage")).await;
    assert_eq!(locked.status(), 502, "A tried the key and it was refused");
    let refused = || mock.keys_used().iter().filter(|k| k.starts_with("quota")).count();
    assert_eq!(refused(), 1);
    tokio::task::block_in_place(|| redis.restart());
    for round in 8..10 {
        burst(round).await;
        sent += 8;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Reconnected instances send the usage they kept: the shared count converges on every request.
    let mut requests = 0;
    for _ in 0..50 {
        let report = quota_show(&env).await;
        requests = report["providers"]["openai"]["total_requests"].as_u64().unwrap_or(0);
        if requests == sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(requests, sent, "every request counted once in the shared store");
    assert_eq!(mock.chat_requests().len() as u64 - 1, sent);
    // …reaches B once Redis is back: B answers 503 (every key locked out) without calling it.
    let report = quota_show(&env).await;
    assert_eq!(report["providers"]["limited"]["credentials"][0]["status"], "locked", "{report}");
    let from_b = post_url(&client, &servers[1], &chat_body("limited/gpt-4o", "after the outage")).await;
    assert_eq!(from_b.status(), 503);
    assert_eq!(refused(), 1, "B made no call with the locked key");
}
