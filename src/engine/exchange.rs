//! What the attempt loop needs from the request it serves, behind one trait ([`Exchange`]):
//! the upstream body for a target, the HTTP call, the relay for a committed stream, the fold of
//! an upstream stream, and the client's complete answer. [`Conversation`] implements it for a
//! chat turn of any client family on any upstream protocol, asking the family and the protocol
//! (and the provider's profile) for every step; same protocol on both sides is passthrough,
//! anything else crosses the canonical model. Embeddings implement it in [`super::embeddings`].

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::request::ClientRequest;
use super::resolve::Target;
use super::signatures::{RecordingEncoder, SignatureCache};
use crate::config::EngineSettings;
use crate::formats::InvalidRequest;
use crate::formats::anthropic::upstream::DEFAULT_MAX_TOKENS;
use crate::formats::failure::{ErrorClass, UpstreamFailure};
use crate::formats::ir;
use crate::formats::json::to_bytes;
use crate::formats::relay::{ClientEncoder, PassthroughFold, Relay, Translate, UpstreamDecoder};
use crate::providers::protocol::{EncodeTarget, PassthroughEdits, UpstreamCall};

/// The body for one target, with what its translation had to leave out or change.
pub struct Outbound {
    pub body: Bytes,
    /// For `x-llmkp-dropped-params`.
    pub dropped: Vec<String>,
    /// For `x-llmkp-adjustments`.
    pub adjustments: Vec<String>,
}

/// A complete answer in the client's family.
pub struct Completed {
    pub body: Bytes,
    pub usage: Option<ir::Usage>,
}

/// One client request as the attempt loop serves it.
pub trait Exchange: Send + Sync {
    /// The `model` the client asked for.
    fn model(&self) -> &str;

    /// The client asked for a stream.
    fn stream(&self) -> bool;

    /// A chat turn, which an upstream can stream (and a fold can serve when the client did not
    /// ask for a stream).
    fn is_conversation(&self) -> bool;

    /// Same protocol on both sides: the upstream's own bytes reach the client.
    fn is_passthrough(&self, target: &Target) -> bool;

    /// The request body for `target`; with `upstream_stream` the upstream is asked to stream.
    fn outbound(
        &self,
        target: &Target,
        upstream_stream: bool,
        settings: &EngineSettings,
    ) -> Result<Outbound, InvalidRequest>;

    /// The HTTP request of one attempt.
    fn send(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder;

    /// The relay for a committed stream from `target`.
    fn relay(&self, target: &Target) -> Box<dyn Relay>;

    /// The target's stream as canonical events.
    fn decoder(&self, target: &Target) -> Box<dyn UpstreamDecoder>;

    /// The fold that keeps a passthrough body as the upstream wrote it, when the family has one.
    fn passthrough_fold(&self, target: &Target) -> Option<Box<dyn PassthroughFold>>;

    /// The client's complete answer from the upstream's complete body.
    fn complete(&self, target: &Target, upstream: Map<String, Value>) -> Result<Completed, UpstreamFailure>;

    /// The client's complete answer from a canonical one (folded from a stream).
    fn complete_canonical(&self, target: &Target, response: ir::Response) -> Result<Completed, UpstreamFailure>;

    /// A stream client's frames (and usage) from an upstream that answered with one complete
    /// body although it was asked to stream.
    fn complete_as_stream(
        &self,
        target: &Target,
        upstream: Map<String, Value>,
    ) -> Result<(Vec<u8>, Option<ir::Usage>), UpstreamFailure>;
}

/// A chat turn of any client family.
pub struct Conversation {
    request: ClientRequest,
    /// For families whose answers cannot carry reasoning signatures: where they are kept.
    signatures: Option<Arc<SignatureCache>>,
}

impl Conversation {
    pub fn new(request: ClientRequest, signatures: &Arc<SignatureCache>) -> Self {
        let signatures = (!request.family().carries_signatures()).then(|| signatures.clone());
        Self { request, signatures }
    }

