//! `GET /v1/models` and `/v1/models/{id}`: live lists per provider, prefixed, cached, refreshed.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::gateway::{Gateway, PROXY_KEY, error_of};
use crate::support::openai_mock::OpenAiMock;

async fn ids(gw: &Gateway, path: &str) -> Vec<String> {
    let body: Value = gw.get(path).await.json().await.unwrap();
    assert_eq!(body["object"], "list");
    body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn b03_three_custom_providers_each_list_their_own_models() {
    let a = OpenAiMock::start_with_models(&["llama-3", "shared"]).await;
    let b = OpenAiMock::start_with_models(&["qwen-2", "shared"]).await;
    let c = OpenAiMock::start_with_models(&["mixtral"]).await;
    let (base_a, base_b, base_c) = (a.base_url(), b.base_url(), c.base_url());
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("MOCK_API_BASE", &base_a),
        ("MOCK_API_KEY", "key-a"),
        ("MOCKR_API_BASE", &base_b),
        ("MOCKR_API_KEY_1", "key-b"),
        ("LOCALVLLM_API_BASE", &base_c),
        ("LOCALVLLM_API_KEY_1", "key-c"),
    ])
    .await;
    let ids = ids(&gw, "/v1/models").await;
    let expected = ["localvllm/mixtral", "mock/llama-3", "mock/shared", "mockr/qwen-2", "mockr/shared"];
    assert_eq!(ids.iter().map(String::as_str).collect::<BTreeSet<_>>(), expected.into_iter().collect());
    assert_eq!(ids.len(), expected.len(), "each id once: {ids:?}");
    assert_eq!(a.requests()[0].bearer(), Some("key-a"));
    assert_eq!(b.requests()[0].bearer(), Some("key-b"));

    // Each custom provider routes to its own upstream with its own key.
    let response = gw.post("/v1/chat/completions", &crate::support::gateway::chat_body("mockr/qwen-2", "hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(b.keys_used(), ["key-b"]);
    assert!(a.chat_requests().is_empty() && c.chat_requests().is_empty());
}

#[tokio::test]
async fn cards_have_the_openai_shape_and_one_model_can_be_fetched_by_an_id_with_slashes() {
    let mock = OpenAiMock::start_with_models(&["gpt-4o", "org/fine-tune"]).await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let body: Value = gw.get("/v1/models").await.json().await.unwrap();
    let card = &body["data"][0];
    assert_eq!(card["id"], "openai/gpt-4o");
    assert_eq!(card["object"], "model");
    assert_eq!(card["owned_by"], "openai");
    assert_eq!(card["created"], 1_715_367_049);

    let one: Value = gw.get("/v1/models/openai/org/fine-tune").await.json().await.unwrap();
    assert_eq!(one["id"], "openai/org/fine-tune");
    let missing = gw.get("/v1/models/openai/nope").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(error_of(missing).await["code"], "model_not_found");
}

#[tokio::test]
async fn b04_lists_are_cached_until_the_ttl_or_an_explicit_refresh() {
    let mock = OpenAiMock::start_with_models(&["old-model"]).await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    assert_eq!(ids(&gw, "/v1/models").await, ["openai/old-model"]);
    mock.set_models(&["new-model"]);
    assert_eq!(ids(&gw, "/v1/models").await, ["openai/old-model"], "served from the cache");
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(ids(&gw, "/v1/models?refresh=true").await, ["openai/new-model"]);

    let short = Gateway::openai(&mock.base_url(), &["sk-good"], &[("MODELS_CACHE_TTL", "0")]).await;
    assert_eq!(ids(&short, "/v1/models").await, ["openai/new-model"]);
    mock.set_models(&["newer-model"]);
    assert_eq!(ids(&short, "/v1/models").await, ["openai/newer-model"]);
}

#[tokio::test]
async fn listing_uses_the_first_key_that_works_and_keeps_the_old_list_on_failure() {
    let mock = OpenAiMock::start_with_models(&["gpt-4o"]).await;
    let gw = Gateway::openai(&mock.base_url(), &["bad-key-1", "sk-good-2"], &[]).await;
    assert_eq!(ids(&gw, "/v1/models").await, ["openai/gpt-4o"]);
    let keys: Vec<_> = mock.requests().iter().map(|r| r.bearer().unwrap().to_string()).collect();
    assert_eq!(keys, ["bad-key-1", "sk-good-2"]);

    let only_bad = Gateway::openai(&mock.base_url(), &["bad-key-1"], &[]).await;
    assert!(ids(&only_bad, "/v1/models").await.is_empty());

    mock.fail_model_listing(true);
    assert_eq!(ids(&gw, "/v1/models?refresh=true").await, ["openai/gpt-4o"], "a failed refresh keeps the old list");
    mock.fail_model_listing(false);
    mock.set_models(&["gpt-5"]);
    assert_eq!(ids(&gw, "/v1/models?refresh=true").await, ["openai/gpt-5"]);
}
