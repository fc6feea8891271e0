//! Several real `llmkp serve` processes sharing one real `redis-server` (issue 17): concurrency
//! limits across instances, shared cooldowns, usage that adds up, a crashed instance's leases,
//! a Redis outage under load, and one OAuth refresh for every instance.
//!
//! `.ci/run` starts a `redis-server` on a free loopback port and exports
//! `LLMKP_TEST_REDIS_URL`. Without it these tests skip with a loud notice, except under CI
//! (`CI=true`), where they fail. Each test uses its own key prefix, so they share that server.

mod concurrency;
mod cooldowns;
mod crash;
mod oauth;
mod outage;
mod responses;
mod store;
mod usage;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::cli::{Server, llmkp};
use crate::support::gateway::PROXY_KEY;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip(why: &str) {
    assert!(!in_ci(), "{why}: under CI the shared-state tests must run (.ci/run starts redis-server)");
    eprintln!("\n**********\n*** SKIPPED Redis test: {why}\n**********\n");
}

/// The test Redis, checked to answer; `None` (skip) when none is configured outside CI.
pub fn redis_url() -> Option<String> {
    let Some(url) = std::env::var("LLMKP_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        skip("LLMKP_TEST_REDIS_URL is not set");
        return None;
    };
    let client = ::redis::Client::open(url.as_str()).expect("LLMKP_TEST_REDIS_URL is a redis:// URL");
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("the test Redis at {url} does not answer: {e}"));
    let pong: String = ::redis::cmd("PING").query(&mut conn).expect("PING");
    assert_eq!(pong, "PONG");
    Some(url)
}

/// A key prefix of its own for one test.
pub fn prefix(test: &str) -> String {
    format!("llmkp-it:{test}:{:08x}", rand::random::<u32>())
}

/// `llmkp serve` in a fresh home with `vars` (plus the proxy key).
pub async fn serve(vars: &[(String, String)]) -> (Server, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let cmd = command(home.path(), vars);
    let server = tokio::task::spawn_blocking(move || Server::start(cmd)).await.unwrap();
    (server, home)
}

/// `llmkp` in `home` with `vars` and the proxy key.
pub fn command(home: &Path, vars: &[(String, String)]) -> Command {
    let mut cmd = llmkp(home);
    cmd.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))).env("PROXY_API_KEY", PROXY_KEY);
    cmd
}

/// Owned `(name, value)` pairs.
pub fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

/// A chat request to `server` with the proxy key.
pub async fn post(client: &reqwest::Client, server: &Server, body: &serde_json::Value) -> reqwest::Response {
    post_url(client, &server.url("/v1/chat/completions"), body).await
}

/// A chat request to a server's chat URL with the proxy key.
pub async fn post_url(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> reqwest::Response {
    client.post(url).bearer_auth(PROXY_KEY).json(body).send().await.unwrap()
}

/// The chat URLs of some servers, shareable between tasks.
pub fn chat_urls(servers: &[&Server]) -> std::sync::Arc<Vec<String>> {
    std::sync::Arc::new(servers.iter().map(|s| s.url("/v1/chat/completions")).collect())
}

/// A private `redis-server` a test may stop and start again (its data survives: append-only
/// file, fsync on every write).
pub struct PrivateRedis {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

impl PrivateRedis {
    /// `None` (skip) when there is no `redis-server` binary outside CI.
    pub fn start() -> Option<Self> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            skip("no redis-server binary on PATH");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Self { child: None, port, dir: tempfile::tempdir().unwrap() };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let client = ::redis::Client::open(self.url()).unwrap();
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200))
                && ::redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the private redis-server on port {} did not start", self.port);
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `llmkp quota show --json` against the shared state, from a home of its own.
pub async fn quota_show(vars: &[(String, String)]) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path(), vars);
    cmd.args(["quota", "show", "--json"]);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(output.status.success(), "quota show failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}