    /// The canonical request for one target: history signatures restored, policies applied.
    fn canonical_for(&self, settings: &EngineSettings) -> Result<ir::Request, InvalidRequest> {
        let mut canonical = self.request.canonical()?.clone();
        if let Some(signatures) = &self.signatures {
            signatures.restore(&mut canonical);
        }
        canonical.temperature = settings.temperature_zero.apply(canonical.temperature);
        Ok(canonical)
    }

    /// The canonical answer from a complete upstream body: errors in it found, the provider's
    /// rewriting applied, an empty answer refused.
    fn canonical_answer(
        &self,
        target: &Target,
        mut upstream: Map<String, Value>,
    ) -> Result<ir::Response, UpstreamFailure> {
        let provider = &target.provider;
        if let Some(failure) = provider.adapter.error_in_body(&upstream) {
            return Err(failure);
        }
        provider.profile.rewrite_body(&mut upstream);
        let response =
            provider.adapter.decode_complete(&upstream, provider, &target.served_id).map_err(untranslatable)?;
        if response.is_empty() {
            return Err(empty_answer());
        }
        Ok(response)
    }

    /// Tool calls named as the protocol had to call them get the client's names back.
    fn restore_tool_names(&self, target: &Target, response: &mut ir::Response) {
        let renames = self.renames(target);
        for part in &mut response.parts {
            if let ir::Part::ToolCall(call) = part
                && let Some((_, original)) = renames.iter().find(|(sent, _)| *sent == call.name)
            {
                call.name.clone_from(original);
            }
        }
    }

    fn renames(&self, target: &Target) -> Vec<(String, String)> {
        self.request.canonical().map(|c| target.provider.adapter.tool_renames(c)).unwrap_or_default()
    }

    fn client_encoder(&self, target: &Target) -> Box<dyn ClientEncoder> {
        let encoder = self.request.family().stream_encoder(&target.served_id, self.request.canonical().ok());
        match &self.signatures {
            Some(cache) => Box::new(RecordingEncoder::new(
                encoder,
                cache.clone(),
                target.provider.adapter.signatures_sign_reasoning(),
            )),
            None => encoder,
        }
    }
}

impl Exchange for Conversation {
    fn model(&self) -> &str {
        self.request.model()
    }

    fn stream(&self) -> bool {
        self.request.stream()
    }

    fn is_conversation(&self) -> bool {
        true
    }

    fn is_passthrough(&self, target: &Target) -> bool {
        self.request.family().protocol() == Some(target.provider.protocol)
    }

    fn outbound(
        &self,
        target: &Target,
        upstream_stream: bool,
        settings: &EngineSettings,
    ) -> Result<Outbound, InvalidRequest> {
        let provider = &target.provider;
        let family = self.request.family();
        let limit = target.output_limit();
        let default_output = limit.unwrap_or(DEFAULT_MAX_TOKENS);
        if self.is_passthrough(target) {
            let edits = PassthroughEdits {
                upstream_model: &target.upstream_model,
                stream: upstream_stream,
                output_limit: limit,
                default_output,
                temperature_zero: settings.temperature_zero,
            };
            let (mut body, adjustments) = provider.adapter.patch_passthrough(self.request.body(), edits);
            let mut dropped = Vec::new();
            if provider.profile.shapes_body()
                && let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&body)
            {
                dropped = provider.profile.shape_body(&mut map, settings.qwen_placeholder_tool);
                body = to_bytes(&map);
            }
            return Ok(Outbound { body, dropped, adjustments });
        }
        let mut canonical = self.canonical_for(settings)?;
        let mut adjustments: Vec<String> = Vec::new();
        match (canonical.max_output_tokens, limit) {
            (Some(max), Some(limit)) if max > limit => {
                canonical.max_output_tokens = Some(limit);
                adjustments.push(format!("max_tokens_lowered_to_{limit}"));
            }
            // The client's API or the upstream's needs a limit (§4.9, http-api §5.5).
            (None, _) if family.requires_output_limit() => {
                canonical.max_output_tokens = Some(default_output);
                adjustments.push("max_tokens_defaulted".to_string());
            }
            (None, Some(_)) if provider.adapter.requires_output_limit() => canonical.max_output_tokens = limit,
            _ => {}
        }
        let target_of = EncodeTarget {
            provider,
            upstream_model: &target.upstream_model,
            served: &target.served_id,
            stream: upstream_stream,
        };
        let encoded = provider.adapter.encode(&canonical, target_of)?;
        let mut dropped = family.dropped_params(self.request.body());
        dropped.extend(encoded.dropped.into_iter().map(str::to_string));
        adjustments.extend(encoded.adjustments.into_iter().map(str::to_string));
        let mut body = encoded.body;
        dropped.extend(provider.profile.shape_body(&mut body, settings.qwen_placeholder_tool));
        Ok(Outbound { body: to_bytes(&body), dropped, adjustments })
    }

