//! `POST /v1/chat/completions` end to end: passthrough fidelity, streams, tools.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::gateway::{Gateway, chat_body, chunks, sse_data};
use crate::support::openai_mock::OpenAiMock;

#[tokio::test]
async fn non_stream_reply_reaches_upstream_without_prefix_and_reports_served_model() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-000000000001"], &[]).await;

    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let body: Value = response.json().await.unwrap();

    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "openai/gpt-4o");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello! You said: hi");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(headers["x-llmkp-provider"], "openai");
    assert_eq!(headers["x-llmkp-model"], "openai/gpt-4o");
    assert_eq!(headers["x-llmkp-attempts"], "1");
    // The key's label as `keys list` shows it: visible ASCII, never the secret.
    assert_eq!(headers["x-llmkp-credential"], "OPENAI_API_KEY_1");
    assert!(headers["x-request-id"].to_str().unwrap().starts_with("req_"));

    let upstream = mock.chat_requests();
    assert_eq!(upstream.len(), 1);
    assert_eq!(upstream[0].body["model"], "gpt-4o");
    assert_eq!(upstream[0].bearer(), Some("sk-good-000000000001"));
}

#[tokio::test]
async fn unknown_fields_survive_and_only_model_is_rewritten_on_direct_passthrough() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[("UPSTREAM_STREAM_FOR_NON_STREAM", "false")]).await;
    let request = json!({
        "model": "openai/gpt-4o",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "temperature": 0.2,
        "seed": 7,
        "vendor_extension": {"nested": [1, {"a": null}]},
    });
    let response = gw.post("/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "openai/gpt-4o");
    assert_eq!(body["system_fingerprint"], "fp_mock", "upstream fields are kept");

    let mut sent = mock.chat_requests()[0].body.clone();
    assert_eq!(sent["model"], "gpt-4o");
    let mut expected = request.clone();
    expected["model"] = json!("gpt-4o");
    sent.as_object_mut().unwrap().remove("stream");
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn non_stream_requests_run_as_upstream_streams_and_are_aggregated() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "one two three")).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello! You said: one two three");
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let sent = &mock.chat_requests()[0].body;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn stream_sends_deltas_in_order_with_finish_on_last_choice_chunk_then_done() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let mut request = chat_body("openai/gpt-4o", "stream this please");
    request["stream"] = json!(true);
    let response = gw.post("/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let text = response.text().await.unwrap();

    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks = chunks(&text);
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "Hello! You said: stream this please");
    assert!(
        chunks.iter().filter(|c| c["choices"][0]["delta"]["content"].as_str().is_some_and(|s| !s.is_empty())).count()
            >= 3
    );
    let finishes: Vec<usize> =
        (0..chunks.len()).filter(|&i| !chunks[i]["choices"][0]["finish_reason"].is_null()).collect();
    assert_eq!(finishes, vec![chunks.len() - 1], "exactly one finish_reason, on the last chunk");
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
    for chunk in &chunks {
        assert_eq!(chunk["model"], "openai/gpt-4o");
        assert!(chunk.get("usage").is_none(), "the client did not ask for usage: {chunk}");
    }
    // The proxy asked the upstream for usage anyway, for accounting.
    assert_eq!(mock.chat_requests()[0].body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn usage_chunk_is_forwarded_when_the_client_asked_for_it() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let mut request = chat_body("openai/gpt-4o", "hi");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let text = gw.post("/v1/chat/completions", &request).await.text().await.unwrap();
    let chunks = chunks(&text);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");
    assert!(chunks[..chunks.len() - 1].iter().all(|c| c["usage"].is_null()));
}

#[tokio::test]
async fn tool_calls_and_their_arguments_arrive_intact_streamed_and_not() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
    ]);
    let mut request = chat_body("openai/tools-parallel", "weather and time in Paris?");
    request["tools"] = tools;

    let body: Value = gw.post("/v1/chat/completions", &request).await.json().await.unwrap();
    let calls = &body["choices"][0]["message"]["tool_calls"];
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(calls[0]["id"], "call_abc123");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location": "Paris", "unit": "celsius"}));
    assert_eq!(calls[1]["function"]["name"], "get_time");

    request["stream"] = json!(true);
    let text = gw.post("/v1/chat/completions", &request).await.text().await.unwrap();
    let chunks = chunks(&text);
    let mut arguments = [String::new(), String::new()];
    for chunk in &chunks {
        for call in chunk["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap() as usize;
            arguments[index].push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(serde_json::from_str::<Value>(&arguments[0]).unwrap(), json!({"location": "Paris", "unit": "celsius"}));
    assert_eq!(serde_json::from_str::<Value>(&arguments[1]).unwrap(), json!({"tz": "Europe/Paris"}));
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn first_stream_chunk_reaches_the_client_before_the_upstream_has_finished() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let mut request = chat_body("openai/slow", "hi");
    request["stream"] = json!(true);
    let started = Instant::now();
    let response = gw.post("/v1/chat/completions", &request).await;
    let mut body = response.bytes_stream();
    let mut received = String::new();
    let mut first_content_at = None;
    while let Some(piece) = body.next().await {
        received.push_str(std::str::from_utf8(&piece.unwrap()).unwrap());
        if first_content_at.is_none() && received.contains("\"content\":\"one \"") {
            first_content_at = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let first = first_content_at.expect("content arrived");
    // The mock spaces its five chunks 300 ms apart: the first must not wait for the rest.
    assert!(total >= Duration::from_millis(1200), "total {total:?}");
    assert!(first + Duration::from_millis(900) < total, "first chunk at {first:?} of {total:?}");
    assert!(received.ends_with("data: [DONE]\n\n"));
}
