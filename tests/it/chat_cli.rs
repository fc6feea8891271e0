//! `llmkp chat` through the real binary against the OpenAI mock: the answer alone on stdout,
//! stdin prompts, JSON, failures in one line, usage recorded, and `--url` through a server.

use std::process::Output;

use serde_json::Value;

use crate::support::cli::{home_with, output, run};
use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::openai_mock::OpenAiMock;

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_prints_exactly_the_answer_from_an_argument_or_stdin() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &["sk-good-0001"]);
    for (args, stdin) in [
        (vec!["chat", "-m", "openai/gpt-4o", "hello"], None),
        (vec!["chat", "-m", "openai/gpt-4o", "-"], Some("hello\n")),
        (vec!["chat", "-m", "openai/gpt-4o"], Some("hello")),
        (vec!["chat", "-m", "openai/gpt-4o", "--no-stream", "hello"], None),
    ] {
        let output = run(home.path(), &args, stdin).await;
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(stdout(&output), "Hello! You said: hello\n", "{args:?}");
        assert!(output.stderr.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let streamed = mock.chat_requests().iter().filter(|r| r.body["stream"] == true).count();
    assert_eq!(streamed, 4, "the no-stream run still streams upstream (and aggregates)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_json_prints_the_response_object_and_verbose_reports_usage() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &["sk-good-0001"]);
    let output = run(home.path(), &["chat", "-m", "openai/gpt-4o", "--json", "--system", "be brief", "hi"], None).await;
    assert!(output.status.success());
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "openai/gpt-4o");
    assert_eq!(mock.chat_requests()[0].body["messages"][0]["content"], "be brief");

    let verbose = run(home.path(), &["chat", "-m", "openai/gpt-4o", "-v", "--max-tokens", "5", "hi"], None).await;
    assert!(String::from_utf8_lossy(&verbose.stderr).contains("tokens:"), "{verbose:?}");
    assert_eq!(mock.chat_requests()[1].body["max_tokens"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_upstream_exits_1_with_one_line_and_usage_is_recorded() {
    let mock = OpenAiMock::start().await;
    let failing = home_with(&mock, &["err-key-0001"]);
    let output = run(failing.path(), &["chat", "-m", "openai/gpt-4o", "hi"], None).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("upstream failed"), "{stderr}");

    let unknown = run(failing.path(), &["chat", "-m", "nosuch/model", "hi"], None).await;
    assert_eq!(unknown.status.code(), Some(2), "a model that cannot resolve is a usage error");

    let good = home_with(&mock, &["sk-good-0001"]);
    assert!(run(good.path(), &["chat", "-m", "openai/gpt-4o", "hi"], None).await.status.success());
    let shown = run(good.path(), &["quota", "show", "--json"], None).await;
    let report: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(report["providers"]["openai"]["credentials"][0]["scopes"]["gpt-4o"]["window"]["requests"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_through_a_running_server_with_url() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-0001"], &[]).await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".env"), format!("PROXY_API_KEY={PROXY_KEY}\n")).unwrap();
    let url = gw.url("");
    let output = run(home.path(), &["chat", "-m", "openai/gpt-4o", "--url", &url, "hello"], None).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout(&output), "Hello! You said: hello\n");
    let json = run(home.path(), &["chat", "-m", "openai/gpt-4o", "--url", &url, "--json", "hello"], None).await;
    let body: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello! You said: hello");
}

#[test]
fn chat_without_any_prompt_on_a_terminal_is_a_usage_error() {
    // stdin is /dev/null here (not a terminal, but empty): an empty prompt is refused.
    let home = tempfile::tempdir().unwrap();
    let output = output(home.path(), &["chat", "-m", "openai/gpt-4o"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("prompt"));
}
