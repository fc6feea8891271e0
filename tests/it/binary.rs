//! The real `llmkp` binary: flags, exit codes, `.env` in the home directory, serving, and
//! graceful shutdown — with the process environment cleared so the user's setup never leaks in.

use std::time::Duration;

use assert_cmd::Command as AssertCommand;
use serde_json::{Value, json};

use crate::support::cli::{BIN, Server, llmkp};
use crate::support::openai_mock::OpenAiMock;

#[test]
fn version_and_help_describe_the_tool() {
    let version = AssertCommand::new(BIN).arg("--version").assert().success().get_output().stdout.clone();
    assert_eq!(String::from_utf8(version).unwrap().trim(), format!("llmkp {}", env!("CARGO_PKG_VERSION")));
    let help = AssertCommand::new(BIN).arg("--help").assert().success().get_output().stdout.clone();
    let help = String::from_utf8(help).unwrap();
    assert!(help.contains("serve") && help.contains("--home"), "{help}");
}

#[test]
fn no_command_prints_help_and_bad_flags_exit_2() {
    AssertCommand::new(BIN).assert().code(2);
    AssertCommand::new(BIN).args(["serve", "--port", "notaport"]).assert().code(2);
}

#[test]
fn require_proxy_key_without_a_key_refuses_to_start_with_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let output = llmkp(home.path()).env("REQUIRE_PROXY_KEY", "true").args(["serve", "--port", "0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("REQUIRE_PROXY_KEY"));
}

#[test]
fn an_address_in_use_exits_2_with_a_hint() {
    let home = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = llmkp(home.path()).args(["serve", "--port", &port]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--port"));
}

#[test]
fn a_missing_env_file_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let output = llmkp(home.path()).args(["--env-file", "/nonexistent/x.env", "serve"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn a01_serve_reads_keys_from_the_home_env_file_serves_and_never_logs_secrets() {
    let mock = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    let proxy_key = "s3cr3t-xyz-proxy-key";
    let api_key = "sk-upstream-secret-000111";
    std::fs::write(
        home.path().join(".env"),
        format!(
            "# copied from an LLM-API-Key-Proxy folder\nPROXY_API_KEY=\"{proxy_key}\"\nOPENAI_API_BASE={}\nOPENAI_API_KEY_1={api_key}\nOPENAI_API_KEY_2=\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let mut server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();

    let body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let reply: Value = client
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(proxy_key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "Hello! You said: hi");
    assert_eq!(mock.keys_used(), [api_key]);
    let unauthorized = client.post(server.url("/v1/chat/completions")).json(&body).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
    let echo = client
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(proxy_key)
        .json(&json!({"model": "openai/echo-key", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 400);
    assert!(!echo.text().await.unwrap().contains(api_key));
    let models = client.get(server.url("/v1/models")).header("x-api-key", proxy_key).send().await.unwrap();
    assert_eq!(models.status(), 200);

    let (status, log) = server.stop();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}\n{log}");
    assert!(log.contains("OPENAI_API_KEY_2 is empty"), "empty keys are reported: {log}");
    assert!(log.contains("POST /v1/chat/completions"), "one line per request: {log}");
    assert!(!log.contains(proxy_key) && !log.contains(api_key), "a secret reached the log:\n{log}");
}

#[tokio::test]
async fn process_environment_wins_over_the_env_file_and_open_mode_is_announced() {
    let mock = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".env"), "OPENAI_API_BASE=http://127.0.0.1:9/v1\nOPENAI_API_KEY=sk-from-file\n")
        .unwrap();
    let mut cmd = llmkp(home.path());
    cmd.env("OPENAI_API_BASE", mock.base_url());
    let mut server = Server::start(cmd);
    let status = reqwest::Client::new()
        .post(server.url("/v1/chat/completions"))
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(mock.keys_used(), ["sk-from-file"]);
    let (_, log) = server.stop();
    assert!(log.contains("no PROXY_API_KEY set"), "{log}");
}

#[tokio::test]
async fn keys_list_and_quota_show_read_the_state_a_live_server_writes_and_it_survives_a_restart() {
    let mock = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    let good = "sk-good-key-000000000001";
    let locked = "bad-key-0000000000000002";
    std::fs::write(
        home.path().join(".env"),
        format!("OPENAI_API_BASE={}\nOPENAI_API_KEY_1={locked}\nOPENAI_API_KEY_2={good}\n", mock.base_url()),
    )
    .unwrap();
    let mut server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();
    for i in 0..50 {
        let body =
            json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": format!("hello number {i}")}]});
        let response = client.post(server.url("/v1/chat/completions")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }

    // While the server runs: the lockout was committed at once; `keys list` sees it.
    let listed = llmkp(home.path()).args(["keys", "list", "--json"]).output().unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let report: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let credentials = report["providers"]["openai"]["credentials"].as_array().unwrap();
    assert_eq!(credentials[0]["status"], "locked");
    assert_eq!(credentials[0]["cooldowns"]["_global_"]["reason"], "auth");
    assert_eq!(credentials[1]["status"], "active");
    // Usage rows reach the file every flush interval (500 ms): read until they are there.
    let live_requests = || {
        let live = llmkp(home.path()).args(["quota", "show", "--json"]).output().unwrap();
        let live: Value = serde_json::from_slice(&live.stdout).unwrap();
        live["providers"]["openai"]["credentials"][1]["scopes"]["gpt-4o"]["window"]["requests"].clone()
    };
    let mut requests = live_requests();
    for _ in 0..50 {
        if requests == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        requests = live_requests();
    }
    assert_eq!(requests, 50);
    let second = llmkp(home.path()).args(["serve", "--port", "0"]).output().unwrap();
    assert_eq!(second.status.code(), Some(2), "one serve per home");
    assert!(String::from_utf8_lossy(&second.stderr).contains("already"));

    let (status, _) = server.stop();
    assert!(status.success());
    let shown = llmkp(home.path()).args(["quota", "show", "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let usage = &report["providers"]["openai"]["credentials"][1]["scopes"]["gpt-4o"]["window"];
    assert_eq!(usage["requests"], 50, "{report}");
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0 && usage["completion_tokens"].as_u64().unwrap() > 0);

    let table = llmkp(home.path()).args(["keys", "list"]).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("…0002") && table.contains("locked") && table.contains("OPENAI_API_KEY_2"), "{table}");
    let quota_table = String::from_utf8(llmkp(home.path()).args(["quota", "show"]).output().unwrap().stdout).unwrap();
    assert!(quota_table.contains("gpt-4o") && quota_table.contains("…0001"), "{quota_table}");

    // After a restart the locked key is still locked: no upstream call for it.
    let before = mock.keys_used().len();
    let mut server = Server::start(llmkp(home.path()));
    let body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "again"}]});
    assert_eq!(client.post(server.url("/v1/chat/completions")).json(&body).send().await.unwrap().status(), 200);
    assert_eq!(mock.keys_used()[before..], [good]);
    server.stop();

    for entry in std::fs::read_dir(home.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("state.db") {
            let bytes = std::fs::read(&path).unwrap();
            for secret in [good, locked] {
                assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} in {}", path.display());
            }
        }
    }
}

#[test]
fn keys_list_for_an_unknown_provider_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".env"), "OPENAI_API_KEY_1=sk-aaaaaaaaaaaa\n").unwrap();
    let output = llmkp(home.path()).args(["keys", "list", "--provider", "nosuch"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nosuch"));
    let ok = llmkp(home.path()).args(["keys", "list", "--provider", "openai", "--json"]).output().unwrap();
    assert!(ok.status.success());
    let report: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(report["providers"]["openai"]["credentials"][0]["status"], "active");
}

#[tokio::test]
async fn after_kill_9_the_database_opens_and_keeps_what_was_flushed() {
    let mock = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".env"),
        format!(
            "OPENAI_API_BASE={}\nOPENAI_API_KEY_1=sk-good-key-00000001\nSTATE_FLUSH_INTERVAL_MS=200\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let server = Server::start(llmkp(home.path()));
    let client = reqwest::Client::new();
    let body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..20 {
        assert_eq!(client.post(server.url("/v1/chat/completions")).json(&body).send().await.unwrap().status(), 200);
    }
    // Past one flush interval, then no chance to flush on the way out (Drop sends SIGKILL).
    tokio::time::sleep(Duration::from_millis(600)).await;
    drop(server);

    let shown = llmkp(home.path()).args(["quota", "show", "--json"]).output().unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let report: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(report["providers"]["openai"]["credentials"][0]["scopes"]["gpt-4o"]["window"]["requests"], 20);
    // The lock of the killed process is gone with it: a new server starts on the same home.
    let mut restarted = Server::start(llmkp(home.path()));
    assert_eq!(client.post(restarted.url("/v1/chat/completions")).json(&body).send().await.unwrap().status(), 200);
    let (status, _) = restarted.stop();
    assert!(status.success());
}
