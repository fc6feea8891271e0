//! Offline token counting and cost estimates: the library, `llmkp count-tokens` through the real
//! binary, and `POST /v1/token-count` / `POST /v1/cost-estimate` through the router. Never a 500
//! for a bad body.

use std::path::Path;
use std::process::Output;

use llmkp::tokens::{self, CountOptions, Family};
use serde_json::{Value, json};

use crate::support::cli::output;
use crate::support::gateway::{Gateway, PROXY_KEY, error_of};

/// `llmkp --home <home> count-tokens <args>` with the process environment cleared and `stdin`
/// fed to it.
fn count_tokens(home: &Path, args: &[&str], stdin: &str) -> Output {
    let args: Vec<&str> = std::iter::once("count-tokens").chain(args.iter().copied()).collect();
    output(home, &args, Some(stdin))
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "exit {:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn hello_world_is_two_tokens_for_gpt_4o() {
    let home = tempfile::tempdir().unwrap();
    assert_eq!(stdout(&count_tokens(home.path(), &["-m", "gpt-4o", "hello world"], "")), "2\n");
    assert_eq!(stdout(&count_tokens(home.path(), &["--model", "openai/gpt-4o", "-"], "hello world")), "2\n");
    // No input and stdin not a terminal: stdin is the text.
    assert_eq!(stdout(&count_tokens(home.path(), &["-m", "gpt-4o"], "hello world")), "2\n");
    std::fs::write(home.path().join("t.txt"), "hello world").unwrap();
    assert_eq!(stdout(&count_tokens(home.path(), &["-m", "gpt-4o", "--file", "t.txt"], "")), "2\n");
}

#[test]
fn json_says_whether_the_count_is_exact() {
    let home = tempfile::tempdir().unwrap();
    let out = stdout(&count_tokens(home.path(), &["-m", "gemini/gemini-2.5-pro", "--json", "hello world"], ""));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report,
        json!({"model": "gemini/gemini-2.5-pro", "tokens": 2, "encoding": "o200k_base", "exact": false})
    );
    let out = stdout(&count_tokens(home.path(), &["-m", "gpt-4", "--json", "-"], "hello world"));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((report["encoding"].as_str(), report["exact"].as_bool()), (Some("cl100k_base"), Some(true)));
}

#[test]
fn messages_files_are_counted_in_either_format() {
    let home = tempfile::tempdir().unwrap();
    let openai = json!({"messages": [{"role": "user", "content": "hello world"}]});
    std::fs::write(home.path().join("openai.json"), openai.to_string()).unwrap();
    // 3 per message + "user" + "hello world" + 3 for the reply.
    assert_eq!(stdout(&count_tokens(home.path(), &["-m", "gpt-4o", "--messages", "openai.json"], "")), "9\n");
    let anthropic = json!({"system": "You are terse. ".repeat(50), "messages": [{"role": "user", "content": "hi"}]});
    std::fs::write(home.path().join("anthropic.json"), anthropic.to_string()).unwrap();
    let detected = count_tokens(home.path(), &["-m", "claude-sonnet-4-5", "--messages", "anthropic.json"], "");
    let detected: usize = stdout(&detected).trim().parse().unwrap();
    assert!(detected > 100, "{detected}");
    // Forced OpenAI, a top-level `system` is not part of the request.
    let args = ["-m", "claude-sonnet-4-5", "--messages", "-", "--format", "openai"];
    let forced: usize = stdout(&count_tokens(home.path(), &args, &anthropic.to_string())).trim().parse().unwrap();
    assert!(forced < 20, "{forced}");
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("bad.json"), "{not json").unwrap();
    std::fs::write(home.path().join("wrong.json"), r#"{"messages": "hi"}"#).unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["-m", "gpt-4o", "--file", "missing.txt"], "cannot read missing.txt"),
        (&["-m", "gpt-4o", "--messages", "bad.json"], "bad.json: not valid JSON"),
        (&["-m", "gpt-4o", "--messages", "wrong.json"], "`messages` must be an array"),
        (&["-m", "gpt-4o", "text", "--file", "x"], "cannot be used with"),
        (&["hello"], "--model"),
    ];
    for (args, expected) in cases {
        let output = count_tokens(home.path(), args, "");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

// The library behind both: encodings per model family, format detection, errors.

#[test]
fn each_openai_family_gets_its_encoding() {
    for model in ["gpt-4.1-mini", "o1", "o3-mini", "o4-mini", "gpt-5", "gpt-5-nano", "azure/GPT-4o"] {
        assert_eq!(tokens::count_text(model, "x").encoding, "o200k_base", "{model}");
    }
    for model in ["gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "text-embedding-3-small"] {
        assert_eq!(tokens::count_text(model, "x").encoding, "cl100k_base", "{model}");
    }
    assert_eq!(tokens::count_text("groq/gpt-oss-120b", "x").encoding, "o200k_harmony");
    assert_eq!(tokens::count_text("text-davinci-003", "x").encoding, "p50k_base");
}

#[test]
fn the_format_is_detected_or_forced() {
    assert_eq!(Family::detect(&json!({"system": "x", "messages": []})), Family::Anthropic);
    assert_eq!(Family::detect(&json!({"messages": [{"role": "tool", "content": "x"}]})), Family::OpenAi);
    let blocks = json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]});
    assert_eq!(Family::detect(&blocks), Family::Anthropic);
    assert_eq!(Family::detect(&json!({"messages": [{"role": "user", "content": "x"}]})), Family::OpenAi);
    // Forced OpenAI: a top-level `system` is not part of that format and is ignored.
    let forced = CountOptions { format: Some(Family::OpenAi), ..Default::default() };
    let body = json!({"system": "a long system prompt here", "messages": []});
    assert_eq!(tokens::count_messages_with("gpt-4o", &body, &forced).unwrap().tokens, tokens::REPLY_PRIMING_TOKENS);
}

