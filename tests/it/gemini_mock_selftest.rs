//! Self-tests for the Gemini mock upstream in `support::gemini_mock`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::gemini_mock::{DEFAULT_DIMENSIONS, GeminiMock, embedding_values};

async fn post(mock: &GeminiMock, path: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(format!("{}{path}", mock.base_url())).json(body);
    if let Some(key) = key {
        req = req.header("x-goog-api-key", key);
    }
    req.send().await.expect("send")
}

async fn generate(mock: &GeminiMock, key: &str, model: &str, body: &Value) -> reqwest::Response {
    post(mock, &format!("/v1beta/models/{model}:generateContent"), Some(key), body).await
}

async fn stream(mock: &GeminiMock, key: &str, model: &str, body: &Value) -> reqwest::Response {
    post(mock, &format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"), Some(key), body).await
}

fn hi() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]})
}

/// The `data:` objects of an SSE body, checking the CRLF framing.
async fn events(resp: reqwest::Response) -> Vec<Value> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let body = resp.text().await.expect("body");
    assert!(body.ends_with("\r\n\r\n"), "{body:?}");
    body.trim_end_matches("\r\n\r\n")
        .split("\r\n\r\n")
        .map(|ev| serde_json::from_str(ev.strip_prefix("data: ").expect("data: prefix")).expect("data json"))
        .collect()
}

fn texts(chunks: &[Value]) -> Vec<&str> {
    chunks.iter().filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str()).collect()
}

#[tokio::test]
async fn text_answers_and_recorded_requests() {
    let mock = GeminiMock::start().await;
    let resp = generate(&mock, "AIza-good", "gemini-2.5-flash", &hi()).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let cand = &v["candidates"][0];
    assert_eq!(cand["content"], json!({"parts": [{"text": "Hello from gemini: hi there"}], "role": "model"}));
    assert_eq!((&cand["finishReason"], &cand["index"]), (&json!("STOP"), &json!(0)));
    let u = &v["usageMetadata"];
    let prompt = u["promptTokenCount"].as_u64().unwrap();
    assert!(prompt > 0);
    assert_eq!(u["candidatesTokenCount"], 5);
    assert_eq!(u["totalTokenCount"], prompt + 5);
    assert!(u.get("thoughtsTokenCount").is_none());
    assert_eq!(v["modelVersion"], "gemini-2.5-flash");
    assert!(v["responseId"].as_str().is_some_and(|id| !id.is_empty()));

    // `?key=`, a doubled `models/` and the other model prefixes.
    let url = "/v1beta/models/models/echo-1:generateContent?key=AIza-query";
    let v: Value = post(&mock, url, None, &hi()).await.json().await.unwrap();
    let echoed: Value =
        serde_json::from_str(v["candidates"][0]["content"]["parts"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(echoed, hi());
    let v: Value = generate(&mock, "k", "length-1", &hi()).await.json().await.unwrap();
    assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
    let v: Value = generate(&mock, "k", "safety-1", &hi()).await.json().await.unwrap();
    assert_eq!(v["candidates"][0]["finishReason"], "SAFETY");
    assert!(v["candidates"][0].get("content").is_none());
    assert!(v["candidates"][0]["safetyRatings"].is_array());

    // A function response as the last user turn is echoed as compact JSON.
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"temp": 21}}}]},
    ]});
    let v: Value = generate(&mock, "k", "gemini-x", &body).await.json().await.unwrap();
    assert_eq!(v["candidates"][0]["content"]["parts"][0]["text"], r#"Hello from gemini: {"temp":21}"#);

    let reqs = mock.generate_requests();
    assert_eq!(reqs.len(), 5);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/v1beta/models/gemini-2.5-flash:generateContent")
    );
    assert_eq!(reqs[0].body, hi());
    assert_eq!(mock.keys_used(), ["AIza-good", "AIza-query", "k", "k", "k"]);
}

