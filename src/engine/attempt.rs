//! The attempt loop for every client family: pick a credential, call the upstream in its
//! protocol, classify what came back, then serve, retry the same credential, rotate, fall back,
//! or fail — the only retry loop in the program.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use serde_json::{Map, Value};
use tokio::time::{Instant, sleep, timeout_at};

use super::Engine;
use super::client_stream::{ClientStream, PendingStream};
use super::error::{AttemptRecord, EngineError, FailureContext};
use super::exchange::{Completed, Exchange, Outbound};
use super::resolve::{Target, resolve_targets};
use super::transport::classify_transport;
use super::upstream_events::{ReadLimits, UpstreamEvents, read_body};
use crate::auth::oauth::refresh::RefreshError;
use crate::auth::oauth::runtime::OAuthHandle;
use crate::auth::{Credential, CredentialId};
use crate::formats::collect::Collector;
use crate::formats::failure::{ErrorClass, UpstreamFailure};
use crate::formats::relay::{PassthroughFold, parse_object, premature_end};
use crate::formats::sse::SseEvent;
use crate::pool::NoCredential;
use crate::providers::protocol::{FoldPolicy, UpstreamCall};

/// Who served a request.
#[derive(Debug, Clone)]
pub struct Served {
    pub provider: String,
    /// `provider/model` that served.
    pub model: String,
    /// The serving credential's label ([`Credential::label`]): visible ASCII, never the secret.
    pub credential: String,
    /// Upstream attempts made, the serving one included.
    pub attempts: usize,
}

/// The answer in the client's family.
pub enum Reply {
    /// A complete JSON body (`chat.completion`, `message`).
    Complete(Bytes),
    /// A committed stream of SSE frames.
    Stream(ClientStream),
}

pub struct Answer {
    pub served: Served,
    pub reply: Reply,
    /// Request parameters the serving upstream could not take (`x-llmkp-dropped-params`).
    pub dropped: Vec<String>,
    /// Repairs its translation made (`x-llmkp-adjustments`).
    pub adjustments: Vec<String>,
}

/// How one attempt talks to the upstream.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Client stream: hold events until the commit point, then hand the stream over.
    Stream,
    /// Non-stream client, upstream stream: fold the events into one answer.
    Fold,
    /// Non-stream client and upstream.
    Direct,
}

/// An answer whose credential lease has not been settled yet.
enum PendingReply {
    Complete(Completed),
    Stream(Box<PendingStream>),
}

enum Attempt {
    Served(PendingReply),
    Failed(UpstreamFailure),
    /// The deadline passed before the upstream's response head.
    Deadline,
}

/// Bodies of error responses are read only this far: enough for any real error message.
const MAX_ERROR_BODY: usize = 1 << 20;
/// An error body that trickles in is not worth waiting for beyond this.
const ERROR_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-request facts from the ingress.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// When the request reached the proxy: the deadline counts from it.
    pub arrival: Instant,
    /// Keeps a conversation on one credential ([`super::session::session_key`]).
    pub session: Option<String>,
    /// Client headers an upstream protocol may forward (`anthropic-version`, `anthropic-beta`).
    pub client_headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl RequestContext {
    pub fn new(arrival: Instant, session: Option<String>) -> Self {
        Self { arrival, session, client_headers: Vec::new() }
    }
}

/// What every target of one request shares.
#[derive(Clone, Copy)]
struct Plan<'a> {
    deadline: Instant,
    context: &'a RequestContext,
    /// Fallback targets remain after this one.
    more_targets: bool,
}

/// How one target (provider, model) ended without serving.
enum TargetEnd {
    /// Its credentials were tried or unavailable; the next fallback member may serve.
    Exhausted { unavailable: Option<NoCredential> },
    /// The request is over (client error, deadline).
    Fatal(EngineError),
}

