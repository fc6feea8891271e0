//! Self-tests for the OpenAI mock upstream in `support::openai_mock`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::openai_mock::OpenAiMock;

fn chat_url(mock: &OpenAiMock) -> String {
    format!("{}/chat/completions", mock.base_url())
}

async fn post_chat(mock: &OpenAiMock, key: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new().post(chat_url(mock)).bearer_auth(key).json(&body).send().await.expect("send")
}

fn hi(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi there"}]})
}

/// Reads the whole body chunk by chunk; Err if the body fails midway.
async fn read_body(resp: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(String::from_utf8(out).expect("utf-8 body"))
}

/// The `data:` payloads of an SSE body, checking the exact framing.
fn sse_payloads(body: &str) -> Vec<String> {
    assert!(body.ends_with("\n\n"), "body must end with a blank line: {body:?}");
    body.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|ev| ev.strip_prefix("data: ").expect("data: prefix").to_owned())
        .collect()
}

fn json_chunks(payloads: &[String]) -> Vec<Value> {
    payloads.iter().filter(|p| *p != "[DONE]").map(|p| serde_json::from_str(p).expect("chunk json")).collect()
}

#[tokio::test]
async fn non_stream_reply() {
    let mock = OpenAiMock::start().await;
    let resp = post_chat(&mock, "sk-good", hi("gpt-4o", false)).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "application/json");
    assert!(h["x-request-id"].to_str().unwrap().starts_with("req_"));
    assert!(h.contains_key("openai-processing-ms"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["model"], "gpt-4o");
    let choice = &v["choices"][0];
    assert_eq!(choice["message"]["content"], "Hello! You said: hi there");
    assert_eq!(choice["message"]["refusal"], Value::Null);
    assert_eq!(choice["finish_reason"], "stop");
    let u = &v["usage"];
    assert_eq!(u["completion_tokens"], 5);
    let total = u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap();
    assert_eq!(u["total_tokens"].as_u64(), Some(total));

    // Array content parts and the `length` model.
    let body = json!({"model": "length-x", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "parts work"}]}
    ]});
    let v: Value = post_chat(&mock, "sk-good", body).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello! You said: parts work");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["model"], "length-x");
}

#[tokio::test]
async fn stream_without_and_with_usage() {
    let mock = OpenAiMock::start().await;
    let resp = post_chat(&mock, "sk-good", hi("gpt-4o", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream; charset=utf-8");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let payloads = sse_payloads(&read_body(resp).await.unwrap());
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks = json_chunks(&payloads);
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": "", "refusal": null}));
    let contents: Vec<&str> =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).filter(|s| !s.is_empty()).collect();
    assert!(contents.len() >= 3, "{contents:?}");
    assert_eq!(contents.concat(), "Hello! You said: hi there");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"] && c["object"] == "chat.completion.chunk"));

    let mut body = hi("gpt-4o", true);
    body["stream_options"] = json!({"include_usage": true});
    let payloads = sse_payloads(&read_body(post_chat(&mock, "sk-good", body).await).await.unwrap());
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks = json_chunks(&payloads);
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 5);
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert!(rest.iter().all(|c| c["usage"].is_null() && c.get("usage").is_some()));
}

