//! Hot reload through a real `llmkp serve`: keys added to and removed from `.env` while it runs
//! (a new one serves within 2 s), login files added to and removed from `oauth_creds/`, a broken
//! `.env` that keeps the previous configuration, state kept for unchanged keys, and a stream in
//! flight across a reload (SIGHUP) that completes.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use super::request_logging::{every_file, wait_for_logs};
use crate::oauth::{mock_vars, python_proxy_file, serve_home};
use crate::support::cli::{Server, llmkp};
use crate::support::code_assist_mock::CodeAssistMock;
use crate::support::gateway::{PROXY_KEY as GATEWAY_PROXY_KEY, chat_body};
use crate::support::oauth_mock::{IssuedTokens, OAuthMock};
use crate::support::openai_mock::OpenAiMock;

/// How soon a change to `.env` or `oauth_creds/` must be in use (issue 16).
const RELOAD_WITHIN: Duration = Duration::from_secs(2);

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

    // Add a third key: requests from the moment the file is written; the new key serves within 2 s.
    let before = mock.keys_used().len();
    write_env(
        home.path(),
        &base,
        &[("OPENAI_API_KEY_1", KEY_1), ("OPENAI_API_KEY_2", KEY_COOLING), ("OPENAI_API_KEY_3", KEY_3)],
        "",
    );
    let written = Instant::now();
    while !mock.keys_used()[before..].contains(&KEY_3.to_string()) {
        assert!(written.elapsed() < RELOAD_WITHIN, "the new key was not used within 2 s");
        assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let line = wait_for(&mut server, "configuration reloaded");
    assert!(line.contains("openai (3 key(s))"), "{line}");
    for _ in 0..4 {
        assert_eq!(chat(&client, &server, "openai/gpt-4o", false).await.status(), 200);
    }
    let used: Vec<String> = mock.keys_used()[before..].to_vec();
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

/// A Gemini CLI login file of `email` as the Python proxy writes it, valid until the token's
/// expiry.
fn login_file(issued: &IssuedTokens, email: &str) -> Vec<u8> {
    let mut login = python_proxy_file(&issued.access_token, &issued.refresh_token);
    login["expiry_date"] = json!(issued.expiry_date_ms);
    login["_proxy_metadata"]["email"] = json!(email);
    serde_json::to_vec_pretty(&login).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn login_files_added_to_and_removed_from_oauth_creds_are_used_without_a_restart_and_no_token_is_logged() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let client_id = python_proxy_file("", "")["client_id"].as_str().unwrap().to_string();
    let (first, second) = (oauth.issue_google(&client_id), oauth.issue_google(&client_id));
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("oauth_creds");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("gemini_cli_oauth_1.json"), login_file(&first, "first@example.com")).unwrap();
    let extra = [("ENABLE_REQUEST_LOGGING", "true"), ("ROTATION_MODE_GEMINI_CLI", "balanced")];
    let mut server = serve_home(home.path(), mock_vars(&oauth, &code_assist), &extra).await;
    let client = reqwest::Client::new();
    let url = server.url("/v1/chat/completions");
    let asked = std::cell::Cell::new(0);
    let ask = async || {
        asked.set(asked.get() + 1);
        let body = chat_body("gemini_cli/gemini-2.5-flash", "hi");
        let response = client.post(&url).bearer_auth(GATEWAY_PROXY_KEY).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    };
    ask().await;
    assert_eq!(code_assist.tokens_used(), std::slice::from_ref(&first.access_token));

    // A second account's login appears (written beside and renamed, as `auth add` does): it
    // serves within 2 s. (A second file of the same account is ignored as a duplicate.)
    let temp = home.path().join("login.tmp");
    std::fs::write(&temp, login_file(&second, "second@example.com")).unwrap();
    std::fs::rename(&temp, dir.join("gemini_cli_oauth_2.json")).unwrap();
    let written = Instant::now();
    while !code_assist.tokens_used().contains(&second.access_token) {
        assert!(written.elapsed() < RELOAD_WITHIN, "the new login was not used within 2 s");
        ask().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The first login's file goes: within 2 s it is no longer used (while both serve, balanced
    // rotation alternates them, so four requests in a row on the second mean the first is gone).
    std::fs::remove_file(dir.join("gemini_cli_oauth_1.json")).unwrap();
    let removed = Instant::now();
    loop {
        ask().await;
        let used = code_assist.tokens_used();
        if used.len() >= 4 && used[used.len() - 4..].iter().all(|t| *t == second.access_token) {
            break;
        }
        assert!(removed.elapsed() < RELOAD_WITHIN, "the removed login still serves: {:?}", &used[used.len() - 4..]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // No token, refresh token or client secret of either file in any request log.
    let logs = wait_for_logs(home.path(), asked.get()).await;
    let secrets = [&first.access_token, &first.refresh_token, &second.access_token, &second.refresh_token];
    let client_secret = python_proxy_file("", "")["client_secret"].as_str().unwrap().to_string();
    for file in logs.iter().flat_map(|dir| every_file(dir)) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for secret in secrets.iter().map(|s| s.as_str()).chain([client_secret.as_str(), GATEWAY_PROXY_KEY]) {
            assert!(!text.contains(secret), "{} contains a secret", file.display());
        }
    }
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
}