#[test]
fn bad_bodies_are_errors_with_the_field_named() {
    let err = |body: Value| tokens::count_messages("gpt-4o", &body).unwrap_err().message;
    assert!(err(json!({})).contains("`messages` is required"));
    assert!(err(json!({"messages": "hi"})).contains("must be an array"));
    assert!(err(json!("text")).contains("JSON object"));
    assert!(err(json!({"messages": [1]})).contains("messages[0]"));
    assert!(err(json!({"messages": [{"role": "user", "content": 5}]})).contains("messages[0].content"));
    assert!(err(json!({"messages": [], "tools": {}})).contains("`tools`"));
    assert!(err(json!({"system": 3, "messages": []})).contains("`system`"));
}

async fn gateway() -> Gateway {
    Gateway::start(&[("PROXY_API_KEY", PROXY_KEY)]).await
}

async fn ok_json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn token_count_counts_text_and_messages() {
    let gw = gateway().await;
    let body =
        ok_json(gw.post("/v1/token-count", &json!({"model": "openai/gpt-4o", "text": "hello world"})).await).await;
    assert_eq!(body, json!({"token_count": 2, "exact": true, "encoding": "o200k_base"}));
    let messages = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello world"}]});
    assert_eq!(ok_json(gw.post("/v1/token-count", &messages).await).await["token_count"], 9);
    let anthropic = json!({"model": "anthropic/claude-haiku-4-5", "system": "Answer in French.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello world"}]}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}]});
    let body = ok_json(gw.post("/v1/token-count", &anthropic).await).await;
    assert_eq!(body["exact"], false);
    assert!(body["token_count"].as_u64().unwrap() > 20, "{body}");
}

