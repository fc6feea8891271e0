//! `:streamGenerateContent` answers of the Gemini mock: a `GenerateContentResponse` per chunk, framed as SSE
//! (`?alt=sse`: `data: {…}\r\n\r\n`) or as one JSON array (`[{…}` `,\r\n{…}` … `]`), as the real API does.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};

use super::reply::Reply;
use super::{Fault, OVERLOADED_MSG, error_body};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Sse,
    JsonArray,
}

/// The chunks of `reply` (text split into ≥ 3 fragments per part, a function call whole), the last one carrying
/// `finishReason` and `usageMetadata`; `fault` replaces or truncates them. `delay` goes before every chunk but
/// the first.
pub(super) fn respond(reply: &Reply, framing: Framing, fault: Option<Fault>, delay: Duration) -> Response {
    let events = match fault {
        Some(Fault::Error) => vec![error_body(503, "UNAVAILABLE", OVERLOADED_MSG, vec![])],
        Some(Fault::Cut) => {
            let parts = chunk_parts(reply);
            // Up to and including the first chunk that is not a thought.
            let n = parts.iter().position(|p| !p.iter().all(|p| p["thought"] == true)).map_or(1, |i| i + 1);
            parts.into_iter().take(n).map(|p| reply.chunk(Some(p), false)).collect()
        }
        None => {
            let parts = chunk_parts(reply);
            if parts.is_empty() {
                vec![reply.chunk(None, true)]
            } else {
                let last = parts.len() - 1;
                parts.into_iter().enumerate().map(|(i, p)| reply.chunk(Some(p), i == last)).collect()
            }
        }
    };
    response(events, framing, delay)
}

/// The parts of each chunk.
fn chunk_parts(reply: &Reply) -> Vec<Vec<Value>> {
    let mut chunks = Vec::new();
    for part in &reply.parts {
        let Some(text) = part["text"].as_str() else {
            chunks.push(vec![part.clone()]);
            continue;
        };
        for (i, fragment) in fragments(text).into_iter().enumerate() {
            let mut p = json!({"text": fragment});
            if part["thought"] == true {
                p["thought"] = json!(true);
            }
            if i == 0
                && let Some(sig) = part.get("thoughtSignature")
            {
                p["thoughtSignature"] = sig.clone();
            }
            chunks.push(vec![p]);
        }
    }
    chunks
}

/// One fragment per word (spaces kept) when there are at least 3 words, else the text split in three.
fn fragments(text: &str) -> Vec<String> {
    let words: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    if words.len() >= 3 {
        return words;
    }
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn response(events: Vec<Value>, framing: Framing, delay: Duration) -> Response {
    let count = events.len();
    let mut frames: Vec<(Duration, Bytes)> = events
        .iter()
        .enumerate()
        .map(|(i, ev)| {
            let wait = if i == 0 { Duration::ZERO } else { delay };
            let text = match framing {
                Framing::Sse => format!("data: {ev}\r\n\r\n"),
                Framing::JsonArray => {
                    let pretty = serde_json::to_string_pretty(ev).expect("json");
                    format!("{}{pretty}", if i == 0 { "[" } else { ",\r\n" })
                }
            };
            (wait, Bytes::from(text))
        })
        .collect();
    if framing == Framing::JsonArray {
        frames.push((Duration::ZERO, Bytes::from_static(if count == 0 { b"[]" } else { b"]" })));
    }
    let body = futures::stream::iter(frames).then(|(wait, bytes)| async move {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok::<_, Infallible>(bytes)
    });
    let mut resp = Response::new(Body::from_stream(body));
    let ct = match framing {
        Framing::Sse => "text/event-stream",
        Framing::JsonArray => "application/json; charset=UTF-8",
    };
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    resp
}
