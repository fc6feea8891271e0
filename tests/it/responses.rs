//! `POST /v1/responses` over a Chat upstream through the gateway's HTTP surface: what Codex
//! sends on every request (built-in tools, namespace groups) is bridged and named, errors come in
//! OpenAI's shape before the first byte and as `response.failed` after it, and stored responses
//! belong to the proxy key that created them.

use std::sync::Arc;

use futures::StreamExt as _;
use llmkp::store::memory::MemoryStore;
use llmkp::store::responses::StoredResponse;
use llmkp::store::{StateChange, StateSnapshot, StateStore, StoreError};
use serde_json::{Value, json};

use crate::support::anthropic_mock::{AnthropicMock, THINKING_SIGNATURE};
use crate::support::gateway::{Gateway, PROXY_KEY, error_of};
use crate::support::openai_mock::OpenAiMock;

/// A Codex-like body: a developer message, the user's turn, a function, a namespace group and
/// the built-in web search.
fn codex_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "instructions": "You are a coding agent.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be careful."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi there"}]},
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "agents",
             "tools": [{"type": "function", "name": "close_agent", "parameters": {"type": "object", "properties": {}}}]},
            {"type": "custom", "name": "apply_patch", "description": "Patch files.",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: patch"}},
            {"type": "web_search", "external_web_access": true},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": {"summary": "auto"},
        "store": false,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "thread-1",
    })
}

fn events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|frame| frame.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|data| serde_json::from_str(data).expect("JSON event"))
        .collect()
}

#[tokio::test]
async fn codex_tools_are_bridged_to_chat_and_the_left_out_ones_are_named() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-a"], &[]).await;
    let response = gw.post("/v1/responses", &codex_body("openai/gpt-4o", false)).await;
    assert_eq!(response.status(), 200);
    let dropped = response.headers()["x-llmkp-dropped-params"].to_str().unwrap().to_string();
    assert!(dropped.contains("tools.web_search") && dropped.contains("include"), "{dropped}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["output"][0]["content"][0]["text"], "Hello! You said: hi there");
    assert_eq!(body["status"], "completed");

    let sent = &mock.requests()[0].body;
    let names: Vec<&str> =
        sent["tools"].as_array().unwrap().iter().filter_map(|t| t["function"]["name"].as_str()).collect();
    assert_eq!(names, ["exec_command", "multi_agent_v1__close_agent", "apply_patch"]);
    let patch = &sent["tools"][2]["function"];
    assert!(patch["description"].as_str().unwrap().contains("start: patch"), "{patch}");
    assert_eq!(patch["parameters"]["required"], json!(["input"]));
    // Instructions and the leading developer message are the system prompt.
    assert_eq!(sent["messages"][0]["role"], "system");
    assert!(sent["messages"][0]["content"].to_string().contains("You are a coding agent."));
    assert_eq!(sent["messages"].as_array().unwrap().last().unwrap()["role"], "user");
}

#[tokio::test]
async fn a_stream_is_the_full_event_sequence_and_a_failure_after_the_first_byte_is_response_failed() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-a"], &[]).await;
    let response = gw.post("/v1/responses", &codex_body("openai/gpt-4o", true)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    assert!(!text.contains("[DONE]"));
    let sequence = events(&text);
    assert_eq!(sequence[0]["type"], "response.created");
    let last = sequence.last().unwrap();
    assert_eq!(last["type"], "response.completed");
    assert_eq!(last["response"]["id"], sequence[0]["response"]["id"]);
    assert!(last["response"]["usage"]["total_tokens"].as_u64().unwrap() > 0);
    for (n, event) in sequence.iter().enumerate() {
        assert_eq!(event["sequence_number"], n as u64, "{text}");
    }

    // The upstream connection breaks after the first content: the client hears response.failed.
    let response = gw.post("/v1/responses", &codex_body("openai/reset-gpt", true)).await;
    assert_eq!(response.status(), 200);
    let failed = events(&response.text().await.unwrap());
    let last = failed.last().unwrap();
    assert_eq!(last["type"], "response.failed", "{failed:?}");
    assert_eq!(last["response"]["status"], "failed");
    assert_eq!(last["response"]["error"]["code"], "server_error");
}

