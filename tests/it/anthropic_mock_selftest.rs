//! Self-tests for the Anthropic mock upstream in `support::anthropic_mock`.

use serde_json::{Value, json};

use crate::support::anthropic_mock::{AnthropicMock, THINKING_SIGNATURE};

async fn post(mock: &AnthropicMock, path: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(format!("{}{path}", mock.base_url())).json(body);
    if let Some(key) = key {
        req = req.header("x-api-key", key).header("anthropic-version", "2023-06-01");
    }
    req.send().await.expect("send")
}

async fn messages(mock: &AnthropicMock, key: &str, body: &Value) -> reqwest::Response {
    post(mock, "/v1/messages", Some(key), body).await
}

fn hi(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "hi there"}]})
}

/// `(event name, data)` of each SSE event, checking the framing and that the name matches `data.type`.
async fn events(resp: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream; charset=utf-8");
    let body = resp.text().await.expect("body");
    assert!(body.ends_with("\n\n"), "{body:?}");
    body.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|ev| {
            let (name, data) = ev.strip_prefix("event: ").and_then(|e| e.split_once("\ndata: ")).expect("framing");
            let data: Value = serde_json::from_str(data).expect("data json");
            assert_eq!(data["type"], name);
            (name.to_owned(), data)
        })
        .collect()
}

fn names(evs: &[(String, Value)]) -> Vec<&str> {
    evs.iter().map(|(n, _)| n.as_str()).collect()
}

