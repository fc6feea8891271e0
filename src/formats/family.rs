//! The client-family abstraction: everything the engine needs from the wire family a client
//! speaks, behind one trait, so that the engine never asks which family it serves. A family
//! decodes its requests into the canonical model, names what translation cannot carry, relays
//! a same-protocol upstream stream as it is, encodes canonical answers (complete and streamed),
//! and shapes its errors. Adding a family is one folder under `formats/` with a type that
//! implements [`ClientFamily`], and one route that builds it.

use serde_json::{Map, Value};

use super::InvalidRequest;
use super::ir;
use super::protocol::Protocol;
use super::relay::{ClientEncoder, PassthroughFold, Relay};

/// The error body shape a family's clients read (HTTP API §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"error":{"message","type","param","code"}}`.
    OpenAi,
    /// `{"type":"error","error":{"type","message"},"request_id"}`.
    Anthropic,
    /// `{"error":{"code","message","status","details"?}}`.
    Gemini,
}

/// The `Content-Type` of event streams.
pub const SSE: &str = "text/event-stream; charset=utf-8";

/// How a family's streams travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPresentation {
    /// `Content-Type` of the stream response.
    pub content_type: &'static str,
    /// Sent after upstream silence (`SSE_KEEPALIVE_INTERVAL`); `None` when the family's clients
    /// would read it as data.
    pub keepalive: Option<&'static [u8]>,
}

/// What a family's parser learned from a client body before routing.
#[derive(Debug, Clone)]
pub struct Head {
    /// The `model` the client asked for (`provider/model`, an alias, …).
    pub model: String,
    pub stream: bool,
    /// The canonical form, when the family decodes it up front (validation before routing);
    /// otherwise it is decoded the first time a target of another protocol needs it.
    pub canonical: Option<ir::Request>,
}

/// One client family, as the engine uses it for one request (the value may hold what the
/// request's route learned, e.g. the stream framing a Gemini client asked for).
pub trait ClientFamily: Send + Sync {
    /// The upstream protocol whose bodies and streams are this family's own: requests to such
    /// an upstream are passed through (the body patched, the stream relayed as written).
    fn protocol(&self) -> Option<Protocol>;

    /// The client's body in canonical form.
    fn decode(&self, body: &Map<String, Value>) -> Result<ir::Request, InvalidRequest>;

    /// The conversation's opening (system prompt and first user message) in canonical form, for
    /// the session key. The default decodes the whole request; families whose histories are
    /// decoded lazily override it to decode only the opening.
    fn opening(&self, body: &Map<String, Value>) -> ir::Request {
        self.decode(body).unwrap_or_default()
    }

    /// Request fields a translated route leaves out because the canonical model has no place for
    /// them (`x-llmkp-dropped-params`).
    fn dropped_params(&self, body: &Map<String, Value>) -> Vec<String>;

    /// The relay for a committed stream of this family's own protocol; `served` is the
    /// `provider/model` the client is told served it.
    fn passthrough_relay(&self, served: &str) -> Box<dyn Relay>;

    /// A complete answer of this family's own protocol, made the client's: `model` (or its
    /// equivalent) set to `served`.
    fn passthrough_complete(&self, body: &mut Map<String, Value>, served: &str);

    /// The client's stream from canonical events; `request` is the canonical request when it is
    /// decoded (a family may count its prompt for a stream header).
    fn stream_encoder(&self, served: &str, request: Option<&ir::Request>) -> Box<dyn ClientEncoder>;

    /// The client's complete answer from a canonical one.
    fn encode_complete(&self, response: &ir::Response, served: &str) -> Value;

    /// The client's API requires an output limit (Messages' `max_tokens`): when it sent none,
    /// the engine fills the model's and reports `max_tokens_defaulted`.
    fn requires_output_limit(&self) -> bool {
        false
    }

    /// A same-protocol upstream stream folded into this family's complete body as the upstream
    /// wrote it (for families whose complete bodies carry more than the canonical answer, such
    /// as Chat's several choices and log probabilities); `None`: the canonical fold serves.
    fn passthrough_fold(&self) -> Option<Box<dyn PassthroughFold>> {
        None
    }

    /// The shape of this family's error bodies.
    fn error_shape(&self) -> ErrorShape;

    /// How this family's streams travel.
    fn stream_presentation(&self) -> StreamPresentation;

    /// Whether the family's answers carry reasoning signatures back to the client. When they
    /// cannot (OpenAI Chat), the engine keeps them and re-attaches them to the history.
    fn carries_signatures(&self) -> bool {
        true
    }
}