impl Engine {
    /// Serves one request: each target of the model in order, each credential the pool leases,
    /// until one answers or nothing is left.
    pub(super) async fn serve(&self, inbound: &dyn Exchange, context: RequestContext) -> Result<Answer, EngineError> {
        let deadline = context.arrival + self.settings.global_timeout;
        let targets = resolve_targets(&self.registry, &self.filter, &self.fallbacks, &self.aliases, inbound.model())?;
        let mut attempts: Vec<AttemptRecord> = Vec::new();
        let mut last = None;
        for (i, target) in targets.iter().enumerate() {
            if i > 0 {
                tracing::info!(from = %targets[i - 1].served_id, to = %target.served_id, "falling back");
                crate::telemetry::fallback(&targets[i - 1].served_id, &target.served_id);
            }
            let mode = self.mode(inbound, target);
            let outbound = inbound.outbound(target, !matches!(mode, Mode::Direct), &self.settings)?;
            let before = attempts.len();
            let plan = Plan { deadline, context: &context, more_targets: i + 1 < targets.len() };
            match self.serve_target(target, inbound, &outbound, mode, &plan, &mut attempts).await {
                Ok(served) => {
                    let (served, reply) = served;
                    let served = Served { attempts: attempts.len() + 1, ..served };
                    return Ok(Answer { served, reply, dropped: outbound.dropped, adjustments: outbound.adjustments });
                }
                Err(TargetEnd::Fatal(err)) => return Err(err),
                Err(TargetEnd::Exhausted { unavailable }) => {
                    last = Some((target, unavailable, attempts.len() - before))
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        let (target, unavailable, target_attempts) = last.expect("at least one target");
        Err(self.final_error(target, unavailable, target_attempts, attempts))
    }

    /// Streams stay streams; a non-stream request runs as an upstream stream folded into one
    /// answer where the protocol has a fold (`UPSTREAM_STREAM_FOR_NON_STREAM`).
    fn mode(&self, inbound: &dyn Exchange, target: &Target) -> Mode {
        if inbound.stream() {
            return Mode::Stream;
        }
        let configured = self.settings.upstream_stream_for_non_stream && inbound.is_conversation();
        let fold = match target.provider.adapter.fold() {
            FoldPolicy::Always => inbound.is_conversation(),
            FoldPolicy::Configured => configured,
            FoldPolicy::ConfiguredUnlessPassthrough => configured && !inbound.is_passthrough(target),
        };
        if fold { Mode::Fold } else { Mode::Direct }
    }

    async fn serve_target(
        &self,
        target: &Target,
        inbound: &dyn Exchange,
        outbound: &Outbound,
        mode: Mode,
        plan: &Plan<'_>,
        attempts: &mut Vec<AttemptRecord>,
    ) -> Result<(Served, Reply), TargetEnd> {
        let Plan { deadline, context, more_targets } = *plan;
        let session = context.session.as_deref();
        let provider = &target.provider;
        let scope = self.scope_for(target);
        let mut excluded: Vec<CredentialId> = Vec::new();
        loop {
            let mut lease = match self.pool.acquire(&provider.name, &scope, session, &excluded, deadline).await {
                Ok(lease) => lease,
                Err(NoCredential::Busy) if attempts.is_empty() => {
                    return Err(TargetEnd::Fatal(EngineError::CredentialsBusy {
                        context: self.context(target, attempts),
                    }));
                }
                Err(NoCredential::Busy) => {
                    return Err(TargetEnd::Fatal(EngineError::DeadlineExceeded {
                        timeout: self.settings.global_timeout,
                        context: self.context(target, attempts),
                    }));
                }
                Err(unavailable) => return Err(TargetEnd::Exhausted { unavailable: Some(unavailable) }),
            };
            lease.priced_as = Some(target.served_id.clone());
            if !excluded.is_empty() {
                crate::telemetry::rotation(&provider.name);
            }
            let credential = lease.credential.clone();
            let mut tries = 0;
            loop {
                tries += 1;
                let started = Instant::now();
                let call = Call { target, credential: &credential, inbound, body: outbound.body.clone(), context };
                let failure = match self.attempt(call, mode, deadline).await {
                    Attempt::Served(reply) => {
                        crate::telemetry::attempt(&provider.name, "success", started.elapsed());
                        let reply = match reply {
                            PendingReply::Complete(Completed { body, usage }) => {
                                lease.record_success(usage);
                                Reply::Complete(body)
                            }
                            PendingReply::Stream(stream) => Reply::Stream(stream.with_lease(lease)),
                        };
                        let served = Served {
                            provider: provider.name.clone(),
                            model: target.served_id.clone(),
                            credential: credential.label(),
                            attempts: 0,
                        };
                        return Ok((served, reply));
                    }
                    Attempt::Deadline => {
                        crate::telemetry::attempt(&provider.name, "deadline", started.elapsed());
                        return Err(TargetEnd::Fatal(EngineError::DeadlineExceeded {
                            timeout: self.settings.global_timeout,
                            context: self.context(target, attempts),
                        }));
                    }
                    Attempt::Failed(failure) => failure,
                };
                // Everything of it that can reach a client or a log, scrubbed once here.
                let failure = self.redactor.scrub_failure(failure);
                crate::telemetry::attempt(&provider.name, failure.class.as_str(), started.elapsed());
                let message = failure.message.clone();
                tracing::warn!(
                    provider = %provider.name,
                    credential = %credential.masked,
                    class = failure.class.as_str(),
                    status = failure.status,
                    ms = started.elapsed().as_millis() as u64,
                    "upstream attempt failed: {message}"
                );
                attempts.push(AttemptRecord {
                    credential: credential.masked.clone(),
                    status: failure.status,
                    class: failure.class,
                    message: message.clone(),
                });
                provider.adapter.attempt_failed(provider, failure.class);
                // A login that needs renewing is out of rotation by its own flag: no cooldown,
                // so a new login is used at once.
                if credential.needs_reauth() {
                    break;
                }
                if failure.class.fails_fast() {
                    // Counted as a request; no cooldown, no ladder step.
                    lease.record_failure(failure.class, None, true);
                    return Err(TargetEnd::Fatal(EngineError::UpstreamRejected {
                        status: failure.status.unwrap_or(400),
                        message,
                        code: failure.code,
                        kind: failure.kind,
                        param: failure.param,
                        context: self.context(target, attempts),
                    }));
                }
                let retry = if tries < self.settings.max_attempts_per_credential && !lease.last_resort {
                    let mut others = excluded.clone();
                    others.push(credential.id.clone());
                    // A fallback target counts as somewhere else to go: rotate first, wait later.
                    let others_free = more_targets || self.pool.other_free(&provider.name, &scope, &others);
                    self.retry_delay(&failure, tries, others_free).filter(|d| Instant::now() + *d < deadline)
                } else {
                    None
                };
                lease.record_failure(failure.class, failure.retry_after, retry.is_none());
                match retry {
                    Some(delay) => {
                        crate::telemetry::retry(&provider.name);
                        sleep(delay).await;
                    }
                    None => break,
                }
            }
            excluded.push(credential.id.clone());
            drop(lease);
            // No attempt starts at or after D; the failures so far decide the status (a 504
            // is only for an attempt that had no response head at D).
            if Instant::now() >= deadline {
                return Err(TargetEnd::Exhausted { unavailable: None });
            }
        }
    }

    /// Where the target's cooldowns and usage live: its quota group, else its model.
    pub(super) fn scope_for(&self, target: &Target) -> String {
        self.pool
            .provider_settings(&target.provider.name)
            .map_or_else(|| target.upstream_model.clone(), |s| s.scope_of(&target.upstream_model))
    }

    pub(super) fn context(&self, target: &Target, attempts: &[AttemptRecord]) -> FailureContext {
        FailureContext {
            provider: target.provider.name.clone(),
            model: target.served_id.clone(),
            attempts: attempts.to_vec(),
        }
    }

    /// The status when every target failed (resilience specification §2.1), from the pool's view
    /// of the last target's credentials.
    fn final_error(
        &self,
        target: &Target,
        unavailable: Option<NoCredential>,
        target_attempts: usize,
        attempts: Vec<AttemptRecord>,
    ) -> EngineError {
        let now = Instant::now();
        let (quota_until, locked_until) = match unavailable {
            Some(NoCredential::Unavailable { quota_until, locked_until }) => (quota_until, locked_until),
            _ => self.pool.unavailable_until(&target.provider.name, &self.scope_for(target)),
        };
        let context = self.context(target, &attempts);
        if let Some(until) = quota_until {
            let credentials = target.provider.credentials.len();
            return EngineError::RateLimited {
                retry_after: until.saturating_duration_since(now),
                credentials,
                context,
            };
        }
        if target_attempts == 0 && matches!(unavailable, Some(NoCredential::Unavailable { .. })) {
            return EngineError::CredentialsUnavailable {
                retry_after: locked_until.map(|t| t.saturating_duration_since(now)),
                context,
            };
        }
        let auth_only = !attempts.is_empty() && attempts.iter().all(|a| a.class.is_auth());
        EngineError::UpstreamFailed { auth_only, context }
    }

    /// Whether to try the same credential again, and after how long.
    fn retry_delay(&self, failure: &UpstreamFailure, tries: u32, others_free: bool) -> Option<Duration> {
        let jitter = || {
            let max = self.settings.transient_retry_jitter.as_secs_f64();
            Duration::from_secs_f64(if max > 0.0 { rand::rng().random_range(0.0..max) } else { 0.0 })
        };
        match failure.class {
            ErrorClass::ServerError | ErrorClass::Connection => Some(self.settings.transient_retry_delay + jitter()),
            ErrorClass::Overloaded => Some(Duration::from_secs(1 << (tries - 1).min(5)) + jitter()),
            // Rotate first, wait later: only a lone credential waits out a short limit.
            ErrorClass::RateLimit | ErrorClass::Quota => {
                failure.retry_after.filter(|wait| !others_free && *wait <= self.settings.small_cooldown_retry_threshold)
            }
            _ => None,
        }
    }

    async fn attempt(&self, call: Call<'_>, mode: Mode, deadline: Instant) -> Attempt {
        let Call { target, credential, inbound, body, context } = call;
        let began = Instant::now();
        if crate::telemetry::detailed::active() {
            crate::telemetry::detailed::attempt_started(
                &target.provider.name,
                &target.served_id,
                &credential.label(),
                &body,
            );
        }
        if let Some(handle) = &credential.oauth {
            match timeout_at(deadline, self.prepare_oauth(handle, target)).await {
                Err(_) => return Attempt::Deadline,
                Ok(Err(failure)) => return Attempt::Failed(failure),
                Ok(Ok(())) => {}
            }
        }
        let send = |body: Bytes| {
            inbound.send(UpstreamCall {
                http: &self.http,
                provider: &target.provider,
                credential,
                upstream_model: &target.upstream_model,
                client_headers: &context.client_headers,
                body,
                stream: !matches!(mode, Mode::Direct),
            })
        };
        // Only an OAuth token can be refreshed and retried after a 401.
        let seen = credential.oauth.as_ref().map(|_| credential.secret().into_owned());
        let mut response = match timeout_at(deadline, send(body.clone()).send()).await {
            Err(_) => return Attempt::Deadline,
            Ok(Err(err)) => return Attempt::Failed(classify_transport(&err)),
            Ok(Ok(response)) => response,
        };
        // An OAuth token the upstream refuses gets one forced refresh and one retry (§6).
        if response.status() == http::StatusCode::UNAUTHORIZED
            && let Some(handle) = &credential.oauth
            && let Some(seen) = &seen
            && matches!(timeout_at(deadline, handle.force_refresh(&self.http, seen)).await, Ok(Ok(())))
        {
            response = match timeout_at(deadline, send(body).send()).await {
                Err(_) => return Attempt::Deadline,
                Ok(Err(err)) => return Attempt::Failed(classify_transport(&err)),
                Ok(Ok(response)) => response,
            };
        }
        crate::telemetry::upstream_head(&target.provider.name, began.elapsed());
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = read_error_body(response, deadline).await;
            crate::telemetry::detailed::attempt_answered(status.as_u16(), &headers, Some(&body), began.elapsed());
            return Attempt::Failed(target.provider.adapter.classify(status.as_u16(), &headers, &body));
        }
        crate::telemetry::detailed::attempt_answered(status.as_u16(), response.headers(), None, began.elapsed());
        // Upstream answers are read as what they are, not as what was asked: servers that
        // ignore `stream: true` answer one JSON body, others stream to a non-stream request.
        let result = match (mode, answers_with_events(response.headers(), !matches!(mode, Mode::Direct))) {
            (Mode::Stream, true) => {
                let events = events_of(target, response, ReadLimits::stream(&self.settings));
                self.commit_stream(target, inbound, events).await
            }
            (mode, false) => match self.read_whole(response).await {
                Ok(Whole::Object(upstream)) if matches!(mode, Mode::Stream) => {
                    inbound.complete_as_stream(target, upstream).map(|(frames, usage)| {
                        let served = target.served_id.clone();
                        PendingReply::Stream(Box::new(PendingStream::replayed(
                            frames,
                            usage,
                            served,
                            self.redactor.clone(),
                        )))
                    })
                }
                Ok(Whole::Object(upstream)) => inbound.complete(target, upstream).map(PendingReply::Complete),
                // A JSON array of stream chunks (Gemini's `streamGenerateContent` without SSE).
                Ok(Whole::Chunks(events)) => self.fold_or_stream(target, inbound, mode, events).await,
                Err(failure) => Err(failure),
            },
            (mode, true) => {
                let limits = match mode {
                    Mode::Stream => ReadLimits::stream(&self.settings),
                    _ => ReadLimits::fold(&self.settings),
                };
                self.fold_or_stream(target, inbound, mode, events_of(target, response, limits)).await
            }
        };
        match result {
            Ok(reply) => Attempt::Served(reply),
            Err(failure) => Attempt::Failed(failure),
        }
    }

    /// Upstream events for `mode`: a stream client's relay, or one answer folded from them.
    async fn fold_or_stream(
        &self,
        target: &Target,
        inbound: &dyn Exchange,
        mode: Mode,
        events: UpstreamEvents,
    ) -> Result<PendingReply, UpstreamFailure> {
        if matches!(mode, Mode::Stream) {
            return self.commit_stream(target, inbound, events).await;
        }
        match inbound.passthrough_fold(target) {
            Some(fold) => {
                let upstream = fold_passthrough(target, fold, events).await?;
                inbound.complete(target, upstream).map(PendingReply::Complete)
            }
            None => {
                let canonical = collect(target, inbound, events).await?;
                inbound.complete_canonical(target, canonical).map(PendingReply::Complete)
            }
        }
    }

    /// An OAuth credential's token made fresh (single-flight refresh) and, for Code Assist, its
    /// project discovered, before the call that needs them.
    async fn prepare_oauth(&self, handle: &Arc<OAuthHandle>, target: &Target) -> Result<(), UpstreamFailure> {
        handle.ensure_fresh(&self.http).await.map_err(|err| refresh_failure(handle, err))?;
        if target.provider.adapter.needs_project() && handle.project().is_none() {
            self.ensure_project(&target.provider, handle)
                .await
                .map_err(|message| UpstreamFailure::new(ErrorClass::ServerError, message))?;
        }
        Ok(())
    }

    /// Reads events until the first content event (or the commit timeout) so that a failure
    /// before any output can still be retried elsewhere.
    async fn commit_stream(
        &self,
        target: &Target,
        inbound: &dyn Exchange,
        mut events: UpstreamEvents,
    ) -> Result<PendingReply, UpstreamFailure> {
        let commit_by = Instant::now() + self.settings.stream_commit_timeout;
        let mut relay = inbound.relay(target);
        let mut held = Vec::new();
        let mut received = false;
        let mut finished = false;
        loop {
            let event = match timeout_at(commit_by, events.next()).await {
                Err(_) => break,
                Ok(None) => return Err(premature_end(!received)),
                Ok(Some(Err(err))) => return Err(err.failure()),
                Ok(Some(Ok(event))) => event,
            };
            received = true;
            let step = relay.event(&event)?;
            held.extend(step.frames);
            if step.done && !step.content {
                return Err(premature_end(true));
            }
            if step.content {
                finished = step.done;
                break;
            }
        }
        let stream = PendingStream::new(held, finished, events, relay, target.served_id.clone(), self.redactor.clone())
            .cut_by(self.streams_cut.subscribe());
        Ok(PendingReply::Stream(Box::new(stream)))
    }

    /// A JSON upstream body: one answer, or an array of stream chunks.
    async fn read_whole(&self, response: reqwest::Response) -> Result<Whole, UpstreamFailure> {
        let body = read_body(response, ReadLimits::body(&self.settings)).await.map_err(|err| err.failure())?;
        if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) {
            let events = items.into_iter().map(|item| SseEvent { event: None, data: item.to_string() }).collect();
            return Ok(Whole::Chunks(UpstreamEvents::from_events(events)));
        }
        parse_object(std::str::from_utf8(&body).unwrap_or_default()).map(Whole::Object)
    }
}

/// A JSON (not SSE) upstream body.
enum Whole {
    Object(Map<String, Value>),
    Chunks(UpstreamEvents),
}

/// Whether an upstream answer is an event stream: as its `Content-Type` says, else (unlabelled
/// or another type) as it was asked for.
fn answers_with_events(headers: &http::HeaderMap, asked_stream: bool) -> bool {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let content_type = content_type.to_ascii_lowercase();
    if content_type.contains("event-stream") {
        true
    } else if content_type.contains("json") {
        false
    } else {
        asked_stream
    }
}

/// One upstream call: who, with which credential, for which client request.
struct Call<'a> {
    target: &'a Target,
    credential: &'a Credential,
    inbound: &'a dyn Exchange,
    body: Bytes,
    context: &'a RequestContext,
}

