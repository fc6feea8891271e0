//! The attempt loop through the real router: rotation, fail-fast client errors, final statuses,
//! stream commit, deadline.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::gateway::{Gateway, chat_body, chunks, error_of, sse_data};
use crate::support::openai_mock::OpenAiMock;

#[tokio::test]
async fn rotates_past_a_rate_limited_key_so_every_request_succeeds_and_skips_it_while_cooling() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["rl-key-0001", "sk-good-0002"], &[]).await;
    for (i, stream) in [false, true, false, true].into_iter().enumerate() {
        let mut request = chat_body("openai/gpt-4o", "hi");
        request["stream"] = json!(stream);
        let response = gw.post("/v1/chat/completions", &request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-llmkp-attempts"], if i == 0 { "2" } else { "1" });
        assert_eq!(response.headers()["x-llmkp-credential"], "OPENAI_API_KEY_2");
        let text = response.text().await.unwrap();
        assert!(text.contains("Hello"), "{text}");
    }
    // The 429 put the key in a 7 s cooldown (its Retry-After): not called again meanwhile.
    assert_eq!(mock.keys_used(), ["rl-key-0001", "sk-good-0002", "sk-good-0002", "sk-good-0002", "sk-good-0002"]);
}

#[tokio::test]
async fn upstream_400_comes_back_with_its_message_after_exactly_one_upstream_call() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-1", "sk-good-2"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/invalid-params", "hi")).await;
    assert_eq!(response.status(), 400);
    let error = error_of(response).await;
    assert_eq!(error["message"], "Invalid value for 'temperature': expected a number.");
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "temperature");
    assert_eq!(error["code"], "invalid_value");
    assert_eq!(mock.chat_requests().len(), 1);
}

#[tokio::test]
async fn context_window_errors_fail_fast_with_the_upstream_status() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-1", "sk-good-2"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/long-context", "hi")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_of(response).await["code"], "context_length_exceeded");
    assert_eq!(mock.chat_requests().len(), 1);
}

#[tokio::test]
async fn a05_all_keys_rate_limited_gives_429_with_retry_after() {
    let mock = OpenAiMock::start().await;
    // The 7 s wait of the last key would end after the 3 s deadline, so it is not waited for.
    let gw = Gateway::openai(&mock.base_url(), &["rl-key-1", "rl-key-2"], &[("GLOBAL_TIMEOUT", "3")]).await;
    let started = Instant::now();
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["retry-after-ms"], "7000");
    assert_eq!(response.headers()["x-should-retry"], "true");
    let error = error_of(response).await;
    assert_eq!(error["type"], "rate_limit_error");
    assert_eq!(error["code"], "all_credentials_cooling_down");
    assert_eq!(error["details"]["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(error["details"]["attempts"][0]["class"], "rate_limit");
    // Rotate first, wait later: with another key free, no same-key retry.
    assert_eq!(mock.chat_requests().len(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a07_server_errors_on_every_key_give_502_never_429() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["err-key-1", "err-key-2"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["x-should-retry"], "false");
    let error = error_of(response).await;
    assert_eq!(error["type"], "upstream_error");
    assert_eq!(error["code"], "upstream_failed");
    assert!(error["message"].as_str().unwrap().contains("4 server_error"), "{error}");
    // MAX_ATTEMPTS_PER_CREDENTIAL=2: one same-key retry each.
    assert_eq!(mock.keys_used(), ["err-key-1", "err-key-1", "err-key-2", "err-key-2"]);
}

#[tokio::test]
async fn max_attempts_per_credential_one_means_no_same_key_retry() {
    let mock = OpenAiMock::start().await;
    let gw =
        Gateway::openai(&mock.base_url(), &["err-key-1", "sk-good"], &[("MAX_ATTEMPTS_PER_CREDENTIAL", "1")]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.keys_used(), ["err-key-1", "sk-good"]);
}

#[tokio::test]
async fn a06_upstream_401_never_reaches_the_client_as_401() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["bad-key-1", "forbidden-key-2"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 502);
    let error = error_of(response).await;
    assert_eq!(error["code"], "upstream_auth_failed");
    // Auth failures rotate without a same-key retry.
    assert_eq!(mock.chat_requests().len(), 2);
}

#[tokio::test]
async fn overloaded_and_quota_keys_rotate_to_a_working_one() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(
        &mock.base_url(),
        &["quota-1", "overloaded-2", "sk-good-3"],
        &[("MAX_ATTEMPTS_PER_CREDENTIAL", "1")],
    )
    .await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.keys_used(), ["quota-1", "overloaded-2", "sk-good-3"]);
}

