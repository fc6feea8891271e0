//! Defect 2: an upstream 4xx that echoes the key in `error.param` / `error.code` must not hand it
//! to the client, whatever family the client speaks.

use serde_json::{Value, json};

use crate::support::gateway::Gateway;
use crate::support::openai_mock::OpenAiMock;

const KEY: &str = "sk-upstream-key-echoed-0001";

#[tokio::test]
async fn an_upstream_echoing_the_key_in_param_and_code_reaches_no_client_family() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &[KEY], &[]).await;
    let model = "openai/echo-key-param";
    let user = json!([{"role": "user", "content": "hi"}]);
    let cases: [(&str, Value); 6] = [
        ("/v1/chat/completions", json!({"model": model, "messages": user})),
        ("/v1/chat/completions", json!({"model": model, "messages": user, "stream": true})),
        ("/v1/messages", json!({"model": model, "max_tokens": 16, "messages": user})),
        ("/v1/messages", json!({"model": model, "max_tokens": 16, "messages": user, "stream": true})),
        (
            "/v1beta/models/openai/echo-key-param:generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
        ("/v1/embeddings", json!({"model": model, "input": "hi"})),
    ];
    for (path, body) in cases {
        let response = gw.post(path, &body).await;
        let status = response.status();
        let headers = format!("{:?}", response.headers());
        let text = response.text().await.unwrap();
        assert_eq!(status, 400, "{path}: {text}");
        assert!(!text.contains(KEY), "{path} leaked the upstream key: {text}");
        assert!(!headers.contains(KEY), "{path} leaked the upstream key in a header: {headers}");
        let body: Value = serde_json::from_str(&text).unwrap();
        if path == "/v1/chat/completions" || path == "/v1/embeddings" {
            assert_eq!(body["error"]["param"], "[redacted]", "{path}: {text}");
            assert_eq!(body["error"]["code"], "[redacted]", "{path}: {text}");
        }
    }
    // The mock really did echo it.
    assert!(mock.requests().iter().all(|r| r.bearer() == Some(KEY)));
}
