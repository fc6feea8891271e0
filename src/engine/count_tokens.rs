//! Exact input-token counts from the upstream's own count endpoint (translation specification
//! §11, `COUNT_TOKENS_MODE`). Count calls hold a credential lease only for their duration: they
//! are never recorded as requests and never cause cooldowns.

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tokio::time::{Instant, timeout};

use super::Engine;
use super::resolve::resolve_targets;
use super::upstream_events::{ReadError, ReadLimits, read_body};
use crate::config::CountTokensMode;
use crate::formats::protocol::Protocol;
use crate::providers::protocol::UpstreamCall;

/// A count is a quick call; past this the local estimate answers.
const COUNT_TIMEOUT: Duration = Duration::from_secs(10);

impl Engine {
    /// The upstream's count of a Messages request's input, when the model's provider has a
    /// count endpoint and the mode allows asking it; `None` means "count locally" (local mode,
    /// no endpoint, no free credential, or any failure).
    /// `family` is the protocol the client speaks natively: only an upstream of that protocol
    /// with a count endpoint is asked, with the client's own body. `model` is the client's
    /// `provider/model` or alias.
    pub async fn count_tokens_upstream(
        &self,
        family: Protocol,
        model: &str,
        body: &Map<String, Value>,
        client_headers: &[(HeaderName, HeaderValue)],
    ) -> Option<u64> {
        let wait = match self.settings.count_tokens_mode {
            CountTokensMode::Local => return None,
            CountTokensMode::Auto => Duration::ZERO,
            CountTokensMode::Upstream => COUNT_TIMEOUT.min(self.settings.global_timeout),
        };
        let targets = resolve_targets(&self.registry, &self.filter, &self.fallbacks, &self.aliases, model).ok()?;
        let target = targets.into_iter().next()?;
        if target.provider.protocol != family {
            return None;
        }
        let scope = self.scope_for(&target);
        let lease = self.pool.acquire(&target.provider.name, &scope, None, &[], Instant::now() + wait).await.ok()?;
        let call = UpstreamCall {
            http: &self.http,
            provider: &target.provider,
            credential: &lease.credential,
            upstream_model: &target.upstream_model,
            client_headers,
            body: bytes::Bytes::new(),
            stream: false,
        };
        let request = target.provider.adapter.count_tokens(call, body)?;
        let call = async {
            let response = request.send().await.map_err(ReadError::Transport)?;
            let status = response.status();
            Ok::<_, ReadError>((status, read_body(response, ReadLimits::body(&self.settings)).await?))
        };
        match timeout(COUNT_TIMEOUT, call).await {
            Ok(Ok((status, answer))) if status.is_success() => {
                let answer = serde_json::from_slice::<Value>(&answer).ok()?;
                let counted = answer.get("input_tokens").or_else(|| answer.get("totalTokens")).and_then(Value::as_u64);
                if counted.is_none() {
                    tracing::warn!(provider = %target.provider.name, "the token count answer has no count");
                }
                counted
            }
            Ok(Ok((status, _))) => {
                tracing::warn!(provider = %target.provider.name, status = status.as_u16(), "upstream token count refused; counting locally");
                None
            }
            Ok(Err(err)) => {
                let message = self.redactor.scrub(&err.failure().message);
                tracing::warn!(provider = %target.provider.name, "upstream token count failed ({message}); counting locally");
                None
            }
            Err(_) => {
                tracing::warn!(provider = %target.provider.name, "upstream token count timed out; counting locally");
                None
            }
        }
    }
}
