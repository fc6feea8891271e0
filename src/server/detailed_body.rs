//! The response side of a detailed request log: the body is passed on unchanged while its stream
//! events (or its complete answer) are copied into the record, which is queued for writing when
//! the body ends or the client goes away.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::response::Response;
use futures::{Stream, StreamExt};

use crate::telemetry::detailed::Record;
use crate::telemetry::detailed_writer;

/// Complete answers are copied up to this size.
const MAX_FINAL_BYTES: usize = 8 << 20;

/// `response` with its body copied into `record`.
pub fn logged(response: Response, mut record: Record, started: Instant) -> Response {
    record.status = response.status().as_u16();
    record.streaming = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("event-stream"));
    response.map(|body| {
        Body::from_stream(Tee { inner: body.into_data_stream(), record: Some(record), pending: String::new(), started })
    })
}

struct Tee {
    inner: BodyDataStream,
    record: Option<Record>,
    /// Stream text not yet ended by a blank line.
    pending: String,
    started: Instant,
}

impl Tee {
    fn copy(&mut self, bytes: &Bytes) {
        let Some(record) = self.record.as_mut() else { return };
        if !record.streaming {
            if record.final_response.len() + bytes.len() <= MAX_FINAL_BYTES {
                record.final_response.extend_from_slice(bytes);
            }
            return;
        }
        self.pending.push_str(&String::from_utf8_lossy(bytes));
        while let Some(end) = self.pending.find("\n\n") {
            let event: String = self.pending.drain(..end + 2).collect();
            push_event(record, &event);
        }
    }
}

fn push_event(record: &mut Record, event: &str) {
    let event = event.trim();
    if !event.is_empty() {
        record.chunks.push(event.to_string());
    }
}

impl Stream for Tee {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &polled {
            let bytes = bytes.clone();
            self.copy(&bytes);
        }
        polled
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            let rest = std::mem::take(&mut self.pending);
            push_event(&mut record, &rest);
            record.took = self.started.elapsed();
            detailed_writer::submit(record);
        }
    }
}