#[tokio::test]
async fn errors_before_the_first_byte_are_openai_shaped() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["rl-a"], &[]).await;
    let response = gw.post("/v1/responses", &json!({"model": "openai/gpt-4o"})).await;
    assert_eq!(response.status(), 400);
    let error = error_of(response).await;
    assert_eq!(error["param"], "input");

    let response = gw.post("/v1/responses", &codex_body("openai/gpt-4o", true)).await;
    assert_eq!(response.status(), 429);
    assert!(error_of(response).await["message"].is_string());

    // Reasoning content this proxy sealed is checked when it comes back.
    let damaged = json!({"model": "openai/gpt-4o", "input": [
        {"type": "reasoning", "summary": [], "encrypted_content": "llmkp:r1:gemini:U0lH:00000000"},
        {"role": "user", "content": "hi"}]});
    let response = gw.post("/v1/responses", &damaged).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_of(response).await["param"], "input[0].encrypted_content");
}

#[tokio::test]
async fn stored_responses_belong_to_the_key_that_created_them() {
    let mock = OpenAiMock::start().await;
    let other_key = "test-proxy-key-0002";
    let keys = format!("{PROXY_KEY},{other_key}");
    let gw = Gateway::openai(&mock.base_url(), &["sk-a"], &[("PROXY_API_KEYS", &keys)]).await;
    let created: Value = gw
        .post("/v1/responses", &json!({"model": "openai/gpt-4o", "input": "remember me"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let mine = gw.get(&format!("/v1/responses/{id}")).await;
    assert_eq!(mine.status(), 200);
    assert_eq!(mine.json::<Value>().await.unwrap()["output"], created["output"]);

    let theirs = gw.client().get(gw.url(&format!("/v1/responses/{id}"))).bearer_auth(other_key).send().await.unwrap();
    assert_eq!(theirs.status(), 404);
    assert_eq!(error_of(theirs).await["code"], "response_not_found");
    let follow_up = json!({"model": "openai/gpt-4o", "input": "and now?", "previous_response_id": id});
    let theirs =
        gw.client().post(gw.url("/v1/responses")).bearer_auth(other_key).json(&follow_up).send().await.unwrap();
    assert_eq!(theirs.status(), 404);
    assert_eq!(error_of(theirs).await["code"], "previous_response_not_found");

    // The follow-up of the owner carries the stored conversation upstream.
    let response = gw.post("/v1/responses", &follow_up).await;
    assert_eq!(response.status(), 200);
    let requests = mock.requests();
    let sent = &requests.last().unwrap().body;
    let texts: Vec<String> = sent["messages"].as_array().unwrap().iter().map(|m| m["content"].to_string()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].contains("remember me") && texts[1].contains("Hello! You said") && texts[2].contains("and now?"));

    // `store: false` keeps nothing; DELETE removes.
    let unstored: Value = gw
        .post("/v1/responses", &json!({"model": "openai/gpt-4o", "input": "x", "store": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(gw.get(&format!("/v1/responses/{}", unstored["id"].as_str().unwrap())).await.status(), 404);
    let deleted =
        gw.client().delete(gw.url(&format!("/v1/responses/{id}"))).bearer_auth(PROXY_KEY).send().await.unwrap();
    assert_eq!(deleted.json::<Value>().await.unwrap()["deleted"], true);
    assert_eq!(gw.get(&format!("/v1/responses/{id}")).await.status(), 404);
}

/// A store whose writes of responses take a while (a busy disk, a distant Redis).
struct SlowStore(MemoryStore);

impl StateStore for SlowStore {
    fn load(&self, now_ms: i64) -> Result<StateSnapshot, StoreError> {
        self.0.load(now_ms)
    }
    fn record(&self, changes: Vec<StateChange>) {
        self.0.record(changes);
    }
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn put_response(&self, response: StoredResponse, max: usize) -> Result<(), StoreError> {
        std::thread::sleep(std::time::Duration::from_millis(300));
        self.0.put_response(response, max)
    }
    fn get_response(&self, id: &str, now_ms: i64) -> Result<Option<StoredResponse>, StoreError> {
        self.0.get_response(id, now_ms)
    }
    fn delete_response(&self, id: &str) -> Result<bool, StoreError> {
        self.0.delete_response(id)
    }
}

async fn slow_store_gateway(mock: &OpenAiMock) -> Gateway {
    let base = mock.base_url();
    let vars = [("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY_1", "sk-a"), ("PROXY_API_KEY", PROXY_KEY)];
    Gateway::start_with_store(&vars, Some(Arc::new(SlowStore(MemoryStore::new())))).await
}

#[tokio::test]
async fn a_response_can_be_read_back_the_moment_its_answer_arrives() {
    let mock = OpenAiMock::start().await;
    let gw = slow_store_gateway(&mock).await;
    let created: Value =
        gw.post("/v1/responses", &json!({"model": "openai/gpt-4o", "input": "keep me"})).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let read = gw.get(&format!("/v1/responses/{id}")).await;
    assert_eq!(read.status(), 200, "stored before the answer was written");
    let follow_up = json!({"model": "openai/gpt-4o", "input": "and now?", "previous_response_id": id});
    assert_eq!(gw.post("/v1/responses", &follow_up).await.status(), 200);
}

#[tokio::test]
async fn a_stream_is_stored_before_its_completed_event_reaches_the_client() {
    let mock = OpenAiMock::start().await;
    let gw = slow_store_gateway(&mock).await;
    let response =
        gw.post("/v1/responses", &json!({"model": "openai/gpt-4o", "input": "streamed", "stream": true})).await;
    // Read only up to `response.completed`, then ask for it at once.
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while !text.contains("event: response.completed") || !text.ends_with("\n\n") {
        let chunk = body.next().await.expect("the stream reaches response.completed").unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let id = events(&text).last().unwrap()["response"]["id"].as_str().unwrap().to_string();
    assert_eq!(gw.get(&format!("/v1/responses/{id}")).await.status(), 200);
    let items: Value = gw.get(&format!("/v1/responses/{id}/input_items")).await.json().await.unwrap();
    assert_eq!(items["data"][0]["content"][0]["text"], "streamed");
}

#[tokio::test]
async fn compaction_is_refused_clearly_for_a_model_without_a_responses_upstream() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-a"], &[]).await;
    let response = gw.post("/v1/responses/compact", &json!({"model": "openai/gpt-4o", "input": []})).await;
    assert_eq!(response.status(), 400);
    let error = error_of(response).await;
    assert!(error["message"].as_str().unwrap().contains("Responses upstream"), "{error}");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn an_anthropic_thinking_signature_travels_in_encrypted_content_and_comes_back() {
    let mock = AnthropicMock::start().await;
    let gw = Gateway::provider("ANTHROPIC", &mock.base_url(), &["sk-ant-a"], &[]).await;
    let first = json!({"model": "anthropic/thinking-claude", "input": "hi", "stream": true, "store": false,
        "max_output_tokens": 2000});
    let sequence = events(&gw.post("/v1/responses", &first).await.text().await.unwrap());
    let done = sequence.last().unwrap();
    assert_eq!(done["type"], "response.completed");
    let output = done["response"]["output"].as_array().unwrap().clone();
    assert_eq!(output[0]["type"], "reasoning");
    assert!(output[0]["summary"][0]["text"].as_str().unwrap().contains("I should greet them back"));
    let sealed = output[0]["encrypted_content"].as_str().unwrap();
    assert!(sealed.starts_with("llmkp:r1:anthropic:") && !sealed.contains(THINKING_SIGNATURE));

    // Codex resends the whole history with `store: false`.
    let mut input = vec![json!({"type": "message", "role": "user", "content": "hi"})];
    input.extend(output);
    input.push(json!({"type": "message", "role": "user", "content": "again"}));
    let second =
        json!({"model": "anthropic/thinking-claude", "input": input, "store": false, "max_output_tokens": 2000});
    let response = gw.post("/v1/responses", &second).await;
    assert_eq!(response.status(), 200);
    let requests = mock.requests();
    let replayed = &requests.last().unwrap().body["messages"][1];
    assert_eq!(replayed["role"], "assistant");
    assert_eq!(replayed["content"][0]["type"], "thinking");
    assert_eq!(replayed["content"][0]["signature"], THINKING_SIGNATURE);
}
