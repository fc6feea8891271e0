//! The secrets sweep: every configured secret — upstream API keys, OAuth access and refresh
//! tokens, the proxy keys — is searched for in everything the real `llmkp` binary lets out:
//! its log at trace level, the state database, the error bodies of every family, response
//! headers, the request log lines, and the `--json` output of the CLI. Upstreams that fail, lock a
//! key out, or echo the key they were sent are part of the run.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::anthropic_mock::AnthropicMock;
use crate::support::cli::{Server, llmkp};
use crate::support::gemini_mock::GeminiMock;
use crate::support::openai_mock::OpenAiMock;

const PROXY_KEY: &str = "proxy-key-sweep-000000001";
const PROXY_KEY_2: &str = "proxy-key-sweep-000000002";
const OPENAI_KEY: &str = "sk-openai-sweep-000000001";
const OPENAI_RATE_LIMITED: &str = "rl-openai-sweep-000000002";
const OPENAI_REFUSED: &str = "bad-openai-sweep-000000003";
const ANTHROPIC_KEY: &str = "sk-ant-sweep-000000000001";
const GEMINI_KEY: &str = "gemini-sweep-key-00000001";
const QWEN_ACCESS: &str = "qwen-access-sweep-0000001";
const QWEN_REFRESH: &str = "qwen-refresh-sweep-000001";

const SECRETS: [&str; 9] = [
    PROXY_KEY,
    PROXY_KEY_2,
    OPENAI_KEY,
    OPENAI_RATE_LIMITED,
    OPENAI_REFUSED,
    ANTHROPIC_KEY,
    GEMINI_KEY,
    QWEN_ACCESS,
    QWEN_REFRESH,
];