    fn send(&self, call: UpstreamCall<'_>) -> reqwest::RequestBuilder {
        call.provider.adapter.generate(call)
    }

    fn relay(&self, target: &Target) -> Box<dyn Relay> {
        if self.is_passthrough(target) {
            return self.request.family().passthrough_relay(&target.served_id);
        }
        Box::new(Translate::new(self.decoder(target), self.client_encoder(target)))
    }

    fn decoder(&self, target: &Target) -> Box<dyn UpstreamDecoder> {
        target.provider.adapter.stream_decoder(&target.provider, self.renames(target))
    }

    fn passthrough_fold(&self, target: &Target) -> Option<Box<dyn PassthroughFold>> {
        self.is_passthrough(target).then(|| self.request.family().passthrough_fold()).flatten()
    }

    fn complete(&self, target: &Target, mut upstream: Map<String, Value>) -> Result<Completed, UpstreamFailure> {
        if !self.is_passthrough(target) {
            let response = self.canonical_answer(target, upstream)?;
            return self.complete_canonical(target, response);
        }
        let provider = &target.provider;
        if let Some(failure) = provider.adapter.error_in_body(&upstream) {
            return Err(failure);
        }
        provider.profile.rewrite_body(&mut upstream);
        // One rule for "empty" on every path, passthrough included (pitfall A08).
        let decoded = provider.adapter.decode_complete(&upstream, provider, &target.served_id).ok();
        if decoded.as_ref().is_some_and(ir::Response::is_empty) {
            return Err(empty_answer());
        }
        self.request.family().passthrough_complete(&mut upstream, &target.served_id);
        let usage = decoded.map(|r| r.usage);
        Ok(Completed { body: to_bytes(&upstream), usage })
    }

    fn complete_canonical(&self, target: &Target, mut response: ir::Response) -> Result<Completed, UpstreamFailure> {
        if response.is_empty() {
            return Err(empty_answer());
        }
        self.restore_tool_names(target, &mut response);
        if let Some(signatures) = &self.signatures {
            signatures.remember_response(&response);
        }
        let body = self.request.family().encode_complete(&response, &target.served_id);
        let usage = Some(response.usage);
        Ok(Completed { body: Bytes::from(serde_json::to_vec(&body).expect("JSON serialises")), usage })
    }

    fn complete_as_stream(
        &self,
        target: &Target,
        upstream: Map<String, Value>,
    ) -> Result<(Vec<u8>, Option<ir::Usage>), UpstreamFailure> {
        let mut response = self.canonical_answer(target, upstream)?;
        self.restore_tool_names(target, &mut response);
        let mut encoder = self.client_encoder(target);
        let mut frames = Vec::new();
        for event in response.stream_events() {
            frames.extend(encoder.push(&event));
        }
        frames.extend(encoder.finish());
        Ok((frames, Some(response.usage)))
    }
}

pub(super) fn empty_answer() -> UpstreamFailure {
    UpstreamFailure::new(ErrorClass::ServerError, "upstream answered with no content")
}

pub(super) fn untranslatable(err: InvalidRequest) -> UpstreamFailure {
    UpstreamFailure::new(ErrorClass::ServerError, format!("the upstream answer cannot be translated: {err}"))
}
