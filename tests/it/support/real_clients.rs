//! The published Claude Code and Codex CLIs run headless against a gateway: where `.ci/run`
//! installs them, a throwaway home per run, every opt-out of their own traffic, a dead-end
//! proxy that records anything that still tries to leave the machine, and a hard timeout.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::gateway::PROXY_KEY;

/// A run that takes longer fails the test (the client is killed), so a hung client cannot hang CI.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

/// Where `.ci/run` installs the clients (`LLMKP_CLIENTS_DIR`), by default `target/real-clients`.
pub fn clients_dir() -> PathBuf {
    std::env::var_os("LLMKP_CLIENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/real-clients"))
}

/// The first of `candidates` that answers `--version`; otherwise `None` after a loud notice
/// (a panic when `LLMKP_REQUIRE_CLIENTS=1`, which `.ci/run` sets once the install worked).
fn locate(what: &str, candidates: Vec<PathBuf>) -> Option<PathBuf> {
    let found = candidates.into_iter().find(|bin| {
        std::process::Command::new(bin).arg("--version").stdin(Stdio::null()).output().is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var("LLMKP_REQUIRE_CLIENTS").as_deref() != Ok("1"),
            "LLMKP_REQUIRE_CLIENTS=1 but {what} does not run from {}",
            clients_dir().display()
        );
        eprintln!(
            "SKIPPED: {what} is not installed under {} (run .ci/run, or set LLMKP_CLIENTS_DIR)",
            clients_dir().display()
        );
    }
    found
}

/// What a client run left behind.
#[derive(Debug)]
pub struct ClientRun {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The first line of every connection made to the dead-end proxy (`CONNECT host:443 …`):
    /// traffic that would have left the machine.
    pub escaped: Vec<String>,
}

impl ClientRun {
    /// stdout as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }

    /// stdout as JSON lines (stream-json, `codex exec --json`); non-JSON lines are skipped.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Asserts exit code 0 and no traffic beyond loopback.
    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "client failed:\n{self}");
        self.assert_stayed_local();
    }

    pub fn assert_stayed_local(&self) {
        assert!(self.escaped.is_empty(), "the client tried to reach the network: {:?}\n{self}", self.escaped);
    }
}

impl std::fmt::Display for ClientRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.code, self.stdout, self.stderr)
    }
}

/// A loopback listener standing in for an HTTP(S) proxy: every connection is recorded and closed.
struct DeadEndProxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DeadEndProxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind dead-end proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = vec![0u8; 512];
                    let n = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut head))
                        .await
                        .map_or(0, |r| r.unwrap_or(0));
                    let text = String::from_utf8_lossy(&head[..n]);
                    log.lock().unwrap().push(text.lines().next().unwrap_or("<no request line>").to_owned());
                });
            }
        });
        Self { url, seen, task }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for DeadEndProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `bin args` with exactly `envs` (plus `PATH`, the proxy variables and a throwaway
/// `TMPDIR`), stdin closed, in `cwd`; kills it after [`CLIENT_TIMEOUT`].
async fn run(bin: &Path, args: &[&str], envs: &[(&str, String)], cwd: &Path) -> ClientRun {
    let proxy = DeadEndProxy::start().await;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args).current_dir(cwd).env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.kill_on_drop(true);
    // Codex's npm launcher is a Node script; the shell tool needs the usual tools.
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()));
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        cmd.env(var, &proxy.url);
    }
    for var in ["NO_PROXY", "no_proxy"] {
        cmd.env(var, "127.0.0.1,localhost");
    }
    cmd.env("TERM", "dumb").env("NO_COLOR", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let output = match tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.expect("wait for client"),
        // Dropping the future drops the child, which kill_on_drop kills.
        Err(_) => panic!("{} {args:?} did not finish within {CLIENT_TIMEOUT:?} and was killed", bin.display()),
    };
    ClientRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        escaped: proxy.seen(),
    }
}

// ---------------------------------------------------------------------------
// Claude Code
// ---------------------------------------------------------------------------

/// How `claude -p` prints its answer.
#[derive(Clone, Copy, Debug)]
pub enum ClaudeOutput {
    /// `--output-format json`: one result object.
    Json,
    /// `--output-format stream-json --verbose`: one event per line, the result last.
    StreamJson,
}

/// The Claude Code CLI (`@anthropic-ai/claude-code`).
pub struct ClaudeCode {
    bin: PathBuf,
}

impl ClaudeCode {
    /// The installed CLI, or `None` (after a notice) to skip the test.
    pub fn find() -> Option<Self> {
        let modules = clients_dir().join("node_modules");
        // npm's link to the binary the postinstall put in place, then the platform package's own
        // copy (there when npm skipped install scripts).
        let mut candidates = vec![modules.join(".bin/claude")];
        for platform in ["linux-x64", "linux-arm64", "linux-x64-musl", "linux-arm64-musl", "darwin-arm64", "darwin-x64"]
        {
            candidates.push(modules.join(format!("@anthropic-ai/claude-code-{platform}/claude")));
        }
        locate("Claude Code (npm @anthropic-ai/claude-code)", candidates).map(|bin| Self { bin })
    }

