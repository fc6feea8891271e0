//! Defect 7b: a stream still open when the shutdown grace time ends gets its family's in-band
//! error before the connection closes, instead of just being cut.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use crate::support::gateway::Gateway;
use crate::support::scripted_upstream::scripted_upstream;

#[tokio::test]
async fn streams_cut_at_the_end_of_the_grace_time_end_with_their_familys_error() {
    let base = scripted_upstream().await;
    let mut gw = Gateway::openai(&base, &["sk-scripted-0001"], &[("SHUTDOWN_GRACE_SECONDS", "1")]).await;
    let model = "openai/content-then-stall";
    let user = json!([{"role": "user", "content": "hi"}]);
    let requests = [
        ("/v1/chat/completions", json!({"model": model, "stream": true, "messages": user})),
        ("/v1/messages", json!({"model": model, "stream": true, "max_tokens": 8, "messages": user})),
        (
            "/v1beta/models/openai/content-then-stall:streamGenerateContent?alt=sse",
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
    ];
    let mut streams = Vec::new();
    for (path, body) in &requests {
        let response = gw.post(path, body).await;
        assert_eq!(response.status(), 200, "{path}");
        let mut stream = response.bytes_stream();
        let mut seen = String::new();
        while !seen.contains("Hello") {
            seen.push_str(&String::from_utf8_lossy(&stream.next().await.expect("first content").unwrap()));
        }
        streams.push((*path, seen, stream));
    }
    let started = Instant::now();
    gw.shut_down();
    for (path, mut seen, mut stream) in streams {
        let rest = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(bytes)) = stream.next().await {
                seen.push_str(&String::from_utf8_lossy(&bytes));
            }
            seen
        })
        .await
        .expect("the stream ends shortly after the grace time");
        let tail = &rest[rest.find("Hello").unwrap()..];
        match path {
            "/v1/chat/completions" => {
                assert!(tail.contains(r#""error":{"#) && tail.contains("shutting down"), "{tail}");
                assert!(tail.ends_with("data: [DONE]\n\n"), "{tail}");
            }
            "/v1/messages" => {
                assert!(tail.contains("event: error\ndata: ") && tail.contains("overloaded_error"), "{tail}");
                assert!(!tail.contains("message_stop"), "{tail}");
            }
            _ => assert!(tail.contains(r#"data: {"error":{"code":503"#), "{tail}"),
        }
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "{took:?}");
}
