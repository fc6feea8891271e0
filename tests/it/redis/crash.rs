//! A crashed instance's slots free themselves when its leases expire.

use std::time::{Duration, Instant};

use super::{post, prefix, redis_url, serve, vars};
use crate::support::gateway::chat_body;
use crate::support::openai_mock::OpenAiMock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_an_instance_mid_request_frees_its_lease_within_the_ttl() {
    let Some(url) = redis_url() else { return };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let prefix = prefix("crash");
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "sk-only-key-0001"),
        ("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "1"),
        ("GLOBAL_TIMEOUT", "20"),
        ("LLMKP_STATE_LEASE_TTL", "3"),
        ("LLMKP_STATE_URL", &url),
        ("LLMKP_STATE_PREFIX", &prefix),
    ]);
    let (mut a, _home_a) = serve(&env).await;
    let (b, _home_b) = serve(&env).await;
    let client = reqwest::Client::new();

    // A holds the only slot with a request the upstream never answers.
    let held = {
        let (client, url) = (client.clone(), a.url("/v1/chat/completions"));
        tokio::spawn(async move {
            let body = chat_body("openai/hang", "stuck");
            client.post(url).bearer_auth(crate::support::gateway::PROXY_KEY).json(&body).send().await
        })
    };
    while mock.chat_requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // While A lives (and extends its lease) B finds the key busy.
    let waiting = {
        let client = client.clone();
        let url = b.url("/v1/chat/completions");
        tokio::spawn(async move {
            let body = chat_body("openai/gpt-4o", "after the crash");
            let response =
                client.post(url).bearer_auth(crate::support::gateway::PROXY_KEY).json(&body).send().await.unwrap();
            (response.status().as_u16(), Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(!waiting.is_finished(), "the slot is A's while A lives, beyond one TTL");
    assert_eq!(mock.chat_requests().len(), 1);

    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let killed = Instant::now();
    let (status, served_at) = waiting.await.unwrap();
    assert_eq!(status, 200);
    let after_kill = served_at - killed;
    assert!(after_kill < Duration::from_millis(4800), "freed within the 3 s TTL (+ recheck): {after_kill:?}");
    assert!(held.await.unwrap().is_err(), "A's client lost its connection");
    // B keeps serving.
    assert_eq!(post(&client, &b, &chat_body("openai/gpt-4o", "more")).await.status(), 200);
}
