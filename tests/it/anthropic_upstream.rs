//! `anthropic/…` models through the real router: Messages clients are passed through to the
//! Anthropic mock (body, headers and events unchanged apart from `model`), OpenAI clients are
//! translated both ways, and upstream failures rotate keys or come back in the client's shape.

use serde_json::{Value, json};

use crate::support::anthropic_mock::{AnthropicMock, THINKING_SIGNATURE};
use crate::support::gateway::{Gateway, PROXY_KEY, chat_body, chunks, error_of};

async fn gateway(mock: &AnthropicMock, keys: &[&str], extra: &[(&str, &str)]) -> Gateway {
    Gateway::provider("ANTHROPIC", &mock.base_url(), keys, extra).await
}

fn messages_body(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": text}]})
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

async fn post_messages(gw: &Gateway, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = gw.client().post(gw.url("/v1/messages")).header("x-api-key", PROXY_KEY).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn c19_a_messages_request_reaches_anthropic_unchanged_apart_from_model_with_its_headers() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let mut body = messages_body("anthropic/claude-sonnet-4-5", "hi");
    body["metadata"] = json!({"user_id": "u-1"});
    body["vendor_extension"] = json!({"kept": [1, 2]});
    body["system"] = json!([{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]);
    let headers = [("anthropic-version", "2023-01-01"), ("anthropic-beta", "prompt-caching-2024-07-31")];
    let response = post_messages(&gw, &body, &headers).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-provider"], "anthropic");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["content"][0]["text"], "Hello from mock: hi");
    assert_eq!(answer["model"], "anthropic/claude-sonnet-4-5");
    assert!(answer["id"].as_str().unwrap().starts_with("msg_"));

    let sent = &mock.messages_requests()[0];
    let mut expected = body.clone();
    expected["model"] = json!("claude-sonnet-4-5");
    assert_eq!(sent.body, expected);
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-good"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-01-01"));
    assert_eq!(sent.header("anthropic-beta"), Some("prompt-caching-2024-07-31"));
    assert_eq!(sent.header("authorization"), None, "the proxy key never travels upstream");

    // A client that names no version gets the default one.
    post_messages(&gw, &messages_body("anthropic/claude-sonnet-4-5", "again"), &[]).await;
    assert_eq!(mock.messages_requests()[1].header("anthropic-version"), Some("2023-06-01"));
}

#[tokio::test]
async fn a_passthrough_stream_is_the_upstream_stream_with_the_requested_model() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let mut body = messages_body("anthropic/thinking-1", "think");
    body["stream"] = json!(true);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let response = post_messages(&gw, &body, &[]).await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.last(), Some(&"message_stop"));
    assert_eq!(events[0].1["message"]["model"], "anthropic/thinking-1");
    assert!(events[0].1["message"]["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let signature = events.iter().find(|(_, d)| d["delta"]["type"] == "signature_delta").unwrap();
    assert_eq!(signature.1["delta"]["signature"], THINKING_SIGNATURE);
    let text: String = events.iter().filter_map(|(_, d)| d["delta"]["text"].as_str()).collect();
    assert_eq!(text, "Hello from mock: think");
    assert_eq!(mock.messages_requests()[0].body["stream"], true);
}

/// Claude Code's request shape (22 tools, cached system blocks, thinking, tool history).
fn claude_code_request() -> Value {
    serde_json::from_str(include_str!("fixtures/claude_code_request.json")).unwrap()
}

#[tokio::test]
async fn a_claude_code_request_round_trips_through_the_anthropic_upstream_unchanged() {
    let mock = AnthropicMock::start().await;
    let gw =
        gateway(&mock, &["sk-ant-good"], &[("MODEL_ALIASES", r#"{"claude-sonnet-4-5": "anthropic/tools-cc"}"#)]).await;
    let request = claude_code_request();
    let response = post_messages(&gw, &request, &[("anthropic-beta", "interleaved-thinking-2025-05-14")]).await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap().0, "message_stop");
    assert_eq!(events[0].1["message"]["model"], "anthropic/tools-cc", "the provider/model that served the alias");
    let tool_start = events.iter().find(|(_, d)| d["content_block"]["type"] == "tool_use").unwrap();
    assert_eq!(tool_start.1["content_block"]["name"], request["tools"][0]["name"]);
    let stop = events.iter().find(|(k, _)| k == "message_delta").unwrap();
    assert_eq!(stop.1["delta"]["stop_reason"], "tool_use");

    let sent = &mock.messages_requests()[0];
    let mut expected = request.clone();
    expected["model"] = json!("tools-cc");
    assert_eq!(sent.body, expected, "tools, cache_control, thinking and history arrive as sent");
    assert_eq!(sent.header("anthropic-beta"), Some("interleaved-thinking-2025-05-14"));
}

#[tokio::test]
async fn server_tools_pass_through_to_anthropic() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let mut body = messages_body("anthropic/claude-sonnet-4-5", "search");
    body["tools"] = json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]);
    let response = post_messages(&gw, &body, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.messages_requests()[0].body["tools"], body["tools"]);
}

