//! Anthropic Messages through the engine: passthrough to Anthropic upstreams, translation through
//! the canonical model to the others.

use serde_json::{Map, Value};

use super::attempt::{Answer, RequestContext};
use super::exchange::Inbound;
use super::{Engine, EngineError};
use crate::formats::ir;

impl Engine {
    /// Serves a Messages request; the answer is a `message` body or a Messages event stream.
    /// `raw` is the body as the client sent it; `input_estimate` the local token count of the
    /// prompt, for `message_start` when the upstream reports usage only at the end.
    pub async fn messages(
        &self,
        mut request: ir::Request,
        mut raw: Map<String, Value>,
        context: RequestContext,
        input_estimate: u64,
    ) -> Result<Answer, EngineError> {
        let policy = self.settings.temperature_zero;
        request.temperature = policy.apply(request.temperature);
        policy.apply_to_body(&mut raw);
        self.serve(Inbound::Messages { request, raw, input_estimate }, context).await
    }
}
