//! OpenAI Chat Completions through the engine: passthrough to OpenAI-compatible upstreams,
//! translation to the others.

use super::attempt::{Answer, RequestContext};
use super::exchange::Inbound;
use super::{Engine, EngineError};
use crate::formats::openai::ChatRequest;

impl Engine {
    /// Serves one Chat Completions request; the answer is a `chat.completion` body or a stream of
    /// `chat.completion.chunk` frames.
    pub async fn chat(&self, mut request: ChatRequest, context: RequestContext) -> Result<Answer, EngineError> {
        request.override_temperature_zero(self.settings.temperature_zero);
        self.serve(Inbound::chat(request, self.signatures.clone()), context).await
    }
}