/// A refresh that failed, as the attempt's failure: a refused refresh token locks the credential
/// out with the command that fixes it.
fn refresh_failure(handle: &OAuthHandle, err: RefreshError) -> UpstreamFailure {
    match err {
        RefreshError::NeedsReauth(reason) => {
            let message = format!(
                "the {} login needs to be renewed ({reason}): run `llmkp auth add {}`",
                handle.provider.name(),
                handle.provider.name()
            );
            UpstreamFailure { status: Some(401), ..UpstreamFailure::new(ErrorClass::Auth, message) }
        }
        RefreshError::RateLimited { retry_after } => UpstreamFailure {
            retry_after,
            ..UpstreamFailure::new(ErrorClass::RateLimit, "the token endpoint is rate limiting refreshes")
        },
        RefreshError::Transient(message) => {
            UpstreamFailure::new(ErrorClass::Connection, format!("token refresh failed: {message}"))
        }
    }
}

/// An upstream stream of any protocol folded into one canonical answer.
async fn collect(
    target: &Target,
    inbound: &dyn Exchange,
    mut events: UpstreamEvents,
) -> Result<crate::formats::ir::Response, UpstreamFailure> {
    let mut decoder = inbound.decoder(target);
    let mut collector = Collector::new(target.provider.adapter.signatures_sign_reasoning());
    loop {
        match events.next().await {
            Some(Ok(event)) => {
                let decoded = decoder.event(&event)?;
                decoded.events.into_iter().for_each(|e| collector.push(e));
                if decoded.terminal {
                    break;
                }
            }
            Some(Err(err)) => return Err(err.failure()),
            None => {
                decoder.end()?.into_iter().for_each(|e| collector.push(e));
                break;
            }
        }
    }
    Ok(collector.finish(String::new(), target.served_id.clone()))
}

