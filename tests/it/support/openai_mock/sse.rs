//! Server-sent-event streams of `chat.completion.chunk`s for the OpenAI mock.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};

use super::{Completion, RESET_DELAY, ToolCall, tool_tokens, usage, word_count};

type Event = (Duration, Result<Bytes, io::Error>);

fn chunk(c: &Completion, delta: Value, finish: Option<&str>) -> Value {
    let mut v = json!({
        "id": c.id,
        "object": "chat.completion.chunk",
        "created": c.created,
        "model": c.model,
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
    });
    if c.include_usage {
        v["usage"] = Value::Null;
    }
    v
}

fn role_chunk(c: &Completion) -> Event {
    let delta = json!({"role": "assistant", "content": "", "refusal": null});
    (Duration::ZERO, Ok(sse(&chunk(c, delta, None))))
}

/// Finish chunk, the optional usage chunk and `[DONE]`.
fn finish_events(c: &Completion, finish: &str, completion_tokens: usize) -> Vec<Event> {
    let mut events = vec![(Duration::ZERO, Ok(sse(&chunk(c, json!({}), Some(finish)))))];
    if c.include_usage {
        let usage_chunk = json!({
            "id": c.id,
            "object": "chat.completion.chunk",
            "created": c.created,
            "model": c.model,
            "system_fingerprint": "fp_mock",
            "choices": [],
            "usage": usage(c.prompt_tokens, completion_tokens),
        });
        events.push((Duration::ZERO, Ok(sse(&usage_chunk))));
    }
    events.push((Duration::ZERO, Ok(Bytes::from_static(b"data: [DONE]\n\n"))));
    events
}

/// Role chunk, one content chunk per word (spaces kept), then the finish
/// events; with `finish == None` the body just ends (no finish, no `[DONE]`).
pub(super) fn stream_text(c: &Completion, text: &str, finish: Option<&str>, delay: Duration) -> Response {
    let mut events = vec![role_chunk(c)];
    for (i, piece) in text.split_inclusive(' ').enumerate() {
        let ev = sse(&chunk(c, json!({"content": piece}), None));
        events.push((if i == 0 { Duration::ZERO } else { delay }, Ok(ev)));
    }
    if let Some(finish) = finish {
        events.extend(finish_events(c, finish, word_count(text)));
    }
    sse_response(events)
}

pub(super) fn stream_tools(c: &Completion, calls: &[ToolCall]) -> Response {
    let mut events = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        let header_call = json!([{
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }]);
        let delta = if index == 0 {
            json!({"role": "assistant", "content": null, "tool_calls": header_call})
        } else {
            json!({"tool_calls": header_call})
        };
        events.push((Duration::ZERO, Ok(sse(&chunk(c, delta, None)))));
        for fragment in split_in_three(&call.args) {
            let delta = json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]});
            events.push((Duration::ZERO, Ok(sse(&chunk(c, delta, None)))));
        }
    }
    events.extend(finish_events(c, "tool_calls", tool_tokens(calls)));
    sse_response(events)
}

/// Role chunk, two content chunks, then the body errors (no terminating chunk).
pub(super) fn stream_reset(c: &Completion) -> Response {
    let mut events = vec![role_chunk(c)];
    for piece in ["partial ", "answer "] {
        events.push((Duration::ZERO, Ok(sse(&chunk(c, json!({"content": piece}), None)))));
    }
    let err = io::Error::new(io::ErrorKind::ConnectionReset, "mock reset");
    events.push((RESET_DELAY, Err(err)));
    sse_response(events)
}

pub(super) fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// Emits each item as its own body frame, sleeping the given delay before it.
pub(super) fn delayed(events: Vec<Event>) -> impl futures::Stream<Item = Result<Bytes, io::Error>> + Send {
    futures::stream::iter(events).then(|(delay, item)| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        item
    })
}

pub(super) fn sse_response(events: Vec<Event>) -> Response {
    let mut resp = Response::new(Body::from_stream(delayed(events)));
    let h = resp.headers_mut();
    let ct = HeaderValue::from_static("text/event-stream; charset=utf-8");
    h.insert(header::CONTENT_TYPE, ct);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Splits `s` into three non-empty pieces (for strings of at least 3 chars).
fn split_in_three(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}
