//! Server-sent-event streams of Messages API events for the Anthropic mock.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};

use super::reply::{Block, Reply, usage};
use super::{THINKING_SIGNATURE, error_body};

/// A failure injected into a stream (chosen by the key prefix).
#[derive(Clone, Copy)]
pub(super) enum Fault {
    /// `message_start`, then an `error` event (`overloaded_error`), then the end.
    Error,
    /// Everything up to the first `content_block_delta`, then the body just ends.
    Cut,
}

/// The full event sequence of `reply`, in the real order, with `delay` before
/// every event but the first.
pub(super) fn stream(reply: &Reply, fault: Option<Fault>, delay: Duration) -> Response {
    let mut events = vec![json!({
        "type": "message_start",
        "message": {
            "id": reply.id,
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage(reply.input_tokens, 1),
        },
    })];
    if let Some(Fault::Error) = fault {
        events.push(error_body("overloaded_error", "Overloaded"));
        return sse_response(events, delay);
    }
    for (index, block) in reply.blocks.iter().enumerate() {
        let (start, deltas) = block_events(block);
        events.push(json!({"type": "content_block_start", "index": index, "content_block": start}));
        if index == 0 {
            events.push(json!({"type": "ping"}));
        }
        for delta in deltas {
            events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
            if let Some(Fault::Cut) = fault {
                return sse_response(events, delay);
            }
        }
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(json!({
        "type": "message_delta",
        "delta": {"stop_reason": reply.stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": reply.output_tokens()},
    }));
    events.push(json!({"type": "message_stop"}));
    sse_response(events, delay)
}

/// The `content_block` of `content_block_start` and the deltas of one block.
fn block_events(block: &Block) -> (Value, Vec<Value>) {
    match block {
        Block::Text(text) => {
            let deltas = fragments(text).into_iter().map(|t| json!({"type": "text_delta", "text": t})).collect();
            (json!({"type": "text", "text": ""}), deltas)
        }
        Block::Thinking(thinking) => {
            let mut deltas: Vec<Value> =
                fragments(thinking).into_iter().map(|t| json!({"type": "thinking_delta", "thinking": t})).collect();
            deltas.push(json!({"type": "signature_delta", "signature": THINKING_SIGNATURE}));
            (json!({"type": "thinking", "thinking": ""}), deltas)
        }
        Block::ToolUse { id, name, input } => {
            let deltas = split_in_three(&input.to_string())
                .into_iter()
                .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                .collect();
            (json!({"type": "tool_use", "id": id, "name": name, "input": {}}), deltas)
        }
    }
}

/// One fragment per word (spaces kept); a single word is split in three.
fn fragments(text: &str) -> Vec<String> {
    let words: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    if words.len() >= 2 { words } else { split_in_three(text) }
}

/// Splits `s` into at most three non-empty pieces (three for strings of at least 3 chars).
fn split_in_three(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn frame(event: &Value) -> Bytes {
    let name = event["type"].as_str().unwrap_or("message");
    Bytes::from(format!("event: {name}\ndata: {event}\n\n"))
}

fn sse_response(events: Vec<Value>, delay: Duration) -> Response {
    let body = futures::stream::iter(events.into_iter().enumerate()).then(move |(i, ev)| async move {
        if i > 0 && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, Infallible>(frame(&ev))
    });
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