#[tokio::test]
async fn a09_error_event_before_any_content_is_retried_on_another_key() {
    let mock = OpenAiMock::start().await;
    let gw =
        Gateway::openai(&mock.base_url(), &["streamerr-1", "sk-good-2"], &[("MAX_ATTEMPTS_PER_CREDENTIAL", "1")]).await;
    let mut request = chat_body("openai/gpt-4o", "hi");
    request["stream"] = json!(true);
    let response = gw.post("/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains("upstream stream error"), "{text}");
    assert!(text.contains("Hello"));
    assert_eq!(mock.keys_used(), ["streamerr-1", "sk-good-2"]);
}

#[tokio::test]
async fn a09_error_events_on_every_key_end_in_an_http_error_not_an_empty_answer() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["streamerr-1"], &[]).await;
    let mut request = chat_body("openai/gpt-4o", "hi");
    request["stream"] = json!(true);
    let response = gw.post("/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 502);
    assert_eq!(mock.chat_requests().len(), 2);
}

#[tokio::test]
async fn connection_reset_after_commit_becomes_an_in_band_error_without_retry() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-1", "sk-good-2"], &[]).await;
    let mut request = chat_body("openai/reset", "hi");
    request["stream"] = json!(true);
    let response = gw.post("/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks = chunks(&text);
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "partial answer ", "output of one attempt only");
    let error = &chunks.last().unwrap()["error"];
    assert_eq!(error["code"], "upstream_failed");
    assert_eq!(mock.chat_requests().len(), 1, "never retried once bytes reached the client");
}

#[tokio::test]
async fn stream_ending_without_finish_or_done_is_an_error_not_a_completion() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-1"], &[]).await;
    let mut request = chat_body("openai/nofinish", "hi");
    request["stream"] = json!(true);
    let text = gw.post("/v1/chat/completions", &request).await.text().await.unwrap();
    let chunks = chunks(&text);
    assert!(chunks.last().unwrap()["error"]["message"].as_str().unwrap().contains("prematurely"), "{text}");
    assert!(chunks.iter().all(|c| c["choices"][0]["finish_reason"].is_null()));
}

#[tokio::test]
async fn non_stream_failure_mid_body_is_retried_because_nothing_was_sent_yet() {
    let mock = OpenAiMock::start().await;
    let gw =
        Gateway::openai(&mock.base_url(), &["sk-good-1", "sk-good-2"], &[("MAX_ATTEMPTS_PER_CREDENTIAL", "1")]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/reset", "hi")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(mock.keys_used(), ["sk-good-1", "sk-good-2"]);
    let error = error_of(response).await;
    assert_eq!(error["details"]["attempts"][0]["class"], "connection");
}

#[tokio::test]
async fn global_timeout_bounds_an_in_flight_upstream_call() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-1", "sk-good-2"], &[("GLOBAL_TIMEOUT", "1")]).await;
    let started = Instant::now();
    let response = gw.post("/v1/chat/completions", &chat_body("openai/hang", "hi")).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 504);
    assert!(took < Duration::from_secs(2), "answered after {took:?}");
    assert_eq!(response.headers()["x-should-retry"], "false");
    let error = error_of(response).await;
    assert_eq!(error["type"], "timeout_error");
    assert_eq!(error["code"], "deadline_exceeded");
    assert_eq!(mock.chat_requests().len(), 1);
}

#[tokio::test]
async fn unreachable_upstream_is_a_502_naming_the_connection_failure() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let base = format!("http://{closed}/v1");
    let gw = Gateway::openai(&base, &["sk-good-1"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 502);
    let error = error_of(response).await;
    assert_eq!(error["details"]["attempts"][0]["class"], "connection");
}

#[tokio::test]
async fn a11_secrets_in_upstream_messages_are_redacted() {
    let mock = OpenAiMock::start().await;
    let key = "sk-secret-value-123456";
    let gw = Gateway::openai(&mock.base_url(), &[key], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/echo-key", "hi")).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let text = body.to_string();
    assert!(!text.contains(key), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}
