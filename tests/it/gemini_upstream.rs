//! `gemini/…` models through the real router against the Gemini mock: OpenAI and Anthropic
//! clients translated both ways (text, streams, tool calls, reasoning, thought signatures that
//! must come back with their calls), Google errors turned into cooldowns, and embeddings.

use std::sync::Arc;

use llmkp::store::memory::MemoryStore;
use serde_json::{Value, json};

use crate::support::gateway::{Gateway, PROXY_KEY, chat_body, chunks};
use crate::support::gemini_mock::{GeminiMock, api_key};
use crate::support::openai_mock::OpenAiMock;

async fn gateway(mock: &GeminiMock, keys: &[&str], extra: &[(&str, &str)]) -> Gateway {
    Gateway::provider("GEMINI", &mock.base_url(), keys, extra).await
}

const WEATHER_TOOL: &str = r#"[{"type": "function", "function": {"name": "get_weather", "description": "weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]"#;

#[tokio::test]
async fn an_openai_client_gets_text_from_gemini_and_the_upstream_gets_a_gemini_request() {
    let mock = GeminiMock::start().await;
    let gw = gateway(&mock, &["gm-good-1"], &[]).await;
    let mut body = chat_body("gemini/gemini-2.5-flash", "hi");
    body["messages"] = json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]);
    body["max_tokens"] = json!(50);
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-provider"], "gemini");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from gemini: hi");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["model"], "gemini/gemini-2.5-flash");
    assert!(answer["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let sent = &mock.generate_requests()[0];
    // Served from an upstream stream, folded for the non-stream client.
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    assert_eq!(api_key(sent), Some("gm-good-1"));
    assert_eq!(sent.header("authorization"), None, "the proxy key never travels upstream");
    assert!(sent.body["systemInstruction"].to_string().contains("be brief"), "{}", sent.body);
    assert_eq!(sent.body["contents"][0]["role"], "user");
    assert_eq!(sent.body["generationConfig"]["maxOutputTokens"], 50);
}

#[tokio::test]
async fn an_openai_client_streams_from_gemini_with_reasoning_and_usage() {
    let mock = GeminiMock::start().await;
    let gw = gateway(&mock, &["gm-good-1"], &[]).await;
    let body = json!({"model": "gemini/thinking-2.5-flash", "stream": true, "reasoning_effort": "low",
        "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "ponder"}]});
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let streamed = chunks(&response.text().await.unwrap());
    let field = |key: &str| -> String {
        streamed.iter().filter_map(|c| c["choices"][0]["delta"][key].as_str()).collect::<String>()
    };
    assert_eq!(field("content"), "Hello from gemini: ponder");
    assert!(!field("reasoning_content").is_empty());
    let usage = &streamed.last().unwrap()["usage"];
    assert!(usage["completion_tokens"].as_u64().unwrap() > 0, "{usage}");
    let sent = &mock.generate_requests()[0];
    assert_eq!(sent.path, "/v1beta/models/thinking-2.5-flash:streamGenerateContent");
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    assert_eq!(sent.body["generationConfig"]["thinkingConfig"]["includeThoughts"], true);
}

#[tokio::test]
async fn tool_calls_come_back_with_arguments_and_their_signature_reaches_gemini_again() {
    let mock = GeminiMock::start().await;
    let gw = gateway(&mock, &["gm-good-1"], &[]).await;
    let tools: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
    let mut body = chat_body("gemini/tools-3-pro", "weather in Paris?");
    body["tools"] = tools.clone();
    let answer: Value = gw.post("/v1/chat/completions", &body).await.json().await.unwrap();
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls", "{answer}");
    let call = answer["choices"][0]["message"]["tool_calls"][0].clone();
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"location": "Paris"}));
    let sent = &mock.generate_requests()[0].body;
    assert_eq!(sent["tools"][0]["functionDeclarations"][0]["name"], "get_weather");

    // The OpenAI client sends the history back without any signature; Gemini must get its own.
    let history = json!([
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "{\"temp\": 21}"},
    ]);
    let body = json!({"model": "gemini/tools-3-pro", "messages": history, "tools": tools});
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = &mock.generate_requests()[1].body;
    let model_turn = sent["contents"].as_array().unwrap().iter().find(|c| c["role"] == "model").unwrap();
    let part = model_turn["parts"].as_array().unwrap().iter().find(|p| p.get("functionCall").is_some()).unwrap();
    assert_eq!(part["thoughtSignature"], json!(mock.issued_signatures()[0]));
    let response_part = &sent["contents"].as_array().unwrap().last().unwrap()["parts"][0]["functionResponse"];
    assert_eq!(response_part["name"], "get_weather");
}

