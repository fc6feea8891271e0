//! Credential state that outlives a server: cooldowns, lockouts and usage through the state
//! store, in-process (memory store shared by two gateways) and through the real binary (SQLite).

use std::sync::Arc;

use llmkp::store::memory::MemoryStore;
use llmkp::store::{StateStore, now_ms};

use crate::support::gateway::{Gateway, PROXY_KEY, chat_body};
use crate::support::openai_mock::OpenAiMock;

fn openai_vars<'a>(base: &'a str, keys: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![("OPENAI_API_BASE", base), ("PROXY_API_KEY", PROXY_KEY), ("GLOBAL_TIMEOUT", "3")];
    vars.extend_from_slice(keys);
    vars
}

#[tokio::test]
async fn cooldowns_survive_a_restart_so_cooling_keys_are_not_called_again() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let vars = openai_vars(&base, &[("OPENAI_API_KEY_1", "rl-key-1"), ("OPENAI_API_KEY_2", "bad-key-2")]);
    {
        let gw = Gateway::start_with_store(&vars, Some(store.clone())).await;
        assert_eq!(gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await.status(), 429);
    }
    assert_eq!(mock.chat_requests().len(), 2);
    let restarted = Gateway::start_with_store(&vars, Some(store.clone())).await;
    let response = restarted.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 429, "still cooling after the restart");
    assert_eq!(mock.chat_requests().len(), 2, "no upstream call for keys that are cooling or locked");
    let snapshot = store.load(now_ms()).unwrap();
    let kinds: Vec<&str> = snapshot.cooldowns.iter().map(|c| c.kind.as_str()).collect();
    assert!(kinds.contains(&"quota") && kinds.contains(&"lockout"), "{kinds:?}");
}

#[tokio::test]
async fn usage_is_recorded_per_credential_and_model_with_tokens() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let vars = openai_vars(&base, &[("OPENAI_API_KEY_1", "sk-good-0001")]);
    let gw = Gateway::start_with_store(&vars, Some(store.clone())).await;
    for stream in [false, true, false] {
        let mut body = chat_body("openai/gpt-4o", "count my tokens please");
        body["stream"] = serde_json::json!(stream);
        let text = gw.post("/v1/chat/completions", &body).await.text().await.unwrap();
        assert!(text.contains("Hello"));
    }
    assert_eq!(gw.post("/v1/chat/completions", &chat_body("openai/invalid-x", "hi")).await.status(), 400);
    let snapshot = store.load(now_ms()).unwrap();
    let gpt = snapshot.usage.iter().find(|u| u.scope == "gpt-4o").expect("usage row for gpt-4o");
    assert_eq!(gpt.key.provider, "openai");
    assert_eq!(gpt.key.credential.len(), 12, "the stable id, never the key");
    assert_eq!((gpt.window.requests, gpt.window.successes), (3, 3));
    assert!(gpt.window.prompt_tokens > 0 && gpt.window.completion_tokens > 0, "{:?}", gpt.window);
    // gpt-4o is in the bundled price table: $2.50 in / $10 out per million tokens.
    let expected = (gpt.window.prompt_tokens as f64 * 2.5 + gpt.window.completion_tokens as f64 * 10.0) / 1e6;
    assert!((gpt.window.cost_usd - expected).abs() < 1e-9, "{} vs {expected}", gpt.window.cost_usd);
    let invalid = snapshot.usage.iter().find(|u| u.scope == "invalid-x").unwrap();
    assert_eq!((invalid.window.requests, invalid.window.failures), (1, 1), "client errors count as requests");
}

#[tokio::test]
async fn quota_stats_reports_live_state_and_reset_clears_cooldowns() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let vars = openai_vars(&base, &[("OPENAI_API_KEY_1", "rl-key-00000001")]);
    let gw = Gateway::start_with_store(&vars, Some(store)).await;
    assert_eq!(gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await.status(), 429);

    let stats: serde_json::Value = gw.get("/v1/quota-stats").await.json().await.unwrap();
    assert_eq!(stats["data_source"], "live");
    let credential = &stats["providers"]["openai"]["credentials"][0];
    assert_eq!(credential["status"], "cooldown");
    assert_eq!(credential["cooldowns"]["gpt-4o"]["reason"], "rate_limit");
    assert_eq!(credential["active_requests"], 0);
    assert!(!stats.to_string().contains("rl-key-00000001"));
    let unauthorized = gw.client().get(gw.url("/v1/quota-stats")).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);

    let reset: serde_json::Value = gw
        .post("/v1/quota-stats", &serde_json::json!({"action": "reset", "scope": "provider", "provider": "openai"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reset["refresh_result"]["credentials_refreshed"], 1);
    assert_eq!(reset["providers"]["openai"]["credentials"][0]["status"], "active");
    let calls = mock.chat_requests().len();
    gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert!(mock.chat_requests().len() > calls, "after a reset the key is tried again");

    for bad in [
        serde_json::json!({"action": "explode"}),
        serde_json::json!({"action": "reset", "scope": "provider"}),
        serde_json::json!({"action": "reset", "scope": "provider", "provider": "nosuch"}),
    ] {
        assert_eq!(gw.post("/v1/quota-stats", &bad).await.status(), 400, "{bad}");
    }
}
