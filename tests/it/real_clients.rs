//! The published Claude Code and Codex CLIs, headless, against llmkp in front of the repo's mock
//! upstreams (installed by `.ci/run`; skipped with a notice where they are not installed).
//! Tests marked `ignore` name the issue whose feature they wait for.

use crate::support::anthropic_mock::AnthropicMock;
use crate::support::gateway::Gateway;
use crate::support::gemini_mock::GeminiMock;
use crate::support::openai_mock::OpenAiMock;
use crate::support::real_clients::{ClaudeCode, ClaudeOutput, ClientRun, Codex, codex_commands, codex_messages};
use crate::support::responses_mock::{ENCRYPTED_REASONING, ResponsesMock};
use crate::support::shell_turn::{SHELL_ANSWER, SHELL_COMMAND, SHELL_OUTPUT};

const PROMPT: &str = "Reply with the words llmkp real client check";
const SHELL_PROMPT: &str = "Run the marker command";

// ---------------------------------------------------------------------------
// Claude Code
// ---------------------------------------------------------------------------

/// The answer text of a `claude -p` run, checked to be a successful result.
fn claude_result(run: &ClientRun, output: ClaudeOutput) -> String {
    run.assert_success();
    let result = match output {
        ClaudeOutput::Json => run.json(),
        ClaudeOutput::StreamJson => {
            let events = run.json_lines();
            assert!(events.iter().any(|e| e["type"] == "system" && e["subtype"] == "init"), "no init event:\n{run}");
            assert!(events.iter().any(|e| e["type"] == "assistant"), "no assistant event:\n{run}");
            events.into_iter().rfind(|e| e["type"] == "result").unwrap_or_else(|| panic!("no result event:\n{run}"))
        }
    };
    assert_eq!(result["subtype"], "success", "{run}");
    assert_eq!(result["is_error"], false, "{run}");
    result["result"].as_str().unwrap_or_else(|| panic!("no result text:\n{run}")).to_owned()
}

async fn claude_against_openai(output: ClaudeOutput) {
    let Some(claude) = ClaudeCode::find() else { return };
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-claude-code"], &[]).await;
    let run = claude.prompt(&gw.url(""), "openai/gpt-4o", PROMPT, output).await;
    let text = claude_result(&run, output);
    assert!(text.starts_with("Hello! You said:") && text.contains(PROMPT), "{text}");
    assert!(!mock.chat_requests().is_empty());
}

async fn claude_against_anthropic(output: ClaudeOutput) {
    let Some(claude) = ClaudeCode::find() else { return };
    let mock = AnthropicMock::start().await;
    let gw = Gateway::provider("ANTHROPIC", &mock.base_url(), &["sk-ant-claude-code"], &[]).await;
    // A model Claude Code knows: its request has no system-role messages (those come with
    // models it does not know, see the Gemini and OpenAI tests).
    let run = claude.prompt(&gw.url(""), "anthropic/claude-sonnet-4-5-20250929", PROMPT, output).await;
    let text = claude_result(&run, output);
    assert!(text.starts_with("Hello from mock:") && text.contains(PROMPT), "{text}");
    let sent = mock.messages_requests();
    assert!(!sent.is_empty());
    assert_eq!(sent[0].body["model"], "claude-sonnet-4-5-20250929");
}

