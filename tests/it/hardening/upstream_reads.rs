//! Defects 4 and 7 (upstream side): a line or body larger than the caps fails the attempt as a
//! format-correct error instead of growing memory; a stalled upstream does not hold a non-stream
//! client for the streaming idle limit; a 200 whose body is an error keeps the upstream's message.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::gateway::{Gateway, chunks, error_of};
use crate::support::scripted_upstream::scripted_upstream;

async fn gateway(extra: &[(&str, &str)]) -> Gateway {
    let base = scripted_upstream().await;
    Gateway::openai(&base, &["sk-scripted-0001"], extra).await
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": format!("openai/{model}"), "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn an_endless_sse_line_fails_the_attempt_at_the_cap_in_every_shape() {
    let gw = gateway(&[("MAX_UPSTREAM_EVENT_BYTES", "1048576")]).await;
    let started = Instant::now();
    // Before commit: no output yet, so the failure is a normal error response.
    let response = gw.post("/v1/chat/completions", &chat("huge-line", false)).await;
    assert_eq!(response.status(), 502);
    let error = error_of(response).await;
    assert!(error["message"].as_str().unwrap().contains("MAX_UPSTREAM_EVENT_BYTES"), "{error}");
    let messages =
        json!({"model": "openai/huge-line", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    let response = gw.post("/v1/messages", &messages).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.json::<Value>().await.unwrap()["type"], "error");

    // After commit: the client's own in-band error, then the end.
    let response = gw.post("/v1/chat/completions", &chat("content-then-huge-line", true)).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let chunks = chunks(&body);
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "Hi");
    let last = chunks.last().unwrap();
    assert!(last["error"]["message"].as_str().unwrap().contains("MAX_UPSTREAM_EVENT_BYTES"), "{last}");
    assert!(body.ends_with("data: [DONE]\n\n"));
    assert!(started.elapsed() < Duration::from_secs(10), "cut at the cap, not at the end of the body");
}

#[tokio::test]
async fn a_non_stream_body_over_the_cap_fails_the_attempt_with_or_without_content_length() {
    let gw = gateway(&[("MAX_UPSTREAM_BODY_BYTES", "1048576"), ("UPSTREAM_STREAM_FOR_NON_STREAM", "false")]).await;
    for model in ["big-body", "big-body-chunked"] {
        let response = gw.post("/v1/chat/completions", &chat(model, false)).await;
        assert_eq!(response.status(), 502, "{model}");
        let error = error_of(response).await;
        assert!(error["message"].as_str().unwrap().contains("MAX_UPSTREAM_BODY_BYTES"), "{model}: {error}");
    }
    // Under the cap the same answer is served.
    let gw = gateway(&[("UPSTREAM_STREAM_FOR_NON_STREAM", "false")]).await;
    assert_eq!(gw.post("/v1/chat/completions", &chat("big-body", false)).await.status(), 200);
}

#[tokio::test]
async fn a_stalled_upstream_gives_a_non_stream_client_an_error_within_the_non_stream_idle_limit() {
    let gw = gateway(&[("TIMEOUT_IDLE_NON_STREAMING", "0.5"), ("MAX_ATTEMPTS_PER_CREDENTIAL", "1")]).await;
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        gw.post("/v1/chat/completions", &chat("stall-after-role", false)),
    )
    .await
    .expect("answered long before the streaming idle limit (300 s)");
    assert_eq!(response.status(), 502);
    let error = error_of(response).await;
    assert!(error["message"].as_str().unwrap().contains("TIMEOUT_IDLE_NON_STREAMING"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_200_with_an_error_body_keeps_the_upstreams_message_in_the_default_mode() {
    let gw = gateway(&[]).await;
    for stream in [false, true] {
        let response = gw.post("/v1/chat/completions", &chat("error-200", stream)).await;
        assert_eq!(response.status(), 502, "stream: {stream}");
        let error = error_of(response).await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("model overloaded in region mock-7"), "stream: {stream}: {message}");
    }
}
