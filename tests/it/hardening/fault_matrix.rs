//! The fault matrix: every way an upstream (or the network, or the client) can fail, through the
//! real server. For each: what the client gets and within what time, that no content reaches it
//! twice, that only the faulty key gets a cooldown (a transient rest, never a quota cooldown or a
//! lockout), and that every credential lease is back at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use llmkp::store::memory::MemoryStore;
use llmkp::store::{CooldownKindRecord, StateStore, now_ms};
use serde_json::{Value, json};

use crate::support::fault_upstream::{FaultUpstream, WORDS};
use crate::support::gateway::{Gateway, PROXY_KEY, chunks};

const GOOD: &str = "good-key-0002";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The good key serves: the whole answer, exactly once.
    Served,
    /// The fault came after the commit point: the first word, then the family's in-band error.
    InBand,
    /// Nothing could serve: this status, in the family's error shape.
    Status(u16),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Client {
    Chat,
    Messages,
}

struct Row {
    faulty: &'static str,
    with_good_key: bool,
    client: Client,
    stream: bool,
    settings: &'static [(&'static str, &'static str)],
    expect: Expect,
    within: Duration,
}

impl Row {
    fn new(faulty: &'static str, stream: bool, expect: Expect) -> Self {
        let with_good_key = !matches!(expect, Expect::Status(_));
        Self {
            faulty,
            with_good_key,
            client: Client::Chat,
            stream,
            settings: &[],
            expect,
            within: Duration::from_secs(3),
        }
    }

    fn settings(mut self, settings: &'static [(&'static str, &'static str)]) -> Self {
        self.settings = settings;
        self
    }

    fn messages(mut self) -> Self {
        self.client = Client::Messages;
        self
    }
}

/// What one request through a fresh gateway gave, and the state it left behind.
struct Outcome {
    upstream: FaultUpstream,
    gateway: Gateway,
    store: Arc<MemoryStore>,
}

fn request_body(client: Client, stream: bool) -> (&'static str, Value) {
    let user = json!([{"role": "user", "content": "hi"}]);
    match client {
        Client::Chat => ("/v1/chat/completions", json!({"model": "openai/m", "stream": stream, "messages": user})),
        Client::Messages => {
            ("/v1/messages", json!({"model": "openai/m", "stream": stream, "max_tokens": 16, "messages": user}))
        }
    }
}

/// The text a Chat or Messages answer (stream or not) carried.
fn answer_text(client: Client, stream: bool, body: &str) -> String {
    match (client, stream) {
        (Client::Chat, true) => chunks(body)
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
            .collect(),
        (Client::Chat, false) => {
            serde_json::from_str::<Value>(body).unwrap()["choices"][0]["message"]["content"].as_str().unwrap().into()
        }
        (Client::Messages, true) => body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|d| d["delta"]["text"].as_str().map(str::to_string))
            .collect(),
        (Client::Messages, false) => {
            serde_json::from_str::<Value>(body).unwrap()["content"][0]["text"].as_str().unwrap().into()
        }
    }
}

