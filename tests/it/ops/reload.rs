//! Hot reload through a real `llmkp serve`: keys added to and removed from `.env` while it runs,
//! a broken `.env` that keeps the previous configuration, state kept for unchanged keys, and a
//! stream in flight across a reload (SIGHUP) that completes.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::cli::{Server, llmkp};
use crate::support::openai_mock::OpenAiMock;

const PROXY_KEY: &str = "ops-proxy-key-000000000003";
const KEY_1: &str = "sk-reload-key-000000000001";
const KEY_COOLING: &str = "rl-reload-key-000000000002";
const KEY_3: &str = "sk-reload-key-000000000003";

fn write_env(home: &Path, base: &str, keys: &[(&str, &str)], extra: &str) {
    let mut text = format!(
        "PROXY_API_KEY={PROXY_KEY}\nOPENAI_API_BASE={base}\nTRANSIENT_RETRY_DELAY=0\nSMALL_COOLDOWN_RETRY_THRESHOLD=0\n\
         ROTATION_MODE_OPENAI=balanced\nROTATION_TOLERANCE_OPENAI=0\n{extra}"
    );
    for (name, key) in keys {
        text.push_str(&format!("{name}={key}\n"));
    }
    // Written beside and renamed over, as editors do.
    let temp = home.join(".env.tmp");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(temp, home.join(".env")).unwrap();
}

async fn chat(client: &reqwest::Client, server: &Server, model: &str, stream: bool) -> reqwest::Response {
    let body = json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    client.post(server.url("/v1/chat/completions")).bearer_auth(PROXY_KEY).json(&body).send().await.unwrap()
}

/// Blocks the test thread on the server's log without stopping the runtime's other workers.
fn wait_for(server: &mut Server, needle: &str) -> String {
    tokio::task::block_in_place(|| server.wait_for_log(needle))
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_added_and_removed_in_env_are_used_without_a_restart_and_a_broken_env_is_ignored() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let home = tempfile::tempdir().unwrap();
    write_env(home.path(), &base, &[("OPENAI_API_KEY_1", KEY_1), ("OPENAI_API_KEY_2", KEY_COOLING)], "");
    let mut server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();

    // The rate-limited key cools (7 s) once selection tries it, while key 1 serves.
    for _ in 0..30 {
        assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
        if mock.keys_used().contains(&KEY_COOLING.to_string()) {
            break;
        }
    }
    assert!(mock.keys_used().contains(&KEY_COOLING.to_string()));

    // Add a third key.
    write_env(
        home.path(),
        &base,
        &[("OPENAI_API_KEY_1", KEY_1), ("OPENAI_API_KEY_2", KEY_COOLING), ("OPENAI_API_KEY_3", KEY_3)],
        "",
    );
    let line = wait_for(&mut server, "configuration reloaded");
    assert!(line.contains("openai (3 key(s))"), "{line}");
    let before = mock.keys_used().len();
    for _ in 0..4 {
        assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
    }
    let used: Vec<String> = mock.keys_used()[before..].to_vec();
    assert!(used.contains(&KEY_3.to_string()), "the new key serves: {used:?}");
    assert!(!used.contains(&KEY_COOLING.to_string()), "the cooling key kept its cooldown: {used:?}");
    let ready: Value = client.get(server.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["credentials"]["providers"]["openai"]["cooling"], 1, "{ready}");

    // Remove key 1: it is no longer used.
    write_env(home.path(), &base, &[("OPENAI_API_KEY_2", KEY_COOLING), ("OPENAI_API_KEY_3", KEY_3)], "");
    wait_for(&mut server, "configuration reloaded");
    let before = mock.keys_used().len();
    for _ in 0..4 {
        assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
    }
    let used: Vec<String> = mock.keys_used()[before..].to_vec();
    assert!(used.iter().all(|k| k == KEY_3), "only the remaining usable key serves: {used:?}");

    // A broken line: the previous configuration (key 3) stays, and the log says why.
    write_env(home.path(), &base, &[("OPENAI_API_KEY_1", KEY_1)], "this line is not an assignment\n");
    let line = wait_for(&mut server, "configuration not reloaded");
    assert!(line.contains(".env"), "names the file: {line}");
    let before = mock.keys_used().len();
    for _ in 0..3 {
        assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
    }
    let used: Vec<String> = mock.keys_used()[before..].to_vec();
    assert!(used.iter().all(|k| k == KEY_3), "the old configuration still serves: {used:?}");

    // A setting that applies only at start is named.
    write_env(home.path(), &base, &[("OPENAI_API_KEY_3", KEY_3)], "MAX_CONNECTIONS=10\n");
    let line = wait_for(&mut server, "apply only after a restart");
    assert!(line.contains("MAX_CONNECTIONS"), "{line}");
    let (_, log) = server.stop();
    for secret in [KEY_1, KEY_COOLING, KEY_3, PROXY_KEY] {
        assert!(!log.contains(secret), "the log shows a secret");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_in_flight_across_a_reload_completes() {
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let home = tempfile::tempdir().unwrap();
    write_env(home.path(), &base, &[("OPENAI_API_KEY_1", KEY_1)], "");
    let mut server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();

    let response = chat(&client, &server, "openai/slow-model", true).await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let mut text = String::from_utf8_lossy(&first).into_owned();
    // The key that serves the stream leaves the configuration; SIGHUP reloads at once too.
    write_env(home.path(), &base, &[("OPENAI_API_KEY_3", KEY_3)], "");
    server.signal("HUP");
    wait_for(&mut server, "configuration reloaded");
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(text.contains("[DONE]"), "the stream ended normally: {text}");
    let words: String = crate::support::gateway::chunks(&text)
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(words.split_whitespace().collect::<Vec<_>>(), ["one", "two", "three", "four", "five"]);
    // New requests use the new key.
    assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
    assert_eq!(mock.keys_used().last().map(String::as_str), Some(KEY_3));
    tokio::time::sleep(Duration::from_millis(10)).await;
}
