//! The mock upstream: OpenAI Chat Completions with a fixed reply and no delay, except for the
//! slow model, whose streams stop after their first chunk until the bench releases them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;

/// Every upstream key the bench configures starts with this (`bench-key-1`, `bench-key-2`, …).
pub const KEY_PREFIX: &str = "bench-key-";
/// The one key of the single-key instances.
pub const UPSTREAM_KEY: &str = "bench-key-0001";
/// A stream for this model sends its first chunk, then waits for [`Mock::release`].
pub const SLOW_MODEL: &str = "gpt-4o-slow";

pub struct Mock {
    completion: Bytes,
    frames: Vec<Bytes>,
    frames_with_usage: Vec<Bytes>,
    /// Slow streams finish once this turns `true`.
    release: watch::Receiver<bool>,
}

/// The reply text: `chunks` pieces, one per streamed content chunk.
pub fn reply_pieces(chunks: usize) -> Vec<String> {
    (0..chunks).map(|i| if i == 0 { "Hello".to_string() } else { format!(" from bench token {i}") }).collect()
}

pub fn reply_text(chunks: usize) -> String {
    reply_pieces(chunks).concat()
}

impl Mock {
    fn new(chunks: usize, release: watch::Receiver<bool>) -> Self {
        let pieces = reply_pieces(chunks);
        let text = pieces.concat();
        let usage = json!({"prompt_tokens": 8, "completion_tokens": chunks, "total_tokens": 8 + chunks});
        let completion = json!({
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": usage,
            "system_fingerprint": "fp_bench"
        });
        let chunk = |choices: Value| {
            json!({
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "gpt-4o",
                "system_fingerprint": "fp_bench",
                "choices": choices
            })
        };
        let frame = |value: &Value| Bytes::from(format!("data: {value}\n\n"));
        let mut frames: Vec<Bytes> = pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                let delta =
                    if i == 0 { json!({"role": "assistant", "content": piece}) } else { json!({"content": piece}) };
                frame(&chunk(json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}])))
            })
            .collect();
        frames.push(frame(&chunk(json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]))));
        let mut frames_with_usage = frames.clone();
        let mut usage_chunk = chunk(json!([]));
        usage_chunk["usage"] = usage;
        frames_with_usage.push(frame(&usage_chunk));
        let done = Bytes::from_static(b"data: [DONE]\n\n");
        frames.push(done.clone());
        frames_with_usage.push(done);
        Self { completion: Bytes::from(completion.to_string()), frames, frames_with_usage, release }
    }
}

fn mock_error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn mock_chat(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !key.is_some_and(|k| k.starts_with(KEY_PREFIX)) {
        return mock_error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return mock_error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    if !request.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return ([(header::CONTENT_TYPE, "application/json")], mock.completion.clone()).into_response();
    }
    let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    let frames = if include_usage { mock.frames_with_usage.clone() } else { mock.frames.clone() };
    let slow = request.get("model").and_then(Value::as_str) == Some(SLOW_MODEL);
    let body = if slow {
        let mut release = mock.release.clone();
        let mut frames = frames.into_iter();
        let first = frames.next();
        let rest = async move {
            let _ = release.wait_for(|released| *released).await;
            futures::stream::iter(frames.map(Ok::<_, Infallible>))
        };
        use futures::StreamExt;
        let head = futures::stream::iter(first.map(Ok::<_, Infallible>));
        Body::from_stream(head.chain(futures::stream::once(rest).flatten()))
    } else {
        Body::from_stream(futures::stream::iter(frames.into_iter().map(Ok::<_, Infallible>)))
    };
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// Starts the mock on a free loopback port (TCP_NODELAY set on accepted sockets).
pub async fn start(chunks: usize, release: watch::Receiver<bool>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app =
        Router::new().route("/v1/chat/completions", post(mock_chat)).with_state(Arc::new(Mock::new(chunks, release)));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("mock upstream stopped: {err}");
        }
    });
    Ok(addr)
}