async fn claude_against_gemini(output: ClaudeOutput) {
    let Some(claude) = ClaudeCode::find() else { return };
    let mock = GeminiMock::start().await;
    let gw = Gateway::provider("GEMINI", &mock.base_url(), &["gm-claude-code"], &[]).await;
    let run = claude.prompt(&gw.url(""), "gemini/gemini-2.5-flash", PROMPT, output).await;
    let text = claude_result(&run, output);
    assert!(text.starts_with("Hello from gemini:") && text.contains(PROMPT), "{text}");
    assert!(!mock.generate_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_gets_an_answer_from_an_openai_model_as_json() {
    claude_against_openai(ClaudeOutput::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_gets_an_answer_from_an_openai_model_as_stream_json() {
    claude_against_openai(ClaudeOutput::StreamJson).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_gets_an_answer_from_an_anthropic_model_as_json() {
    claude_against_anthropic(ClaudeOutput::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_gets_an_answer_from_an_anthropic_model_as_stream_json() {
    claude_against_anthropic(ClaudeOutput::StreamJson).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_gets_an_answer_from_a_gemini_model_as_json() {
    claude_against_gemini(ClaudeOutput::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_gets_an_answer_from_a_gemini_model_as_stream_json() {
    claude_against_gemini(ClaudeOutput::StreamJson).await;
}

/// Claude Code runs its Bash tool for the mock's `shell…` model and sends the result back.
async fn claude_shell_turn(gw: &Gateway, model: &str) -> Option<ClientRun> {
    let claude = ClaudeCode::find()?;
    let run = claude.prompt(&gw.url(""), model, SHELL_PROMPT, ClaudeOutput::Json).await;
    let text = claude_result(&run, ClaudeOutput::Json);
    assert!(text.starts_with(SHELL_ANSWER) && text.contains(SHELL_OUTPUT), "{run}");
    assert_eq!(run.json()["num_turns"], 2, "{run}");
    Some(run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_runs_its_bash_tool_through_an_anthropic_model() {
    let mock = AnthropicMock::start().await;
    let gw = Gateway::provider("ANTHROPIC", &mock.base_url(), &["sk-ant-claude-code"], &[]).await;
    // `shell-…` picks the mock's shell turn; `claude-sonnet-4-5` keeps the model one Claude Code knows.
    let Some(_run) = claude_shell_turn(&gw, "anthropic/shell-claude-sonnet-4-5-20250929").await else { return };
    let sent = mock.messages_requests();
    assert_eq!(sent.len(), 2, "one request for the call, one with its result");
    let last = sent[1].body["messages"].as_array().and_then(|m| m.last()).cloned().expect("messages");
    assert!(last.to_string().contains("toolu_shell_1") && last.to_string().contains(SHELL_OUTPUT), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_runs_its_bash_tool_through_an_openai_model() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-claude-code"], &[]).await;
    let Some(_run) = claude_shell_turn(&gw, "openai/shell-gpt").await else { return };
    assert_eq!(mock.chat_requests().len(), 2, "one request for the call, one with its result");
}

// ---------------------------------------------------------------------------
// Codex
// ---------------------------------------------------------------------------

/// A text turn: exit 0, one answer quoting the prompt, nothing run.
fn assert_codex_text(run: &ClientRun, greeting: &str) {
    run.assert_success();
    let events = run.json_lines();
    assert!(events.iter().any(|e| e["type"] == "turn.completed"), "no turn.completed:\n{run}");
    let messages = codex_messages(run);
    assert_eq!(messages.len(), 1, "{run}");
    assert!(messages[0].starts_with(greeting) && messages[0].contains(PROMPT), "{run}");
    assert!(codex_commands(run).is_empty(), "{run}");
}

/// A shell turn: Codex ran the mock's command, sent its output back, and got the answer quoting it.
fn assert_codex_shell_turn(run: &ClientRun) {
    run.assert_success();
    let commands = codex_commands(run);
    assert_eq!(commands.len(), 1, "{run}");
    let (command, output, exit) = &commands[0];
    assert!(command.contains(SHELL_COMMAND), "{run}");
    assert!(output.contains(SHELL_OUTPUT), "{run}");
    assert_eq!(*exit, Some(0), "{run}");
    let messages = codex_messages(run);
    let last = messages.last().unwrap_or_else(|| panic!("no answer:\n{run}"));
    assert!(last.starts_with(SHELL_ANSWER) && last.contains(SHELL_OUTPUT), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_gets_a_text_answer_through_an_openai_chat_upstream() {
    let Some(codex) = Codex::find() else { return };
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-codex"], &[]).await;
    let run = codex.exec(&gw.url("/v1"), "openai/gpt-4o", PROMPT).await;
    assert_codex_text(&run, "Hello! You said:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_its_shell_tool_through_an_openai_chat_upstream() {
    let Some(codex) = Codex::find() else { return };
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-codex"], &[]).await;
    let run = codex.exec(&gw.url("/v1"), "openai/shell-gpt", SHELL_PROMPT).await;
    assert_codex_shell_turn(&run);
    let sent = mock.chat_requests();
    assert_eq!(sent.len(), 2, "one request for the call, one with its result");
    let messages = sent[1].body["messages"].as_array().expect("messages").clone();
    let result = messages.iter().find(|m| m["role"] == "tool").expect("a tool message");
    assert_eq!(result["tool_call_id"], "call_shell_1");
    assert!(result["content"].to_string().contains(SHELL_OUTPUT), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_gets_a_text_answer_through_an_anthropic_upstream() {
    let Some(codex) = Codex::find() else { return };
    let mock = AnthropicMock::start().await;
    let gw = Gateway::provider("ANTHROPIC", &mock.base_url(), &["sk-ant-codex"], &[]).await;
    let run = codex.exec(&gw.url("/v1"), "anthropic/claude-sonnet-4-5-20250929", PROMPT).await;
    assert_codex_text(&run, "Hello from mock:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_its_shell_tool_through_an_anthropic_upstream() {
    let Some(codex) = Codex::find() else { return };
    let mock = AnthropicMock::start().await;
    let gw = Gateway::provider("ANTHROPIC", &mock.base_url(), &["sk-ant-codex"], &[]).await;
    let run = codex.exec(&gw.url("/v1"), "anthropic/shell-claude", SHELL_PROMPT).await;
    assert_codex_shell_turn(&run);
    let sent = mock.messages_requests();
    assert_eq!(sent.len(), 2, "one request for the call, one with its result");
    let last = sent[1].body["messages"].as_array().and_then(|m| m.last()).cloned().expect("messages");
    assert!(last.to_string().contains("toolu_shell_1") && last.to_string().contains(SHELL_OUTPUT), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_gets_a_text_answer_through_a_gemini_upstream() {
    let Some(codex) = Codex::find() else { return };
    let mock = GeminiMock::start().await;
    let gw = Gateway::provider("GEMINI", &mock.base_url(), &["gm-codex"], &[]).await;
    let run = codex.exec(&gw.url("/v1"), "gemini/gemini-2.5-flash", PROMPT).await;
    assert_codex_text(&run, "Hello from gemini:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_its_shell_tool_through_a_gemini_upstream_and_the_signature_comes_back() {
    let Some(codex) = Codex::find() else { return };
    let mock = GeminiMock::start().await;
    let gw = Gateway::provider("GEMINI", &mock.base_url(), &["gm-codex"], &[]).await;
    let run = codex.exec(&gw.url("/v1"), "gemini/shell-gemini-3-pro", SHELL_PROMPT).await;
    // The mock refuses a replayed call without the signature it issued, so a passing turn
    // proves the signature made the round trip through Codex.
    assert_codex_shell_turn(&run);
    let sent = mock.generate_requests();
    assert_eq!(sent.len(), 2, "one request for the call, one with its result");
    let issued = mock.issued_signatures();
    assert_eq!(issued.len(), 1);
    assert!(sent[1].body.to_string().contains(&issued[0]), "the signature did not come back");
}

/// A gateway in front of the Responses mock as provider `RESP`, speaking Responses upstream.
async fn responses_gateway(mock: &ResponsesMock) -> Gateway {
    Gateway::provider("RESP", &mock.base_url(), &["sk-resp-codex"], &[("RESP_API_FORMAT", "responses")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_its_shell_tool_against_the_responses_mock_itself() {
    // No gateway: proves the mock speaks Responses well enough for the real client, so the
    // passthrough tests below fail only for the gateway's reasons.
    let Some(codex) = Codex::find() else { return };
    let mock = ResponsesMock::start().await;
    let text = codex.exec(&mock.base_url(), "gpt-5.5", PROMPT).await;
    assert_codex_text(&text, "Hello from responses:");
    let run = codex.exec(&mock.base_url(), "shell-gpt", SHELL_PROMPT).await;
    assert_codex_shell_turn(&run);
    let sent = mock.responses_requests();
    assert_eq!(sent.len(), 3, "one text request, then one for the call and one with its result");
    let replayed = sent[2].body["input"].to_string();
    assert!(replayed.contains(ENCRYPTED_REASONING) && replayed.contains("call_shell_1"), "{replayed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_gets_a_text_answer_through_a_responses_upstream() {
    let Some(codex) = Codex::find() else { return };
    let mock = ResponsesMock::start().await;
    let gw = responses_gateway(&mock).await;
    let run = codex.exec(&gw.url("/v1"), "resp/gpt-5.5", PROMPT).await;
    assert_codex_text(&run, "Hello from responses:");
    assert_eq!(mock.responses_requests()[0].body["model"], "gpt-5.5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_its_shell_tool_through_a_responses_upstream_in_passthrough() {
    let Some(codex) = Codex::find() else { return };
    let mock = ResponsesMock::start().await;
    let gw = responses_gateway(&mock).await;
    let run = codex.exec(&gw.url("/v1"), "resp/shell-gpt", SHELL_PROMPT).await;
    assert_codex_shell_turn(&run);
    let sent = mock.responses_requests();
    assert_eq!(sent.len(), 2, "one request for the call, one with its result");
    // Passthrough: Codex's own fields and the reasoning item reach the upstream as sent.
    assert_eq!(sent[0].body["prompt_cache_key"], sent[1].body["prompt_cache_key"]);
    assert_eq!(sent[0].body["include"], serde_json::json!(["reasoning.encrypted_content"]));
    assert!(sent[1].body["input"].to_string().contains(ENCRYPTED_REASONING));
}