    /// `claude -p PROMPT` against the gateway at `base_url` (no `/v1`), with `model` as the main
    /// and the small/fast model and the test proxy key.
    pub async fn prompt(&self, base_url: &str, model: &str, prompt: &str, output: ClaudeOutput) -> ClientRun {
        let home = tempfile::tempdir().expect("claude home");
        let work = tempfile::tempdir().expect("claude work dir");
        let mut args = vec!["-p", prompt, "--output-format"];
        match output {
            ClaudeOutput::Json => args.push("json"),
            ClaudeOutput::StreamJson => args.extend(["stream-json", "--verbose"]),
        }
        let envs = [
            ("HOME", home.path().display().to_string()),
            ("ANTHROPIC_BASE_URL", base_url.to_owned()),
            ("ANTHROPIC_API_KEY", PROXY_KEY.to_owned()),
            ("ANTHROPIC_MODEL", model.to_owned()),
            ("ANTHROPIC_SMALL_FAST_MODEL", model.to_owned()),
            ("ANTHROPIC_DEFAULT_HAIKU_MODEL", model.to_owned()),
            // Without these Claude Code looks up and calls api.anthropic.com and probes the base
            // URL with `HEAD /api/hello`.
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
            ("DISABLE_AUTOUPDATER", "1".to_owned()),
            ("DISABLE_TELEMETRY", "1".to_owned()),
            ("DISABLE_ERROR_REPORTING", "1".to_owned()),
            ("DISABLE_NON_ESSENTIAL_MODEL_CALLS", "1".to_owned()),
            // A failing gateway answer fails the run in seconds instead of ten backed-off retries.
            ("CLAUDE_CODE_MAX_RETRIES", "1".to_owned()),
        ];
        run(&self.bin, &args, &envs, work.path()).await
    }
}

// ---------------------------------------------------------------------------
// Codex
// ---------------------------------------------------------------------------

/// The Codex CLI (`@openai/codex`).
pub struct Codex {
    bin: PathBuf,
}

/// Codex's own traffic switched off: `analytics` (ab.chatgpt.com) and `plugins` (a
/// `git ls-remote` of github.com/openai/plugins, api.github.com, chatgpt.com); the others
/// are belt and braces.
const CODEX_OPT_OUTS: &str = r#"check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[features]
plugins = false
remote_plugin = false
apps = false
"#;

impl Codex {
    /// The installed CLI, or `None` (after a notice) to skip the test.
    pub fn find() -> Option<Self> {
        let bin = clients_dir().join("node_modules/.bin/codex");
        locate("Codex CLI (npm @openai/codex)", vec![bin]).map(|bin| Self { bin })
    }

    /// `codex exec --json PROMPT` with a provider whose `base_url` is `base_url_v1` (the
    /// gateway's `/v1`), `wire_api = "responses"`, the test proxy key, and `model`. Commands
    /// the model asks for run without approval prompts or sandbox (CI has neither a terminal
    /// nor, everywhere, the namespaces the sandbox needs).
    pub async fn exec(&self, base_url_v1: &str, model: &str, prompt: &str) -> ClientRun {
        let home = tempfile::tempdir().expect("codex home");
        let work = tempfile::tempdir().expect("codex work dir");
        let codex_home = home.path().join(".codex");
        std::fs::create_dir_all(&codex_home).expect("create CODEX_HOME");
        std::fs::write(codex_home.join("config.toml"), codex_config(base_url_v1, model)).expect("write config.toml");
        let args = [
            "exec",
            "--skip-git-repo-check",
            "--ephemeral",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",
            prompt,
        ];
        let envs = [
            ("HOME", home.path().display().to_string()),
            ("CODEX_HOME", codex_home.display().to_string()),
            ("LLMKP_PROXY_KEY", PROXY_KEY.to_owned()),
            ("SHELL", "/bin/bash".to_owned()),
        ];
        run(&self.bin, &args, &envs, work.path()).await
    }
}

/// `config.toml` for one gateway provider; retries kept to one so a failing gateway fails fast.
pub fn codex_config(base_url_v1: &str, model: &str) -> String {
    format!(
        r#"model = "{model}"
model_provider = "llmkp"
{CODEX_OPT_OUTS}
[model_providers.llmkp]
name = "llmkp"
base_url = "{base_url_v1}"
wire_api = "responses"
env_key = "LLMKP_PROXY_KEY"
request_max_retries = 1
stream_max_retries = 1
stream_idle_timeout_ms = 30000
"#
    )
}

/// The `agent_message` texts of a `codex exec --json` run, in order.
pub fn codex_messages(run: &ClientRun) -> Vec<String> {
    run.json_lines()
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .filter_map(|e| e["item"]["text"].as_str().map(str::to_owned))
        .collect()
}

/// The `command_execution` items a `codex exec --json` run completed: (command, output, exit code).
pub fn codex_commands(run: &ClientRun) -> Vec<(String, String, Option<i64>)> {
    run.json_lines()
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "command_execution")
        .map(|e| {
            let item = &e["item"];
            (
                item["command"].as_str().unwrap_or_default().to_owned(),
                item["aggregated_output"].as_str().unwrap_or_default().to_owned(),
                item["exit_code"].as_i64(),
            )
        })
        .collect()
}
