//! Defect 3: web pages using the operator's keys. Bodies a browser sends cross-site without a
//! preflight (`text/plain`, forms, multipart) are refused with 415 in the route's shape; an
//! `Origin` the configuration does not allow is refused with 403 before any upstream call, and
//! its preflight gets no allow headers.

use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, ORIGIN};
use serde_json::Value;

use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::openai_mock::OpenAiMock;

const CHAT: &str = r#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES: &str = r#"{"model":"openai/gpt-4o","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;
const GEMINI: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;

async fn open_gateway(mock: &OpenAiMock, extra: &[(&str, &str)]) -> Gateway {
    let base = mock.base_url();
    let mut vars = vec![("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY", "sk-good-0001")];
    vars.extend_from_slice(extra);
    Gateway::start(&vars).await
}

#[tokio::test]
async fn bodies_a_browser_sends_without_preflight_are_refused_with_415_in_every_family_shape() {
    let mock = OpenAiMock::start().await;
    let gw = open_gateway(&mock, &[]).await;
    let routes = [
        ("/v1/chat/completions", CHAT),
        ("/v1/messages", MESSAGES),
        ("/v1beta/models/openai/gpt-4o:generateContent", GEMINI),
        ("/v1/embeddings", r#"{"model":"openai/gpt-4o","input":"hi"}"#),
    ];
    for (path, body) in routes {
        for content_type in
            ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
        {
            let response =
                gw.client().post(gw.url(path)).header(CONTENT_TYPE, content_type).body(body).send().await.unwrap();
            assert_eq!(response.status(), 415, "{path} {content_type}");
            let error: Value = response.json().await.unwrap();
            match path {
                "/v1/messages" => assert_eq!(error["error"]["type"], "invalid_request_error", "{error}"),
                p if p.starts_with("/v1beta") => assert_eq!(error["error"]["status"], "INVALID_ARGUMENT", "{error}"),
                _ => assert_eq!(error["error"]["code"], "unsupported_media_type", "{error}"),
            }
        }
    }
    assert!(mock.requests().is_empty(), "nothing reached the upstream");

    // JSON types are served, and so is a body without any type (command-line clients).
    for content_type in [Some("application/json"), Some("application/json; charset=utf-8"), None] {
        let mut request = gw.client().post(gw.url("/v1/chat/completions")).body(CHAT);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        assert_eq!(request.send().await.unwrap().status(), 200, "{content_type:?}");
    }
}

#[tokio::test]
async fn an_origin_off_the_allow_list_is_refused_before_the_engine_and_its_preflight_gets_no_allow_headers() {
    let mock = OpenAiMock::start().await;
    let gw = open_gateway(&mock, &[("CORS_ALLOW_ORIGINS", "http://good.example")]).await;
    let post = |origin: &'static str| {
        gw.client()
            .post(gw.url("/v1/chat/completions"))
            .header(ORIGIN, origin)
            .header(CONTENT_TYPE, "application/json")
            .body(CHAT)
            .send()
    };
    let refused = post("http://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "origin_not_allowed");
    let messages = gw
        .client()
        .post(gw.url("/v1/messages"))
        .header(ORIGIN, "http://evil.example")
        .header(CONTENT_TYPE, "application/json")
        .body(MESSAGES)
        .send()
        .await
        .unwrap();
    assert_eq!(messages.status(), 403);
    assert_eq!(messages.json::<Value>().await.unwrap()["error"]["type"], "permission_error");
    assert!(mock.requests().is_empty(), "the refused origin reached the upstream");

    let preflight = |origin: &'static str| {
        gw.client()
            .request(reqwest::Method::OPTIONS, gw.url("/v1/chat/completions"))
            .header(ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization")
            .send()
    };
    let evil = preflight("http://evil.example").await.unwrap();
    assert!(evil.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{:?}", evil.headers());
    let good = preflight("http://good.example").await.unwrap();
    assert_eq!(good.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "http://good.example");

    let allowed = post("http://good.example").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "http://good.example");
}

#[tokio::test]
async fn in_open_mode_the_default_star_lets_only_loopback_pages_read_answers() {
    let mock = OpenAiMock::start().await;
    let gw = open_gateway(&mock, &[]).await;
    let post = |origin: Option<&'static str>| {
        let mut request =
            gw.client().post(gw.url("/v1/chat/completions")).header(CONTENT_TYPE, "application/json").body(CHAT);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };
    let evil = post(Some("http://evil.example")).await.unwrap();
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    // DNS rebinding: the page's origin is a name, not loopback, even when it resolves there.
    assert_eq!(post(Some("http://rebind.example:8000")).await.unwrap().status(), 403);
    assert!(mock.requests().is_empty());

    let local = post(Some("http://localhost:3000")).await.unwrap();
    assert_eq!(local.status(), 200);
    assert_eq!(local.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:3000");
    assert_eq!(post(None).await.unwrap().status(), 200, "clients without Origin (SDKs, curl) are served");
}

#[tokio::test]
async fn with_a_proxy_key_the_default_star_allows_any_origin_that_presents_the_key() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-0001"], &[]).await;
    let request = |key: Option<&str>| {
        let mut request = gw
            .client()
            .post(gw.url("/v1/chat/completions"))
            .header(ORIGIN, "https://app.example")
            .header(CONTENT_TYPE, "application/json")
            .body(CHAT);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let served = request(Some(PROXY_KEY)).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(request(None).await.unwrap().status(), 401);
}