#[tokio::test]
async fn a_streamed_tool_call_from_gemini_arrives_whole_and_its_signature_is_kept() {
    let mock = GeminiMock::start().await;
    let gw = gateway(&mock, &["gm-good-1"], &[]).await;
    let tools: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
    let mut body = chat_body("gemini/tools-3-pro", "weather?");
    body["tools"] = tools.clone();
    body["stream"] = json!(true);
    let streamed = chunks(&gw.post("/v1/chat/completions", &body).await.text().await.unwrap());
    let calls: Vec<&Value> =
        streamed.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array()).flatten().collect();
    let id = calls.iter().find_map(|c| c["id"].as_str()).unwrap().to_string();
    let arguments: String = calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), json!({"location": "Paris"}));
    let history = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": id, "type": "function",
            "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": id, "content": "sunny"},
    ]);
    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "gemini/tools-3-pro", "messages": history,
        "tools": tools, "stream": true}),
        )
        .await;
    let streamed = chunks(&response.text().await.unwrap());
    let text: String = streamed.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, r#"Hello from gemini: {"result":"sunny"}"#, "the mock accepted the signature");
}

#[tokio::test]
async fn an_anthropic_client_gets_text_tool_use_and_streams_from_gemini() {
    let mock = GeminiMock::start().await;
    let gw = gateway(&mock, &["gm-good-1"], &[]).await;
    let post = |body: Value| gw.client().post(gw.url("/v1/messages")).header("x-api-key", PROXY_KEY).json(&body).send();
    let text: Value = post(json!({"model": "gemini/gemini-2.5-flash", "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}]}))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(text["content"][0]["text"], "Hello from gemini: hi", "{text}");
    assert_eq!(text["stop_reason"], "end_turn");

    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object",
        "properties": {"location": {"type": "string"}}}}]);
    let tool: Value = post(json!({"model": "gemini/tools-3-pro", "max_tokens": 100, "tools": tools,
        "messages": [{"role": "user", "content": "weather?"}]}))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(tool["stop_reason"], "tool_use", "{tool}");
    let block = tool["content"].as_array().unwrap().iter().find(|b| b["type"] == "tool_use").unwrap();
    assert_eq!(block["input"], json!({"location": "Paris"}));

    let stream = post(json!({"model": "gemini/gemini-2.5-flash", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "one two three"}]}))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(stream.starts_with("event: message_start"), "{stream}");
    assert!(stream.trim_end().ends_with(r#"data: {"type":"message_stop"}"#), "{stream}");
    let text: String = stream
        .split("\n\n")
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|d| d["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello from gemini: one two three");
}

#[tokio::test]
async fn a_gemini_429_with_a_retry_delay_cools_that_key_for_that_long_and_rotates() {
    let mock = GeminiMock::start().await;
    let base = mock.base_url();
    let vars = [
        ("GEMINI_API_BASE", base.as_str()),
        ("PROXY_API_KEY", PROXY_KEY),
        ("GEMINI_API_KEY_1", "rl17-gm-1"),
        ("GEMINI_API_KEY_2", "gm-good-2"),
        ("ROTATION_MODE_GEMINI", "sequential"),
    ];
    // The report reads cooldowns from the state store.
    let gw = Gateway::start_with_store(&vars, Some(Arc::new(MemoryStore::new()))).await;
    let response = gw.post("/v1/chat/completions", &chat_body("gemini/gemini-2.5-flash", "hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.keys_used(), ["rl17-gm-1", "gm-good-2"]);
    let stats: Value = gw.get("/v1/quota-stats?provider=gemini").await.json().await.unwrap();
    let limited = &stats["providers"]["gemini"]["credentials"][0];
    let cooldown = &limited["cooldowns"]["gemini-2.5-flash"];
    let remaining = cooldown["remaining_seconds"].as_u64().unwrap_or_else(|| panic!("no cooldown: {limited}"));
    assert!((16..=17).contains(&remaining), "RetryInfo says 17s: {cooldown}");
    assert!(stats["providers"]["gemini"]["credentials"][1]["cooldowns"].as_object().unwrap().is_empty());

    // A request the upstream calls invalid fails fast with Google's message.
    let response = gw.post("/v1/chat/completions", &chat_body("gemini/invalid-model", "hi")).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_come_back_in_order_from_gemini_and_openai_compatible_upstreams() {
    let gemini = GeminiMock::start().await;
    let openai = OpenAiMock::start().await;
    let (gbase, obase) = (gemini.base_url(), openai.base_url());
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("GEMINI_API_BASE", &gbase),
        ("GEMINI_API_KEY_1", "gm-good-1"),
        ("OPENAI_API_BASE", &obase),
        ("OPENAI_API_KEY_1", "sk-good-1"),
    ])
    .await;
    let inputs = json!(["alpha", "beta", "gamma"]);
    let answer: Value = gw
        .post("/v1/embeddings", &json!({"model": "gemini/text-embedding-004", "input": inputs, "dimensions": 4}))
        .await
        .json()
        .await
        .unwrap();
    let data = answer["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, (item, text)) in data.iter().zip(["alpha", "beta", "gamma"]).enumerate() {
        assert_eq!(item["index"], i);
        let expected = crate::support::gemini_mock::embedding_values(text, 4);
        let got: Vec<f64> = item["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(got, expected);
    }
    assert_eq!(answer["model"], "gemini/text-embedding-004");
    assert!(answer["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let sent = gemini.requests().into_iter().find(|r| r.path.ends_with(":batchEmbedContents")).unwrap();
    assert_eq!(sent.body["requests"][2]["content"]["parts"][0]["text"], "gamma");
    assert_eq!(sent.body["requests"][0]["outputDimensionality"], 4);

    let answer: Value = gw
        .post("/v1/embeddings", &json!({"model": "openai/text-embedding-3-small", "input": inputs}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(3), "{answer}");
    assert_eq!(answer["model"], "openai/text-embedding-3-small");

    // base64 works for every upstream (the OpenAI SDK asks for it by default).
    let answer: Value = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "gemini/text-embedding-004", "input": "alpha",
            "encoding_format": "base64"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(answer["data"][0]["embedding"].is_string(), "{answer}");

    // Tokens cannot go to Gemini, and chat models of other families refuse clearly.
    let response = gw.post("/v1/embeddings", &json!({"model": "gemini/text-embedding-004", "input": [1, 2]})).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn tool_names_gemini_refuses_are_sent_rewritten_and_come_back_as_the_client_wrote_them() {
    let mock = GeminiMock::start().await;
    let gw = gateway(&mock, &["gm-good-1"], &[]).await;
    let name = "2nd tool/lookup";
    let tools = json!([{"type": "function", "function": {"name": name,
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]);
    let mut body = chat_body("gemini/tools-2.5-flash", "look it up");
    body["tools"] = tools.clone();
    let answer: Value = gw.post("/v1/chat/completions", &body).await.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"], name, "{answer}");
    let declared = &mock.generate_requests()[0].body["tools"][0]["functionDeclarations"][0]["name"];
    assert_ne!(declared, name);

    body["stream"] = json!(true);
    let streamed = chunks(&gw.post("/v1/chat/completions", &body).await.text().await.unwrap());
    let streamed_name =
        streamed.iter().find_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].as_str());
    assert_eq!(streamed_name, Some(name));
}

#[tokio::test]
async fn an_anthropic_client_replays_a_streamed_gemini_tool_call_with_its_signature() {
    let mock = GeminiMock::start().await;
    let gw = gateway(&mock, &["gm-good-1"], &[]).await;
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object",
        "properties": {"location": {"type": "string"}}}}]);
    let post = |body: Value| gw.client().post(gw.url("/v1/messages")).header("x-api-key", PROXY_KEY).json(&body).send();
    let stream = post(json!({"model": "gemini/tools-3-pro", "max_tokens": 100, "stream": true, "tools": tools,
        "messages": [{"role": "user", "content": "weather?"}]}))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    // Rebuild the assistant turn from the events, as the Anthropic SDK does.
    let mut blocks: Vec<Value> = Vec::new();
    for data in stream.split("\n\n").filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: "))) {
        let event: Value = serde_json::from_str(data).unwrap();
        match event["type"].as_str().unwrap() {
            "content_block_start" => blocks.push(event["content_block"].clone()),
            "content_block_delta" => {
                let block = blocks.last_mut().unwrap();
                let delta = &event["delta"];
                match delta["type"].as_str().unwrap() {
                    "signature_delta" => block["signature"] = delta["signature"].clone(),
                    "input_json_delta" => {
                        let so_far = block.get("partial").and_then(Value::as_str).unwrap_or_default().to_string();
                        block["partial"] = json!(so_far + delta["partial_json"].as_str().unwrap());
                    }
                    "text_delta" => {
                        let so_far = block["text"].as_str().unwrap_or_default().to_string();
                        block["text"] = json!(so_far + delta["text"].as_str().unwrap());
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    for block in &mut blocks {
        if let Some(partial) = block.as_object_mut().unwrap().remove("partial") {
            block["input"] = serde_json::from_str(partial.as_str().unwrap()).unwrap();
        }
    }
    let carrier = blocks.iter().find(|b| b["type"] == "thinking").expect("a thinking block carries the signature");
    assert!(!carrier["signature"].as_str().unwrap().is_empty(), "{blocks:?}");
    let call_id = blocks.iter().find(|b| b["type"] == "tool_use").unwrap()["id"].clone();
    let replay = post(json!({"model": "gemini/tools-3-pro", "max_tokens": 100, "tools": tools, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": blocks},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "sunny"}]},
    ]}))
    .await
    .unwrap();
    assert_eq!(replay.status(), 200, "{}", replay.text().await.unwrap());
    let sent = &mock.generate_requests()[1].body;
    let model_turn = sent["contents"].as_array().unwrap().iter().find(|c| c["role"] == "model").unwrap();
    let call = model_turn["parts"].as_array().unwrap().iter().find(|p| p.get("functionCall").is_some()).unwrap();
    assert_eq!(call["thoughtSignature"], json!(mock.issued_signatures()[0]));
}
