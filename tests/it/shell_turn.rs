//! The scripted shell turn every mock plays for `shell…` models (what the real-client tests
//! rely on), driven through the gateway by an OpenAI Chat client: the call of the offered shell
//! tool, then the answer quoting the tool result.

use serde_json::{Value, json};

use crate::support::anthropic_mock::AnthropicMock;
use crate::support::gateway::Gateway;
use crate::support::gemini_mock::GeminiMock;
use crate::support::openai_mock::OpenAiMock;
use crate::support::shell_turn::{SHELL_ANSWER, SHELL_COMMAND, SHELL_OUTPUT};

/// Codex's unified exec tool as a Chat function, beside a tool the mocks must not pick.
fn tools() -> Value {
    let schema = |prop: &str| json!({"type": "object", "properties": {prop: {"type": "string"}}, "required": [prop]});
    json!([
        {"type": "function", "function": {"name": "view_image", "parameters": schema("path")}},
        {"type": "function", "function": {"name": "exec_command", "parameters": schema("cmd")}},
    ])
}

/// Plays both requests of the turn against `model` and checks each answer.
async fn shell_turn(gw: &Gateway, model: &str) {
    let user = json!({"role": "user", "content": "Run the marker command"});
    let first = json!({"model": model, "messages": [user], "tools": tools()});
    let resp = gw.post("/v1/chat/completions", &first).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("JSON answer");
    let message = &body["choices"][0]["message"];
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls", "{body}");
    let call = &message["tool_calls"][0];
    assert_eq!(call["function"]["name"], "exec_command", "{body}");
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().expect("arguments")).expect("JSON");
    assert_eq!(args, json!({"cmd": SHELL_COMMAND}));

    let result = json!({"role": "tool", "tool_call_id": call["id"], "content": format!("{SHELL_OUTPUT}\n")});
    let second = json!({"model": model, "messages": [user, message, result], "tools": tools()});
    let resp = gw.post("/v1/chat/completions", &second).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("JSON answer");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap_or_else(|| panic!("no text: {body}"));
    assert!(text.starts_with(SHELL_ANSWER) && text.contains(SHELL_OUTPUT), "{text}");
}

#[tokio::test]
async fn the_openai_mock_calls_the_shell_tool_and_quotes_its_result() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-shell"], &[]).await;
    shell_turn(&gw, "openai/shell-gpt").await;
}

#[tokio::test]
async fn the_anthropic_mock_calls_the_shell_tool_and_quotes_its_result() {
    let mock = AnthropicMock::start().await;
    let gw = Gateway::provider("ANTHROPIC", &mock.base_url(), &["sk-ant-shell"], &[]).await;
    shell_turn(&gw, "anthropic/shell-claude").await;
}

#[tokio::test]
async fn the_gemini_mock_calls_the_shell_tool_and_quotes_its_result_with_the_signature_back() {
    let mock = GeminiMock::start().await;
    let gw = Gateway::provider("GEMINI", &mock.base_url(), &["gm-shell"], &[]).await;
    shell_turn(&gw, "gemini/shell-gemini-3-pro").await;
    let sent = mock.generate_requests();
    let issued = mock.issued_signatures();
    assert_eq!((sent.len(), issued.len()), (2, 1));
    assert!(sent[1].body.to_string().contains(&issued[0]), "the signature did not come back");
}
