//! Today's clients end to end (issue 11): Claude Code 2.1's request shape on every upstream
//! family, output limits the model would refuse, upstreams that ignore the `stream` flag, empty
//! answers, session keys at the Gemini front door, and the credential label.

use serde_json::{Value, json};

use crate::support::anthropic_mock::AnthropicMock;
use crate::support::gateway::{Gateway, PROXY_KEY, chat_body, chunks, sse_data};
use crate::support::gemini_mock::{GeminiMock, api_key};
use crate::support::openai_mock::OpenAiMock;

const BETAS: &str = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,\
    prompt-caching-scope-2026-01-05,effort-2025-11-24,fine-grained-tool-streaming-2025-05-14,\
    adaptive-thinking-2026-01-28";

/// The shape of Claude Code 2.1's first request: billing header and cached system blocks, a
/// system-role environment message inside `messages`, adaptive thinking with `display`,
/// `output_config.effort`, `context_management`, a 32000-token limit and its Bash tool.
fn claude_code_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 32000,
        "stream": stream,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;"},
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
             "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>As you answer, keep it short.</system-reminder>"},
                {"type": "text", "text": "say hi", "cache_control": {"type": "ephemeral"}}
            ]},
            {"role": "system", "content": "Environment: platform linux, cwd /work"}
        ],
        "tools": [{"name": "Bash", "description": "Run a command",
                   "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                                    "required": ["command"]}}],
        "thinking": {"type": "adaptive", "display": "omitted"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": "user_0123_account__session_4567"}
    })
}

async fn post_claude_code(gw: &Gateway, body: &Value) -> reqwest::Response {
    gw.client()
        .post(gw.url("/v1/messages?beta=true"))
        .header("x-api-key", PROXY_KEY)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", BETAS)
        .json(body)
        .send()
        .await
        .expect("request to gateway")
}

