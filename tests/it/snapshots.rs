//! Snapshots of every subcommand's human and JSON output and exit code, through the real binary
//! against the OpenAI mock. Ports, temporary paths, times, ids and latencies are filtered out.

use crate::support::cli::{home_with, run};
use crate::support::openai_mock::OpenAiMock;

/// Exit code, stdout and stderr of one run, as one text to snapshot.
async fn transcript(home: &std::path::Path, args: &[&str]) -> String {
    let output = run(home, args, None).await;
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"/tmp/[^\s]+", "[TMP]"),
        (r#""(created|timestamp|until|reset_at|last_used|latency_ms)": [0-9.]+"#, r#""$1": [N]"#),
        (r#""remaining_seconds": \d+"#, r#""remaining_seconds": [N]"#),
        (r"chatcmpl-[A-Za-z0-9]+", "chatcmpl-[ID]"),
        (r"\b\d+ ms\b", "[N] ms"),
        // The latency column of `keys test` (last cell of a row).
        (r"(?m)(ok|failed|limited|exhausted|unreachable|error)(\s{2}.*?)\s+\d+\s*$", "$1$2 [LATENCY]"),
        (r"\b\d+h\d\dm\b|\b\d+m\d\ds\b|\b\d+s\b", "[DURATION]"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subcommand_outputs() {
    let mock = OpenAiMock::start_with_models(&["gpt-4o", "gpt-4o-mini"]).await;
    let home = home_with(&mock, &["sk-good-key-0001", "bad-key-00000002", "rl-key-000000003"]);
    let home = home.path();
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("keys_test", vec!["keys", "test"]),
        ("keys_test_json", vec!["keys", "test", "--json"]),
        ("keys_list", vec!["keys", "list"]),
        ("keys_list_json", vec!["keys", "list", "--json"]),
        ("chat", vec!["chat", "-m", "openai/gpt-4o", "hello"]),
        ("chat_json", vec!["chat", "-m", "openai/gpt-4o", "--json", "hello"]),
        ("quota_show", vec!["quota", "show"]),
        ("models", vec!["models"]),
        ("models_json", vec!["models", "--json"]),
        ("count_tokens", vec!["count-tokens", "-m", "gpt-4o", "hello world"]),
        ("count_tokens_json", vec!["count-tokens", "-m", "gemini/gemini-2.5-pro", "--json", "hello world"]),
        ("unknown_provider", vec!["keys", "list", "--provider", "nosuch"]),
        ("bad_flag", vec!["models", "--nope"]),
    ];
    for (name, args) in runs {
        let text = transcript(home, &args).await;
        insta::with_settings!({ filters => filters(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, text);
        });
    }
}