/// Every lease of `openai` is returned (waiting briefly for streams being torn down).
async fn leases_return(gateway: &Gateway) {
    for _ in 0..100 {
        if gateway.engine.pool().active_counts("openai").iter().all(|n| *n == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("leases still held: {:?}", gateway.engine.pool().active_counts("openai"));
}

/// The cooldown kinds each configured key of `openai` holds now, by key position.
fn cooldowns(gateway: &Gateway, store: &MemoryStore) -> Vec<Vec<CooldownKindRecord>> {
    let snapshot = store.load(now_ms()).unwrap();
    let provider = gateway.engine.registry().get("openai").unwrap();
    provider
        .credentials
        .iter()
        .map(|c| snapshot.cooldowns.iter().filter(|r| r.key.credential == c.id.as_str()).map(|r| r.kind).collect())
        .collect()
}

async fn run(row: Row) -> Outcome {
    let upstream = FaultUpstream::start().await;
    let store = Arc::new(MemoryStore::new());
    let base = upstream.base_url();
    let mut vars =
        vec![("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY_1", row.faulty), ("PROXY_API_KEY", PROXY_KEY)];
    if row.with_good_key {
        vars.push(("OPENAI_API_KEY_2", GOOD));
    }
    vars.extend_from_slice(row.settings);
    let gateway = Gateway::start_with_store(&vars, Some(store.clone() as Arc<dyn StateStore>)).await;
    let (path, body) = request_body(row.client, row.stream);
    let what = format!("{} {:?} stream={}", row.faulty, row.client, row.stream);

    let started = Instant::now();
    let response = tokio::time::timeout(row.within, async {
        let response = gateway.post(path, &body).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    })
    .await;
    let (status, text) = response.unwrap_or_else(|_| panic!("{what}: no complete answer within {:?}", row.within));
    let took = started.elapsed();

    match row.expect {
        Expect::Served => {
            assert_eq!(status, 200, "{what}: {text}");
            assert_eq!(answer_text(row.client, row.stream, &text), WORDS.concat(), "{what}: served once, whole");
            assert_eq!(upstream.requests(GOOD), 1, "{what}");
        }
        Expect::InBand => {
            assert_eq!(status, 200, "{what}");
            assert_eq!(answer_text(row.client, true, &text), WORDS[0], "{what}: the first word once, nothing after");
            match row.client {
                Client::Chat => {
                    assert!(
                        text.contains(r#"data: {"error":{"#) && text.ends_with("data: [DONE]\n\n"),
                        "{what}: {text}"
                    );
                    assert!(!text.contains("finish_reason\":\"stop"), "{what}: no false finish");
                }
                Client::Messages => {
                    assert!(text.contains("event: error\n") && !text.contains("message_stop"), "{what}: {text}");
                }
            }
            assert_eq!(upstream.requests(GOOD), 0, "{what}: no retry after the commit point");
        }
        Expect::Status(expected) => {
            assert_eq!(status, expected, "{what}: {text}");
            let error: Value = serde_json::from_str(&text).unwrap();
            match row.client {
                Client::Chat => assert!(error["error"]["message"].is_string(), "{what}: {text}"),
                Client::Messages => assert_eq!(error["type"], "error", "{what}: {text}"),
            }
        }
    }
    assert!(took < row.within, "{what}: took {took:?}");
    let faulty_calls = upstream.requests(row.faulty);
    assert!((1..=2).contains(&faulty_calls), "{what}: {faulty_calls} calls to the faulty key");
    leases_return(&gateway).await;
    let kinds = cooldowns(&gateway, &store);
    if row.faulty.starts_with("good") || row.faulty.starts_with("slow") {
        assert!(kinds[0].is_empty(), "{what}: a working key gets no cooldown: {kinds:?}");
    } else {
        assert_eq!(kinds[0], [CooldownKindRecord::TransientRest], "{what}: the faulty key rests, no more");
    }
    if row.with_good_key {
        assert!(kinds[1].is_empty(), "{what}: the good key is untouched: {kinds:?}");
    }
    Outcome { upstream, gateway, store }
}

#[tokio::test]
async fn reset_before_the_response_head_moves_to_the_next_key() {
    run(Row::new("reset-head-0001", false, Expect::Served)).await;
    run(Row::new("reset-head-0001", true, Expect::Served)).await;
    run(Row::new("reset-head-0001", true, Expect::Status(502))).await;
}

#[tokio::test]
async fn reset_mid_stream_is_an_in_band_error_after_commit_and_a_rotation_before() {
    run(Row::new("reset-mid-0001", true, Expect::InBand)).await;
    run(Row::new("reset-mid-0001", true, Expect::InBand).messages()).await;
    run(Row::new("reset-mid-0001", false, Expect::Served)).await;
    run(Row::new("reset-mid-0001", false, Expect::Served).messages()).await;
}

#[tokio::test]
async fn a_stall_mid_stream_ends_at_the_idle_limit_and_the_upstream_call_is_dropped() {
    let mut row = Row::new("stall-mid-0001", true, Expect::InBand).settings(&[("TIMEOUT_READ_STREAMING", "1")]);
    row.within = Duration::from_secs(4);
    let outcome = run(row).await;
    assert_eq!(outcome.upstream.abandoned("stall-mid-0001"), 1, "the proxy closed the stalled upstream call");
    let mut row = Row::new("stall-mid-0001", false, Expect::Served).settings(&[("TIMEOUT_IDLE_NON_STREAMING", "0.5")]);
    row.within = Duration::from_secs(4);
    run(row).await;
}

#[tokio::test]
async fn garbage_and_truncated_sse_and_truncated_json_never_reach_the_client_as_content() {
    run(Row::new("garbage-0001", true, Expect::Served)).await;
    run(Row::new("garbage-0001", false, Expect::Served)).await;
    run(Row::new("garbage-0001", false, Expect::Status(502)).messages()).await;
    run(Row::new("truncated-sse-0001", true, Expect::InBand)).await;
    run(Row::new("truncated-sse-0001", false, Expect::Served)).await;
    run(Row::new("truncated-json-0001", false, Expect::Served).settings(&[("UPSTREAM_STREAM_FOR_NON_STREAM", "false")]))
        .await;
}

#[tokio::test]
async fn an_error_in_a_200_body_and_5xx_rotate_and_surface_the_upstream_message_when_nothing_is_left() {
    run(Row::new("error-200-0001", false, Expect::Served)).await;
    run(Row::new("error-200-0001", true, Expect::Served)).await;
    run(Row::new("5xx-0001", false, Expect::Served)).await;
    run(Row::new("5xx-0001", true, Expect::Served).messages()).await;
    let outcome = run(Row::new("error-200-0001", false, Expect::Status(502))).await;
    let response = outcome.gateway.post("/v1/chat/completions", &request_body(Client::Chat, false).1).await;
    let text = response.text().await.unwrap();
    assert!(text.contains("an error in a 200 body"), "{text}");
    drop(outcome.store);
}

#[tokio::test]
async fn a_burst_of_5xx_rests_the_key_once_and_every_request_is_served_by_the_other() {
    let outcome = run(Row::new("5xx-0001", false, Expect::Served)).await;
    let body = request_body(Client::Chat, false).1;
    let started = Instant::now();
    let answers = futures::future::join_all((0..20).map(|_| outcome.gateway.post("/v1/chat/completions", &body))).await;
    assert!(answers.iter().all(|r| r.status() == 200));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(outcome.upstream.requests("5xx-0001"), 2, "the resting key is not tried while another works");
    let snapshot = outcome.store.load(now_ms()).unwrap();
    assert!(snapshot.cooldowns.iter().all(|c| c.until_ms - now_ms() <= 10_000), "first rung only");
}

#[tokio::test]
async fn connection_refused_fails_fast_with_502_and_a_rest() {
    let store = Arc::new(MemoryStore::new());
    let vars = [
        ("OPENAI_API_BASE", "http://127.0.0.1:9/v1"),
        ("OPENAI_API_KEY_1", "sk-refused-0001"),
        ("PROXY_API_KEY", PROXY_KEY),
    ];
    let gateway = Gateway::start_with_store(&vars, Some(store.clone() as Arc<dyn StateStore>)).await;
    let started = Instant::now();
    let response = gateway.post("/v1/chat/completions", &request_body(Client::Chat, true).1).await;
    assert_eq!(response.status(), 502);
    assert!(started.elapsed() < Duration::from_secs(2));
    leases_return(&gateway).await;
    assert_eq!(cooldowns(&gateway, &store)[0], [CooldownKindRecord::TransientRest]);
}

#[tokio::test]
async fn a_slow_client_gets_everything_and_a_leaving_client_frees_the_key_without_a_cooldown() {
    // Slow upstream, slower reader: nothing is lost, nothing is buffered twice.
    let upstream = FaultUpstream::start().await;
    let base = upstream.base_url();
    let gateway = Gateway::openai(&base, &["slow-key-0001"], &[]).await;
    let response = gateway.post("/v1/chat/completions", &request_body(Client::Chat, true).1).await;
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(piece) = stream.next().await {
        body.extend_from_slice(&piece.unwrap());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let body = String::from_utf8(body).unwrap();
    assert_eq!(answer_text(Client::Chat, true, &body), WORDS.concat());
    leases_return(&gateway).await;

    // A client that leaves mid-stream: the upstream call is dropped, the lease returns, no cooldown.
    let store = Arc::new(MemoryStore::new());
    let vars =
        [("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY_1", "stall-mid-0009"), ("PROXY_API_KEY", PROXY_KEY)];
    let gateway = Gateway::start_with_store(&vars, Some(store.clone() as Arc<dyn StateStore>)).await;
    let response = gateway.post("/v1/chat/completions", &request_body(Client::Chat, true).1).await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("alpha"));
    drop(stream);
    leases_return(&gateway).await;
    for _ in 0..100 {
        if upstream.abandoned("stall-mid-0009") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(upstream.abandoned("stall-mid-0009"), 1, "the upstream call is cancelled with the client");
    let snapshot = store.load(now_ms()).unwrap();
    assert!(snapshot.cooldowns.is_empty(), "a leaving client is not the key's fault");
    assert_eq!(snapshot.usage.iter().map(|u| u.window.requests).sum::<u64>(), 1, "but the paid request counts");
}
