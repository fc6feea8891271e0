//! The OpenAI Chat Completions client family (`POST /v1/chat/completions`).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::aggregate::ChatAggregator;
use super::chat_output::{ChatEncoder, ChatStreamEncoder, encode_completion, new_completion_id};
use super::decode_request::{decode_request, dropped_params, opening};
use super::passthrough::ChatPassthrough;
use super::request::ChatRequest;
use crate::formats::InvalidRequest;
use crate::formats::family::{ClientFamily, ErrorShape, Head, SSE, StreamPresentation};
use crate::formats::ir;
use crate::formats::protocol::Protocol;
use crate::formats::relay::{ClientEncoder, PassthroughFold, Relay};

/// A Chat client; `include_usage` is its `stream_options.include_usage`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChatFamily {
    pub include_usage: bool,
}

impl ChatFamily {
    /// A Chat body checked as the routes check it (model, messages, stream options); the history
    /// is decoded only when a target of another protocol needs it.
    pub fn parse(body: &Map<String, Value>) -> Result<(Self, Head), InvalidRequest> {
        Ok(Self::from_checked(ChatRequest::check(body)?))
    }

    /// [`Self::parse`] of the bytes a client sent.
    pub fn parse_bytes(bytes: &[u8]) -> Result<(Self, Head, Map<String, Value>), InvalidRequest> {
        let (request, body) = ChatRequest::parse(bytes)?;
        let (family, head) = Self::from_checked(request);
        Ok((family, head, body))
    }

    fn from_checked(request: ChatRequest) -> (Self, Head) {
        let head = Head { model: request.model, stream: request.stream, canonical: None };
        (Self { include_usage: request.include_usage }, head)
    }
}

impl ClientFamily for ChatFamily {
    fn protocol(&self) -> Option<Protocol> {
        Some(Protocol::OpenAi)
    }

    fn decode(&self, body: &Map<String, Value>) -> Result<ir::Request, InvalidRequest> {
        decode_request(body)
    }

    fn opening(&self, body: &Map<String, Value>) -> ir::Request {
        opening(body)
    }

    fn dropped_params(&self, body: &Map<String, Value>) -> Vec<String> {
        dropped_params(body).into_iter().map(str::to_string).collect()
    }

    fn passthrough_relay(&self, served: &str) -> Box<dyn Relay> {
        Box::new(ChatPassthrough::new(served.to_string(), self.include_usage))
    }

    fn passthrough_complete(&self, body: &mut Map<String, Value>, served: &str) {
        body.insert("model".into(), Value::from(served));
    }

    fn stream_encoder(&self, served: &str, _request: Option<&ir::Request>) -> Box<dyn ClientEncoder> {
        let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Box::new(ChatEncoder(ChatStreamEncoder::new(new_completion_id(), served, created, self.include_usage)))
    }

    fn encode_complete(&self, response: &ir::Response, _served: &str) -> Value {
        encode_completion(response, true)
    }

    fn error_shape(&self) -> ErrorShape {
        ErrorShape::OpenAi
    }

    /// OpenAI clients ignore SSE comments; they keep proxies and load balancers from idling out.
    fn stream_presentation(&self) -> StreamPresentation {
        StreamPresentation { content_type: SSE, keepalive: Some(b": keep-alive\n\n") }
    }

    fn passthrough_fold(&self) -> Option<Box<dyn PassthroughFold>> {
        Some(Box::new(ChatAggregator::default()))
    }

    fn carries_signatures(&self) -> bool {
        false
    }
}
