//! `POST /v1/messages` (Anthropic Messages) over an OpenAI-compatible upstream, through the real
//! router: translation both ways, streams with exact event order, tools, errors in Anthropic's
//! shape, and offline `count_tokens`.

use serde_json::{Value, json};

use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::openai_mock::OpenAiMock;

fn messages_body(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 256, "system": "be brief", "messages": [{"role": "user", "content": text}]})
}

/// (event type, data) of an Anthropic SSE body.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let kind = frame.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or_default().to_string();
            let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
            (kind, serde_json::from_str(data).unwrap())
        })
        .collect()
}

async fn anthropic_gateway(mock: &OpenAiMock, keys: &[&str]) -> Gateway {
    Gateway::openai(&mock.base_url(), keys, &[]).await
}

#[tokio::test]
async fn a_text_answer_comes_back_as_a_message_and_the_upstream_gets_a_chat_request() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["sk-good"]).await;
    let response = gw.post("/v1/messages", &messages_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "openai/gpt-4o");
    assert_eq!(body["content"], json!([{"type": "text", "text": "Hello! You said: hi"}]));
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(body["usage"]["output_tokens"].as_u64().unwrap() > 0);

    let sent = &mock.chat_requests()[0].body;
    assert_eq!(sent["model"], "gpt-4o");
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(sent["messages"][1]["role"], "user");
}

#[tokio::test]
async fn a_tool_call_comes_back_as_tool_use_with_parsed_input_and_a_tool_result_round_trips() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["sk-good"]).await;
    let tools = json!([{"name": "get_weather", "description": "weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]);
    let mut request = messages_body("openai/tools", "weather in Paris?");
    request["tools"] = tools.clone();
    let body: Value = gw.post("/v1/messages", &request).await.json().await.unwrap();
    assert_eq!(body["stop_reason"], "tool_use");
    let tool_use = body["content"].as_array().unwrap().iter().find(|b| b["type"] == "tool_use").unwrap().clone();
    assert_eq!(tool_use["name"], "get_weather");
    assert_eq!(tool_use["input"], json!({"location": "Paris", "unit": "celsius"}));

    let follow_up = json!({
        "model": "openai/gpt-4o", "max_tokens": 256, "tools": tools,
        "messages": [
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [tool_use]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "18 C, sunny"}]}
        ]
    });
    let response = gw.post("/v1/messages", &follow_up).await;
    assert_eq!(response.status(), 200);
    let sent = &mock.chat_requests()[1].body;
    let tool_message = sent["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool_message["tool_call_id"], tool_use["id"]);
    assert_eq!(tool_message["content"], "18 C, sunny");
    let assistant = sent["messages"].as_array().unwrap().iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "get_weather");
}

#[tokio::test]
async fn a_stream_has_the_exact_event_order_with_real_input_tokens() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["sk-good"]).await;
    let mut request = messages_body("openai/gpt-4o", "stream this");
    request["stream"] = json!(true);
    let response = gw.post("/v1/messages", &request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
    let events = events(&response.text().await.unwrap());
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds[..3], ["message_start", "ping", "content_block_start"]);
    assert_eq!(kinds[kinds.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    assert!(kinds[3..kinds.len() - 3].iter().all(|k| *k == "content_block_delta"));
    for (kind, data) in &events {
        assert_eq!(data["type"], kind.as_str(), "data.type repeats the event type");
    }
    let start = &events[0].1["message"];
    assert!(start["usage"]["input_tokens"].as_u64().unwrap() > 0, "never 0 for a non-empty prompt");
    assert_eq!(start["model"], "openai/gpt-4o");
    let text: String = events.iter().filter_map(|(_, d)| d["delta"]["text"].as_str()).collect();
    assert_eq!(text, "Hello! You said: stream this");
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_streamed_tool_call_arrives_as_input_json_deltas_that_join_to_the_arguments() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["sk-good"]).await;
    let mut request = messages_body("openai/tools", "weather?");
    request["stream"] = json!(true);
    request["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object"}}]);
    let events = events(&gw.post("/v1/messages", &request).await.text().await.unwrap());
    let start =
        events.iter().find(|(k, d)| k == "content_block_start" && d["content_block"]["type"] == "tool_use").unwrap();
    assert_eq!(start.1["content_block"]["name"], "get_weather");
    assert_eq!(start.1["content_block"]["input"], json!({}));
    let index = start.1["index"].clone();
    let json: String = events
        .iter()
        .filter(|(_, d)| d["index"] == index && d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), json!({"location": "Paris", "unit": "celsius"}));
    let delta = events.iter().find(|(k, _)| k == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn stopping_for_length_is_max_tokens() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["sk-good"]).await;
    let body: Value = gw.post("/v1/messages", &messages_body("openai/length", "hi")).await.json().await.unwrap();
    assert_eq!(body["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn a08_failures_are_anthropic_errors_never_an_empty_message() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["err-key-1"]).await;
    for stream in [false, true] {
        let mut request = messages_body("openai/gpt-4o", "hi");
        request["stream"] = json!(stream);
        let response = gw.post("/v1/messages", &request).await;
        assert_eq!(response.status(), 502, "stream={stream}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "api_error");
        assert!(body["request_id"].as_str().unwrap().starts_with("req_"));
    }
}

#[tokio::test]
async fn client_mistakes_get_anthropic_shaped_400_401_404() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["sk-good"]).await;
    let unauthorized =
        gw.client().post(gw.url("/v1/messages")).json(&messages_body("openai/gpt-4o", "hi")).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(unauthorized.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
    let malformed = gw.post_raw("/v1/messages", "{nope").await;
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.json::<Value>().await.unwrap()["error"]["type"], "invalid_request_error");
    let unknown = gw.post("/v1/messages", &messages_body("nosuch/model", "hi")).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"]["type"], "not_found_error");
    let upstream_400 = gw.post("/v1/messages", &messages_body("openai/invalid-x", "hi")).await;
    assert_eq!(upstream_400.status(), 400);
    let body: Value = upstream_400.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("temperature"), "{body}");
    let route = gw.client().get(gw.url("/v1/messages/nope")).header("x-api-key", PROXY_KEY).send().await.unwrap();
    assert_eq!(route.status(), 404);
    assert_eq!(route.json::<Value>().await.unwrap()["type"], "error");
}