/// A same-protocol upstream stream folded into the client's complete body, as the upstream
/// wrote it.
async fn fold_passthrough(
    target: &Target,
    mut fold: Box<dyn PassthroughFold>,
    mut events: UpstreamEvents,
) -> Result<Map<String, Value>, UpstreamFailure> {
    let mut terminal = false;
    while let Some(event) = events.next().await {
        let event = event.map_err(|err| err.failure())?;
        if fold.push(&event)? {
            terminal = true;
            break;
        }
    }
    fold.finish(&target.served_id, terminal)
}

/// The upstream's events, through the provider's rewriting when it has one.
fn events_of(target: &Target, response: reqwest::Response, limits: ReadLimits) -> UpstreamEvents {
    UpstreamEvents::new(response, limits).filtered(target.provider.profile.event_filter())
}

/// The error body, read until it ends, grows too large, or time is up: whichever of the
/// request deadline and [`ERROR_BODY_TIMEOUT`] comes first (the status alone still classifies).
async fn read_error_body(mut response: reqwest::Response, deadline: Instant) -> Vec<u8> {
    let mut body = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_ERROR_BODY {
                break;
            }
        }
    };
    let _ = timeout_at(deadline.min(Instant::now() + ERROR_BODY_TIMEOUT), read).await;
    body
}
