//! Receiving a request body before a handler sees it: refused by its `Content-Length` before a
//! byte is read when it is larger than `MAX_REQUEST_BODY_BYTES` (413), read into one buffer of the
//! announced size otherwise, within an idle and a total time limit (408). Once the body is in, the
//! connection counts as serving a request until the response is finished
//! ([`super::connections`]): a client that trickles a body holds no protected slot.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use bytes::BytesMut;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::time::{Instant, timeout, timeout_at};

use super::AppState;
use super::connections::{BusyGuard, ConnectionHandle};
use super::error::{ApiError, shape_for_path};
use super::request_log::RequestId;

/// Why a body could not be received.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    /// Silent for longer than the idle limit, or slower than the total limit.
    TimedOut,
    /// The connection broke or the framing was invalid.
    Broken(String),
}

/// The middleware for routes that take a body.
pub async fn read_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let settings = &state.settings;
    let limit = settings.max_request_body_bytes;
    let family = shape_for_path(request.uri().path());
    let id = request.extensions().get::<RequestId>().map(|r| r.0.clone());
    let fail = |err: ApiError| err.into_response_shaped(family, id.as_deref());
    let (parts, body) = request.into_parts();
    let announced = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return fail(ApiError::BodyTooLarge { limit });
    }
    let bytes = match receive(body, announced, limit, settings.body_idle_timeout, settings.body_timeout).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return fail(ApiError::BodyTooLarge { limit }),
        Err(BodyError::TimedOut) => return fail(ApiError::RequestTimeout),
        Err(BodyError::Broken(reason)) => {
            return fail(ApiError::BadRequest(format!("cannot read the request body: {reason}")));
        }
    };
    crate::telemetry::detailed::request_body(&bytes);
    let busy = parts.extensions.get::<ConnectionHandle>().map(ConnectionHandle::busy);
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    match busy {
        Some(guard) => response.map(|body| Body::new(Guarded { inner: body, _guard: guard })),
        None => response,
    }
}

/// The whole body, at most `limit` bytes, each piece within `idle` of the last and all of it
/// within `total`; copied once into a buffer of the announced size.
pub async fn receive(
    mut body: Body,
    announced: Option<u64>,
    limit: usize,
    idle: Duration,
    total: Duration,
) -> Result<Bytes, BodyError> {
    let deadline = Instant::now() + total;
    let mut buffer = BytesMut::with_capacity(announced.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit)));
    loop {
        let frame = match timeout_at(deadline, timeout(idle, body.frame())).await {
            Err(_) | Ok(Err(_)) => return Err(BodyError::TimedOut),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(Err(err)))) => return Err(BodyError::Broken(err.to_string())),
            Ok(Ok(Some(Ok(frame)))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        if buffer.len() + data.len() > limit {
            return Err(BodyError::TooLarge);
        }
        // A body that arrived in one piece needs no copy.
        if buffer.is_empty() && buffer.capacity() <= data.len() && body.is_end_stream() {
            return Ok(data);
        }
        buffer.extend_from_slice(&data);
    }
    Ok(buffer.freeze())
}

/// A response body that keeps its connection marked busy until it is finished or dropped.
struct Guarded {
    inner: Body,
    _guard: BusyGuard,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
