//! The Gemini-native routes (`/v1beta/models/{model}:…` and the same under `/v1/`) through the
//! real router: any provider behind them, Gemini's stream framings, passthrough to Gemini,
//! `countTokens`, the model lists, `?key=` auth, and errors in Google's shape.

use serde_json::{Value, json};

use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::gemini_mock::GeminiMock;
use crate::support::openai_mock::OpenAiMock;

async fn both(gemini: &GeminiMock, openai: &OpenAiMock) -> Gateway {
    let (gbase, obase) = (gemini.base_url(), openai.base_url());
    Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("GEMINI_API_BASE", &gbase),
        ("GEMINI_API_KEY_1", "gm-good-1"),
        ("OPENAI_API_BASE", &obase),
        ("OPENAI_API_KEY_1", "sk-good-1"),
        ("MODEL_ALIASES", r#"{"flash": "gemini/gemini-2.5-flash"}"#),
    ])
    .await
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> reqwest::Response {
    gw.client().post(gw.url(path)).header("x-goog-api-key", PROXY_KEY).json(body).send().await.unwrap()
}

fn user(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

/// The JSON chunks of a Gemini SSE body (`data: …\r\n\r\n`).
fn sse_chunks(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\r\n\r\n"), "{body:?}");
    body.split("\r\n\r\n")
        .filter(|f| !f.is_empty())
        .map(|f| serde_json::from_str(f.strip_prefix("data: ").unwrap_or_else(|| panic!("{f:?}"))).unwrap())
        .collect()
}

fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
        .filter(|p| p.get("thought").is_none())
        .filter_map(|p| p["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_gemini_client_gets_an_openai_model_in_gemini_shape() {
    let (gemini, openai) = (GeminiMock::start().await, OpenAiMock::start().await);
    let gw = both(&gemini, &openai).await;
    let mut body = user("hi");
    body["systemInstruction"] = json!({"parts": [{"text": "be brief"}]});
    body["generationConfig"] = json!({"maxOutputTokens": 40, "temperature": 0.3});
    body["safetySettings"] = json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]);
    let response = post(&gw, "/v1beta/models/openai/gpt-4o:generateContent", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-dropped-params"], "safetySettings");
    let answer: Value = response.json().await.unwrap();
    let candidate = &answer["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(candidate["content"]["parts"][0]["text"], "Hello! You said: hi");
    assert_eq!(candidate["finishReason"], "STOP");
    assert!(answer["usageMetadata"]["promptTokenCount"].as_u64().unwrap() > 0);
    let sent = &openai.chat_requests()[0].body;
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(sent["temperature"], 0.3);

    // The google-genai SDK's default version, with the slash encoded.
    let response = post(&gw, "/v1/models/openai%2Fgpt-4o:generateContent", &user("again")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn streams_come_as_sse_with_alt_sse_and_as_a_json_array_without() {
    let (gemini, openai) = (GeminiMock::start().await, OpenAiMock::start().await);
    let gw = both(&gemini, &openai).await;
    let path = "/v1beta/models/openai/gpt-4o:streamGenerateContent";
    let response = post(&gw, &format!("{path}?alt=sse"), &user("one two")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert_eq!(text_of(&chunks), "Hello! You said: one two");
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(last["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0);

    let response = post(&gw, path, &user("one two")).await;
    let body = response.text().await.unwrap();
    let array: Vec<Value> = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(text_of(&array), "Hello! You said: one two");
}

#[tokio::test]
async fn gemini_to_gemini_is_passthrough_and_aliases_work() {
    let (gemini, openai) = (GeminiMock::start().await, OpenAiMock::start().await);
    let gw = both(&gemini, &openai).await;
    let mut body = user("hi");
    body["safetySettings"] = json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]);
    body["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 0}, "vendorKnob": 1});
    let response = post(&gw, "/v1beta/models/flash:generateContent", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-llmkp-model"], "gemini/gemini-2.5-flash");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["candidates"][0]["content"]["parts"][0]["text"], "Hello from gemini: hi");
    assert_eq!(answer["modelVersion"], "gemini/gemini-2.5-flash", "B06: the provider/model that served the alias");
    let sent = &gemini.generate_requests()[0];
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(sent.body, body, "unchanged, unknown fields included");

    let response = post(&gw, "/v1beta/models/gemini/gemini-2.5-flash:streamGenerateContent?alt=sse", &body).await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert_eq!(text_of(&chunks), "Hello from gemini: hi");
    assert!(chunks.iter().all(|c| c["modelVersion"] == "gemini/gemini-2.5-flash"));
    assert_eq!(gemini.generate_requests()[1].query.as_deref(), Some("alt=sse"));
}

#[tokio::test]
async fn count_tokens_lists_and_key_in_the_query() {
    let (gemini, openai) = (GeminiMock::start().await, OpenAiMock::start().await);
    let gw = both(&gemini, &openai).await;
    let response = post(&gw, "/v1beta/models/openai/gpt-4o:countTokens", &user("how many tokens")).await;
    assert_eq!(response.headers()["x-llmkp-token-count-source"], "local");
    assert!(response.json::<Value>().await.unwrap()["totalTokens"].as_u64().unwrap() > 3);
    let response = post(&gw, "/v1beta/models/gemini/gemini-2.5-flash:countTokens", &user("how many")).await;
    assert_eq!(response.headers()["x-llmkp-token-count-source"], "upstream");
    assert!(response.json::<Value>().await.unwrap()["totalTokens"].as_u64().unwrap() > 0);

    let keyed = format!("/v1beta/models?key={PROXY_KEY}");
    let list: Value = gw.client().get(gw.url(&keyed)).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = list["models"].as_array().unwrap().iter().filter_map(|m| m["name"].as_str()).collect();
    assert!(names.contains(&"models/gemini/gemini-2.5-flash") && names.contains(&"models/openai/gpt-4o"), "{names:?}");
    // `GET /v1/models` answers in Gemini's shape when the key came the Gemini way.
    let list: Value =
        gw.client().get(gw.url(&format!("/v1/models?key={PROXY_KEY}"))).send().await.unwrap().json().await.unwrap();
    assert!(list["models"].is_array(), "{list}");
    let list: Value = gw.get("/v1/models").await.json().await.unwrap();
    assert_eq!(list["object"], "list");
}

#[tokio::test]
async fn errors_are_in_googles_shape() {
    let (gemini, openai) = (GeminiMock::start().await, OpenAiMock::start().await);
    let gw = both(&gemini, &openai).await;
    let response = gw.client().post(gw.url("/v1beta/models/openai/gpt-4o:generateContent")).json(&user("x"));
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        (error["error"]["code"].as_u64(), error["error"]["status"].as_str()),
        (Some(401), Some("UNAUTHENTICATED"))
    );

    let response = post(&gw, "/v1beta/models/nosuch/model:generateContent", &user("x")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["status"], "NOT_FOUND");

    let response = post(&gw, "/v1beta/models/openai/gpt-4o:generateContent", &json!({"contents": "nope"})).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["status"], "INVALID_ARGUMENT");

    // An upstream rate limit relayed after every key failed: 429 with RetryInfo.
    let base = gemini.base_url();
    let limited =
        Gateway::start(&[("PROXY_API_KEY", PROXY_KEY), ("GEMINI_API_BASE", &base), ("GEMINI_API_KEY", "rl17-x")]).await;
    let response = post(&limited, "/v1beta/models/gemini/gemini-2.5-flash:generateContent", &user("x")).await;
    assert_eq!(response.status(), 429);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(error["error"]["details"][0]["@type"], "type.googleapis.com/google.rpc.RetryInfo");
}
