//! Stored Responses answers live in the shared store: one instance keeps a response, another
//! continues the conversation from it and reads it back.

use serde_json::{Value, json};

use super::{prefix, redis_url, serve, vars};
use crate::support::gateway::PROXY_KEY;
use crate::support::openai_mock::OpenAiMock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_kept_by_one_instance_continues_on_another() {
    let Some(url) = redis_url() else { return };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let prefix = prefix("responses");
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "sk-resp-key-0001"),
        ("LLMKP_STATE_URL", &url),
        ("LLMKP_STATE_PREFIX", &prefix),
    ]);
    let (a, _home_a) = serve(&env).await;
    let (b, _home_b) = serve(&env).await;
    let client = reqwest::Client::new();
    let created: Value = client
        .post(a.url("/v1/responses"))
        .bearer_auth(PROXY_KEY)
        .json(&json!({"model": "openai/gpt-4o", "input": "remember me"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("a response id");

    // Kept before A answered: B reads it at once.
    let response = client.get(b.url(&format!("/v1/responses/{id}"))).bearer_auth(PROXY_KEY).send().await.unwrap();
    assert_eq!(response.status(), 200, "instance B reads the response A kept");
    assert_eq!(response.json::<Value>().await.unwrap()["output"], created["output"]);

    let follow_up = json!({"model": "openai/gpt-4o", "input": "and now?", "previous_response_id": id});
    let response = client.post(b.url("/v1/responses")).bearer_auth(PROXY_KEY).json(&follow_up).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let requests = mock.requests();
    let history = requests.last().unwrap().body["messages"].to_string();
    assert!(history.contains("remember me") && history.contains("and now?"), "{history}");
}
