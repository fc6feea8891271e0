//! Streaming transport: SSE response headers and keep-alive comments during upstream silence.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};

/// A `text/event-stream` response whose frames are written as they are produced.
pub fn sse_response<S>(frames: S) -> Response
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(frames));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Inserts `keepalive` whenever `frames` is silent for `interval`.
pub fn with_keepalive<S>(
    frames: S,
    interval: Option<Duration>,
    keepalive: &'static [u8],
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static,
{
    futures::stream::unfold(frames, move |mut frames| async move {
        let Some(interval) = interval else {
            return frames.next().await.map(|item| (item, frames));
        };
        // `next()` is cancel-safe: the pending upstream read stays inside the stream.
        match tokio::time::timeout(interval, frames.next()).await {
            Ok(item) => item.map(|item| (item, frames)),
            Err(_) => Some((Ok(Bytes::from_static(keepalive)), frames)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn silence_produces_keepalives_and_frames_pass_unchanged() {
        let frames = futures::stream::unfold(0, |n| async move {
            if n == 2 {
                return None;
            }
            tokio::time::sleep(Duration::from_secs(if n == 0 { 0 } else { 35 })).await;
            Some((Ok::<_, std::io::Error>(Bytes::from(format!("f{n}"))), n + 1))
        });
        let out: Vec<Bytes> = with_keepalive(Box::pin(frames), Some(Duration::from_secs(15)), b": keep-alive\n\n")
            .map(|r| r.unwrap())
            .collect()
            .await;
        let out: Vec<&[u8]> = out.iter().map(|b| b.as_ref()).collect();
        assert_eq!(out, vec![&b"f0"[..], b": keep-alive\n\n", b": keep-alive\n\n", b"f1"]);
    }
}
