//! `serve --enable-request-logging`: the Python proxy's folder layout under
//! `<home>/logs/detailed_logs/`, no secret in any file, every stream chunk kept, and retention.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cli::{Server, llmkp};
use crate::support::openai_mock::OpenAiMock;

const PROXY_KEY: &str = "ops-proxy-key-logging-000004";
const API_KEY: &str = "sk-logging-secret-key-0000000001";

fn log_dirs(home: &Path) -> Vec<PathBuf> {
    let dir = home.join("logs/detailed_logs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|e| e.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Waits (hang guard 20 s) until `n` request folders have their `metadata.json`.
pub(super) async fn wait_for_logs(home: &Path, n: usize) -> Vec<PathBuf> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let done: Vec<PathBuf> = log_dirs(home).into_iter().filter(|d| d.join("metadata.json").exists()).collect();
        if done.len() >= n {
            return done;
        }
        assert!(Instant::now() < until, "only {} request logs written", done.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) fn every_file(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() { files.extend(every_file(&path)) } else { files.push(path) }
    }
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn request_logs_have_the_python_layout_and_no_secret() {
    let mock = OpenAiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".env"),
        format!("PROXY_API_KEY={PROXY_KEY}\nOPENAI_API_BASE={}\nOPENAI_API_KEY_1={API_KEY}\n", mock.base_url()),
    )
    .unwrap();
    let server = Server::start_with(llmkp(home.path()), &["--enable-request-logging"]);
    let client = reqwest::Client::new();
    let secret_cookie = "session=cookie-secret-value-0001";
    // A complete answer, with secrets in headers and in the query.
    let body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hello"}]});
    let response = client
        .post(server.url("/v1/chat/completions?key=query-secret-0001"))
        .bearer_auth(PROXY_KEY)
        .header("cookie", secret_cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // An upstream error that echoes the API key back.
    let echo = json!({"model": "openai/echo-key", "messages": [{"role": "user", "content": "hi"}]});
    let response =
        client.post(server.url("/v1/chat/completions")).bearer_auth(PROXY_KEY).json(&echo).send().await.unwrap();
    assert_eq!(response.status(), 400);
    // A stream.
    let stream =
        json!({"model": "openai/gpt-4o", "stream": true, "messages": [{"role": "user", "content": "one two three"}]});
    let response =
        client.post(server.url("/v1/chat/completions")).bearer_auth(PROXY_KEY).json(&stream).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let streamed = response.text().await.unwrap();

    let dirs = wait_for_logs(home.path(), 3).await;
    assert_eq!(dirs.len(), 3);
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_str().unwrap();
        // `<YYYYMMDD_HHMMSS>_<request id>`
        assert!(
            name.len() > 16 && name.as_bytes()[8] == b'_' && name[..8].bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
        for file in
            ["request.json", "metadata.json", "attempt_1_upstream_request.json", "attempt_1_upstream_response.json"]
        {
            assert!(dir.join(file).exists(), "{name} lacks {file}");
        }
    }
    // The stream's folder has every event the client got, and no final_response.json.
    let stream_dir = dirs.iter().find(|d| d.join("streaming_chunks.jsonl").exists()).expect("a stream log");
    assert!(!stream_dir.join("final_response.json").exists());
    let chunks: Vec<Value> = std::fs::read_to_string(stream_dir.join("streaming_chunks.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["chunk"].clone())
        .collect();
    let sent: Vec<&str> = streamed.split("\n\n").map(str::trim).filter(|e| !e.is_empty()).collect();
    assert_eq!(chunks.len(), sent.len(), "one line per event");
    for (logged, event) in chunks.iter().zip(&sent) {
        assert_eq!(logged.as_str(), Some(*event));
    }
    let metadata: Value = serde_json::from_slice(&std::fs::read(stream_dir.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["streaming"], true);
    assert_eq!(metadata["served"], "openai/gpt-4o");
    assert_eq!(metadata["attempts"][0]["credential"], "OPENAI_API_KEY_1");
    // The complete answer is kept.
    let complete = dirs.iter().find(|d| {
        std::fs::read_to_string(d.join("final_response.json")).is_ok_and(|t| t.contains("Hello! You said: hello"))
    });
    assert!(complete.is_some(), "final_response.json of the complete answer");

    // No secret anywhere under logs/.
    let secrets = [PROXY_KEY, API_KEY, "cookie-secret-value-0001", "query-secret-0001"];
    for file in every_file(&home.path().join("logs")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for secret in secrets {
            assert!(!text.contains(secret), "{} contains a secret", file.display());
        }
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_removes_old_and_oversized_log_folders() {
    let home = tempfile::tempdir().unwrap();
    let logs = home.path().join("logs/detailed_logs");
    let old = logs.join("20200101_000000_req_old");
    let big = logs.join("20200102_000000_req_big");
    let recent = logs.join("20990101_000000_req_recent");
    for dir in [&old, &big, &recent] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("metadata.json"), "{}").unwrap();
    }
    std::fs::write(big.join("request.json"), vec![b'x'; 3 << 20]).unwrap();
    let touched = std::process::Command::new("touch").args(["-d", "10 days ago"]).arg(&old).status().unwrap();
    assert!(touched.success());
    std::fs::write(
        home.path().join(".env"),
        "ENABLE_REQUEST_LOGGING=true\nREQUEST_LOG_MAX_AGE_HOURS=24\nREQUEST_LOG_MAX_MB=1\n",
    )
    .unwrap();
    let mut server = Server::start(llmkp(home.path()));
    tokio::task::block_in_place(|| server.wait_for_log("request logging on"));
    let until = Instant::now() + Duration::from_secs(20);
    while old.exists() || big.exists() {
        assert!(Instant::now() < until, "retention did not run: {:?}", log_dirs(home.path()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recent.exists(), "a recent, small folder stays");
}
