//! Upstream behaviour at the edges: empty answers, missing or repeated finish reasons, stalled
//! error bodies, redirects, absurd retry hints, failures that end past the deadline.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::gateway::{Gateway, PROXY_KEY, chat_body, chunks};
use crate::support::scripted_upstream::scripted_upstream;

#[tokio::test]
async fn a08_an_empty_upstream_answer_is_a_502_not_an_empty_completion() {
    let base = scripted_upstream().await;
    let gw = Gateway::openai(&base, &["sk-a"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/empty", "hi")).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 502, "empty answer (no content, no tool call, no finish) must be server_error: {body}");
}

#[tokio::test]
async fn non_stream_finish_reason_is_supplied_when_the_upstream_omitted_it() {
    let base = scripted_upstream().await;
    let gw = Gateway::openai(&base, &["sk-a"], &[]).await;
    let body: Value =
        gw.post("/v1/chat/completions", &chat_body("openai/nofinish-done", "hi")).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop", "{body}");
}

#[tokio::test]
async fn stream_finish_supplied_after_tool_calls_is_tool_calls() {
    let base = scripted_upstream().await;
    let gw = Gateway::openai(&base, &["sk-a"], &[]).await;
    let mut request = chat_body("openai/tool-nofinish", "hi");
    request["stream"] = json!(true);
    let text = gw.post("/v1/chat/completions", &request).await.text().await.unwrap();
    let chunks = chunks(&text);
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls", "{text}");
}

#[tokio::test]
async fn a_repeated_upstream_finish_reason_reaches_the_client_once() {
    let base = scripted_upstream().await;
    let gw = Gateway::openai(&base, &["sk-a"], &[]).await;
    let mut request = chat_body("openai/double-finish", "hi");
    request["stream"] = json!(true);
    let text = gw.post("/v1/chat/completions", &request).await.text().await.unwrap();
    let finishes = chunks(&text).iter().filter(|c| !c["choices"][0]["finish_reason"].is_null()).count();
    assert_eq!(finishes, 1, "{text}");
}

#[tokio::test]
async fn global_timeout_bounds_a_stalled_error_body() {
    let base = scripted_upstream().await;
    let gw = Gateway::openai(&base, &["sk-a"], &[("GLOBAL_TIMEOUT", "1")]).await;
    let started = Instant::now();
    let response = gw.post("/v1/chat/completions", &chat_body("openai/stall-error-body", "hi")).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "GLOBAL_TIMEOUT=1 but answered {} after {took:?}", response.status());
}

#[tokio::test]
async fn an_upstream_redirect_is_a_502_not_a_client_error() {
    let base = scripted_upstream().await;
    let gw = Gateway::openai(&base, &["sk-a"], &[]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/redirect", "hi")).await;
    assert_eq!(response.status(), 502, "an upstream 3xx is a proxy/upstream problem, not the client's");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("redirected"), "{body}");
}

#[tokio::test]
async fn query_string_errors_are_400_in_openai_shape() {
    let gw = Gateway::start(&[("PROXY_API_KEY", PROXY_KEY)]).await;
    let response = gw.get("/v1/models?refresh=true&refresh=false").await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&body).is_ok_and(|v| v.get("error").is_some()), "{status} {body}");
}

#[test]
fn absurd_duration_settings_do_not_panic() {
    let env = llmkp::config::Env::from_pairs([("GLOBAL_TIMEOUT", "1e300")]);
    let result = std::panic::catch_unwind(|| llmkp::config::Settings::resolve(&env));
    assert!(result.is_ok(), "a config value panics at start-up instead of WARN + default");
}

#[tokio::test]
async fn absurd_upstream_retry_hints_never_kill_the_request() {
    let base = scripted_upstream().await;
    let gw = Gateway::openai(&base, &["sk-a"], &[]).await;
    for model in ["openai/echo-400", "openai/huge-retry-after"] {
        let result = gw
            .client()
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(PROXY_KEY)
            .json(&chat_body(model, "hi"))
            .send()
            .await;
        let response = result.unwrap_or_else(|e| panic!("{model}: no HTTP response at all (handler panicked): {e}"));
        match model {
            "openai/echo-400" => assert_eq!(response.status(), 400),
            _ => {
                assert_eq!(response.status(), 429);
                assert_eq!(response.headers()["retry-after"], "604800", "capped at one week");
            }
        }
    }
}

#[tokio::test]
async fn a_failure_after_the_head_that_ends_past_the_deadline_is_502_not_504() {
    let base = scripted_upstream().await;
    let gw = Gateway::openai(&base, &["sk-a"], &[("GLOBAL_TIMEOUT", "1"), ("MAX_ATTEMPTS_PER_CREDENTIAL", "1")]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/late-reset", "hi")).await;
    assert_eq!(response.status(), 502, "{}", response.text().await.unwrap());
}