#[tokio::test]
async fn non_stream_text_and_recorded_request() {
    let mock = AnthropicMock::start().await;
    let mut body = hi("claude-x", false);
    body["system"] = json!("be nice");
    let resp = messages(&mock, "sk-ant-good", &body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["request-id"].to_str().unwrap().starts_with("req_"));
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!((&v["type"], &v["role"], &v["model"]), (&json!("message"), &json!("assistant"), &json!("claude-x")));
    assert_eq!(v["content"], json!([{"type": "text", "text": "Hello from mock: hi there"}]));
    assert_eq!((&v["stop_reason"], &v["stop_sequence"]), (&json!("end_turn"), &Value::Null));
    let u = &v["usage"];
    assert!(u["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!((&u["output_tokens"], &u["cache_read_input_tokens"]), (&json!(5), &json!(0)));

    let reqs = mock.messages_requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str(), r.query.as_deref()), ("POST", "/v1/messages", None));
    assert_eq!((r.header("x-api-key"), r.header("anthropic-version")), (Some("sk-ant-good"), Some("2023-06-01")));
    assert_eq!(r.body, body);
    assert_eq!(mock.keys_used(), ["sk-ant-good"]);

    // `echo…` answers with the request body; `length…` stops on max_tokens.
    let v: Value = messages(&mock, "k", &hi("echo-1", false)).await.json().await.unwrap();
    let echoed: Value = serde_json::from_str(v["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(echoed, hi("echo-1", false));
    let v: Value = messages(&mock, "k", &hi("length-1", false)).await.json().await.unwrap();
    assert_eq!(v["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn text_stream_event_order() {
    let mock = AnthropicMock::start().await;
    let evs = events(messages(&mock, "k", &hi("claude-x", true)).await).await;
    let n = evs.len();
    assert_eq!(names(&evs)[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(names(&evs)[n - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    assert!(names(&evs)[3..n - 3].iter().all(|e| *e == "content_block_delta"));
    let start = &evs[0].1["message"];
    assert_eq!((&start["content"], &start["stop_reason"]), (&json!([]), &Value::Null));
    assert!(start["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(start["usage"]["output_tokens"], 1);
    assert_eq!(evs[1].1["content_block"], json!({"type": "text", "text": ""}));
    let texts: Vec<&str> = evs[3..n - 3].iter().map(|(_, d)| d["delta"]["text"].as_str().unwrap()).collect();
    assert!(texts.len() >= 3, "{texts:?}");
    assert_eq!(texts.concat(), "Hello from mock: hi there");
    let delta = &evs[n - 2].1;
    assert_eq!(delta["delta"], json!({"stop_reason": "end_turn", "stop_sequence": null}));
    assert_eq!(delta["usage"]["output_tokens"], 5);
}

#[tokio::test]
async fn tool_use_stream_and_parallel() {
    let mock = AnthropicMock::start().await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let mut body = hi("tools-1", true);
    body["tools"] = json!([{"name": "get_weather", "description": "w", "input_schema": schema}]);
    let evs = events(messages(&mock, "k", &body).await).await;
    assert_eq!(
        evs[1].1["content_block"],
        json!({"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather", "input": {}})
    );
    let fragments: Vec<&str> = evs
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap()
        })
        .collect();
    assert!(fragments.len() >= 2, "{fragments:?}");
    let input: Value = serde_json::from_str(&fragments.concat()).expect("fragments form JSON");
    assert_eq!(input, json!({"city": "Paris"}));
    assert_eq!(evs[evs.len() - 2].1["delta"]["stop_reason"], "tool_use");

    body["stream"] = json!(false);
    body["model"] = json!("tools-parallel");
    let tz = json!({"type": "object", "properties": {"tz": {"type": "string", "enum": ["UTC", "CET"]}}});
    body["tools"].as_array_mut().unwrap().push(json!({"name": "get_time", "input_schema": tz}));
    let v: Value = messages(&mock, "k", &body).await.json().await.unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["content"][0]["input"], json!({"city": "Paris"}));
    assert_eq!(
        v["content"][1],
        json!({"type": "tool_use", "id": "toolu_mock_2", "name": "get_time", "input": {"tz": "UTC"}})
    );
}

#[tokio::test]
async fn thinking_stream() {
    let mock = AnthropicMock::start().await;
    let evs = events(messages(&mock, "k", &hi("thinking-1", true)).await).await;
    let block0: Vec<&str> = evs
        .iter()
        .filter(|(n, d)| n == "content_block_delta" && d["index"] == 0)
        .map(|(_, d)| d["delta"]["type"].as_str().unwrap())
        .collect();
    assert!(block0.len() >= 3, "{block0:?}");
    assert_eq!(block0.last(), Some(&"signature_delta"));
    assert!(block0[..block0.len() - 1].iter().all(|t| *t == "thinking_delta"));
    let sig = evs.iter().find(|(_, d)| d["delta"]["type"] == "signature_delta").unwrap();
    assert_eq!(sig.1["delta"]["signature"], THINKING_SIGNATURE);
    let starts: Vec<&Value> =
        evs.iter().filter(|(n, _)| n == "content_block_start").map(|(_, d)| &d["content_block"]).collect();
    assert_eq!(starts, [&json!({"type": "thinking", "thinking": ""}), &json!({"type": "text", "text": ""})]);

    let v: Value = messages(&mock, "k", &hi("thinking-1", false)).await.json().await.unwrap();
    assert_eq!(v["content"][0]["type"], "thinking");
    assert_eq!(v["content"][0]["signature"], THINKING_SIGNATURE);
    assert_eq!(v["content"][1]["text"], "Hello from mock: hi there");
}

#[tokio::test]
async fn error_keys_and_headers() {
    let mock = AnthropicMock::start().await;
    let body = hi("claude-x", true);
    let cases = [
        ("rl-1", 429, "rate_limit_error"),
        ("bad-1", 401, "authentication_error"),
        ("forbidden-1", 403, "permission_error"),
        ("overloaded-1", 529, "overloaded_error"),
        ("err-1", 500, "api_error"),
    ];
    for (key, status, typ) in cases {
        let resp = messages(&mock, key, &body).await;
        assert_eq!(resp.status(), status, "{key}");
        let rid = resp.headers()["request-id"].to_str().unwrap().to_owned();
        let h = resp.headers().clone();
        let v: Value = resp.json().await.unwrap();
        assert_eq!((&v["type"], &v["error"]["type"], &v["request_id"]), (&json!("error"), &json!(typ), &json!(rid)));
        assert!(v["error"]["message"].is_string());
        if status == 429 {
            assert_eq!(h["retry-after"], "7");
            let reset = h["anthropic-ratelimit-requests-reset"].to_str().unwrap();
            assert!(reset.len() == 20 && reset.ends_with('Z') && reset.as_bytes()[10] == b'T', "{reset}");
        }
    }
    let v: Value = messages(&mock, "bad-1", &body).await.json().await.unwrap();
    assert_eq!(v["error"]["message"], "invalid x-api-key");

    // Missing headers.
    let resp = post(&mock, "/v1/messages", None, &body).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "x-api-key header is required");
    let url = format!("{}/v1/messages", mock.base_url());
    let resp = reqwest::Client::new().post(url).header("x-api-key", "k").json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(mock.requests().len(), cases.len() + 3);
}

#[tokio::test]
async fn stream_faults() {
    let mock = AnthropicMock::start().await;
    let evs = events(messages(&mock, "streamerr-1", &hi("claude-x", true)).await).await;
    assert_eq!(names(&evs), ["message_start", "error"]);
    assert_eq!(evs[1].1["error"]["type"], "overloaded_error");

    let evs = events(messages(&mock, "cut-1", &hi("claude-x", true)).await).await;
    assert_eq!(names(&evs), ["message_start", "content_block_start", "ping", "content_block_delta"]);
}

#[tokio::test]
async fn validation_errors() {
    let mock = AnthropicMock::start().await;
    let cases = [
        (json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}), "max_tokens: Field required"),
        (json!({"model": "m", "max_tokens": 5, "messages": []}), "messages: at least one message is required"),
        (json!({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}), "model: Field required"),
    ];
    for (body, msg) in cases {
        let resp = messages(&mock, "k", &body).await;
        assert_eq!(resp.status(), 400, "{msg}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!((&v["error"]["type"], &v["error"]["message"]), (&json!("invalid_request_error"), &json!(msg)));
    }
    let resp = post(&mock, "/v1/nope", Some("k"), &json!({})).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn count_tokens_and_models() {
    let mock = AnthropicMock::start().await;
    let body = hi("claude-x", false);
    let v: Value = post(&mock, "/v1/messages/count_tokens", Some("k"), &body).await.json().await.unwrap();
    let n = v["input_tokens"].as_u64().unwrap();
    assert!(n > 0);
    let m: Value = messages(&mock, "k", &body).await.json().await.unwrap();
    assert_eq!(m["usage"]["input_tokens"], n);

    let url = format!("{}/v1/models", mock.base_url());
    let get = |url: String| {
        reqwest::Client::new().get(url).header("x-api-key", "k").header("anthropic-version", "2023-06-01").send()
    };
    let v: Value = get(url.clone()).await.unwrap().json().await.unwrap();
    let data = v["data"].as_array().unwrap();
    assert!(data.len() >= 2);
    assert!(data.iter().all(|m| m["type"] == "model" && m["display_name"].is_string() && m["created_at"].is_string()));
    assert!(data[0]["id"].as_str().unwrap().starts_with("claude-"));
    assert_eq!((&v["has_more"], &v["first_id"]), (&json!(false), &data[0]["id"]));
    assert_eq!(v["last_id"], data.last().unwrap()["id"]);
    let v: Value = get(format!("{url}?limit=1")).await.unwrap().json().await.unwrap();
    assert_eq!((v["data"].as_array().unwrap().len(), &v["has_more"]), (1, &json!(true)));
}