#[tokio::test]
async fn a12_token_count_rejects_bad_bodies_with_400() {
    let gw = gateway().await;
    let cases = [
        (json!({}), "`model` is required"),
        (json!({"text": "hi"}), "`model` is required"),
        (json!({"model": "gpt-4o"}), "either `messages` or `text`"),
        (json!({"model": 4, "text": "hi"}), "`model` must be"),
        (json!({"model": "gpt-4o", "text": 5}), "`text` must be a string"),
        (json!({"model": "gpt-4o", "messages": "hi"}), "`messages` must be an array"),
        (json!({"model": "gpt-4o", "messages": [{"role": "user", "content": 5}]}), "messages[0].content"),
        (json!([1, 2]), "JSON object"),
    ];
    for (body, expected) in cases {
        let response = gw.post("/v1/token-count", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error = error_of(response).await;
        assert_eq!(error["type"], "invalid_request_error");
        assert!(error["message"].as_str().unwrap().contains(expected), "{body}: {error}");
    }
    let response = gw.post_raw("/v1/token-count", "{\"model\": ").await;
    assert_eq!(response.status(), 400);
    assert!(error_of(response).await["message"].as_str().unwrap().contains("invalid JSON"));
}

#[tokio::test]
async fn cost_estimate_prices_a_known_model_from_the_table() {
    let gw = gateway().await;
    let request = json!({"model": "anthropic/claude-sonnet-4-5", "prompt_tokens": 10_000, "completion_tokens": 2_000,
        "cache_read_tokens": 50_000, "cache_creation_tokens": 20_000});
    let body = ok_json(gw.post("/v1/cost-estimate", &request).await).await;
    assert_eq!(body["model"], "anthropic/claude-sonnet-4-5");
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["source"], "catalog");
    // $3 input, $15 output, $0.30 cache read, $3.75 cache write per million.
    let expected = 0.01 * 3.0 + 0.002 * 15.0 + 0.05 * 0.30 + 0.02 * 3.75;
    assert!((body["cost"].as_f64().unwrap() - expected).abs() < 1e-9, "{body}");
    let pricing = &body["pricing"];
    assert_eq!(pricing["input_per_million"], 3.0);
    assert_eq!(pricing["output_per_million"], 15.0);
    assert_eq!(pricing["cache_read_per_million"], 0.3);
    assert_eq!(pricing["cache_write_per_million"], 3.75);

    // Counts default to zero; a bare model id and a provider alias find the same entries.
    let body =
        ok_json(gw.post("/v1/cost-estimate", &json!({"model": "gpt-4o-mini", "prompt_tokens": 1_000_000})).await).await;
    assert!((body["cost"].as_f64().unwrap() - 0.15).abs() < 1e-12, "{body}");
    let body = ok_json(gw.post("/v1/cost-estimate", &json!({"model": "gemini/gemini-2.5-flash"})).await).await;
    assert_eq!((body["cost"].as_f64(), body["source"].as_str()), (Some(0.0), Some("catalog")));
    assert_eq!(body["pricing"]["model"], "google/gemini-2.5-flash");
}

#[tokio::test]
async fn cost_estimate_for_an_unknown_model_is_200_with_a_null_cost() {
    let gw = gateway().await;
    let body =
        ok_json(gw.post("/v1/cost-estimate", &json!({"model": "mycorp/house-model", "prompt_tokens": 5})).await).await;
    assert_eq!(body["cost"], Value::Null);
    assert_eq!(body["source"], "unknown");
    assert_eq!(body["currency"], "USD");
    assert!(body["error"].as_str().unwrap().contains("mycorp/house-model"), "{body}");
}

#[tokio::test]
async fn cost_estimate_rejects_bad_bodies_with_400() {
    let gw = gateway().await;
    let cases = [
        json!({}),
        json!({"prompt_tokens": 5}),
        json!({"model": ""}),
        json!({"model": "gpt-4o", "prompt_tokens": -1}),
        json!({"model": "gpt-4o", "completion_tokens": 1.5}),
        json!({"model": "gpt-4o", "cache_read_tokens": "10"}),
        json!({"model": "gpt-4o", "cache_creation_tokens": true}),
    ];
    for body in cases {
        let response = gw.post("/v1/cost-estimate", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(error_of(response).await["code"], "invalid_request", "{body}");
    }
    assert_eq!(gw.post_raw("/v1/cost-estimate", "not json").await.status(), 400);
}

#[tokio::test]
async fn both_routes_need_the_proxy_key() {
    let gw = gateway().await;
    for path in ["/v1/token-count", "/v1/cost-estimate"] {
        let response = gw.client().post(gw.url(path)).json(&json!({"model": "gpt-4o", "text": "x"})).send().await;
        assert_eq!(response.unwrap().status(), 401, "{path}");
    }
}
