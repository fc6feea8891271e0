//! The server's surface around the engine: proxy-key auth, status routes, and error shapes for
//! every way a request can be wrong. Never a 500 for the client's mistake.

use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::gateway::{Gateway, PROXY_KEY, chat_body, error_of};
use crate::support::openai_mock::OpenAiMock;

#[tokio::test]
async fn a03_missing_or_wrong_proxy_key_is_401_in_openai_shape_on_every_protected_route() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let client = gw.client();
    let requests = [
        client.post(gw.url("/v1/chat/completions")).json(&chat_body("openai/gpt-4o", "hi")),
        client.get(gw.url("/v1/models")),
        client.get(gw.url("/v1/models/openai/gpt-4o")),
        client.get(gw.url("/v1/providers")),
        client.get(gw.url("/v1/models")).bearer_auth("wrong-key"),
        client.get(gw.url("/v1/models")).header("x-api-key", "wrong-key"),
        client.get(gw.url("/v1/models")).header("authorization", PROXY_KEY),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let error = error_of(response).await;
        assert_eq!(error["message"], "Invalid or missing proxy API key");
        assert_eq!(error["type"], "authentication_error");
        assert_eq!(error["code"], "invalid_api_key");
    }
    assert!(mock.chat_requests().is_empty());
}

#[tokio::test]
async fn a03_bearer_and_x_api_key_forms_are_both_accepted() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let client = gw.client();
    for request in [
        client.get(gw.url("/v1/providers")).header("authorization", format!("bearer {PROXY_KEY}")),
        client.get(gw.url("/v1/providers")).header("x-api-key", PROXY_KEY),
        client.get(gw.url("/v1/providers")).header("x-goog-api-key", PROXY_KEY),
    ] {
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn a02_open_mode_serves_every_route_without_credentials() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let gw = Gateway::start(&[("OPENAI_API_BASE", &base), ("OPENAI_API_KEY", "sk-good")]).await;
    let response =
        gw.client().post(gw.url("/v1/chat/completions")).json(&chat_body("openai/gpt-4o", "hi")).send().await;
    assert_eq!(response.unwrap().status(), 200);
    assert_eq!(gw.client().get(gw.url("/v1/models")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn root_and_healthz_need_no_key_and_say_they_run() {
    let gw = Gateway::start(&[("PROXY_API_KEY", PROXY_KEY)]).await;
    let root: Value = gw.client().get(gw.url("/")).send().await.unwrap().json().await.unwrap();
    assert_eq!(root, json!({"Status": "API Key Proxy is running"}));
    let health = gw.client().get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn healthz_requires_the_key_when_not_public() {
    let gw = Gateway::start(&[("PROXY_API_KEY", PROXY_KEY), ("HEALTH_PUBLIC", "false")]).await;
    assert_eq!(gw.client().get(gw.url("/healthz")).send().await.unwrap().status(), 401);
    assert_eq!(gw.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn providers_lists_configured_providers_sorted() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("ZETA_API_BASE", &base),
        ("ZETA_API_KEY", "k1"),
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "k2"),
        ("GROQ_API_BASE", &base),
    ])
    .await;
    let providers: Value = gw.get("/v1/providers").await.json().await.unwrap();
    assert_eq!(providers, json!(["openai", "zeta"]));
}

#[tokio::test]
async fn a05_malformed_or_incomplete_requests_are_400_never_500() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let cases: [(&str, Option<&str>); 6] = [
        ("{not json", None),
        ("[]", None),
        (r#"{"messages":[{"role":"user","content":"hi"}]}"#, Some("model")),
        (r#"{"model":"openai/gpt-4o"}"#, Some("messages")),
        (r#"{"model":"openai/gpt-4o","messages":"hi"}"#, Some("messages")),
        (r#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#, Some("stream")),
    ];
    for (body, param) in cases {
        let response = gw.post_raw("/v1/chat/completions", body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error = error_of(response).await;
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"].as_str(), param, "{body}");
    }
    assert!(mock.chat_requests().is_empty());
}

#[tokio::test]
async fn models_without_provider_or_with_unknown_provider_are_404_naming_the_form() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    for (model, needle) in [
        ("gpt-4o", "provider/model"),
        ("nosuch/x", "unknown provider 'nosuch'"),
        ("groq/llama-3", "no credentials configured for provider 'groq'"),
    ] {
        let response = gw.post("/v1/chat/completions", &chat_body(model, "hi")).await;
        assert_eq!(response.status(), 404, "{model}");
        let error = error_of(response).await;
        assert_eq!(error["code"], "model_not_found");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
        assert!(message.contains("openai"), "names the configured providers: {message}");
    }
    assert!(mock.chat_requests().is_empty());
}

#[tokio::test]
async fn oversized_bodies_are_413_before_parsing() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[("MAX_REQUEST_BODY_BYTES", "1000")]).await;
    let body = chat_body("openai/gpt-4o", &"x".repeat(2000));
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_of(response).await["code"], "request_too_large");
    assert!(mock.chat_requests().is_empty());
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_in_openai_shape() {
    let gw = Gateway::start(&[]).await;
    let response = gw.client().get(gw.url("/v1/completions")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(error_of(response).await["code"], "not_found");
    let response = gw.client().get(gw.url("/v1/chat/completions")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(error_of(response).await["type"], "invalid_request_error");
}

#[tokio::test]
async fn request_ids_are_echoed_when_safe_and_generated_otherwise() {
    let gw = Gateway::start(&[]).await;
    let echoed = gw.client().get(gw.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    let replaced = gw.client().get(gw.url("/healthz")).header("x-request-id", "bad id!").send().await.unwrap();
    assert!(replaced.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
    let not_found = gw.client().get(gw.url("/nope")).send().await.unwrap();
    assert!(not_found.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn cors_preflight_is_answered_without_a_key() {
    let gw = Gateway::start(&[("PROXY_API_KEY", PROXY_KEY)]).await;
    let response = gw
        .client()
        .request(reqwest::Method::OPTIONS, gw.url("/v1/chat/completions"))
        .header("origin", "http://example.test")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn routing_headers_can_be_turned_off() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[("EXPOSE_ROUTING_HEADERS", "false")]).await;
    let response = gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await;
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("x-llmkp-provider"));
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_stream_finish() {
    let mock = OpenAiMock::start().await;
    let mut gw = Gateway::openai(&mock.base_url(), &["sk-good"], &[]).await;
    let mut request = chat_body("openai/slow", "hi");
    request["stream"] = json!(true);
    let response = gw.post("/v1/chat/completions", &request).await;
    let mut body = response.bytes_stream();
    let mut received = String::new();
    while !received.contains("one ") {
        received.push_str(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());
    }
    gw.shut_down();
    while let Some(piece) = body.next().await {
        received.push_str(std::str::from_utf8(&piece.expect("stream not cut by the shutdown")).unwrap());
    }
    assert!(received.contains("five") && received.ends_with("data: [DONE]\n\n"), "{received}");
}