#[tokio::test]
async fn stream_tool_calls() {
    let mock = OpenAiMock::start().await;
    let body = json!({"model": "tools-parallel", "stream": true,
        "tools": [{"type": "function"}, {"type": "function"}],
        "messages": [{"role": "user", "content": "weather?"}]});
    let payloads = sse_payloads(&read_body(post_chat(&mock, "sk-good", body).await).await.unwrap());
    let chunks = json_chunks(&payloads);
    let first = &chunks[0]["choices"][0]["delta"];
    assert_eq!(first["content"], Value::Null);
    assert_eq!(first["tool_calls"][0]["id"], "call_abc123");
    let mut args = [String::new(), String::new()];
    let mut fragments = [0, 0];
    for c in &chunks {
        for tc in c["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let i = tc["index"].as_u64().unwrap() as usize;
            let a = tc["function"]["arguments"].as_str().unwrap();
            if !a.is_empty() {
                fragments[i] += 1;
                args[i].push_str(a);
            }
        }
    }
    assert!(fragments[0] >= 3 && fragments[1] >= 3, "{fragments:?}");
    assert_eq!(args[0], r#"{"location":"Paris","unit":"celsius"}"#);
    assert_eq!(args[1], r#"{"tz":"Europe/Paris"}"#);
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");

    let body = json!({"model": "tools", "messages": [{"role": "user", "content": "weather?"}]});
    let v: Value = post_chat(&mock, "sk-good", body).await.json().await.unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], Value::Null);
    assert_eq!(msg["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(msg["tool_calls"].as_array().unwrap().len(), 1);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn error_keys_and_models() {
    let mock = OpenAiMock::start().await;
    let resp = post_chat(&mock, "rl-1", hi("gpt-4o", false)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "0");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");

    for (key, status) in [("quota1", 429), ("err1", 500), ("overloaded", 503), ("bad1", 401), ("forbidden", 403)] {
        assert_eq!(post_chat(&mock, key, hi("gpt-4o", true)).await.status(), status, "{key}");
    }

    let resp = post_chat(&mock, "secret-key-123", hi("echo-key", false)).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("secret-key-123"));

    // streamerr: one error event, no [DONE]; non-stream → 500.
    let resp = post_chat(&mock, "streamerr", hi("gpt-4o", true)).await;
    assert_eq!(resp.status(), 200);
    let payloads = sse_payloads(&read_body(resp).await.unwrap());
    assert_eq!(payloads.len(), 1);
    assert!(payloads[0].starts_with(r#"{"error":{"message":"upstream stream error""#));
    assert_eq!(post_chat(&mock, "streamerr", hi("gpt-4o", false)).await.status(), 500);

    // No key, bad JSON, unknown route.
    let client = reqwest::Client::new();
    let resp = client.post(chat_url(&mock)).json(&hi("gpt-4o", false)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], Value::Null);
    let resp = client.post(chat_url(&mock)).bearer_auth("k").body("{nope").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let url = format!("{}/nope", mock.base_url());
    assert_eq!(client.get(url).bearer_auth("k").send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn reset_and_nofinish() {
    let mock = OpenAiMock::start().await;
    let resp = post_chat(&mock, "sk-good", hi("reset", true)).await;
    assert_eq!(resp.status(), 200);
    assert!(read_body(resp).await.is_err(), "stream must fail");
    let resp = post_chat(&mock, "sk-good", hi("reset", false)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err(), "non-stream body must fail");

    let body = read_body(post_chat(&mock, "sk-good", hi("nofinish", true)).await).await.unwrap();
    let payloads = sse_payloads(&body);
    assert!(payloads.iter().all(|p| p != "[DONE]"));
    let chunks = json_chunks(&payloads);
    assert!(chunks.len() >= 3);
    assert!(chunks.iter().all(|c| c["choices"][0]["finish_reason"].is_null()));
}

#[tokio::test]
async fn slow_stream_is_paced() {
    let mock = OpenAiMock::start().await;
    let started = Instant::now();
    let body = read_body(post_chat(&mock, "sk-good", hi("slow", true)).await).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1150), "{elapsed:?}");
    let chunks = json_chunks(&sse_payloads(&body));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "one two three four five");
}

#[tokio::test]
async fn records_requests_and_models() {
    let mock = OpenAiMock::start().await;
    let client = reqwest::Client::new();
    let models_url = format!("{}/models", mock.base_url());
    let v: Value = client.get(&models_url).bearer_auth("k0").send().await.unwrap().json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0], json!({"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"}));
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    mock.set_models(&["only-one"]);
    let v: Value = client.get(&models_url).bearer_auth("k0").send().await.unwrap().json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["id"], "only-one");

    post_chat(&mock, "k1", hi("gpt-4o", false)).await;
    // A hanging request is recorded even though it never answers.
    let hang = client
        .post(format!("{}/chat/completions?x=1", mock.base_url()))
        .bearer_auth("k2")
        .header("X-Custom", "yes")
        .json(&hi("hang", false))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(hang.is_err());

    let emb = json!({"model": "text-embedding-3-small", "input": ["a", "bb"]});
    let url = format!("{}/embeddings", mock.base_url());
    let v: Value = client.post(url).bearer_auth("k3").json(&emb).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["embedding"].as_array().unwrap().len(), 3);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    assert_eq!(mock.requests().len(), 5);
    assert_eq!(mock.keys_used(), ["k1", "k2"]);
    let chats = mock.chat_requests();
    assert_eq!(chats.len(), 2);
    let r = &chats[1];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(r.query.as_deref(), Some("x=1"));
    assert_eq!(r.header("x-custom"), Some("yes"));
    assert_eq!(r.bearer(), Some("k2"));
    assert_eq!(r.body["model"], "hang");
    assert_eq!(mock.requests()[0].body, Value::Null);
    assert!(mock.addr().ip().is_loopback());
    assert_eq!(mock.base_url(), format!("http://{}/v1", mock.addr()));

    let mock2 = OpenAiMock::start_with_models(&["m1"]).await;
    let url = format!("{}/models", mock2.base_url());
    let v: Value = client.get(url).bearer_auth("k").send().await.unwrap().json().await.unwrap();
    assert_eq!(v["data"][0]["id"], "m1");
}