/// The answer a Messages client got: its text, from a `message` body or an event stream.
async fn messages_text(response: reqwest::Response, stream: bool) -> String {
    let body = response.text().await.unwrap();
    if !stream {
        let message: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
        assert_eq!(message["type"], "message", "{message}");
        return message["content"].as_array().unwrap().iter().filter_map(|b| b["text"].as_str()).collect();
    }
    let events: Vec<Value> = sse_data(&body).iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(events.first().map(|e| e["type"].clone()), Some(json!("message_start")), "{body}");
    assert_eq!(events.last().map(|e| e["type"].clone()), Some(json!("message_stop")), "{body}");
    events.iter().filter_map(|e| e["delta"]["text"].as_str()).collect()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn claude_code_requests_reach_an_openai_model_with_system_messages_in_place_and_the_limit_lowered() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-0001"], &[]).await;
    for (i, stream) in [false, true].into_iter().enumerate() {
        let response = post_claude_code(&gw, &claude_code_body("openai/gpt-4o", stream)).await;
        assert_eq!(response.status(), 200);
        let adjustments = header(&response, "x-llmkp-adjustments").to_string();
        let dropped = header(&response, "x-llmkp-dropped-params").to_string();
        assert!(messages_text(response, stream).await.contains("Hello"));
        assert!(adjustments.contains("max_tokens_lowered_to_16384"), "{adjustments}");
        assert!(dropped.contains("context_management") && dropped.contains("thinking.display"), "{dropped}");
        let sent = &mock.chat_requests()[i].body;
        // The model's known limit, not the 32000 the real API would refuse.
        assert_eq!(sent["max_completion_tokens"], 16384);
        assert_eq!(sent["reasoning_effort"], "high");
        let roles: Vec<&str> =
            sent["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "system"], "{sent}");
        assert_eq!(sent["messages"][2]["content"], "Environment: platform linux, cwd /work");
        assert!(!sent.to_string().contains("x-anthropic-billing-header"), "billing blocks stay with Anthropic");
    }
}

#[tokio::test]
async fn claude_code_requests_reach_a_gemini_model_with_the_system_message_read_in_order() {
    let mock = GeminiMock::start().await;
    let gw = Gateway::provider("GEMINI", &mock.base_url(), &["gm-good-0001"], &[]).await;
    for (i, stream) in [false, true].into_iter().enumerate() {
        let response = post_claude_code(&gw, &claude_code_body("gemini/gemini-2.5-flash", stream)).await;
        assert_eq!(response.status(), 200);
        let dropped = header(&response, "x-llmkp-dropped-params").to_string();
        assert!(!messages_text(response, stream).await.is_empty());
        assert!(dropped.contains("context_management"), "{dropped}");
        let sent = &mock.generate_requests()[i].body;
        assert_eq!(
            sent["systemInstruction"]["parts"][0]["text"],
            "You are Claude Code, Anthropic's official CLI for Claude."
        );
        // One system instruction only: the environment block follows the user's text in order.
        let parts = &sent["contents"][0]["parts"];
        assert_eq!(
            parts.as_array().unwrap().last().unwrap()["text"],
            "Environment: platform linux, cwd /work",
            "{sent}"
        );
        // effort high → 32768, clamped to 2.5 Flash's range; 32000 is within its output limit.
        assert_eq!(sent["generationConfig"]["thinkingConfig"]["thinkingBudget"], 24576);
        assert_eq!(sent["generationConfig"]["maxOutputTokens"], 32000);
    }
}

#[tokio::test]
async fn claude_code_requests_pass_through_to_anthropic_as_sent() {
    let mock = AnthropicMock::start().await;
    let gw = Gateway::provider("ANTHROPIC", &mock.base_url(), &["sk-ant-good"], &[]).await;
    for (i, stream) in [false, true].into_iter().enumerate() {
        let body = claude_code_body("anthropic/claude-sonnet-4-5", stream);
        let response = post_claude_code(&gw, &body).await;
        assert_eq!(response.status(), 200);
        assert!(!messages_text(response, stream).await.is_empty());
        let sent = mock.messages_requests()[i].clone();
        let mut expected = body.clone();
        expected["model"] = json!("claude-sonnet-4-5");
        assert_eq!(sent.body, expected, "system messages, adaptive thinking and unknown fields arrive as sent");
        assert_eq!(sent.header("anthropic-beta"), Some(BETAS));
    }
}

#[tokio::test]
async fn a_chat_limit_over_the_model_maximum_is_lowered_on_passthrough_and_reported() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-0001"], &[]).await;
    let mut body = chat_body("openai/gpt-4o", "hi");
    body["max_tokens"] = json!(32000);
    body["max_completion_tokens"] = json!(20000);
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-llmkp-adjustments"), "max_tokens_lowered_to_16384");
    let sent = &mock.chat_requests()[0].body;
    assert_eq!((sent["max_tokens"].clone(), sent["max_completion_tokens"].clone()), (json!(16384), json!(16384)));
    // Within the limit (or for a model the catalog does not know) nothing changes.
    body["max_tokens"] = json!(100);
    body.as_object_mut().unwrap().remove("max_completion_tokens");
    let response = gw.post("/v1/chat/completions", &body).await;
    assert!(response.headers().get("x-llmkp-adjustments").is_none());
    assert_eq!(mock.chat_requests()[1].body["max_tokens"], 100);
}