#[tokio::test]
async fn b02_server_tools_are_accepted_and_refused_clearly_for_providers_that_cannot_run_them() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["sk-good"]).await;
    let mut request = messages_body("openai/gpt-4o", "search the web");
    request["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    let response = gw.post("/v1/messages", &request).await;
    assert_eq!(response.status(), 400, "a clear 400, never a 422");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("web_search"), "{body}");
    assert!(mock.chat_requests().is_empty());
}

#[tokio::test]
async fn a02_open_mode_serves_messages_without_a_key_and_max_tokens_is_defaulted() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let gw = Gateway::start(&[("OPENAI_API_BASE", &base), ("OPENAI_API_KEY", "sk-good")]).await;
    let request = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let response = gw.client().post(gw.url("/v1/messages")).json(&request).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-adjustments"], "max_tokens_defaulted");
}

#[tokio::test]
async fn b08_count_tokens_is_local_and_counts_system_and_tools() {
    let mock = OpenAiMock::start().await;
    let gw = anthropic_gateway(&mock, &["sk-good"]).await;
    let base = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hello there"}]});
    let count = |body: Value| {
        let gw = &gw;
        async move {
            let response = gw.post("/v1/messages/count_tokens", &body).await;
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["x-llmkp-token-count-source"], "local");
            response.json::<Value>().await.unwrap()["input_tokens"].as_u64().unwrap()
        }
    };
    let plain = count(base.clone()).await;
    let mut with_system = base.clone();
    with_system["system"] = json!("word ".repeat(1000));
    let mut with_tools = base.clone();
    with_tools["tools"] = json!([{"name": "get_weather", "description": "Get the weather for a city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let system = count(with_system).await;
    let tools = count(with_tools).await;
    assert!(plain > 0);
    assert!(system >= plain + 900, "a 1000-word system prompt counts: {plain} → {system}");
    assert!(tools > plain, "tools count: {plain} → {tools}");
    for _ in 0..50 {
        count(base.clone()).await;
    }
    assert!(mock.requests().is_empty(), "counting never touches an upstream");
    let bad = gw.post("/v1/messages/count_tokens", &json!({"messages": []})).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["type"], "error");
}

/// A request shaped like Claude Code's: 22 tools with real JSON schemas, system blocks with
/// cache_control, thinking enabled, and tool_use / tool_result history.
fn claude_code_request() -> Value {
    serde_json::from_str(include_str!("fixtures/claude_code_request.json")).unwrap()
}

#[tokio::test]
async fn a_claude_code_request_round_trips_through_an_openai_compatible_upstream() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(
        &mock.base_url(),
        &["sk-good"],
        &[("MODEL_ALIASES", r#"{"claude-sonnet-4-5": "openai/gpt-4o"}"#)],
    )
    .await;
    let request = claude_code_request();
    let response = gw.post("/v1/messages", &request).await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap().0, "message_stop");

    let sent = &mock.chat_requests()[0].body;
    assert_eq!(sent["model"], "gpt-4o");
    // Every tool arrives with its schema intact.
    let tools = sent["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 22);
    for (sent_tool, original) in tools.iter().zip(request["tools"].as_array().unwrap()) {
        assert_eq!(sent_tool["type"], "function");
        assert_eq!(sent_tool["function"]["name"], original["name"]);
        assert_eq!(sent_tool["function"]["parameters"], original["input_schema"]);
    }
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let system = serde_json::to_string(&messages[0]["content"]).unwrap();
    assert!(system.contains("Claude Code") && system.contains("Working directory"), "{system}");
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "tool", "assistant", "tool", "user"]);
    let first_call = &messages[2]["tool_calls"][0];
    assert_eq!(first_call["id"], "toolu_01A09q90qw90lq917835lq9");
    let arguments: Value = serde_json::from_str(first_call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["options"]["pattern"], "load_config");
    assert_eq!(messages[3]["tool_call_id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(messages[6]["content"], "Error: permission denied");
    assert_eq!(sent["reasoning_effort"], "medium", "a 10000-token thinking budget");
    assert_eq!(sent["stream"], true);
}
