//! Gemini generateContent and OpenAI embeddings through the engine: passthrough to upstreams of
//! the same family, translation through the canonical model to the others.

use serde_json::{Map, Value};

use super::attempt::{Answer, RequestContext};
use super::exchange::Inbound;
use super::relay::GeminiFraming;
use super::{Engine, EngineError};
use crate::formats::ir;
use crate::formats::openai::embeddings::EmbeddingsRequest;

impl Engine {
    /// Serves a Gemini `generateContent` / `streamGenerateContent` request: `request` is the
    /// decoded form (its `model` the client's `provider/model` or alias), `raw` the body as sent.
    pub async fn generate_content(
        &self,
        mut request: ir::Request,
        mut raw: Map<String, Value>,
        framing: GeminiFraming,
        context: RequestContext,
    ) -> Result<Answer, EngineError> {
        let policy = self.settings.temperature_zero;
        request.temperature = policy.apply(request.temperature);
        for key in ["generationConfig", "generation_config"] {
            if let Some(Value::Object(config)) = raw.get_mut(key) {
                policy.apply_to_body(config);
            }
        }
        self.serve(Inbound::Gemini { request, raw, framing }, context).await
    }

    /// Serves an embeddings request; the answer is always complete.
    pub async fn embeddings(&self, request: EmbeddingsRequest, context: RequestContext) -> Result<Answer, EngineError> {
        self.serve(Inbound::Embeddings(request), context).await
    }
}