#[tokio::test]
async fn stream_framing_thinking_and_json_array() {
    let mock = GeminiMock::start().await;
    let chunks = events(stream(&mock, "k", "gemini-2.5-flash", &hi()).await).await;
    assert!(chunks.len() >= 3, "{chunks:?}");
    assert_eq!(texts(&chunks).concat(), "Hello from gemini: hi there");
    let (last, rest) = chunks.split_last().unwrap();
    assert!(rest.iter().all(|c| c.get("usageMetadata").is_none() && c["candidates"][0].get("finishReason").is_none()));
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 5);
    assert!(
        chunks.iter().all(|c| c["responseId"] == chunks[0]["responseId"] && c["modelVersion"] == "gemini-2.5-flash")
    );

    // Thinking: thought fragments first, then text whose first fragment carries the signature.
    let chunks = events(stream(&mock, "k", "thinking-1", &hi()).await).await;
    let parts: Vec<&Value> = chunks.iter().map(|c| &c["candidates"][0]["content"]["parts"][0]).collect();
    let n_thought = parts.iter().take_while(|p| p["thought"] == true).count();
    assert!(n_thought >= 1);
    let thought: String = parts[..n_thought].iter().map(|p| p["text"].as_str().unwrap()).collect();
    assert_eq!(thought, "Let me think");
    assert!(parts[n_thought]["thoughtSignature"].as_str().unwrap().starts_with("sig-"));
    assert!(parts[n_thought + 1..].iter().all(|p| p.get("thoughtSignature").is_none() && p.get("thought").is_none()));
    assert!(chunks.last().unwrap()["usageMetadata"]["thoughtsTokenCount"].as_u64().unwrap() > 0);
    let v: Value = generate(&mock, "k", "thinking-1", &hi()).await.json().await.unwrap();
    let parts = &v["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0], json!({"text": "Let me think", "thought": true}));
    assert_eq!(parts[1]["text"], "Hello from gemini: hi there");
    assert!(parts[1]["thoughtSignature"].is_string());

    // Without `alt=sse`: one JSON array, elements separated by `,\r\n`.
    let resp = post(&mock, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", Some("k"), &hi()).await;
    assert_eq!(resp.headers()["content-type"], "application/json; charset=UTF-8");
    let body = resp.text().await.unwrap();
    assert!(body.starts_with("[{") && body.ends_with(']') && body.contains("},\r\n{"), "{body}");
    let arr: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(texts(&arr).concat(), "Hello from gemini: hi there");
    assert_eq!(arr.last().unwrap()["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn tool_call_signature_must_round_trip() {
    let mock = GeminiMock::start().await;
    let schema = json!({"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]});
    let tools = json!([{"functionDeclarations": [{"name": "get_weather", "description": "w", "parameters": schema}]}]);
    let mut body = hi();
    body["tools"] = tools.clone();
    let v: Value = generate(&mock, "k", "tools-1", &body).await.json().await.unwrap();
    let part = v["candidates"][0]["content"]["parts"][0].clone();
    assert_eq!(part["functionCall"], json!({"name": "get_weather", "args": {"city": "Paris"}}));
    let sig = part["thoughtSignature"].as_str().unwrap().to_owned();
    assert!(sig.starts_with("sig-"));
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(mock.issued_signatures(), std::slice::from_ref(&sig));

    let turn2 = |call_part: Value| {
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "hi there"}]},
                {"role": "model", "parts": [call_part]},
                {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}]},
            ],
            "tools": tools,
        })
    };
    let bare = json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}});
    let resp = generate(&mock, "k", "tools-1", &turn2(bare.clone())).await;
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    assert_eq!((&e["error"]["code"], &e["error"]["status"]), (&json!(400), &json!("INVALID_ARGUMENT")));
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("Function call is missing a thought_signature in functionCall parts"), "{msg}");
    let mut wrong = bare.clone();
    wrong["thoughtSignature"] = json!("sig-forged");
    assert_eq!(generate(&mock, "k", "tools-1", &turn2(wrong)).await.status(), 400);
    // A call the mock never issued is not checked.
    let other = json!({"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}});
    assert_eq!(generate(&mock, "k", "gemini-x", &turn2(other)).await.status(), 200);

    // With the signature: 200, and `tools…` answers the function response with text.
    let resp = generate(&mock, "k", "tools-1", &turn2(part)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["candidates"][0]["content"]["parts"][0]["text"], r#"Hello from gemini: {"temp":21}"#);

    // Streamed: the whole call in one chunk, with its own fresh signature.
    let chunks = events(stream(&mock, "k", "tools-1", &body).await).await;
    assert_eq!(chunks.len(), 1);
    let part = &chunks[0]["candidates"][0]["content"]["parts"][0];
    assert_eq!(part["functionCall"]["name"], "get_weather");
    assert_eq!(mock.issued_signatures().last().map(String::as_str), part["thoughtSignature"].as_str());
    assert_ne!(part["thoughtSignature"], json!(sig));
    assert_eq!(chunks[0]["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn key_errors_have_google_shapes() {
    let mock = GeminiMock::start().await;
    let cases = [
        ("rl17-a", 429, "RESOURCE_EXHAUSTED"),
        ("rl-b", 429, "RESOURCE_EXHAUSTED"),
        ("bad-c", 400, "INVALID_ARGUMENT"),
        ("unavailable-d", 503, "UNAVAILABLE"),
        ("err-e", 500, "INTERNAL"),
        ("forbidden-f", 403, "PERMISSION_DENIED"),
    ];
    for (key, status, grpc) in cases {
        let resp = generate(&mock, key, "gemini-2.5-flash", &hi()).await;
        assert_eq!(resp.status(), status, "{key}");
        assert!(resp.headers().get("retry-after").is_none());
        let v: Value = resp.json().await.unwrap();
        assert_eq!((&v["error"]["code"], &v["error"]["status"]), (&json!(status), &json!(grpc)), "{key}");
        assert!(v["error"]["message"].is_string());
        if status == 429 {
            let details = v["error"]["details"].as_array().unwrap();
            let of = |t: &str| details.iter().find(|d| d["@type"] == format!("type.googleapis.com/google.rpc.{t}"));
            let delay = if key.starts_with("rl17") { "17s" } else { "2s" };
            assert_eq!(of("RetryInfo").unwrap()["retryDelay"], delay);
            assert_eq!(of("QuotaFailure").unwrap()["violations"][0]["quotaDimensions"]["model"], "gemini-2.5-flash");
        }
    }
    let v: Value = generate(&mock, "bad-c", "m", &hi()).await.json().await.unwrap();
    assert_eq!(v["error"]["message"], "API key not valid. Please pass a valid API key.");
    assert_eq!(v["error"]["details"][0]["reason"], "API_KEY_INVALID");
    let v: Value = generate(&mock, "unavailable-d", "m", &hi()).await.json().await.unwrap();
    assert_eq!(v["error"]["message"], "The model is overloaded. Please try again later.");

    // No key at all: 403 on every route.
    for path in ["/v1beta/models/gemini-2.5-flash:generateContent", "/v1beta/models"] {
        let resp = reqwest::Client::new().post(format!("{}{path}", mock.base_url())).json(&hi()).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["status"], "PERMISSION_DENIED");
        assert!(v["error"]["message"].as_str().unwrap().starts_with("Method doesn't allow unregistered callers"));
    }
}

#[tokio::test]
async fn stream_faults_and_validation() {
    let mock = GeminiMock::start().await;
    let chunks = events(stream(&mock, "streamerr-1", "gemini-2.5-flash", &hi()).await).await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0]["error"]["code"], 503);
    assert_eq!(chunks[0]["error"]["status"], "UNAVAILABLE");
    assert_eq!(generate(&mock, "streamerr-1", "gemini-2.5-flash", &hi()).await.status(), 503);

    let chunks = events(stream(&mock, "cut-1", "gemini-2.5-flash", &hi()).await).await;
    assert_eq!(texts(&chunks), ["Hello "]);
    assert!(chunks[0]["candidates"][0].get("finishReason").is_none() && chunks[0].get("usageMetadata").is_none());

    let started = Instant::now();
    let chunks = events(stream(&mock, "k", "slow-1", &hi()).await).await;
    assert!(started.elapsed() >= Duration::from_millis(300) * (chunks.len() as u32 - 1));

    let cases = [
        (json!({}), "* GenerateContentRequest.contents: contents is not specified\n"),
        (json!({"contents": []}), "* GenerateContentRequest.contents: contents is not specified\n"),
        (
            json!({"contents": [{"role": "user", "parts": []}]}),
            "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n",
        ),
        (
            json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
            "Please use a valid role: user, model.",
        ),
    ];
    for (body, msg) in cases {
        let resp = generate(&mock, "k", "gemini-2.5-flash", &body).await;
        assert_eq!(resp.status(), 400, "{msg}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!((&v["error"]["status"], &v["error"]["message"]), (&json!("INVALID_ARGUMENT"), &json!(msg)));
    }
    let v: Value = generate(&mock, "k", "invalid-1", &hi()).await.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().starts_with("Invalid JSON payload received."));
    let url = format!("{}/v1beta/models/gemini-2.5-flash:generateContent", mock.base_url());
    let resp = reqwest::Client::new().post(url).header("x-goog-api-key", "k").body("{nope").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(generate(&mock, "k", "notfound-1", &hi()).await.status(), 404);
    assert_eq!(post(&mock, "/v1beta/nope", Some("k"), &hi()).await.status(), 404);
}

#[tokio::test]
async fn count_tokens_and_embeddings() {
    let mock = GeminiMock::start().await;
    let v: Value = generate(&mock, "k", "gemini-2.5-flash", &hi()).await.json().await.unwrap();
    let prompt = v["usageMetadata"]["promptTokenCount"].clone();
    let path = "/v1beta/models/gemini-2.5-flash:countTokens";
    let v: Value = post(&mock, path, Some("k"), &hi()).await.json().await.unwrap();
    assert_eq!(v["totalTokens"], prompt);
    let mut inner = hi();
    inner["model"] = json!("models/gemini-2.5-flash");
    let v: Value = post(&mock, path, Some("k"), &json!({"generateContentRequest": inner})).await.json().await.unwrap();
    assert_eq!(v["totalTokens"], prompt);
    assert_eq!(post(&mock, path, Some("k"), &json!({})).await.status(), 400);

    let path = "/v1beta/models/text-embedding-004:batchEmbedContents";
    let req = |text: &str| json!({"model": "models/text-embedding-004", "content": {"parts": [{"text": text}]}});
    let mut third = req("alpha");
    third["outputDimensionality"] = json!(3);
    let body = json!({"requests": [req("alpha"), req("beta"), third]});
    let resp = post(&mock, path, Some("k"), &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let embs = v["embeddings"].as_array().unwrap();
    assert_eq!(embs.len(), 3);
    assert_eq!(embs[0]["values"], json!(embedding_values("alpha", DEFAULT_DIMENSIONS)));
    assert_eq!(embs[1]["values"], json!(embedding_values("beta", DEFAULT_DIMENSIONS)));
    assert_ne!(embs[0]["values"], embs[1]["values"]);
    assert_eq!(embs[2]["values"].as_array().unwrap().len(), 3);
    let again: Value = post(&mock, path, Some("k"), &body).await.json().await.unwrap();
    assert_eq!(again, v);

    for bad in [json!({"requests": []}), json!({"requests": [{"content": {"parts": [{"text": "x"}]}}]})] {
        let resp = post(&mock, path, Some("k"), &bad).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["status"], "INVALID_ARGUMENT");
    }
}

#[tokio::test]
async fn models_list_pages_and_get() {
    let mock = GeminiMock::start().await;
    let get = |path: String| {
        reqwest::Client::new().get(format!("{}{path}", mock.base_url())).header("x-goog-api-key", "k").send()
    };
    let v: Value = get("/v1beta/models".into()).await.unwrap().json().await.unwrap();
    let names: Vec<&str> = v["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "models/gemini-2.5-flash",
            "models/gemini-2.5-pro",
            "models/gemini-3-pro-preview",
            "models/text-embedding-004"
        ]
    );
    assert!(v.get("nextPageToken").is_none());
    let m = &v["models"][0];
    assert_eq!((&m["displayName"], &m["inputTokenLimit"]), (&json!("Gemini 2.5 Flash"), &json!(1_048_576)));
    assert!(m["supportedGenerationMethods"].as_array().unwrap().contains(&json!("generateContent")));

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let q = token.as_ref().map_or(String::new(), |t| format!("&pageToken={t}"));
        let v: Value = get(format!("/v1beta/models?pageSize=3{q}")).await.unwrap().json().await.unwrap();
        let page = v["models"].as_array().unwrap();
        assert!(!page.is_empty() && page.len() <= 3);
        seen.extend(page.iter().map(|m| m["name"].as_str().unwrap().to_owned()));
        match v["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, names);

    let v: Value = get("/v1beta/models/gemini-2.5-pro?key=k".into()).await.unwrap().json().await.unwrap();
    assert_eq!(v["name"], "models/gemini-2.5-pro");
    let resp = get("/v1beta/models/gpt-4o".into()).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["status"], "NOT_FOUND");
}
