//! The chaos soak: many requests at concurrency 64 over 5 keys whose upstream draws a fault per
//! request (5xx, 429, resets before and after the head, stalls, garbage and truncated SSE, errors
//! in 200 bodies, slow streams). Every request must end with a complete answer or an error in its
//! family's format within the deadline, no answer may carry content twice, every lease must come
//! back, and the usage recorded must match what the clients received.
//!
//! CI runs 10,000 requests (`LLMKP_SOAK_REQUESTS` sets another count, e.g. 1000000 for a long run:
//! `LLMKP_SOAK_REQUESTS=1000000 cargo test --release --test it soak -- --nocapture`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use llmkp::store::memory::MemoryStore;
use llmkp::store::{StateStore, UsageCounters, now_ms};
use serde_json::{Value, json};

use crate::support::fault_upstream::{FaultUpstream, WORDS};
use crate::support::gateway::{Gateway, PROXY_KEY, chunks};

const CONCURRENCY: usize = 64;
/// A request's own budget: the deadline, plus a slow stream and its idle limit.
const DEADLINE: Duration = Duration::from_secs(12);

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    /// Complete answers.
    served: u64,
    /// Streams cut after their commit point by an in-band error.
    in_band: u64,
    /// Error responses, by status class.
    errors: u64,
    slowest: Duration,
}

/// Checks one answer: complete, cut by a well-formed in-band error, or a well-formed error.
fn judge(family: usize, stream: bool, status: u16, body: &str) -> Result<Judged, String> {
    let full = WORDS.concat();
    if status != 200 {
        let error: Value = serde_json::from_str(body).map_err(|_| format!("{status} without a JSON body: {body}"))?;
        let shaped = if family == 0 { error["error"]["message"].is_string() } else { error["type"] == "error" };
        return if shaped && matches!(status, 429 | 502 | 503 | 504) {
            Ok(Judged::Error)
        } else {
            Err(format!("{status}: {body}"))
        };
    }
    let text: String = match (family, stream) {
        (0, false) => {
            serde_json::from_str::<Value>(body).map_err(|e| e.to_string())?["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
        (0, true) => chunks(body).iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect(),
        (_, false) => serde_json::from_str::<Value>(body).map_err(|e| e.to_string())?["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        (_, true) => body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|d| d["delta"]["text"].as_str().map(str::to_string))
            .collect(),
    };
    if !full.starts_with(&text) {
        return Err(format!("content is not a prefix of the answer (duplicated or mixed): {text:?}"));
    }
    let errored = if family == 0 { body.contains(r#"data: {"error":{"#) } else { body.contains("event: error\n") };
    let ended = if family == 0 { body.ends_with("data: [DONE]\n\n") } else { body.contains("event: message_stop") };
    match (stream, errored) {
        (false, _) if text == full => Ok(Judged::Served),
        (true, false) if text == full && ended => Ok(Judged::Served),
        (true, true) if family == 0 && !ended => Err(format!("an in-band error must end with [DONE]: {body}")),
        (true, true) if family == 1 && ended => Err(format!("nothing follows an Anthropic error event: {body}")),
        (true, true) => Ok(Judged::InBand),
        _ => Err(format!("incomplete answer without an error: {body}")),
    }
}

enum Judged {
    Served,
    InBand,
    Error,
}

fn recorded(store: &MemoryStore) -> UsageCounters {
    let mut total = UsageCounters::default();
    for record in store.load(now_ms()).unwrap().usage {
        total.add(&record.total);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_through_random_upstream_faults_end_well_formed_and_fully_accounted() {
    let requests: usize = std::env::var("LLMKP_SOAK_REQUESTS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let upstream = FaultUpstream::start().await;
    let store = Arc::new(MemoryStore::new());
    let base = upstream.base_url();
    let keys: Vec<String> = (1..=5).map(|i| format!("chaos-key-000{i}")).collect();
    let names: Vec<String> = (1..=5).map(|i| format!("OPENAI_API_KEY_{i}")).collect();
    let mut vars = vec![
        ("OPENAI_API_BASE", base.as_str()),
        ("PROXY_API_KEY", PROXY_KEY),
        ("ROTATION_MODE_OPENAI", "balanced"),
        ("GLOBAL_TIMEOUT", "5"),
        ("TIMEOUT_READ_STREAMING", "1"),
        ("TIMEOUT_IDLE_NON_STREAMING", "1"),
        ("STREAM_COMMIT_TIMEOUT", "2"),
    ];
    vars.extend(names.iter().map(String::as_str).zip(keys.iter().map(String::as_str)));
    let gateway = Arc::new(Gateway::start_with_store(&vars, Some(store.clone() as Arc<dyn StateStore>)).await);
    let rss_before = rss_mb();
    let started = Instant::now();
    let user = json!([{"role": "user", "content": "hi"}]);
    let results: Vec<Result<(Judged, Duration), String>> = futures::stream::iter(0..requests)
        .map(|i| {
            let (gateway, user) = (gateway.clone(), user.clone());
            async move {
                let (family, stream) = (i % 2, (i / 2) % 2 == 1);
                let (path, body) = if family == 0 {
                    ("/v1/chat/completions", json!({"model": "openai/m", "stream": stream, "messages": user}))
                } else {
                    ("/v1/messages", json!({"model": "openai/m", "stream": stream, "max_tokens": 16, "messages": user}))
                };
                let at = Instant::now();
                let answer = tokio::time::timeout(DEADLINE, async {
                    let response = gateway.post(path, &body).await;
                    let status = response.status().as_u16();
                    (status, response.text().await.unwrap_or_default())
                })
                .await;
                let took = at.elapsed();
                let (status, text) =
                    answer.map_err(|_| format!("request {i} got no complete answer within {DEADLINE:?}"))?;
                judge(family, stream, status, &text).map(|j| (j, took)).map_err(|e| format!("request {i}: {e}"))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let wall = started.elapsed();

    let mut tally = Tally::default();
    let mut wrong = Vec::new();
    for result in results {
        match result {
            Ok((judged, took)) => {
                tally.slowest = tally.slowest.max(took);
                match judged {
                    Judged::Served => tally.served += 1,
                    Judged::InBand => tally.in_band += 1,
                    Judged::Error => tally.errors += 1,
                }
            }
            Err(e) => wrong.push(e),
        }
    }
    // Printed, not asserted: the mock and the clients share this process (see the report of
    // issue 12 for the serve-only numbers).
    println!("soak: {requests} requests in {wall:?}: {tally:?}; RSS {rss_before} MB before, {} MB after", rss_mb());
    assert!(
        wrong.is_empty(),
        "{} malformed or late answers, e.g.:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(5)].join("\n")
    );
    assert!(tally.served > requests as u64 * 6 / 10, "most requests are served despite the faults: {tally:?}");
    assert!(tally.in_band > 0, "faults after the commit point were felt: {tally:?}");

    for _ in 0..200 {
        if gateway.engine.pool().active_counts("openai").iter().all(|n| *n == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(gateway.engine.pool().active_counts("openai"), [0; 5], "every lease came back");
    // Every complete answer is one success with the 3 output tokens the upstream reported.
    let usage = recorded(&store);
    assert_eq!(usage.successes, tally.served, "successes recorded vs answers received: {usage:?}");
    assert_eq!(usage.completion_tokens, 3 * tally.served, "{usage:?}");
    assert!(usage.requests >= tally.served + tally.in_band, "{usage:?}");
    assert!(usage.failures >= requests as u64 / 20, "faults before the commit point were retried: {usage:?}");
}

/// This process's resident memory in MB (0 where `/proc` is not there).
fn rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
