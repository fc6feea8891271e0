//! OAuth logins end to end against the mock identity provider and the mock Code Assist API:
//! `llmkp auth add` through the real binary (auth code + PKCE with the loopback callback, the
//! Qwen device flow), `auth export` feeding a fresh `serve`, a Python-proxy credential file, a
//! single refresh for 50 concurrent requests, and a refused refresh token.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::cli::{Server, llmkp, run};
use crate::support::code_assist_mock::CodeAssistMock;
use crate::support::gateway::{Gateway, PROXY_KEY, chat_body, chunks};
use crate::support::oauth_mock::{DeviceStep, OAuthMock};

/// The endpoint overrides pointing every login at the mocks.
pub(crate) fn mock_vars(oauth: &OAuthMock, code_assist: &CodeAssistMock) -> Vec<(String, String)> {
    let mut vars = oauth.env_vars();
    vars.push(("GEMINI_CLI_API_BASE".into(), code_assist.base_url()));
    vars
}

fn command(home: &Path, vars: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = llmkp(home);
    cmd.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))).args(args);
    cmd
}

/// Runs `llmkp auth add …` that prints a login URL on stderr, plays the browser (follows the URL
/// through the mock's redirect to the loopback callback), and returns (exit code, stdout, stderr).
async fn login_through_browser(home: &Path, vars: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    let mut child = command(home, vars, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let url = loop {
        let line = tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(20)))
            .unwrap_or_else(|_| panic!("no login URL; stderr: {seen:#?}"));
        if line.starts_with("http") {
            break line;
        }
        seen.push(line);
    };
    // The browser: the IdP redirects to http://localhost:<port>/oauth2callback?code&state.
    let page = reqwest::get(&url).await.unwrap();
    assert!(page.status().is_success(), "callback answered {}", page.status());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    while let Ok(line) = rx.try_recv() {
        seen.push(line);
    }
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned(), seen.join("\n"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_add_gemini_cli_runs_auth_code_with_pkce_and_discovers_the_project() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let home = tempfile::tempdir().unwrap();
    let vars = mock_vars(&oauth, &code_assist);
    let (code, stdout, stderr) =
        login_through_browser(home.path(), &vars, &["auth", "add", "gemini_cli", "--no-browser", "--port", "0"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("gemini_cli: added gemini_cli_oauth_1.json for user@example.com"), "{stdout}");
    assert!(stdout.contains("tier FREE") && stdout.contains("project mock-project-123"), "{stdout}");

    // The mock checked the PKCE verifier against the challenge; the exchange carried one.
    let exchange = &oauth.token_requests("authorization_code")[0];
    assert!(exchange.body["code_verifier"].as_str().is_some_and(|v| v.len() >= 43));
    let file = home.path().join("oauth_creds/gemini_cli_oauth_1.json");
    assert_eq!(mode(&file), 0o600);
    let stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(stored["access_token"].as_str().unwrap().starts_with("ya29.mock-"));
    assert!(stored["refresh_token"].as_str().unwrap().starts_with("1//mock-"));
    assert_eq!(stored["_proxy_metadata"]["email"], "user@example.com");
    assert_eq!(stored["_proxy_metadata"]["project_id"], "mock-project-123");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(stored["refresh_token"].as_str().unwrap()), "no token printed: {text}");
    }

    // Logging in again as the same account updates the same file.
    let (code, stdout, stderr) =
        login_through_browser(home.path(), &vars, &["auth", "add", "gemini_cli", "--no-browser", "--port", "0"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("updated gemini_cli_oauth_1.json"), "{stdout}");
    assert!(!home.path().join("oauth_creds/gemini_cli_oauth_2.json").exists());

    // `auth list` shows the account without a token.
    let listed = run(home.path(), &["auth", "list", "--json"], None).await;
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["credentials"][0]["account"], "user@example.com");
    assert_eq!(listed["credentials"][0]["state"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_add_qwen_code_runs_the_device_flow_with_slow_down() {
    let oauth = OAuthMock::start().await;
    oauth.set_device_interval(0.2);
    oauth.set_device_script(&[DeviceStep::Pending, DeviceStep::SlowDown, DeviceStep::Success]);
    let home = tempfile::tempdir().unwrap();
    let vars = oauth.env_vars();
    let output = tokio::task::spawn_blocking({
        let home = home.path().to_path_buf();
        move || {
            command(&home, &vars, &["auth", "add", "qwen_code", "--email", "me@example.com"])
                .stdin(Stdio::null())
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Open this URL and confirm the code"), "{stderr}");
    assert!(stdout.contains("qwen_code: added qwen_code_oauth_1.json for me@example.com"), "{stdout}");
    let polls = oauth.device_polls(&oauth.device_codes()[0]);
    assert_eq!(polls.len(), 3, "pending, slow_down, success");
    assert!(polls[2] - polls[1] > polls[1] - polls[0], "slow_down lengthened the interval: {polls:?}");
    let stored: Value =
        serde_json::from_slice(&std::fs::read(home.path().join("oauth_creds/qwen_code_oauth_1.json")).unwrap())
            .unwrap();
    assert_eq!(stored["resource_url"], "portal.qwen.ai");
    assert!(stored["expiry_date"].as_f64().unwrap() > 1.7e12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_login_is_the_only_environment_of_a_fresh_serve_and_streams_through_code_assist() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let vars = mock_vars(&oauth, &code_assist);
    let laptop = tempfile::tempdir().unwrap();
    let (code, _, stderr) =
        login_through_browser(laptop.path(), &vars, &["auth", "add", "gemini_cli", "--no-browser", "--port", "0"])
            .await;
    assert_eq!(code, 0, "{stderr}");
    let exported = run(laptop.path(), &["auth", "export", "gemini_cli"], None).await;
    assert_eq!(exported.status.code(), Some(0));
    let exported_text = String::from_utf8(exported.stdout).unwrap();
    assert!(exported_text.starts_with("# GEMINI_CLI Credential #1 for: user@example.com"), "{exported_text}");
    assert!(exported_text.contains("GEMINI_CLI_1_PROJECT_ID=mock-project-123"), "{exported_text}");
    let out_file = laptop.path().join("deploy.env");
    let written =
        run(laptop.path(), &["auth", "export", "gemini_cli", "--out", out_file.to_str().unwrap()], None).await;
    assert_eq!(written.status.code(), Some(0));
    assert_eq!(mode(&out_file), 0o600);

    // The server: an empty home and only the exported variables (plus the mock endpoints).
    let server_home = tempfile::tempdir().unwrap();
    let mut cmd = llmkp(server_home.path());
    cmd.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))).env("PROXY_API_KEY", PROXY_KEY);
    for line in exported_text.lines().filter(|l| !l.starts_with('#') && l.contains('=')) {
        let (name, value) = line.split_once('=').unwrap();
        cmd.env(name, value.trim_matches('"'));
    }
    let mut server = tokio::task::spawn_blocking(move || Server::start(cmd)).await.unwrap();
    let mut body = chat_body("gemini_cli/gemini-2.5-pro", "hi");
    body["stream"] = json!(true);
    let response =
        reqwest::Client::new().post(server.url("/v1/chat/completions")).bearer_auth(PROXY_KEY).json(&body).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 200);
    let streamed = chunks(&response.text().await.unwrap());
    let text: String = streamed.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Hello from code assist: hi");
    let sent = &code_assist.generate_requests()[0].body;
    assert_eq!((sent["model"].as_str(), sent["project"].as_str()), (Some("gemini-2.5-pro"), Some("mock-project-123")));
    assert!(sent["request"]["session_id"].is_string() && sent["user_prompt_id"].is_string());
    let (_, log) = tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    assert!(server_home.path().read_dir().unwrap().all(|e| e.unwrap().file_name() != "oauth_creds"), "no file needed");
    for token in ["GEMINI_CLI_1_ACCESS_TOKEN=", "GEMINI_CLI_1_REFRESH_TOKEN="] {
        let line = exported_text.lines().find(|l| l.starts_with(token)).unwrap();
        let value = line.split_once('=').unwrap().1;
        assert!(value.len() > 8 && !log.contains(value), "no token in the log");
    }
}

/// A Google-family file exactly as the Python LLM-API-Key-Proxy writes it, expired.
pub(crate) fn python_proxy_file(access: &str, refresh: &str) -> Value {
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email",
        "token_type": "Bearer",
        "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.sig",
        "expiry_date": 1_700_000_000_123.456_f64,
        "client_id": "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
        "client_secret": "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",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
        "python_only_field": {"kept": [1, 2, 3]},
        "_proxy_metadata": {"email": "user@example.com", "last_check_timestamp": 1_700_000_000.1,
            "project_id": "mock-project-123", "tier": "FREE", "tier_full": "FREE"}
    })
}