/// Every file under `dir` except the ones that hold secrets by design (`.env`, `oauth_creds/`).
fn state_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name == ".env" || name == "oauth_creds" {
            continue;
        }
        if path.is_dir() {
            state_files(&path, out);
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_configured_secret_leaves_the_process_through_any_channel() {
    let openai = OpenAiMock::start().await;
    let anthropic = AnthropicMock::start().await;
    let gemini = GeminiMock::start().await;
    let home = tempfile::tempdir().unwrap();
    let expiry = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 86_400_000)
        .to_string();
    let env = [
        format!("PROXY_API_KEY={PROXY_KEY}"),
        format!("PROXY_API_KEYS={PROXY_KEY_2}"),
        format!("OPENAI_API_BASE={}", openai.base_url()),
        format!("OPENAI_API_KEY_1={OPENAI_KEY}"),
        format!("OPENAI_API_KEY_2={OPENAI_RATE_LIMITED}"),
        format!("OPENAI_API_KEY_3={OPENAI_REFUSED}"),
        "ROTATION_MODE_OPENAI=balanced".to_string(),
        format!("ANTHROPIC_API_BASE={}", anthropic.base_url()),
        format!("ANTHROPIC_API_KEY_1={ANTHROPIC_KEY}"),
        format!("GEMINI_API_BASE={}", gemini.base_url()),
        format!("GEMINI_API_KEY_1={GEMINI_KEY}"),
        format!("QWEN_CODE_1_ACCESS_TOKEN={QWEN_ACCESS}"),
        format!("QWEN_CODE_1_REFRESH_TOKEN={QWEN_REFRESH}"),
        format!("QWEN_CODE_1_EXPIRY_DATE={expiry}"),
        format!("QWEN_CODE_1_RESOURCE_URL=http://{}", openai.addr()),
        "TRANSIENT_RETRY_DELAY=0".to_string(),
    ];
    std::fs::write(home.path().join(".env"), env.join("\n")).unwrap();
    let mut cmd = llmkp(home.path());
    cmd.args(["--log-level", "trace"]);
    let mut server = Server::start(cmd);

    let client = reqwest::Client::new();
    let user = json!([{"role": "user", "content": "hi"}]);
    let contents = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let mut exchanges: Vec<(String, reqwest::RequestBuilder)> = Vec::new();
    let mut add = |what: &str, request: reqwest::RequestBuilder| exchanges.push((what.to_string(), request));
    let post = |path: &str, body: Value| client.post(server.url(path)).bearer_auth(PROXY_KEY).json(&body);
    for model in ["openai/gpt-4o", "openai/echo-key", "openai/echo-key-param", "openai/invalid", "qwen_code/echo-key"] {
        add(model, post("/v1/chat/completions", json!({"model": model, "messages": user})));
        add(model, post("/v1/chat/completions", json!({"model": model, "messages": user, "stream": true})));
        add(model, post("/v1/messages", json!({"model": model, "max_tokens": 16, "messages": user})));
    }
    for model in ["anthropic/claude-x", "anthropic/notfound-x"] {
        add(model, post("/v1/messages", json!({"model": model, "max_tokens": 16, "messages": user})));
        add(model, post("/v1/chat/completions", json!({"model": model, "messages": user, "stream": true})));
    }
    for model in ["gemini/gemini-2.5-flash", "gemini/invalid-x", "openai/echo-key-param"] {
        add(model, post(&format!("/v1beta/models/{model}:generateContent"), contents.clone()));
        let url = server.url(&format!("/v1beta/models/{model}:streamGenerateContent?alt=sse&key={PROXY_KEY_2}"));
        add(model, client.post(url).json(&contents));
    }
    add("embeddings", post("/v1/embeddings", json!({"model": "openai/echo-key-param", "input": "hi"})));
    add("embeddings", post("/v1/embeddings", json!({"model": "openai/text-embedding-3-small", "input": "hi"})));
    for path in ["/v1/models", "/v1/providers", "/v1/quota-stats", "/v1beta/models"] {
        add(path, client.get(server.url(path)).bearer_auth(PROXY_KEY));
    }
    add("wrong key", client.get(server.url("/v1/models")).bearer_auth("not-the-key"));
    add("wrong key", client.post(server.url("/v1/messages")).header("x-api-key", "not-the-key").json(&json!({})));

    let mut seen = Vec::new();
    for (what, request) in exchanges {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap();
        seen.push((format!("{what}: {status} headers"), headers));
        seen.push((format!("{what}: {status} body"), body));
    }
    // The three OpenAI keys took part: one served, one rate limited, one refused and locked out.
    let used: Vec<String> = openai.chat_requests().iter().filter_map(|r| r.bearer().map(str::to_string)).collect();
    for key in [OPENAI_KEY, OPENAI_RATE_LIMITED, OPENAI_REFUSED, QWEN_ACCESS] {
        assert!(used.iter().any(|k| k == key), "{key} was never used upstream: {used:?}");
    }

    let (status, log) = tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "the log ran at trace level");
    assert!(log.contains("upstream attempt failed"), "failures were logged");
    seen.push(("server log".into(), log));

    for args in [
        &["keys", "list", "--json"][..],
        &["quota", "show", "--json"],
        &["keys", "test", "--json"],
        &["auth", "list", "--json"],
        &["models", "--json"],
        &["chat", "-m", "openai/echo-key-param", "--json", "hi"],
        &["--log-level", "trace", "chat", "-m", "openai/echo-key", "hi"],
    ] {
        let output = tokio::task::spawn_blocking({
            let home = home.path().to_path_buf();
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            move || llmkp(&home).args(&args).output().unwrap()
        })
        .await
        .unwrap();
        seen.push((format!("llmkp {args:?} stdout"), String::from_utf8_lossy(&output.stdout).into()));
        seen.push((format!("llmkp {args:?} stderr"), String::from_utf8_lossy(&output.stderr).into()));
    }
    let mut files = Vec::new();
    state_files(home.path(), &mut files);
    assert!(
        files.iter().any(|(name, _)| name.ends_with("state.db")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, bytes) in files {
        seen.push((name, String::from_utf8_lossy(&bytes).into()));
    }

    let redacted = seen.iter().filter(|(_, text)| text.contains("[redacted]")).count();
    assert!(redacted >= 4, "upstreams echoed keys and the echoes were scrubbed ({redacted} places)");
    let mut leaks = Vec::new();
    for (what, text) in &seen {
        for secret in SECRETS {
            if text.contains(secret) {
                leaks.push(format!("{secret} in {what}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets left the process:\n{}", leaks.join("\n"));
}