#[tokio::test]
async fn a_missing_max_tokens_is_filled_for_anthropic_and_reported() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let body = json!({"model": "anthropic/claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]});
    let response = post_messages(&gw, &body, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-adjustments"], "max_tokens_defaulted");
    // The model's own output limit from the catalog (http-api §5.5)...
    assert_eq!(mock.messages_requests()[0].body["max_tokens"], 64000);
    // ...and 8192 for a model the catalog does not know.
    let body = json!({"model": "anthropic/claude-next-preview", "messages": [{"role": "user", "content": "hi"}]});
    let response = post_messages(&gw, &body, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.messages_requests()[1].body["max_tokens"], 8192);
    // A limit over the model's is lowered to it and reported.
    let body = json!({"model": "anthropic/claude-3-5-haiku", "max_tokens": 32000,
        "messages": [{"role": "user", "content": "hi"}]});
    let response = post_messages(&gw, &body, &[]).await;
    assert_eq!(response.headers()["x-llmkp-adjustments"], "max_tokens_lowered_to_8192");
    assert_eq!(mock.messages_requests()[2].body["max_tokens"], 8192);
}

#[tokio::test]
async fn rate_limited_and_failing_keys_rotate_to_a_good_one() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(
        &mock,
        &["rl-ant-1", "streamerr-ant-2", "sk-ant-good"],
        &[("ROTATION_MODE_ANTHROPIC", "sequential"), ("MAX_ATTEMPTS_PER_CREDENTIAL", "1")],
    )
    .await;
    let mut body = messages_body("anthropic/claude-sonnet-4-5", "hi");
    body["stream"] = json!(true);
    let response = post_messages(&gw, &body, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-attempts"], "3");
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap().0, "message_stop");
    assert!(events.iter().all(|(k, _)| k != "error"), "a failure before commit is not shown: {events:?}");
    assert_eq!(mock.keys_used(), ["rl-ant-1", "streamerr-ant-2", "sk-ant-good"]);
}

#[tokio::test]
async fn upstream_errors_come_back_in_the_clients_shape_with_the_right_status() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["rl-ant-1"], &[]).await;
    let response = post_messages(&gw, &messages_body("anthropic/claude-sonnet-4-5", "hi"), &[]).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let error: Value = response.json().await.unwrap();
    assert_eq!((error["type"].as_str(), error["error"]["type"].as_str()), (Some("error"), Some("rate_limit_error")));

    // A key the upstream rejects is the operator's problem, not the client's: 502 (resilience §2.1).
    let gw = gateway(&mock, &["bad-ant-1"], &[]).await;
    let response = post_messages(&gw, &messages_body("anthropic/claude-sonnet-4-5", "hi"), &[]).await;
    assert_eq!(response.status(), 502);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "api_error");
    assert!(error["error"]["message"].as_str().unwrap().contains("invalid x-api-key"), "{error}");

    // A request the upstream refuses fails fast, with the upstream's status and message.
    let gw = gateway(&mock, &["sk-ant-good", "sk-ant-other"], &[]).await;
    let before = mock.messages_requests().len();
    let response = post_messages(&gw, &messages_body("anthropic/notfound-model", "hi"), &[]).await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "not_found_error");
    assert_eq!(mock.messages_requests().len(), before + 1, "no other key is tried for the client's mistake");

    // The same failures reach OpenAI clients in OpenAI's shape.
    let gw = gateway(&mock, &["rl-ant-1"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("anthropic/claude-sonnet-4-5", "hi")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(error_of(response).await["type"], "rate_limit_error");
}

#[tokio::test]
async fn a_stream_cut_after_commit_ends_with_an_error_event_and_no_message_stop() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["cut-ant-1"], &[]).await;
    let mut body = messages_body("anthropic/claude-sonnet-4-5", "one two three");
    body["stream"] = json!(true);
    let response = post_messages(&gw, &body, &[]).await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap().0, "error");
    assert!(events.iter().all(|(k, _)| k != "message_stop"));

    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "anthropic/claude-sonnet-4-5", "stream": true,
        "messages": [{"role": "user", "content": "one two three"}]}),
        )
        .await;
    let text = response.text().await.unwrap();
    assert!(text.contains(r#""error""#) && text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(!text.contains("finish_reason\":\"stop"), "{text}");
}

#[tokio::test]
async fn an_openai_client_gets_a_completion_from_anthropic() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let mut body = chat_body("anthropic/claude-sonnet-4-5", "hi");
    body["messages"] = json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]);
    body["max_completion_tokens"] = json!(100);
    body["temperature"] = json!(0.5);
    body["seed"] = json!(7);
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-dropped-params"], "seed");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "anthropic/claude-sonnet-4-5");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from mock: hi");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(answer["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let sent = &mock.messages_requests()[0].body;
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert!(sent["system"].to_string().contains("be brief"), "{}", sent["system"]);
    assert_eq!(sent["max_tokens"], 100);
    assert_eq!(sent["temperature"], 0.5);
    assert_eq!(sent["messages"].as_array().unwrap().len(), 1);
    assert_eq!(sent["messages"][0]["role"], "user");
    assert!(sent["messages"][0]["content"].to_string().contains("hi"));
    // A non-stream client is served from an upstream stream, folded (GLOBAL_TIMEOUT never cuts it).
    assert_eq!(sent["stream"], true);
}

const WEATHER_TOOL: &str = r#"[{"type": "function", "function": {"name": "get_weather", "description": "weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]"#;

#[tokio::test]
async fn an_openai_client_gets_tool_calls_from_anthropic_and_sends_the_results_back() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let tools: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
    let mut body = chat_body("anthropic/tools-1", "weather in Paris?");
    body["tools"] = tools.clone();
    body["tool_choice"] = json!("required");
    let answer: Value = gw.post("/v1/chat/completions", &body).await.json().await.unwrap();
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_mock_1");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"location": "Paris"}));
    let sent = &mock.messages_requests()[0].body;
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    assert_eq!(sent["tools"][0]["input_schema"], tools[0]["function"]["parameters"]);
    assert_eq!(sent["tool_choice"]["type"], "any");

    // The second turn carries the call and its result; Anthropic gets tool_use / tool_result.
    let history = json!([
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "toolu_mock_1", "content": "sunny, 21C"},
    ]);
    let body = json!({"model": "anthropic/claude-sonnet-4-5", "messages": history, "tools": tools});
    let answer: Value = gw.post("/v1/chat/completions", &body).await.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from mock: sunny, 21C");
    let sent = &mock.messages_requests()[1].body;
    assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(sent["messages"][1]["content"][0]["input"], json!({"location": "Paris"}));
    assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(sent["messages"][2]["content"][0]["tool_use_id"], "toolu_mock_1");
}

