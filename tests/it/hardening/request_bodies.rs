//! Defect 5: a body announced larger than `MAX_REQUEST_BODY_BYTES` is refused (413, the route's
//! error shape) before it is read; one without a length is refused as soon as it passes the limit.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::support::read_until_closed;
use crate::support::gateway::{Gateway, PROXY_KEY};
use crate::support::openai_mock::OpenAiMock;

/// The status line and JSON body of a raw HTTP/1.1 answer.
fn parse_answer(raw: &[u8]) -> (String, Value) {
    let text = String::from_utf8_lossy(raw);
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text.find("\r\n\r\n").map_or("", |i| &text[i + 4..]);
    // A chunked answer: the JSON object sits between the chunk-size lines.
    let json = body.find('{').zip(body.rfind('}')).map_or("null", |(a, b)| &body[a..=b]);
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_body_announced_over_the_limit_is_refused_before_it_is_read_in_every_family_shape() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-0001"], &[]).await;
    for path in ["/v1/chat/completions", "/v1/messages", "/v1beta/models/openai/gpt-4o:generateContent"] {
        let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        // 50 MB announced; only the first kilobyte is ever sent.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PROXY_KEY}\r\nContent-Type: application/json\r\n\
             Content-Length: 50000000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&[b' '; 1024]).await.unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(3))
            .await
            .unwrap_or_else(|| panic!("{path}: no answer while the body was still unsent"));
        let (status, body) = parse_answer(&answer);
        assert!(status.contains(" 413 "), "{path}: {status}");
        match path {
            "/v1/messages" => assert_eq!(body["error"]["type"], "request_too_large", "{body}"),
            "/v1/chat/completions" => assert_eq!(body["error"]["code"], "request_too_large", "{body}"),
            _ => assert_eq!(body["error"]["code"], 413, "{body}"),
        }
    }
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn a_body_without_length_is_refused_once_it_passes_the_limit() {
    let mock = OpenAiMock::start().await;
    let gw = Gateway::openai(&mock.base_url(), &["sk-good-0001"], &[("MAX_REQUEST_BODY_BYTES", "65536")]).await;
    let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PROXY_KEY}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 80 KiB in 8 KiB chunks, then the stream stays open without its final chunk.
    for _ in 0..10 {
        let _ = stream.write_all(format!("{:x}\r\n", 8192).as_bytes()).await;
        let _ = stream.write_all(&[b' '; 8192]).await;
        let _ = stream.write_all(b"\r\n").await;
    }
    let answer = read_until_closed(&mut stream, Duration::from_secs(3)).await.expect("refused without the end");
    let (status, body) = parse_answer(&answer);
    assert!(status.contains(" 413 "), "{status}");
    assert_eq!(body["error"]["code"], "request_too_large");
}