/// A home whose only credential is `login`, as `oauth_creds/gemini_cli_oauth_1.json`.
fn home_with_login(login: &Value) -> (tempfile::TempDir, std::path::PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("oauth_creds");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("gemini_cli_oauth_1.json");
    std::fs::write(&file, serde_json::to_vec_pretty(login).unwrap()).unwrap();
    (home, file)
}

/// `llmkp serve` on `home` with the mocks' endpoints, the test proxy key and `extra`.
pub(crate) async fn serve_home(home: &Path, vars: Vec<(String, String)>, extra: &[(&str, &str)]) -> Server {
    let mut cmd = llmkp(home);
    cmd.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))).env("PROXY_API_KEY", PROXY_KEY);
    cmd.envs(extra.iter().copied());
    tokio::task::spawn_blocking(move || Server::start(cmd)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_proxy_credential_file_loads_refreshes_and_serves() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    let (home, file) = home_with_login(&python_proxy_file("ya29.stale", &issued.refresh_token));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut server = serve_home(home.path(), mock_vars(&oauth, &code_assist), &[]).await;
    let response = reqwest::Client::new()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(PROXY_KEY)
        .json(&chat_body("gemini_cli/gemini-2.5-flash", "hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from code assist: hello");
    assert_eq!(oauth.refresh_calls(), 1, "the expired token was refreshed once");

    // The file was rewritten with the rotated tokens, 0600, everything else kept.
    let stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_ne!(stored["refresh_token"], issued.refresh_token, "the rotated refresh token is on disk");
    assert_ne!(stored["access_token"], "ya29.stale");
    assert_eq!(stored["python_only_field"], json!({"kept": [1, 2, 3]}));
    assert_eq!(stored["_proxy_metadata"]["project_id"], "mock-project-123");
    assert_eq!(mode(&file), 0o600);
    let (_, log) = tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    let secrets = [
        issued.refresh_token.as_str(),
        stored["refresh_token"].as_str().unwrap(),
        stored["access_token"].as_str().unwrap(),
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "a token reached the log");
    }
}

