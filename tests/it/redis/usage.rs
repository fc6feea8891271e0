//! Usage counted by several instances adds up in the shared store.

use serde_json::Value;

use super::{post, prefix, quota_show, redis_url, serve, vars};
use crate::support::gateway::chat_body;
use crate::support::openai_mock::OpenAiMock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_from_both_instances_adds_up_exactly_in_quota_show() {
    let Some(url) = redis_url() else { return };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let prefix = prefix("usage");
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "sk-usage-key-0001"),
        ("STATE_FLUSH_INTERVAL_MS", "100"),
        ("LLMKP_STATE_URL", &url),
        ("LLMKP_STATE_PREFIX", &prefix),
    ]);
    let (mut a, _home_a) = serve(&env).await;
    let (mut b, _home_b) = serve(&env).await;
    let client = reqwest::Client::new();
    let (mut prompt, mut completion) = (0, 0);
    for (i, server) in [&a, &b, &b, &a, &b, &a, &b].into_iter().enumerate() {
        let answer: Value =
            post(&client, server, &chat_body("openai/gpt-4o", &format!("count me {i}"))).await.json().await.unwrap();
        prompt += answer["usage"]["prompt_tokens"].as_u64().unwrap();
        completion += answer["usage"]["completion_tokens"].as_u64().unwrap();
    }
    // SIGTERM sends what each instance still queues.
    for server in [&mut a, &mut b] {
        let (status, log) = tokio::task::block_in_place(|| server.stop());
        assert!(status.success(), "{log}");
    }
    let report = quota_show(&env).await;
    assert_eq!(report["data_source"], "shared_store");
    let credential = &report["providers"]["openai"]["credentials"][0];
    let window = &credential["scopes"]["gpt-4o"]["window"];
    assert_eq!(window["requests"], 7, "{report}");
    assert_eq!(window["successes"], 7);
    assert_eq!(window["prompt_tokens"], prompt);
    assert_eq!(window["completion_tokens"], completion);
    assert_eq!(credential["scopes"]["gpt-4o"]["total"]["requests"], 7);
    assert!(!report.to_string().contains("sk-usage-key-0001"), "no secret in the report");
}
