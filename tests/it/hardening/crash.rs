//! Defect 7f: `kill -9` under load loses at most `STATE_FLUSH_INTERVAL_MS` of usage: every answer
//! a client had received that long before the kill is in the database afterwards.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cli::{Server, home_with, llmkp};
use crate::support::gateway::chat_body;
use crate::support::openai_mock::OpenAiMock;

#[tokio::test]
async fn kill_9_under_load_loses_at_most_the_flush_interval_of_usage() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &["sk-good-0001"]);
    let interval = Duration::from_millis(500);
    let server = Server::start(llmkp(home.path()));
    let url = server.url("/v1/chat/completions");
    let answered: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (url, answered, stop) = (url.clone(), answered.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::SeqCst) {
                let Ok(response) = client.post(&url).json(&chat_body("openai/gpt-4o", "hi")).send().await else {
                    break;
                };
                if response.status() == 200 && response.bytes().await.is_ok() {
                    answered.lock().unwrap().push(Instant::now());
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = Instant::now();
    // SIGKILL: no chance to flush on the way out.
    tokio::task::spawn_blocking(move || drop(server)).await.unwrap();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        let _ = client.await;
    }
    let due = answered.lock().unwrap().iter().filter(|at| **at + interval <= killed_at).count() as u64;
    assert!(due > 0, "the load ran");

    let shown = llmkp(home.path()).args(["keys", "list", "--json"]).output().unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let report: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let persisted = report["providers"]["openai"]["credentials"][0]["window"]["requests"].as_u64().unwrap();
    assert!(persisted >= due, "{persisted} requests on disk, but {due} were answered {interval:?} before the kill");
}
