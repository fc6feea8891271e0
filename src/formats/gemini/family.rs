//! The Gemini generateContent client family (`POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent`: google-genai, Gemini CLI).

use serde_json::{Map, Value};

use super::ORIGIN;
use super::relay::{GeminiEncoder, GeminiFraming, GeminiPassthrough};
use super::request::{decode_client_request, dropped_client_params};
use super::response::encode_client_response;
use super::stream::GeminiStreamEncoder;
use crate::formats::family::{ClientFamily, ErrorShape, Head, SSE, StreamPresentation};
use crate::formats::protocol::Protocol;
use crate::formats::relay::{ClientEncoder, Relay};
use crate::formats::{InvalidRequest, ir, random_base62};

/// A Gemini client: the model named in its URL, and for streams the framing it asked for.
#[derive(Debug, Clone)]
pub struct GeminiFamily {
    model: String,
    framing: Option<GeminiFraming>,
}

impl GeminiFamily {
    /// A `generateContent` (`framing: None`) or `streamGenerateContent` body for `model`,
    /// decoded in full (it is validated before routing).
    pub fn parse(
        body: &Map<String, Value>,
        model: &str,
        framing: Option<GeminiFraming>,
    ) -> Result<(Self, Head), InvalidRequest> {
        let family = Self { model: model.to_string(), framing };
        let request = family.decode(body)?;
        Ok((family, Head { model: model.to_string(), stream: framing.is_some(), canonical: Some(request) }))
    }

    fn framing(&self) -> GeminiFraming {
        self.framing.unwrap_or(GeminiFraming::Sse)
    }
}

impl ClientFamily for GeminiFamily {
    fn protocol(&self) -> Option<Protocol> {
        Some(Protocol::Gemini)
    }

    fn decode(&self, body: &Map<String, Value>) -> Result<ir::Request, InvalidRequest> {
        decode_client_request(body, &self.model, self.framing.is_some())
    }

    fn dropped_params(&self, body: &Map<String, Value>) -> Vec<String> {
        dropped_client_params(body).into_iter().map(str::to_string).collect()
    }

    fn passthrough_relay(&self, served: &str) -> Box<dyn Relay> {
        Box::new(GeminiPassthrough::new(self.framing(), served.to_string()))
    }

    fn passthrough_complete(&self, body: &mut Map<String, Value>, served: &str) {
        body.insert("modelVersion".into(), Value::from(served));
    }

    fn stream_encoder(&self, served: &str, _request: Option<&ir::Request>) -> Box<dyn ClientEncoder> {
        let encoder = GeminiStreamEncoder::new(random_base62(22), served.to_string(), ORIGIN.into());
        Box::new(GeminiEncoder::new(encoder, self.framing()))
    }

    fn error_shape(&self) -> ErrorShape {
        ErrorShape::Gemini
    }

    /// No keep-alive: Gemini's SDKs parse every line as data (§6); a JSON-array stream is JSON.
    fn stream_presentation(&self) -> StreamPresentation {
        let content_type = if self.framing() == GeminiFraming::JsonArray { "application/json" } else { SSE };
        StreamPresentation { content_type, keepalive: None }
    }

    fn encode_complete(&self, response: &ir::Response, served: &str) -> Value {
        encode_client_response(response, served, ORIGIN)
    }
}
