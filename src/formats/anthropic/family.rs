//! The Anthropic Messages client family (`POST /v1/messages`: Claude Code, the Anthropic SDKs).

use serde_json::{Map, Value};

use super::passthrough::MessagesPassthrough;
use super::request::{MessagesRequest, decode_body, dropped_client_params};
use super::stream::{MessagesEncoder, MessagesStreamEncoder, PING};
use super::{encode_response, new_message_id};
use crate::formats::InvalidRequest;
use crate::formats::family::{ClientFamily, ErrorShape, Head, SSE, StreamPresentation};
use crate::formats::ir;
use crate::formats::protocol::Protocol;
use crate::formats::relay::{ClientEncoder, Relay};

/// A Messages client.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessagesFamily;

impl MessagesFamily {
    /// A Messages body decoded in full (it is validated before routing).
    pub fn parse(body: &Map<String, Value>) -> Result<(Self, Head), InvalidRequest> {
        let request = decode_body(body)?;
        let head = Head { model: request.model.clone(), stream: request.stream, canonical: Some(request) };
        Ok((Self, head))
    }

    /// [`Self::parse`] of the bytes a client sent.
    pub fn parse_bytes(bytes: &[u8]) -> Result<(Self, Head, Map<String, Value>), InvalidRequest> {
        let MessagesRequest { body, request } = MessagesRequest::parse(bytes)?;
        let head = Head { model: request.model.clone(), stream: request.stream, canonical: Some(request) };
        Ok((Self, head, body))
    }
}

impl ClientFamily for MessagesFamily {
    fn protocol(&self) -> Option<Protocol> {
        Some(Protocol::Anthropic)
    }

    fn decode(&self, body: &Map<String, Value>) -> Result<ir::Request, InvalidRequest> {
        decode_body(body)
    }

    fn dropped_params(&self, body: &Map<String, Value>) -> Vec<String> {
        dropped_client_params(body)
    }

    fn requires_output_limit(&self) -> bool {
        true
    }

    fn error_shape(&self) -> ErrorShape {
        ErrorShape::Anthropic
    }

    /// Anthropic's own keep-alive is a `ping` event.
    fn stream_presentation(&self) -> StreamPresentation {
        StreamPresentation { content_type: SSE, keepalive: Some(PING) }
    }

    fn passthrough_relay(&self, served: &str) -> Box<dyn Relay> {
        Box::new(MessagesPassthrough::new(served.to_string()))
    }

    fn passthrough_complete(&self, body: &mut Map<String, Value>, served: &str) {
        body.insert("model".into(), Value::from(served));
    }

    /// `message_start` carries the prompt's local count when the upstream reports usage only at
    /// the end.
    fn stream_encoder(&self, served: &str, request: Option<&ir::Request>) -> Box<dyn ClientEncoder> {
        let estimate = request.map_or(1, |r| crate::tokens::count_request(&r.model, r).tokens.max(1) as u64);
        Box::new(MessagesEncoder(MessagesStreamEncoder::new(new_message_id(), served, estimate)))
    }

    fn encode_complete(&self, response: &ir::Response, served: &str) -> Value {
        encode_response(response, served)
    }
}