#[tokio::test]
async fn an_openai_client_streams_text_reasoning_and_tool_calls_from_anthropic() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let body = json!({"model": "anthropic/thinking-1", "stream": true, "reasoning_effort": "low",
        "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "ponder"}]});
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let streamed = chunks(&response.text().await.unwrap());
    let field = |key: &str| -> String {
        streamed.iter().filter_map(|c| c["choices"][0]["delta"][key].as_str()).collect::<String>()
    };
    assert_eq!(field("content"), "Hello from mock: ponder");
    assert!(!field("reasoning_content").is_empty());
    let finishes: Vec<&Value> =
        streamed.iter().filter_map(|c| c["choices"][0].get("finish_reason")).filter(|f| !f.is_null()).collect();
    assert_eq!(finishes, [&json!("stop")]);
    let usage = &streamed.last().unwrap()["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0 && usage["completion_tokens"].as_u64().unwrap() > 0);
    assert!(streamed.iter().all(|c| c["model"] == "anthropic/thinking-1"));
    assert_eq!(mock.messages_requests()[0].body["thinking"]["type"], "enabled");

    let mut body = chat_body("anthropic/tools-parallel-1", "two calls");
    body["stream"] = json!(true);
    body["tools"] = serde_json::from_str(WEATHER_TOOL).unwrap();
    let chunks = chunks(&gw.post("/v1/chat/completions", &body).await.text().await.unwrap());
    let mut arguments = [String::new(), String::new()];
    for chunk in &chunks {
        for call in chunk["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap() as usize;
            arguments[index].push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    for text in &arguments {
        assert_eq!(serde_json::from_str::<Value>(text).unwrap(), json!({"location": "Paris"}));
    }
    let last_finish = chunks.iter().rev().find_map(|c| c["choices"][0]["finish_reason"].as_str());
    assert_eq!(last_finish, Some("tool_calls"));
}

#[tokio::test]
async fn anthropic_models_are_listed_in_both_list_shapes() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let list: Value = gw.get("/v1/models").await.json().await.unwrap();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().filter_map(|m| m["id"].as_str()).collect();
    assert!(ids.contains(&"anthropic/claude-sonnet-4-5-20250929"), "{ids:?}");
    let listing = mock.requests().into_iter().find(|r| r.path == "/v1/models").unwrap();
    assert_eq!(listing.header("x-api-key"), Some("sk-ant-good"));
    assert_eq!(listing.header("anthropic-version"), Some("2023-06-01"));

    // Anthropic clients get Anthropic's list shape.
    let response = gw.client().get(gw.url("/v1/models")).header("x-api-key", PROXY_KEY);
    let list: Value = response.header("anthropic-version", "2023-06-01").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["has_more"], false);
    let card = list["data"].as_array().unwrap().iter().find(|m| m["id"] == "anthropic/claude-sonnet-4-5-20250929");
    let card = card.unwrap();
    assert_eq!(card["type"], "model");
    assert!(card["created_at"].as_str().unwrap().ends_with('Z'), "{card}");
    assert_eq!(list["first_id"], list["data"][0]["id"]);
}

#[tokio::test]
async fn count_tokens_asks_anthropic_and_falls_back_to_the_local_estimate() {
    let mock = AnthropicMock::start().await;
    let mut body = messages_body("anthropic/claude-sonnet-4-5", "how many tokens is this?");
    body["system"] = json!("be brief");
    body["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let count = |gw: &Gateway| {
        let request = gw.client().post(gw.url("/v1/messages/count_tokens")).header("x-api-key", PROXY_KEY);
        request.header("anthropic-beta", "token-counting-2024-11-01").json(&body).send()
    };

    let gw = gateway(&mock, &["sk-ant-good"], &[]).await;
    let response = count(&gw).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-token-count-source"], "upstream");
    let counted: Value = response.json().await.unwrap();
    let asked = mock.requests().into_iter().find(|r| r.path == "/v1/messages/count_tokens").unwrap();
    let mut expected = body.clone();
    expected["model"] = json!("claude-sonnet-4-5");
    expected.as_object_mut().unwrap().remove("max_tokens");
    assert_eq!(asked.body, expected, "only the fields the endpoint takes");
    assert_eq!(asked.header("anthropic-beta"), Some("token-counting-2024-11-01"));
    let direct: Value = reqwest::Client::new()
        .post(format!("{}/v1/messages/count_tokens", mock.base_url()))
        .header("x-api-key", "sk-ant-good")
        .header("anthropic-version", "2023-06-01")
        .json(&asked.body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counted["input_tokens"], direct["input_tokens"]);

    // A refused key, or local mode: the offline estimate, and no request counted as usage.
    let gw = gateway(&mock, &["bad-ant-1"], &[]).await;
    let response = count(&gw).await.unwrap();
    assert_eq!(response.headers()["x-llmkp-token-count-source"], "local");
    let before = mock.requests().len();
    let gw = gateway(&mock, &["sk-ant-good"], &[("COUNT_TOKENS_MODE", "local")]).await;
    let response = count(&gw).await.unwrap();
    assert_eq!(response.headers()["x-llmkp-token-count-source"], "local");
    assert!(response.json::<Value>().await.unwrap()["input_tokens"].as_u64().unwrap() > 10);
    assert_eq!(mock.requests().len(), before);
}

#[tokio::test]
async fn a_long_non_stream_answer_from_anthropic_is_not_cut_by_the_deadline() {
    let mock = AnthropicMock::start().await;
    let gw = gateway(&mock, &["sk-ant-good"], &[("GLOBAL_TIMEOUT", "1")]).await;
    // The mock's `slow…` model waits 300 ms between events: about 2.5 s for this answer.
    let started = std::time::Instant::now();
    let response = gw.post("/v1/chat/completions", &chat_body("anthropic/slow-1", "one two three four five")).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() > std::time::Duration::from_secs(1), "longer than GLOBAL_TIMEOUT");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from mock: one two three four five");
}
