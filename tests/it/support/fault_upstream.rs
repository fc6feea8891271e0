//! An OpenAI Chat Completions upstream written on raw TCP, so it can fail the ways a network and
//! a broken server do: reset before the response head, reset or stall in the middle of a stream,
//! garbage and truncated SSE, truncated JSON, an error in a 200 body, 5xx, 429. The fault is
//! chosen by the bearer key's prefix (`good…`, `reset-head…`, `reset-mid…`, `stall-mid…`,
//! `garbage…`, `truncated-sse…`, `truncated-json…`, `error-200…`, `5xx…`, `429…`, `slow…`), so one
//! gateway can hold a faulty key and a good one; `chaos…` keys draw a fault per request. Every
//! answer is `Connection: close`; a good answer says `alpha beta gamma`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Key prefixes and the fault each one plays.
const FAULTS: [&str; 11] = [
    "reset-head",
    "reset-mid",
    "stall-mid",
    "garbage",
    "truncated-sse",
    "truncated-json",
    "error-200",
    "5xx",
    "429",
    "slow",
    "good",
];

/// `chaos…` keys: a fault drawn per request, in these proportions (out of 1000); the rest is good.
const CHAOS: [(&str, u64); 9] = [
    ("5xx", 40),
    ("429", 10),
    ("reset-head", 20),
    ("reset-mid", 20),
    ("stall-mid", 5),
    ("garbage", 15),
    ("truncated-sse", 15),
    ("error-200", 15),
    ("slow", 10),
];

/// The words of a good answer, one content chunk each.
pub const WORDS: [&str; 3] = ["alpha ", "beta ", "gamma"];

#[derive(Default)]
struct Seen {
    /// Requests drawn for `chaos…` keys so far (the draw is a hash of it: repeatable).
    draws: u64,
    /// Requests per key.
    requests: HashMap<String, u32>,
    /// Connections the proxy closed while this upstream was still streaming (per key).
    abandoned: HashMap<String, u32>,
}

pub struct FaultUpstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultUpstream {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self { addr, seen, task }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests that reached this upstream with `key`.
    pub fn requests(&self, key: &str) -> u32 {
        self.seen.lock().unwrap().requests.get(key).copied().unwrap_or(0)
    }

    /// Streams of `key` whose reader (the proxy) went away before they ended.
    pub fn abandoned(&self, key: &str) -> u32 {
        self.seen.lock().unwrap().abandoned.get(key).copied().unwrap_or(0)
    }
}

