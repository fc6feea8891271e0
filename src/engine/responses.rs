//! What the OpenAI Responses API needs beyond a chat turn: stored responses (`store`,
//! `previous_response_id`, `GET`/`DELETE /v1/responses/{id}`), kept in the state store and
//! readable only by the proxy key that created them, and `POST /v1/responses/compact`, which only
//! a Responses upstream can answer.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::time::{Instant, timeout};

use super::error::AttemptRecord;
use super::resolve::resolve_targets;
use super::upstream_events::{ReadLimits, read_body};
use super::{Engine, EngineError};
use crate::formats::protocol::Protocol;
use crate::providers::protocol::UpstreamCall;
use crate::store::responses::StoredResponse;
use crate::store::{self, StoreError};

/// A compaction is one model call; past this the client hears a timeout.
const COMPACT_TIMEOUT: Duration = Duration::from_secs(300);

/// A stored response as its owner reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptResponse {
    /// The input items of the request that produced it (after `previous_response_id` expansion).
    pub input: Vec<Value>,
    /// The `response` object.
    pub response: Value,
}

/// What an upstream answered to a forwarded call.
#[derive(Debug)]
pub struct Forwarded {
    pub status: u16,
    pub body: Bytes,
}

impl Engine {
    /// Whether Responses answers are kept (`RESPONSES_STORE`).
    pub fn keeps_responses(&self) -> bool {
        self.settings.responses_store
    }

    /// Keeps a finished response (its `id` is read from it) with the input that produced it, for
    /// `owner`; a failure to store is logged, never the request's failure.
    pub async fn keep_response(&self, owner: &str, input: Vec<Value>, response: Value) {
        let Some(id) = response.get("id").and_then(Value::as_str).map(str::to_string) else { return };
        if !self.keeps_responses() {
            return;
        }
        let now = store::now_ms();
        let ttl = i64::try_from(self.settings.responses_store_ttl.as_millis()).unwrap_or(i64::MAX);
        let stored = StoredResponse {
            id,
            owner: owner.to_string(),
            created_ms: now,
            expires_ms: now.saturating_add(ttl),
            body: json!({"input": input, "response": response}).to_string(),
        };
        let (store, max) = (self.responses.clone(), self.settings.responses_store_max);
        match tokio::task::spawn_blocking(move || store.put_response(stored, max)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!("response not stored: {err}"),
            Err(err) => tracing::warn!("response not stored: {err}"),
        }
    }

    /// The stored response `id` of `owner`; `None` when it is unknown, expired, or someone
    /// else's (indistinguishable to the caller).
    pub async fn kept_response(&self, id: &str, owner: &str) -> Result<Option<KeptResponse>, StoreError> {
        if !self.keeps_responses() {
            return Ok(None);
        }
        let (store, lookup) = (self.responses.clone(), id.to_string());
        let found = tokio::task::spawn_blocking(move || store.get_response(&lookup, store::now_ms()))
            .await
            .map_err(|e| StoreError::Config(e.to_string()))??;
        let Some(found) = found.filter(|r| r.owner == owner) else { return Ok(None) };
        let Ok(body) = serde_json::from_str::<Value>(&found.body) else { return Ok(None) };
        let input = body.get("input").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(Some(KeptResponse { input, response: body.get("response").cloned().unwrap_or(Value::Null) }))
    }

    /// Deletes the stored response `id` of `owner`; whether there was one.
    pub async fn delete_response(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        if self.kept_response(id, owner).await?.is_none() {
            return Ok(false);
        }
        let (store, id) = (self.responses.clone(), id.to_string());
        tokio::task::spawn_blocking(move || store.delete_response(&id))
            .await
            .map_err(|e| StoreError::Config(e.to_string()))?
    }

    /// Whether `model` (its first target) is served by an upstream of `protocol`.
    pub fn served_natively(&self, model: &str, protocol: Protocol) -> bool {
        resolve_targets(&self.registry, &self.filter, &self.fallbacks, &self.aliases, model)
            .ok()
            .and_then(|targets| targets.into_iter().next())
            .is_some_and(|target| target.provider.protocol == protocol)
    }

    /// `POST /v1/responses/compact`, forwarded as it is (only `model` rewritten) to the first
    /// target of `model` when its upstream protocol has a compaction endpoint.
    pub async fn compact(
        &self,
        model: &str,
        mut body: serde_json::Map<String, Value>,
    ) -> Result<Forwarded, EngineError> {
        let targets = resolve_targets(&self.registry, &self.filter, &self.fallbacks, &self.aliases, model)?;
        let target = targets.into_iter().next().expect("resolution yields a target");
        let deadline = Instant::now() + self.settings.global_timeout;
        let scope = self.scope_for(&target);
        let lease = self
            .pool
            .acquire(&target.provider.name, &scope, None, &[], deadline)
            .await
            .map_err(|_| EngineError::CredentialsBusy { context: self.context(&target, &[]) })?;
        body.insert("model".into(), Value::from(target.upstream_model.clone()));
        let call = UpstreamCall {
            http: &self.http,
            provider: &target.provider,
            credential: &lease.credential,
            upstream_model: &target.upstream_model,
            client_headers: &[],
            body: crate::formats::json::to_bytes(&body),
            stream: false,
        };
        let Some(request) = target.provider.adapter.compact(call) else {
            return Err(EngineError::InvalidRequest {
                message: format!(
                    "'{}' is not served by a Responses upstream: compaction (POST /v1/responses/compact) needs one; \
                     clients that compact locally (Codex with a custom model provider) need no endpoint",
                    target.served_id
                ),
                param: Some("model".into()),
            });
        };
        let call = async {
            let response = request.send().await.map_err(super::upstream_events::ReadError::Transport)?;
            let status = response.status().as_u16();
            Ok::<_, super::upstream_events::ReadError>((
                status,
                read_body(response, ReadLimits::body(&self.settings)).await?,
            ))
        };
        match timeout(COMPACT_TIMEOUT, call).await {
            Ok(Ok((status, body))) => {
                let body = Bytes::from(self.redactor.scrub(&String::from_utf8_lossy(&body)));
                Ok(Forwarded { status, body })
            }
            Ok(Err(err)) => {
                let failure = err.failure();
                let attempt = AttemptRecord {
                    credential: lease.credential.masked.clone(),
                    status: failure.status,
                    class: failure.class,
                    message: self.redactor.scrub(&failure.message),
                };
                Err(EngineError::UpstreamFailed { auth_only: false, context: self.context(&target, &[attempt]) })
            }
            Err(_) => {
                Err(EngineError::DeadlineExceeded { timeout: COMPACT_TIMEOUT, context: self.context(&target, &[]) })
            }
        }
    }
}
