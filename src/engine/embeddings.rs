//! OpenAI embeddings through the engine: the same attempt loop as chat turns, with bodies the
//! serving protocol makes (OpenAI passthrough, Gemini `batchEmbedContents`), always complete.

use serde_json::{Map, Value};

use super::exchange::{Completed, Exchange, Outbound, untranslatable};
use super::resolve::Target;
use super::{Answer, Engine, EngineError, RequestContext};
use crate::config::EngineSettings;
use crate::formats::InvalidRequest;
use crate::formats::failure::{ErrorClass, UpstreamFailure};
use crate::formats::ir;
use crate::formats::json::to_bytes;
use crate::formats::openai::embeddings::{EmbeddingInput, EmbeddingsRequest, encode_base64_in_place};
use crate::formats::relay::{Decoded, PassthroughFold, Relay, Step, UpstreamDecoder};
use crate::formats::sse::SseEvent;
use crate::providers::protocol::{EncodeTarget, UpstreamCall};

impl Engine {
    /// Serves an embeddings request; the answer is always complete.
    pub async fn embeddings(&self, request: EmbeddingsRequest, context: RequestContext) -> Result<Answer, EngineError> {
        self.serve(&Embeddings(request), context).await
    }
}

struct Embeddings(EmbeddingsRequest);

impl Exchange for Embeddings {
    fn model(&self) -> &str {
        &self.0.model
    }

    fn stream(&self) -> bool {
        false
    }

    fn is_conversation(&self) -> bool {
        false
    }

    fn is_passthrough(&self, _target: &Target) -> bool {
        false
    }

    fn outbound(&self, target: &Target, _stream: bool, _settings: &EngineSettings) -> Result<Outbound, InvalidRequest> {
        let at = EncodeTarget {
            provider: &target.provider,
            upstream_model: &target.upstream_model,
            served: &target.served_id,
            stream: false,
        };
        let body = target.provider.adapter.embeddings_body(&self.0, at)?;
        Ok(Outbound { body, dropped: Vec::new(), adjustments: Vec::new() })
    }

    fn send(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        call.provider.adapter.embeddings_call(call)
    }

    fn relay(&self, _target: &Target) -> Box<dyn Relay> {
        Box::new(NotAStream)
    }

    fn decoder(&self, _target: &Target) -> Box<dyn UpstreamDecoder> {
        Box::new(NotAStream)
    }

    fn passthrough_fold(&self, _target: &Target) -> Option<Box<dyn PassthroughFold>> {
        None
    }

    /// OpenAI's shape, `model` as requested, `base64` when asked for, and the local estimate as
    /// usage when the upstream reported none.
    fn complete(&self, target: &Target, upstream: Map<String, Value>) -> Result<Completed, UpstreamFailure> {
        let request = &self.0;
        if let Some(failure) = target.provider.adapter.error_in_body(&upstream) {
            return Err(failure);
        }
        let mut answer = target.provider.adapter.decode_embeddings(upstream, request).map_err(untranslatable)?;
        answer.insert("model".into(), Value::from(request.model.clone()));
        let reported = answer.get("usage").and_then(|u| u.get("prompt_tokens")).and_then(Value::as_u64).unwrap_or(0);
        let prompt_tokens = if reported > 0 { reported } else { estimate_input_tokens(request) };
        answer
            .insert("usage".into(), serde_json::json!({"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}));
        if request.base64 {
            encode_base64_in_place(&mut answer);
        }
        let usage = ir::Usage { input_total: prompt_tokens, ..ir::Usage::default() };
        Ok(Completed { body: to_bytes(&answer), usage: Some(usage) })
    }

    fn complete_canonical(&self, _target: &Target, _response: ir::Response) -> Result<Completed, UpstreamFailure> {
        Err(not_a_stream())
    }

    fn complete_as_stream(
        &self,
        _target: &Target,
        _upstream: Map<String, Value>,
    ) -> Result<(Vec<u8>, Option<ir::Usage>), UpstreamFailure> {
        Err(not_a_stream())
    }
}

fn estimate_input_tokens(request: &EmbeddingsRequest) -> u64 {
    match &request.input {
        EmbeddingInput::Texts(texts) => {
            texts.iter().map(|t| crate::tokens::count_text(&request.model, t).tokens as u64).sum()
        }
        EmbeddingInput::Tokens(_) => 0,
    }
}

/// An embeddings answer that came as an event stream: an upstream failure.
struct NotAStream;

fn not_a_stream() -> UpstreamFailure {
    UpstreamFailure::new(ErrorClass::ServerError, "the upstream answered an embeddings request with a stream")
}

impl Relay for NotAStream {
    fn event(&mut self, _event: &SseEvent) -> Result<Step, UpstreamFailure> {
        Err(not_a_stream())
    }

    fn end(&mut self) -> Result<Vec<u8>, UpstreamFailure> {
        Err(not_a_stream())
    }

    fn error(&mut self, _failure: &UpstreamFailure, _message: &str) -> Vec<u8> {
        Vec::new()
    }

    fn usage(&self) -> Option<ir::Usage> {
        None
    }

    fn output_chars(&self) -> u64 {
        0
    }
}

impl UpstreamDecoder for NotAStream {
    fn event(&mut self, _event: &SseEvent) -> Result<Decoded, UpstreamFailure> {
        Err(not_a_stream())
    }

    fn end(&mut self) -> Result<Vec<ir::StreamEvent>, UpstreamFailure> {
        Err(not_a_stream())
    }

    fn usage(&self) -> Option<ir::Usage> {
        None
    }
}
