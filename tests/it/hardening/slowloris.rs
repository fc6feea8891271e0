//! Defect 1, slowloris: connections that send nothing, half a header or half a body must neither
//! lock real clients out (connection slots, file descriptors) nor hold up a shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::support::{hold_open, llmkp_with_file_limit, read_until_closed};
use crate::support::cli::{Server, home_with, llmkp};
use crate::support::gateway::{Gateway, chat_body};
use crate::support::openai_mock::OpenAiMock;

/// A real chat request, answered within `within`.
async fn real_request(url: &str, within: Duration) -> reqwest::StatusCode {
    let client = reqwest::Client::builder().timeout(within).build().unwrap();
    let response = client.post(url).json(&chat_body("openai/gpt-4o", "hi")).send().await;
    response.unwrap_or_else(|err| panic!("the real request was not served within {within:?}: {err}")).status()
}

#[tokio::test]
async fn three_hundred_idle_and_half_open_connections_under_a_256_file_limit_do_not_stop_real_requests() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &["sk-good-0001"]);
    let server = Server::start(llmkp_with_file_limit(home.path(), 256));
    let addr: SocketAddr = server.addr.parse().unwrap();
    let held = hold_open(addr, 300).await;
    // Let the server take them all in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        assert_eq!(real_request(&server.url("/v1/chat/completions"), Duration::from_secs(5)).await, 200);
    }
    // Still true while more of them keep arriving.
    let more = hold_open(addr, 100).await;
    assert_eq!(real_request(&server.url("/v1/chat/completions"), Duration::from_secs(5)).await, 200);
    drop((held, more));
}

#[tokio::test]
async fn a_small_connection_limit_closes_idle_connections_to_make_room() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::start(&[
        ("OPENAI_API_BASE", &mock.base_url()),
        ("OPENAI_API_KEY", "sk-good-0001"),
        ("MAX_CONNECTIONS", "8"),
    ])
    .await;
    let mut held = hold_open(gw.addr, 60).await;
    assert_eq!(real_request(&gw.url("/v1/chat/completions"), Duration::from_secs(5)).await, 200);
    // The earliest silent ones were closed to make room; a closed one reads EOF at once.
    let closed = read_until_closed(&mut held[0], Duration::from_secs(2)).await;
    assert!(closed.is_some(), "the longest-idle connection is closed when the table is full");
}

#[tokio::test]
async fn a_request_head_that_does_not_arrive_in_time_closes_the_connection() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::start(&[
        ("OPENAI_API_BASE", &mock.base_url()),
        ("OPENAI_API_KEY", "sk-good-0001"),
        ("REQUEST_HEADER_TIMEOUT", "0.5"),
    ])
    .await;
    let mut half = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    half.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let started = Instant::now();
    assert!(read_until_closed(&mut half, Duration::from_secs(3)).await.is_some(), "half a header is not kept");
    assert!(read_until_closed(&mut silent, Duration::from_secs(3)).await.is_some(), "silence is not kept");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_request_body_that_stalls_gets_408_in_the_routes_family_shape() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::start(&[
        ("OPENAI_API_BASE", &mock.base_url()),
        ("OPENAI_API_KEY", "sk-good-0001"),
        ("REQUEST_BODY_IDLE_TIMEOUT", "0.5"),
    ])
    .await;
    for (path, shape) in [
        ("/v1/chat/completions", "openai"),
        ("/v1/messages", "anthropic"),
        ("/v1beta/models/openai/gpt-4o:generateContent", "gemini"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\":"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        let answer = read_until_closed(&mut stream, Duration::from_secs(5)).await.expect("answered and closed");
        assert!(started.elapsed() < Duration::from_secs(3));
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{path}: {text}");
        let body: Value = serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        match shape {
            "openai" => assert_eq!(body["error"]["code"], "request_timeout"),
            "anthropic" => assert_eq!(body["type"], "error"),
            _ => assert_eq!(body["error"]["status"], "DEADLINE_EXCEEDED"),
        }
    }
    assert!(mock.chat_requests().is_empty());
}

#[tokio::test]
async fn sigterm_with_idle_and_half_open_connections_exits_within_a_second() {
    let mock = OpenAiMock::start().await;
    let home = home_with(&mock, &["sk-good-0001"]);
    let mut server = Server::start(llmkp(home.path()));
    let addr: SocketAddr = server.addr.parse().unwrap();
    // A served request leaves its keep-alive connection idle too.
    let client = reqwest::Client::new();
    let ok = client.post(server.url("/v1/chat/completions")).json(&chat_body("openai/gpt-4o", "hi")).send().await;
    assert_eq!(ok.unwrap().status(), 200);
    let held = hold_open(addr, 150).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let (status, log) = tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    let took = started.elapsed();
    assert!(status.success(), "{log}");
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?} with idle connections open (grace is 30 s)");
    drop(held);
}
