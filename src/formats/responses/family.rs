//! The Responses client family (`POST /v1/responses`: Codex CLI, the OpenAI SDKs).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::new_response_id;
use super::passthrough::{ResponsesFold, ResponsesPassthrough};
use super::request::{decode_body, dropped_client_params};
use super::response::{Shell, encode_response};
use super::stream::ResponsesStreamEncoder;
use super::tools::ToolNames;
use crate::formats::InvalidRequest;
use crate::formats::family::{ClientFamily, ErrorShape, Head, SSE, StreamPresentation};
use crate::formats::ir;
use crate::formats::protocol::Protocol;
use crate::formats::relay::{ClientEncoder, PassthroughFold, Relay};

/// A Responses client, with what its tool list said about names (freeform and namespaced
/// tools), which its answers need.
#[derive(Debug, Clone, Default)]
pub struct ResponsesFamily {
    names: Arc<ToolNames>,
}

impl ResponsesFamily {
    /// A Responses body decoded in full (it is validated before routing).
    pub fn parse(body: &Map<String, Value>) -> Result<(Self, Head), InvalidRequest> {
        let (request, names) = decode_body(body)?;
        let head = Head { model: request.model.clone(), stream: request.stream, canonical: Some(request) };
        Ok((Self { names: Arc::new(names) }, head))
    }

    /// The JSON object a client sent (routes read it before [`Self::parse`]: `previous_response_id`
    /// may add to its input).
    pub fn body_of(bytes: &[u8]) -> Result<Map<String, Value>, InvalidRequest> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(body)) => Ok(body),
            Ok(_) => Err(InvalidRequest::body("request body must be a JSON object")),
            Err(err) => Err(InvalidRequest::body(format!("request body is not valid JSON: {err}"))),
        }
    }
}

impl ClientFamily for ResponsesFamily {
    fn protocol(&self) -> Option<Protocol> {
        Some(Protocol::Responses)
    }

    fn decode(&self, body: &Map<String, Value>) -> Result<ir::Request, InvalidRequest> {
        decode_body(body).map(|(request, _)| request)
    }

    fn dropped_params(&self, body: &Map<String, Value>) -> Vec<String> {
        dropped_client_params(body)
    }

    fn passthrough_relay(&self, served: &str) -> Box<dyn Relay> {
        Box::new(ResponsesPassthrough::new(served.to_string()))
    }

    fn passthrough_complete(&self, body: &mut Map<String, Value>, served: &str) {
        body.insert("model".into(), Value::from(served));
    }

    fn stream_encoder(&self, served: &str, _request: Option<&ir::Request>) -> Box<dyn ClientEncoder> {
        Box::new(ResponsesStreamEncoder::new(Shell::new(new_response_id(), served), self.names.clone()))
    }

    fn encode_complete(&self, response: &ir::Response, served: &str) -> Value {
        encode_response(response, served, &self.names)
    }

    fn passthrough_fold(&self) -> Option<Box<dyn PassthroughFold>> {
        Some(Box::new(ResponsesFold::default()))
    }

    fn error_shape(&self) -> ErrorShape {
        ErrorShape::OpenAi
    }

    /// OpenAI clients (Codex's parser included) skip SSE comments.
    fn stream_presentation(&self) -> StreamPresentation {
        StreamPresentation { content_type: SSE, keepalive: Some(b": keep-alive\n\n") }
    }
}
