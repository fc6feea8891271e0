//! A concurrency limit holds across instances: the slots live in Redis.

use super::{chat_urls, post_url, prefix, redis_url, serve, vars};
use crate::support::gateway::chat_body;
use crate::support::openai_mock::OpenAiMock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_keep_one_request_per_key_in_flight_and_serve_all_twenty() {
    let Some(url) = redis_url() else { return };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let prefix = prefix("concurrency");
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "sk-shared-key-one-1111"),
        ("OPENAI_API_KEY_2", "sk-shared-key-two-2222"),
        ("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "1"),
        ("GLOBAL_TIMEOUT", "30"),
        ("LLMKP_STATE_URL", &url),
        ("LLMKP_STATE_PREFIX", &prefix),
    ]);
    let (a, _home_a) = serve(&env).await;
    let (b, _home_b) = serve(&env).await;
    let servers = chat_urls(&[&a, &b]);
    let client = reqwest::Client::new();
    // Each upstream call is held 250 ms, so ten per key overlap unless the slots are shared.
    let requests = (0..20).map(|i| {
        let (servers, client) = (servers.clone(), client.clone());
        async move {
            let body = chat_body("openai/delay-250", &format!("question {i}"));
            let response = post_url(&client, &servers[i % 2], &body).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    let answers = futures::future::join_all(requests).await;
    for (status, text) in &answers {
        assert_eq!(*status, 200, "{text}");
    }
    assert_eq!(mock.chat_requests().len(), 20, "every request reached the upstream once");
    assert_eq!(mock.max_in_flight("sk-shared-key-one-1111"), 1, "key one: one request at a time across both");
    assert_eq!(mock.max_in_flight("sk-shared-key-two-2222"), 1, "key two: one request at a time across both");
}
