//! Anthropic Messages through the engine: the request is decoded into the canonical model,
//! encoded for the upstream's family, sent through the one attempt loop (the Chat path: same
//! rotation, cooldowns, commit point and accounting), and the answer — whole or streamed — is
//! translated back into Messages.

use std::collections::VecDeque;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Map, Value};

use super::{ChatContext, ChatReply, Engine, EngineError, Served};
use crate::formats::anthropic::{MessagesStreamEncoder, encode_response, new_message_id};
use crate::formats::ir;
use crate::formats::openai::ChatRequest;
use crate::formats::openai::stream_decoder::ChatStreamDecoder;
use crate::formats::openai::translate;
use crate::formats::sse::SseDecoder;

/// Bytes of an Anthropic SSE stream for the client.
pub type MessagesStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

pub enum MessagesReply {
    /// A `message` object.
    Complete(Value),
    Stream(MessagesStream),
}

pub struct MessagesResponse {
    pub served: Served,
    pub reply: MessagesReply,
    /// Request parameters the upstream could not honour (`x-llmkp-dropped-params`).
    pub dropped: Vec<String>,
}

impl Engine {
    /// Serves a Messages request. `input_estimate` is the local token count of the prompt, for
    /// `message_start` when the upstream reports usage only at the end.
    pub async fn messages(
        &self,
        request: ir::Request,
        context: ChatContext,
        input_estimate: u64,
    ) -> Result<MessagesResponse, EngineError> {
        let requested = request.model.clone();
        let provider =
            super::resolve::resolve_targets(&self.registry, &self.filter, &self.fallbacks, &self.aliases, &requested)?
                .first()
                .map(|t| t.provider.name.clone())
                .unwrap_or_default();
        let encoded = translate::encode_request(&request, &requested, &provider, request.stream)?;
        let dropped = translate::dropped_params(&request).into_iter().map(str::to_string).collect();
        let chat = ChatRequest::from_object(encoded)?;
        let answer = self.chat(chat, context).await?;
        let served = answer.served;
        let reply = match answer.reply {
            ChatReply::Complete { body, .. } => {
                let completion: Map<String, Value> = serde_json::from_slice(&body).unwrap_or_default();
                let response = translate::decode_response(&completion, &served.model).map_err(|e| {
                    let context = super::error::FailureContext {
                        provider: served.provider.clone(),
                        model: served.model.clone(),
                        attempts: Vec::new(),
                    };
                    tracing::warn!("upstream answer cannot be translated: {e}");
                    EngineError::UpstreamFailed { auth_only: false, context }
                })?;
                MessagesReply::Complete(encode_response(&response, &requested))
            }
            ChatReply::Stream(frames) => {
                let encoder = MessagesStreamEncoder::new(new_message_id(), served.model.clone(), input_estimate);
                MessagesReply::Stream(translate_stream(Box::pin(frames), encoder))
            }
        };
        Ok(MessagesResponse { served, reply, dropped })
    }
}

struct Translation {
    frames: Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
    sse: SseDecoder,
    decoder: ChatStreamDecoder,
    encoder: MessagesStreamEncoder,
    ready: VecDeque<Bytes>,
    started: bool,
    done: bool,
}

/// Chat SSE frames (as the Chat path produces them) → Anthropic SSE events.
fn translate_stream(
    frames: Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
    encoder: MessagesStreamEncoder,
) -> MessagesStream {
    let state = Translation {
        frames,
        sse: SseDecoder::new(),
        decoder: ChatStreamDecoder::default(),
        encoder,
        ready: VecDeque::new(),
        started: false,
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut t| async move {
        loop {
            if let Some(bytes) = t.ready.pop_front() {
                return Some((Ok(bytes), t));
            }
            if t.done {
                return None;
            }
            if !t.started {
                t.started = true;
                t.ready.push_back(Bytes::from(t.encoder.start()));
                continue;
            }
            match t.frames.next().await {
                Some(Ok(frame)) => {
                    let mut events = Vec::new();
                    t.sse.push(&frame, &mut events);
                    for event in events {
                        t.translate_event(&event.data);
                    }
                }
                Some(Err(err)) => {
                    t.ready.push_back(Bytes::from(t.encoder.error("api_error", &err.to_string())));
                    t.done = true;
                }
                // The Chat path always ends with `[DONE]` or an error; this is a safety net.
                None => {
                    if !t.done {
                        t.finish();
                    }
                }
            }
        }
    }))
}

impl Translation {
    fn translate_event(&mut self, data: &str) {
        if self.done {
            return;
        }
        if data.trim() == "[DONE]" {
            self.finish();
            return;
        }
        let Ok(Value::Object(chunk)) = serde_json::from_str::<Value>(data) else { return };
        if let Some(error) = chunk.get("error") {
            let kind = match error["type"].as_str() {
                Some("rate_limit_error") => "rate_limit_error",
                _ => "api_error",
            };
            let message = error["message"].as_str().unwrap_or("upstream error");
            self.ready.push_back(Bytes::from(self.encoder.error(kind, message)));
            self.done = true;
            return;
        }
        for event in self.decoder.push(&chunk) {
            let bytes = self.encoder.push(&event);
            if !bytes.is_empty() {
                self.ready.push_back(Bytes::from(bytes));
            }
        }
    }

    fn finish(&mut self) {
        for event in self.decoder.finish() {
            let bytes = self.encoder.push(&event);
            if !bytes.is_empty() {
                self.ready.push_back(Bytes::from(bytes));
            }
        }
        self.ready.push_back(Bytes::from(self.encoder.finish()));
        self.done = true;
    }
}
