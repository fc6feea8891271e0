//! Snapshots of every subcommand's human and JSON output and exit code, through the real binary
//! against the OpenAI mock. Ports, temporary paths, times, ids and latencies are filtered out.

use std::process::{Command, Stdio};

use crate::support::openai_mock::OpenAiMock;

const BIN: &str = env!("CARGO_BIN_EXE_llmkp");

/// Exit code, stdout and stderr of one run, as one text to snapshot.
async fn transcript(home: &std::path::Path, args: &[&str]) -> String {
    let (home, args) = (home.to_path_buf(), args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .current_dir(&home)
            .arg("--home")
            .arg(&home)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
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

async fn home(mock: &OpenAiMock, keys: &[&str]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let mut env = format!("OPENAI_API_BASE={}\nTRANSIENT_RETRY_DELAY=0\n", mock.base_url());
    for (i, key) in keys.iter().enumerate() {
        env.push_str(&format!("OPENAI_API_KEY_{}={key}\n", i + 1));
    }
    std::fs::write(home.path().join(".env"), env).unwrap();
    home
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subcommand_outputs() {
    let mock = OpenAiMock::start_with_models(&["gpt-4o", "gpt-4o-mini"]).await;
    let home = home(&mock, &["sk-good-key-0001", "bad-key-00000002", "rl-key-000000003"]).await;
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
