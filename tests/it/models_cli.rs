//! `llmkp models` through the real binary: live lists from every configured provider, filters
//! applied, prices from the bundled table, JSON for scripts.

use std::process::{Command, Output};

use serde_json::Value;

use crate::support::cli::{BIN, run};
use crate::support::openai_mock::OpenAiMock;

async fn models(home: &std::path::Path, args: &[&str]) -> Output {
    let args: Vec<&str> = std::iter::once("models").chain(args.iter().copied()).collect();
    run(home, &args, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_every_provider_with_filters_and_known_prices() {
    let openai = OpenAiMock::start_with_models(&["gpt-4o", "gpt-4o-mini", "dall-e-3"]).await;
    let local = OpenAiMock::start_with_models(&["llama-3.1-8b"]).await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".env"),
        format!(
            "OPENAI_API_BASE={}\nOPENAI_API_KEY_1=sk-good-1\nIGNORE_MODELS_OPENAI=dall-e*\nMYVLLM_API_BASE={}\nMYVLLM_API_KEY=anything\n",
            openai.base_url(),
            local.base_url()
        ),
    )
    .unwrap();
    let json = models(home.path(), &["--json"]).await;
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let body: Value = serde_json::from_slice(&json.stdout).unwrap();
    let ids: Vec<&str> = body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["myvllm/llama-3.1-8b", "openai/gpt-4o", "openai/gpt-4o-mini"]);

    let table = models(home.path(), &["--provider", "openai"]).await;
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("gpt-4o-mini") && !text.contains("llama"), "{text}");
    let row = text.lines().find(|l| l.split_whitespace().nth(1) == Some("gpt-4o")).expect("a gpt-4o row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, ["openai", "gpt-4o", "128000", "2.50", "10.00"], "{text}");

    let unknown = models(home.path(), &["--provider", "nosuch"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("nosuch") && stderr.contains("NOSUCH_API_KEY_1") && stderr.contains("openai"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_is_not_an_error() {
    let names: Vec<String> = (0..5000).map(|i| format!("model-with-a-long-name-{i:05}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mock = OpenAiMock::start_with_models(&refs).await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".env"),
        format!("OPENAI_API_BASE={}\nOPENAI_API_KEY_1=sk-good-1\n", mock.base_url()),
    )
    .unwrap();
    let script =
        format!("set -o pipefail; '{BIN}' --home '{}' models --json | head -c 10 >/dev/null", home.path().display());
    let dir = home.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .current_dir(&dir)
            .args(["-c", &script])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "exit {:?}: {}", output.status.code(), String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty(), "silently: {}", String::from_utf8_lossy(&output.stderr));
}
