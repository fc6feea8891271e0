//! A committed Chat Completions stream on its way to the client: upstream chunks forwarded one
//! by one with only `model` rewritten, the usage-only chunk kept back unless the client asked
//! for it, and a terminal `[DONE]` (or an in-band error) guaranteed.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use serde_json::{Map, Value, json};

use super::chat::{parse_chunk, to_bytes};
use super::classify::{UpstreamFailure, classify_stream_error, classify_transport};
use super::redact::Redactor;
use super::upstream_events::UpstreamEvents;
use crate::formats::openai::ChunkFacts;
use crate::formats::openai::chunk::stream_error;
use crate::formats::openai::usage::TokenUsage;
use crate::pool::CredentialLease;

/// SSE frames (`data: …\n\n`) for the client.
pub struct ChatStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
}

/// A committed stream that does not yet carry its credential lease.
pub struct PendingStream {
    state: State,
}

struct State {
    held: VecDeque<Map<String, Value>>,
    events: UpstreamEvents,
    served_id: String,
    include_usage: bool,
    redactor: Arc<Redactor>,
    /// Choice indices whose finish reason has been sent: each is sent once.
    finished: Vec<u64>,
    saw_tool_calls: bool,
    done: bool,
    /// `id` and `created` of the last chunk, for a finish chunk the proxy has to add.
    last_id: Value,
    last_created: Value,
    usage: Option<Value>,
    /// Held until the stream ends or the client goes away; settles the credential's outcome.
    lease: Option<CredentialLease>,
}

const DONE: &[u8] = b"data: [DONE]\n\n";

impl PendingStream {
    pub fn new(
        held: Vec<Map<String, Value>>,
        events: UpstreamEvents,
        served_id: String,
        include_usage: bool,
        redactor: Arc<Redactor>,
    ) -> Self {
        let state = State {
            held: held.into(),
            events,
            served_id,
            include_usage,
            redactor,
            finished: Vec::new(),
            saw_tool_calls: false,
            done: false,
            last_id: Value::Null,
            last_created: Value::Null,
            usage: None,
            lease: None,
        };
        Self { state }
    }

    /// The stream for the client, holding `lease` until it ends: success or failure is recorded
    /// on the credential at the end; a client that goes away just releases it (no cooldown).
    pub fn with_lease(mut self, lease: CredentialLease) -> ChatStream {
        self.state.lease = Some(lease);
        let inner = futures::stream::unfold(self.state, |mut state| async move {
            let frame = state.next_frame().await?;
            Some((Ok(frame), state))
        });
        ChatStream { inner: Box::pin(inner) }
    }
}

impl Stream for ChatStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl State {
    /// The next frame to send, `None` once the terminal frame went out.
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if self.done {
                return None;
            }
            if let Some(chunk) = self.held.pop_front() {
                if let Some(frame) = self.forward(chunk) {
                    return Some(frame);
                }
                continue;
            }
            let event = match self.events.next().await {
                None if !self.finished.is_empty() => return Some(self.finish()),
                None => {
                    return Some(self.fail(&UpstreamFailure::new(
                        super::classify::ErrorClass::ServerError,
                        "upstream stream ended prematurely",
                    )));
                }
                Some(Err(err)) => return Some(self.fail(&classify_transport(&err))),
                Some(Ok(event)) => event,
            };
            if event.data.trim() == "[DONE]" {
                return Some(self.finish());
            }
            let chunk = match parse_chunk(&event.data) {
                Ok(chunk) => chunk,
                Err(failure) => return Some(self.fail(&failure)),
            };
            if let Some(error) = stream_error(&chunk) {
                let failure = classify_stream_error(error);
                return Some(self.fail(&failure));
            }
            if let Some(frame) = self.forward(chunk) {
                return Some(frame);
            }
        }
    }

    /// One upstream chunk as a client frame, or `None` when it is held back.
    fn forward(&mut self, mut chunk: Map<String, Value>) -> Option<Bytes> {
        let facts = ChunkFacts::of(&chunk);
        self.saw_tool_calls |= facts.has_tool_calls;
        if facts.has_finish && !self.keep_after_removing_repeated_finish(&mut chunk) {
            return None;
        }
        if let Some(id) = chunk.get("id") {
            self.last_id = id.clone();
        }
        if let Some(created) = chunk.get("created") {
            self.last_created = created.clone();
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        if !self.include_usage {
            if facts.usage_only {
                return None;
            }
            // The proxy asked for usage, not the client: hide the `usage: null` that came with it.
            if chunk.get("usage").is_some_and(Value::is_null) {
                chunk.remove("usage");
            }
        }
        chunk.insert("model".into(), Value::String(self.served_id.clone()));
        Some(frame(&chunk))
    }

    /// Exactly one finish reason per choice reaches the client: a repeated one is nulled, and a
    /// chunk left with nothing else to say is dropped (returns `false`).
    fn keep_after_removing_repeated_finish(&mut self, chunk: &mut Map<String, Value>) -> bool {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else { return true };
        let mut removed = false;
        for choice in choices.iter_mut() {
            if choice.get("finish_reason").is_none_or(Value::is_null) {
                continue;
            }
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            if self.finished.contains(&index) {
                choice["finish_reason"] = Value::Null;
                removed = true;
            } else {
                self.finished.push(index);
            }
        }
        !removed || ChunkFacts::of(chunk).has_content || chunk.get("usage").is_some_and(Value::is_object)
    }

    /// `[DONE]`, preceded by a finish chunk when the upstream never sent one.
    fn finish(&mut self) -> Bytes {
        self.done = true;
        if let Some(lease) = self.lease.take() {
            lease.record_success(self.usage.as_ref().map(TokenUsage::from_openai));
        }
        tracing::debug!(model = %self.served_id, usage = ?self.usage, "stream finished");
        if !self.finished.is_empty() {
            return Bytes::from_static(DONE);
        }
        let reason = if self.saw_tool_calls { "tool_calls" } else { "stop" };
        let chunk = json!({
            "id": self.last_id,
            "object": "chat.completion.chunk",
            "created": self.last_created,
            "model": self.served_id,
            "choices": [{"index": 0, "delta": {}, "finish_reason": reason}],
        });
        let mut out = frame(chunk.as_object().expect("object")).to_vec();
        out.extend_from_slice(DONE);
        Bytes::from(out)
    }

    /// The in-band error of an OpenAI stream after commit, then `[DONE]`.
    fn fail(&mut self, failure: &UpstreamFailure) -> Bytes {
        self.done = true;
        if let Some(lease) = self.lease.take() {
            lease.record_failure(failure.class, failure.retry_after, true);
        }
        let message = self.redactor.scrub(&failure.message);
        tracing::warn!(model = %self.served_id, class = failure.class.as_str(), "upstream failed after the stream was committed: {message}");
        let kind = if failure.class.is_rate_limit() { "rate_limit_error" } else { "upstream_error" };
        let error = json!({"error": {"message": message, "type": kind, "code": "upstream_failed"}});
        let mut out = frame(error.as_object().expect("object")).to_vec();
        out.extend_from_slice(DONE);
        Bytes::from(out)
    }
}

fn frame(chunk: &Map<String, Value>) -> Bytes {
    let json = to_bytes(chunk);
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&json);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}