/// Chat, Messages and Gemini clients, stream and not, against a gateway whose only key belongs
/// to an upstream that ignores the `stream` flag one way or the other.
#[tokio::test]
async fn upstreams_that_ignore_the_stream_flag_serve_stream_and_non_stream_clients() {
    for key in ["jsononly-0001", "sseonly-0001"] {
        let mock = OpenAiMock::start().await;
        let gw = Gateway::openai(&mock.base_url(), &[key], &[]).await;
        for stream in [false, true] {
            let mut body = chat_body("openai/gpt-4o", "hi");
            body["stream"] = json!(stream);
            let response = gw.post("/v1/chat/completions", &body).await;
            assert_eq!(response.status(), 200, "{key} stream={stream}");
            assert_eq!(header(&response, "x-llmkp-attempts"), "1", "{key}: no retry, no rest");
            let text = response.text().await.unwrap();
            let content: String = if stream {
                assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
                chunks(&text)
                    .iter()
                    .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
                    .collect()
            } else {
                serde_json::from_str::<Value>(&text).unwrap()["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap()
                    .into()
            };
            assert_eq!(content, "Hello! You said: hi", "{key} stream={stream}");

            let messages = json!({"model": "openai/gpt-4o", "max_tokens": 50, "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]});
            let response = post_claude_code(&gw, &messages).await;
            assert_eq!(response.status(), 200);
            assert_eq!(messages_text(response, stream).await, "Hello! You said: hi", "{key} stream={stream}");
        }
        // Every request was served at the first attempt by the only key: it was never rested.
    }
    for key in ["jsononly-0001", "sseonly-0001"] {
        let mock = AnthropicMock::start().await;
        let gw = Gateway::provider("ANTHROPIC", &mock.base_url(), &[key], &[]).await;
        for stream in [false, true] {
            let body = json!({"model": "anthropic/claude-sonnet-4-5", "max_tokens": 50, "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]});
            let response = post_claude_code(&gw, &body).await;
            assert_eq!(response.status(), 200, "{key} stream={stream}");
            assert!(!messages_text(response, stream).await.is_empty());
            let mut chat = chat_body("anthropic/claude-sonnet-4-5", "hi");
            chat["stream"] = json!(stream);
            let response = gw.post("/v1/chat/completions", &chat).await;
            assert_eq!(response.status(), 200, "{key} chat stream={stream}");
        }
        let mock = GeminiMock::start().await;
        let gw = Gateway::provider("GEMINI", &mock.base_url(), &[key], &[]).await;
        for stream in [false, true] {
            let mut chat = chat_body("gemini/gemini-2.5-flash", "hi");
            chat["stream"] = json!(stream);
            let response = gw.post("/v1/chat/completions", &chat).await;
            assert_eq!(response.status(), 200, "{key} gemini stream={stream}");
            let text = response.text().await.unwrap();
            assert!(text.contains("content"), "{text}");
        }
    }
}

#[tokio::test]
async fn empty_answers_rotate_to_the_next_key_and_never_reach_a_client_as_200() {
    for upstream_stream in ["true", "false"] {
        let mock = OpenAiMock::start().await;
        let extra = [("UPSTREAM_STREAM_FOR_NON_STREAM", upstream_stream)];
        let gw = Gateway::openai(&mock.base_url(), &["emptyans-0001", "sk-good-0002"], &extra).await;
        for stream in [true, false] {
            let mut body = chat_body("openai/gpt-4o", "hi");
            body["stream"] = json!(stream);
            let response = gw.post("/v1/chat/completions", &body).await;
            assert_eq!(response.status(), 200);
            assert_eq!(header(&response, "x-llmkp-credential"), "OPENAI_API_KEY_2", "fold={upstream_stream}");
            assert!(response.text().await.unwrap().contains("Hello"));
            let reset = json!({"action": "reset", "scope": "all"});
            assert_eq!(gw.post("/v1/quota-stats", &reset).await.status(), 200);
        }
        // With only the empty key, the client gets an error, never an empty 200.
        let gw = Gateway::openai(&mock.base_url(), &["emptyans-0001"], &extra).await;
        for stream in [true, false] {
            let mut body = chat_body("openai/gpt-4o", "hi");
            body["stream"] = json!(stream);
            let response = gw.post("/v1/chat/completions", &body).await;
            assert_eq!(response.status(), 502, "fold={upstream_stream} stream={stream}");
            let reset = json!({"action": "reset", "scope": "all"});
            gw.post("/v1/quota-stats", &reset).await;
        }
    }
}

/// The first credential `sequential` rotation gives each of two Gemini conversations.
#[tokio::test]
async fn gemini_conversations_get_their_own_session_keys() {
    let mock = GeminiMock::start().await;
    let gw = Gateway::provider(
        "GEMINI",
        &mock.base_url(),
        &["gm-good-0001", "gm-good-0002"],
        &[("ROTATION_MODE_GEMINI", "balanced"), ("SESSION_AFFINITY_GEMINI", "true"), ("ROTATION_TOLERANCE", "0")],
    )
    .await;
    let conversation = |first: &str, turns: usize| {
        let mut contents = vec![json!({"role": "user", "parts": [{"text": first}]})];
        for i in 0..turns {
            contents.push(json!({"role": "model", "parts": [{"text": format!("answer {i}")}]}));
            contents.push(json!({"role": "user", "parts": [{"text": format!("more {i}")}]}));
        }
        json!({"contents": contents, "systemInstruction": {"parts": [{"text": "be brief"}]}})
    };
    let path = "/v1beta/models/gemini/gemini-2.5-flash:generateContent";
    for (first, turns) in [("topic A", 0), ("topic B", 0), ("topic A", 1), ("topic B", 1), ("topic A", 2)] {
        let response = gw.post(path, &conversation(first, turns)).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    let keys: Vec<String> =
        mock.generate_requests().iter().map(|r| api_key(r).unwrap_or_default().to_string()).collect();
    // Balanced rotation spreads the two conversations over both keys; affinity keeps each on its own.
    assert_ne!(keys[0], keys[1], "two conversations, two keys: {keys:?}");
    assert_eq!((keys[2].as_str(), keys[4].as_str()), (keys[0].as_str(), keys[0].as_str()), "{keys:?}");
    assert_eq!(keys[3], keys[1], "{keys:?}");
}