/// Environment variables of one expired Gemini CLI login, as `auth export` writes them.
fn env_login(oauth: &OAuthMock, code_assist: &CodeAssistMock, refresh_token: &str) -> Vec<(String, String)> {
    let mut vars = mock_vars(oauth, code_assist);
    vars.extend([
        ("PROXY_API_KEY".to_string(), PROXY_KEY.to_string()),
        ("GEMINI_CLI_1_ACCESS_TOKEN".to_string(), "ya29.expired".to_string()),
        ("GEMINI_CLI_1_REFRESH_TOKEN".to_string(), refresh_token.to_string()),
        ("GEMINI_CLI_1_EXPIRY_DATE".to_string(), "0".to_string()),
        ("GEMINI_CLI_1_EMAIL".to_string(), "user@example.com".to_string()),
        ("GEMINI_CLI_1_PROJECT_ID".to_string(), "mock-project-123".to_string()),
    ]);
    vars
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_on_an_expired_login_cause_exactly_one_refresh() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    oauth.set_refresh_delay(Duration::from_millis(300));
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    let vars = env_login(&oauth, &code_assist, &issued.refresh_token);
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gw = Arc::new(Gateway::start(&pairs).await);
    let requests = (0..50).map(|i| {
        let gw = gw.clone();
        async move { gw.post("/v1/chat/completions", &chat_body("gemini_cli/gemini-2.5-flash", &format!("q{i}"))).await }
    });
    let responses = futures::future::join_all(requests).await;
    for response in responses {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(oauth.refresh_calls(), 1);
    assert_eq!(code_assist.generate_requests().len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_takes_the_login_out_of_rotation_with_the_fix_named() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let vars = env_login(&oauth, &code_assist, "1//revoked-or-unknown");
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gw = Gateway::start(&pairs).await;
    let response = gw.post("/v1/chat/completions", &chat_body("gemini_cli/gemini-2.5-flash", "hi")).await;
    assert!(response.status().is_server_error(), "{}", response.status());
    let body = response.text().await.unwrap();
    assert!(body.contains("llmkp auth add gemini_cli"), "{body}");
    assert!(!body.contains("1//revoked-or-unknown"));
    assert_eq!(oauth.refresh_calls(), 1);

    // Skipped from now on: no second refresh, no upstream call, and the report says why.
    let again = gw.post("/v1/chat/completions", &chat_body("gemini_cli/gemini-2.5-flash", "hi")).await;
    assert_eq!(again.status(), 503);
    assert_eq!(oauth.refresh_calls(), 1);
    assert!(code_assist.generate_requests().is_empty());
    let stats: Value = gw.get("/v1/quota-stats?provider=gemini_cli").await.json().await.unwrap();
    assert_eq!(stats["providers"]["gemini_cli"]["credentials"][0]["status"], "needs_reauth");

    // An operator's reset gives it one more try (here refused again).
    let reset =
        gw.post("/v1/quota-stats", &json!({"action": "reset", "scope": "provider", "provider": "gemini_cli"})).await;
    assert_eq!(reset.status(), 200);
    let again = gw.post("/v1/chat/completions", &chat_body("gemini_cli/gemini-2.5-flash", "hi")).await;
    assert!(again.status().is_server_error());
    assert_eq!(oauth.refresh_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_test_keys_list_and_auth_list_name_the_fix_for_a_dead_login() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let (home, _) = home_with_login(&python_proxy_file("ya29.stale", "1//revoked"));
    let vars = mock_vars(&oauth, &code_assist);
    let run_with = |args: &'static [&'static str]| {
        let (home, vars) = (home.path().to_path_buf(), vars.clone());
        tokio::task::spawn_blocking(move || command(&home, &vars, args).stdin(Stdio::null()).output().unwrap())
    };
    let tested = run_with(&["keys", "test", "--json"]).await.unwrap();
    assert_eq!(tested.status.code(), Some(1));
    let tested: Value = serde_json::from_slice(&tested.stdout).unwrap();
    assert_eq!(tested["results"][0]["result"], "auth_failed", "{tested}");
    assert!(tested["results"][0]["detail"].as_str().unwrap().contains("llmkp auth add gemini_cli"), "{tested}");

    let listed = run_with(&["keys", "list"]).await.unwrap();
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(table.contains("needs a new login: llmkp auth add gemini_cli"), "{table}");
    let auth = run_with(&["auth", "list", "--json"]).await.unwrap();
    let auth: Value = serde_json::from_slice(&auth.stdout).unwrap();
    assert!(auth["credentials"][0]["state"].as_str().unwrap().starts_with("needs_reauth"), "{auth}");
    assert!(!table.contains("1//revoked"));
}

/// Unix milliseconds a day from now.
fn tomorrow_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    (now.as_millis() + 86_400_000) as u64
}

/// A gateway whose only credential is a fresh Qwen Code login served at `mock`.
async fn qwen_gateway(mock: &crate::support::openai_mock::OpenAiMock) -> Gateway {
    let resource = format!("http://{}", mock.addr());
    let expiry = tomorrow_ms().to_string();
    Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("QWEN_CODE_1_ACCESS_TOKEN", "qwen-access-token-0001"),
        ("QWEN_CODE_1_REFRESH_TOKEN", "qwen-refresh-token-0001"),
        ("QWEN_CODE_1_EXPIRY_DATE", &expiry),
        ("QWEN_CODE_1_RESOURCE_URL", &resource),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qwen_code_login_is_served_at_its_resource_url_with_its_access_token() {
    let mock = crate::support::openai_mock::OpenAiMock::start().await;
    let gw = qwen_gateway(&mock).await;
    let response = gw.post("/v1/chat/completions", &chat_body("qwen_code/qwen3-coder-plus", "hi")).await;
    assert_eq!(response.status(), 200);
    let sent = &mock.chat_requests()[0];
    assert_eq!(sent.bearer(), Some("qwen-access-token-0001"));
    assert_eq!(sent.body["model"], "qwen3-coder-plus");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iflow_login_sends_its_api_key_signed_and_no_stream_options() {
    let mock = crate::support::openai_mock::OpenAiMock::start().await;
    let base = mock.base_url();
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("IFLOW_API_BASE", &base),
        ("IFLOW_1_ACCESS_TOKEN", "iflow-access-0001"),
        ("IFLOW_1_REFRESH_TOKEN", "iflow-refresh-0001"),
        ("IFLOW_1_API_KEY", "sk-iflow-key-000000001"),
        ("IFLOW_1_EXPIRY_DATE", "2099-01-01T00:00:00Z"),
    ])
    .await;
    let mut body = chat_body("iflow/glm-4.6", "hi");
    body["stream"] = json!(true);
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let sent = &mock.chat_requests()[0];
    assert_eq!(sent.bearer(), Some("sk-iflow-key-000000001"), "the API key, not the access token");
    assert_eq!(sent.header("user-agent"), Some("iFlow-Cli"));
    let session = sent.header("session-id").unwrap();
    let timestamp = sent.header("x-iflow-timestamp").unwrap();
    assert!(session.starts_with("session-") && timestamp.parse::<u64>().is_ok());
    assert_eq!(sent.header("x-iflow-signature").map(str::len), Some(64));
    assert!(sent.body.get("stream_options").is_none(), "iFlow answers 406 to stream_options");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_antigravity_login_speaks_its_own_code_assist_dialect() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let issued = oauth.issue_google("1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com");
    let expiry = issued.expiry_date_ms.to_string();
    let mut vars = oauth.env_vars();
    vars.extend([
        ("ANTIGRAVITY_API_BASE".to_string(), code_assist.base_url()),
        ("PROXY_API_KEY".to_string(), PROXY_KEY.to_string()),
        ("ANTIGRAVITY_1_ACCESS_TOKEN".to_string(), issued.access_token.clone()),
        ("ANTIGRAVITY_1_REFRESH_TOKEN".to_string(), issued.refresh_token.clone()),
        ("ANTIGRAVITY_1_EXPIRY_DATE".to_string(), expiry),
        ("ANTIGRAVITY_1_PROJECT_ID".to_string(), "ag-project".to_string()),
    ]);
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gw = Gateway::start(&pairs).await;
    let mut body = chat_body("antigravity/gemini-2.5-flash", "hi");
    body["stream"] = json!(true);
    let response = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let text: String = chunks(&response.text().await.unwrap())
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello from code assist: hi");
    let sent = &code_assist.generate_requests()[0];
    assert_eq!(
        (sent.body["userAgent"].as_str(), sent.body["requestType"].as_str()),
        (Some("antigravity"), Some("agent"))
    );
    assert_eq!(sent.body["project"], "ag-project");
    assert!(sent.body["request"]["sessionId"].as_str().unwrap().starts_with('-'));
    assert!(sent.header("user-agent").unwrap().starts_with("antigravity/"));
    assert_eq!(oauth.refresh_calls(), 0, "a fresh token is not refreshed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qwen_code_think_tags_come_out_as_reasoning() {
    let mock = crate::support::openai_mock::OpenAiMock::start().await;
    let gw = qwen_gateway(&mock).await;
    // The mock answers "Hello! You said: <text>", so the tags arrive inside its content.
    let prompt = "<think>weighing options</think>the answer";
    let answer: Value =
        gw.post("/v1/chat/completions", &chat_body("qwen_code/qwen3-coder-plus", prompt)).await.json().await.unwrap();
    let message = &answer["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], "weighing options", "{answer}");
    assert!(!message["content"].as_str().unwrap().contains("<think>"), "{answer}");

    let mut body = chat_body("qwen_code/qwen3-coder-plus", prompt);
    body["stream"] = json!(true);
    let streamed = chunks(&gw.post("/v1/chat/completions", &body).await.text().await.unwrap());
    let field = |key: &str| -> String {
        streamed.iter().filter_map(|c| c["choices"][0]["delta"][key].as_str()).collect::<String>()
    };
    assert_eq!(field("reasoning_content"), "weighing options");
    assert!(field("content").ends_with("the answer") && !field("content").contains("think>"), "{}", field("content"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refreshes_due_logins_and_finds_their_project_before_any_request() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    let mut file_json = python_proxy_file("ya29.stale", &issued.refresh_token);
    file_json["_proxy_metadata"].as_object_mut().unwrap().remove("project_id");
    let (home, file) = home_with_login(&file_json);
    let mut server = serve_home(home.path(), mock_vars(&oauth, &code_assist), &[]).await;
    let mut stored = Value::Null;
    for _ in 0..100 {
        stored = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        if stored["_proxy_metadata"]["project_id"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored["_proxy_metadata"]["project_id"], "mock-project-123", "{stored}");
    assert_eq!(oauth.refresh_calls(), 1);
    assert_ne!(stored["access_token"], "ya29.stale");
    assert!(code_assist.generate_requests().is_empty(), "no request was needed");
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
}

/// Plays the browser for an iFlow login: follows redirects only while they stay on loopback
/// (after the callback, iFlow sends the browser to iflow.cn, which a test must not reach).
async fn follow_on_loopback(url: &str) -> reqwest::Response {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let local = attempt.url().host_str().is_some_and(|h| h == "127.0.0.1" || h == "localhost");
        if local { attempt.follow() } else { attempt.stop() }
    });
    reqwest::Client::builder().redirect(policy).build().unwrap().get(url).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_add_iflow_logs_in_with_basic_auth_and_stores_the_api_key_then_the_cookie_flow_works_too() {
    let oauth = OAuthMock::start().await;
    let home = tempfile::tempdir().unwrap();
    let vars = oauth.env_vars();
    let mut child = command(home.path(), &vars, &["auth", "add", "iflow", "--no-browser", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "no login URL");
            if line.starts_with("http") {
                return line.trim().to_string();
            }
        }
    })
    .await
    .unwrap();
    let last = follow_on_loopback(&url).await;
    assert_eq!(last.status(), 302, "the callback sends the browser to iFlow's success page");
    assert!(last.headers()["location"].to_str().unwrap().contains("/oauth/success"));
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("iflow: added iflow_oauth_1.json for iflow@example.com"), "{stdout}");
    let stored: Value =
        serde_json::from_slice(&std::fs::read(home.path().join("oauth_creds/iflow_oauth_1.json")).unwrap()).unwrap();
    assert!(stored["api_key"].as_str().unwrap().starts_with("sk-iflow-"));
    assert!(stored["expiry_date"].as_str().unwrap().ends_with('Z'), "iFlow expiry is an ISO string: {stored}");
    assert!(oauth.requests_to("/iflow/token")[0].header("authorization").unwrap().starts_with("Basic "));

    // The cookie flow: BXAuth from stdin, an API key from the platform.
    let cookie = tokio::task::spawn_blocking({
        let (home, vars) = (home.path().to_path_buf(), vars.clone());
        move || {
            let mut child = command(&home, &vars, &["auth", "add", "iflow", "--cookie", "--email", "my-key"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"BXAuth=mock-bxauth;\n").unwrap();
            child.wait_with_output().unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(cookie.status.code(), Some(0), "{}", String::from_utf8_lossy(&cookie.stderr));
    let stored: Value =
        serde_json::from_slice(&std::fs::read(home.path().join("oauth_creds/iflow_oauth_2.json")).unwrap()).unwrap();
    assert_eq!(stored["cookie"], "BXAuth=mock-bxauth;");
    assert_eq!(stored["_proxy_metadata"]["credential_type"], "cookie");
    assert!(stored["api_key"].as_str().unwrap().starts_with("sk-"));
    // Cookie logins cannot be exported; the OAuth one can.
    let one = run(home.path(), &["auth", "export", "iflow", "--index", "2"], None).await;
    assert_eq!(one.status.code(), Some(2));
    let all = run(home.path(), &["auth", "export", "iflow"], None).await;
    let all = String::from_utf8(all.stdout).unwrap();
    assert!(all.contains("IFLOW_1_API_KEY=sk-iflow-") && !all.contains("IFLOW_2_"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_echoing_a_login_key_gets_it_redacted() {
    let mock = crate::support::openai_mock::OpenAiMock::start().await;
    let base = mock.base_url();
    let gw = Gateway::start(&[
        ("PROXY_API_KEY", PROXY_KEY),
        ("IFLOW_API_BASE", &base),
        ("IFLOW_1_ACCESS_TOKEN", "iflow-access-0001"),
        ("IFLOW_1_REFRESH_TOKEN", "iflow-refresh-0001"),
        ("IFLOW_1_API_KEY", "sk-iflow-secret-echoed-0001"),
        ("IFLOW_1_EXPIRY_DATE", "2099-01-01T00:00:00Z"),
    ])
    .await;
    // The mock's `echo-key…` model answers 400 "Incorrect request for key <bearer>".
    let response = gw.post("/v1/chat/completions", &chat_body("iflow/echo-key", "hi")).await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(!body.contains("sk-iflow-secret-echoed-0001") && body.contains("[redacted]"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_using_a_token_that_still_works() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    for _ in 0..3 {
        oauth.fail_next_refresh(503);
    }
    // Due (inside the 30-minute buffer) but valid for ten more minutes.
    let expiry =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 600_000).to_string();
    let mut vars = env_login(&oauth, &code_assist, &issued.refresh_token);
    for (name, value) in &mut vars {
        match name.as_str() {
            "GEMINI_CLI_1_ACCESS_TOKEN" => value.clone_from(&issued.access_token),
            "GEMINI_CLI_1_EXPIRY_DATE" => value.clone_from(&expiry),
            _ => {}
        }
    }
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gw = Gateway::start(&pairs).await;
    let response = gw.post("/v1/chat/completions", &chat_body("gemini_cli/gemini-2.5-flash", "hi")).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let tried = oauth.refresh_calls();
    assert!(tried >= 1, "a refresh was attempted");
    // The next request does not hammer the token endpoint again right away.
    let response = gw.post("/v1/chat/completions", &chat_body("gemini_cli/gemini-2.5-flash", "again")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(oauth.refresh_calls(), tried);
    assert_eq!(code_assist.tokens_used(), [issued.access_token.clone(), issued.access_token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_login_brings_a_dead_credential_back_without_a_restart() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let (home, file) = home_with_login(&python_proxy_file("ya29.stale", "1//revoked"));
    let mut server =
        serve_home(home.path(), mock_vars(&oauth, &code_assist), &[("SKIP_OAUTH_INIT_CHECK", "true")]).await;
    let ask = || {
        reqwest::Client::new()
            .post(server.url("/v1/chat/completions"))
            .bearer_auth(PROXY_KEY)
            .json(&chat_body("gemini_cli/gemini-2.5-flash", "hi"))
            .send()
    };
    assert!(ask().await.unwrap().status().is_server_error());
    let flagged: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(flagged["_proxy_metadata"]["needs_reauth"], true);

    // What `auth add` writes for the same account: fresh tokens, no flag.
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    let mut relogged = python_proxy_file(&issued.access_token, &issued.refresh_token);
    relogged["expiry_date"] = json!(issued.expiry_date_ms);
    std::fs::write(&file, relogged.to_string()).unwrap();
    let response = ask().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_login_file_is_not_written_back_by_a_refresh() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    let (home, file) = home_with_login(&python_proxy_file("ya29.stale", &issued.refresh_token));
    let mut server =
        serve_home(home.path(), mock_vars(&oauth, &code_assist), &[("SKIP_OAUTH_INIT_CHECK", "true")]).await;
    let removed = run(home.path(), &["auth", "remove", "gemini_cli", "1"], None).await;
    assert_eq!(removed.status.code(), Some(0));
    let response = reqwest::Client::new()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(PROXY_KEY)
        .json(&chat_body("gemini_cli/gemini-2.5-flash", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the running server still holds the login");
    assert_eq!(oauth.refresh_calls(), 1);
    assert!(!file.exists(), "the removed file stays removed");
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_endpoint_is_asked_once_for_all_waiting_requests() {
    let oauth = OAuthMock::start().await;
    let code_assist = CodeAssistMock::start_for(&oauth).await;
    let issued = oauth.issue_google("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com");
    oauth.set_refresh_delay(Duration::from_millis(100));
    for _ in 0..100 {
        oauth.fail_next_refresh(503);
    }
    let vars = env_login(&oauth, &code_assist, &issued.refresh_token);
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gw = Arc::new(Gateway::start(&pairs).await);
    let requests = (0..10).map(|i| {
        let gw = gw.clone();
        async move { gw.post("/v1/chat/completions", &chat_body("gemini_cli/gemini-2.5-flash", &format!("q{i}"))).await }
    });
    for response in futures::future::join_all(requests).await {
        assert!(response.status().is_server_error(), "{}", response.status());
    }
    // A refresh is three calls (its own retries); waiting requests share its outcome instead of
    // each running their own: ten requests with two attempts each would otherwise make 60.
    let calls = oauth.refresh_calls();
    assert!((3..=9).contains(&calls), "{calls} token calls");
    assert!(code_assist.generate_requests().is_empty(), "an expired token is never sent");
}