/// One request: head and body (by `Content-Length`).
async fn read_request(stream: &mut TcpStream) -> Option<(String, Value)> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut piece).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&piece[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut piece).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&piece[..n]);
    }
    let key = header("authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_string)).unwrap_or_default();
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    Some((key, body))
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let chunk = json!({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {chunk}\n\n")
}

fn usage_chunk() -> String {
    let chunk = json!({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}});
    format!("data: {chunk}\n\n")
}

const SSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";

fn json_answer(status: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Waits until the reader closes the connection (or an hour passes).
async fn until_closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(Duration::from_secs(3600), stream.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
}

/// Serves requests on one connection for as long as they are answered whole (a good answer keeps
/// the connection alive; every fault closes it).
async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Seen>>) {
    while let Some((key, body)) = read_request(&mut stream).await {
        match answer(&mut stream, &seen, key, &body).await {
            Next::KeepAlive => continue,
            Next::Close => break,
            // Dropped with a zero linger: the peer sees a reset, not an orderly end.
            Next::Reset => return,
        }
    }
    let _ = stream.shutdown().await;
}

/// What becomes of the connection after an answer.
enum Next {
    KeepAlive,
    Close,
    Reset,
}

async fn answer(stream: &mut TcpStream, seen: &Arc<Mutex<Seen>>, key: String, body: &Value) -> Next {
    *seen.lock().unwrap().requests.entry(key.clone()).or_default() += 1;
    let streaming = body["stream"].as_bool() == Some(true);
    let first = chunk(json!({"role": "assistant", "content": WORDS[0]}), None);
    let abandoned = |seen: &Arc<Mutex<Seen>>| *seen.lock().unwrap().abandoned.entry(key.clone()).or_default() += 1;
    let kind = if key.starts_with("chaos") {
        let draw = {
            let mut seen = seen.lock().unwrap();
            seen.draws += 1;
            seen.draws
        };
        chaos(draw)
    } else {
        FAULTS.iter().copied().find(|f| key.starts_with(f)).unwrap_or("good")
    };
    match kind {
        "reset-head" => {
            let _ = stream.set_zero_linger();
            return Next::Reset;
        }
        "reset-mid" => {
            let _ = stream.write_all(SSE_HEAD).await;
            let _ = stream.write_all(first.as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = stream.set_zero_linger();
            return Next::Reset;
        }
        "stall-mid" => {
            let _ = stream.write_all(SSE_HEAD).await;
            let _ = stream.write_all(first.as_bytes()).await;
            if until_closed(stream).await {
                abandoned(seen);
            }
        }
        "garbage" => {
            let _ = stream.write_all(SSE_HEAD).await;
            let _ = stream.write_all(b"\x00\xff\xfegarbage{{\n\ndata: {oops\n\ndata: [1,2\n\n").await;
        }
        "truncated-sse" => {
            let _ = stream.write_all(SSE_HEAD).await;
            let _ = stream.write_all(first.as_bytes()).await;
            let _ = stream.write_all(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"be").await;
        }
        "truncated-json" => {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\nconnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(br#"{"id":"chatcmpl-fault","object":"chat.completion","choices":[{"ind"#).await;
        }
        "error-200" => {
            let error = json!({"error": {"message": "fault: the upstream reports an error in a 200 body", "type": "server_error"}});
            let _ = stream.write_all(&json_answer("200 OK", &error)).await;
        }
        "429" => {
            let error = json!({"error": {"message": "fault: rate limited", "type": "requests"}});
            let mut answer = json_answer("429 Too Many Requests", &error);
            let at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            answer.splice(at..at, b"\r\nretry-after: 1".iter().copied());
            let _ = stream.write_all(&answer).await;
        }
        "5xx" => {
            let error = json!({"error": {"message": "fault: internal error", "type": "server_error"}});
            let _ = stream.write_all(&json_answer("500 Internal Server Error", &error)).await;
        }
        _ if streaming => {
            let mut frames = vec![first];
            frames.extend(WORDS[1..].iter().map(|w| chunk(json!({"content": w}), None)));
            frames.push(chunk(json!({}), Some("stop")));
            frames.push(usage_chunk());
            frames.push("data: [DONE]\n\n".to_string());
            if kind != "slow" {
                let body = frames.concat();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                return keep_alive_if(stream.write_all(format!("{head}{body}").as_bytes()).await.is_ok());
            }
            if stream.write_all(SSE_HEAD).await.is_err() {
                return Next::Close;
            }
            for frame in frames {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(frame.as_bytes()).await.is_err() {
                    abandoned(seen);
                    return Next::Close;
                }
            }
        }
        _ => {
            let completion = json!({"id": "chatcmpl-fault", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": WORDS.concat()}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}});
            let answer = json_answer("200 OK", &completion);
            let keep_alive = String::from_utf8_lossy(&answer).replacen("connection: close\r\n", "", 1);
            return keep_alive_if(stream.write_all(keep_alive.as_bytes()).await.is_ok());
        }
    }
    Next::Close
}

fn keep_alive_if(written: bool) -> Next {
    if written { Next::KeepAlive } else { Next::Close }
}

/// The fault of the `draw`-th chaos request: a fixed scramble of the number, so a run repeats.
fn chaos(draw: u64) -> &'static str {
    let mut x = draw.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    let mut roll = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) % 1000;
    for (fault, share) in CHAOS {
        if roll < share {
            return fault;
        }
        roll -= share;
    }
    "good"
}
