//! Defect 7a: a model name is client input; an absurdly long one is refused (400, the route's
//! shape) instead of being echoed into `x-llmkp-model` and messages.

use serde_json::{Value, json};

use crate::support::gateway::Gateway;
use crate::support::openai_mock::OpenAiMock;

#[tokio::test]
async fn a_model_name_over_256_bytes_is_refused_with_400_in_every_family_and_never_echoed() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-0001"], &[]).await;
    let model = format!("openai/{}", "m".repeat(100_000));
    let user = json!([{"role": "user", "content": "hi"}]);
    let cases = [
        ("/v1/chat/completions".to_string(), json!({"model": model, "messages": user})),
        ("/v1/messages".to_string(), json!({"model": model, "max_tokens": 8, "messages": user})),
        ("/v1/embeddings".to_string(), json!({"model": model, "input": "hi"})),
        (
            format!("/v1beta/models/openai/{}:generateContent", "m".repeat(2_000)),
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
    ];
    for (path, body) in cases {
        let response = gw.post(&path, &body).await;
        let short = &path[..path.len().min(40)];
        assert_eq!(response.status(), 400, "{short}");
        let headers: usize = response.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
        assert!(headers < 2_000, "{short}: {headers} bytes of headers");
        let text = response.text().await.unwrap();
        assert!(text.len() < 2_000, "{short}: the name is not echoed ({} bytes)", text.len());
        let body: Value = serde_json::from_str(&text).unwrap();
        if short.starts_with("/v1/chat") || short.starts_with("/v1/emb") {
            assert_eq!(body["error"]["param"], "model");
        }
    }
    assert!(mock.requests().is_empty());
    // A normal id is untouched.
    let ok = gw.post("/v1/chat/completions", &json!({"model": "openai/gpt-4o", "messages": user})).await;
    assert_eq!(ok.headers()["x-llmkp-model"], "openai/gpt-4o");
}
