//! The attempt loop for Chat Completions: pick a credential, call the upstream, classify what
//! came back, then serve, retry the same credential, rotate, or fail — the only retry loop in
//! the program.

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use serde_json::{Map, Value};
use tokio::time::{Instant, sleep, timeout, timeout_at};

use super::Engine;
use super::chat_stream::ChatStream;
use super::classify::{ErrorClass, UpstreamFailure, classify_http, classify_stream_error, classify_transport};
use super::error::{AttemptRecord, EngineError, FailureContext};
use super::resolve::{Target, resolve};
use super::upstream_events::UpstreamEvents;
use crate::auth::{Credential, CredentialId};
use crate::formats::openai::chunk::stream_error;
use crate::formats::openai::{ChatAggregator, ChatRequest, ChunkFacts};
use crate::providers::openai;

/// Who served a request.
#[derive(Debug, Clone)]
pub struct Served {
    pub provider: String,
    /// `provider/model` that served.
    pub model: String,
    /// Masked credential id.
    pub credential: String,
    /// Upstream attempts made, the serving one included.
    pub attempts: usize,
}

pub enum ChatReply {
    /// A complete `chat.completion` body, `model` already set to the served id.
    Complete { body: Bytes, usage: Option<Value> },
    /// A committed stream of SSE frames for the client.
    Stream(ChatStream),
}

pub struct ChatResponse {
    pub served: Served,
    pub reply: ChatReply,
}

/// How one attempt talks to the upstream.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Client stream: hold events until the commit point, then hand the stream over.
    Stream { include_usage: bool },
    /// Non-stream client, upstream stream: fold the chunks into one completion.
    Aggregate,
    /// Non-stream client and upstream.
    Direct,
}

enum Attempt {
    Served(ChatReply),
    Failed(UpstreamFailure),
    /// The deadline passed before the upstream's response head.
    Deadline,
}

/// Bodies of error responses are read only this far: enough for any real error message.
const MAX_ERROR_BODY: usize = 1 << 20;
/// An error body that trickles in is not worth waiting for beyond this.
const ERROR_BODY_TIMEOUT: Duration = Duration::from_secs(10);

impl Engine {
    /// Serves one Chat Completions request. `arrival` is when the request reached the proxy: the
    /// deadline counts from it, so a slow upload is not free.
    pub async fn chat(&self, mut request: ChatRequest, arrival: Instant) -> Result<ChatResponse, EngineError> {
        let deadline = arrival + self.settings.global_timeout;
        let target = resolve(&self.registry, &request.model)?;
        let mode = match (request.stream, self.settings.upstream_stream_for_non_stream) {
            (true, _) => Mode::Stream { include_usage: request.include_usage },
            (false, true) => Mode::Aggregate,
            (false, false) => Mode::Direct,
        };
        let body = request.upstream_body(&target.upstream_model, !matches!(mode, Mode::Direct));
        let provider = &target.provider;
        let mut excluded: Vec<CredentialId> = Vec::new();
        let mut attempts: Vec<AttemptRecord> = Vec::new();
        let mut rate_limit_waits: Vec<Duration> = Vec::new();
        let context = |attempts: Vec<AttemptRecord>| FailureContext {
            provider: provider.name.clone(),
            model: target.served_id.clone(),
            attempts,
        };

        while let Some(credential) = self.pool.next(provider, &excluded) {
            let mut tries = 0;
            loop {
                tries += 1;
                let failure = match self.attempt(&target, &credential, body.clone(), mode, deadline).await {
                    Attempt::Served(reply) => {
                        let served = Served {
                            provider: provider.name.clone(),
                            model: target.served_id.clone(),
                            credential: credential.masked.clone(),
                            attempts: attempts.len() + 1,
                        };
                        return Ok(ChatResponse { served, reply });
                    }
                    Attempt::Deadline => {
                        return Err(EngineError::DeadlineExceeded {
                            timeout: self.settings.global_timeout,
                            context: context(attempts),
                        });
                    }
                    Attempt::Failed(failure) => failure,
                };
                let message = self.redactor.scrub(&failure.message);
                tracing::warn!(
                    provider = %provider.name,
                    credential = %credential.masked,
                    class = failure.class.as_str(),
                    status = failure.status,
                    "upstream attempt failed: {message}"
                );
                attempts.push(AttemptRecord {
                    credential: credential.masked.clone(),
                    status: failure.status,
                    class: failure.class,
                    message: message.clone(),
                });
                if failure.class.fails_fast() {
                    return Err(EngineError::UpstreamRejected {
                        status: failure.status.unwrap_or(400),
                        message,
                        code: failure.code,
                        kind: failure.kind,
                        param: failure.param,
                        context: context(attempts),
                    });
                }
                if failure.class.is_rate_limit() {
                    rate_limit_waits.push(failure.retry_after.unwrap_or(DEFAULT_RATE_LIMIT_WAIT));
                }
                if tries >= self.settings.max_attempts_per_credential {
                    break;
                }
                let others_left = {
                    let mut without = excluded.clone();
                    without.push(credential.id.clone());
                    self.pool.next(provider, &without).is_some()
                };
                let Some(delay) = self.retry_delay(&failure, tries, others_left) else { break };
                if Instant::now() + delay >= deadline {
                    break;
                }
                sleep(delay).await;
            }
            excluded.push(credential.id.clone());
            // No attempt starts at or after D; the failures so far decide the status (a 504
            // is only for an attempt that had no response head at D).
            if Instant::now() >= deadline {
                break;
            }
        }

        if let Some(wait) = rate_limit_waits.iter().min() {
            return Err(EngineError::RateLimited {
                retry_after: *wait,
                credentials: excluded.len(),
                context: context(attempts),
            });
        }
        let auth_only = !attempts.is_empty() && attempts.iter().all(|a| a.class.is_auth());
        Err(EngineError::UpstreamFailed { auth_only, context: context(attempts) })
    }

    /// Whether to try the same credential again, and after how long.
    fn retry_delay(&self, failure: &UpstreamFailure, tries: u32, others_left: bool) -> Option<Duration> {
        let jitter = || {
            let max = self.settings.transient_retry_jitter.as_secs_f64();
            Duration::from_secs_f64(if max > 0.0 { rand::rng().random_range(0.0..max) } else { 0.0 })
        };
        match failure.class {
            ErrorClass::ServerError | ErrorClass::Connection => Some(self.settings.transient_retry_delay + jitter()),
            ErrorClass::Overloaded => Some(Duration::from_secs(1 << (tries - 1).min(5)) + jitter()),
            // Rotate first, wait later: only a lone credential waits out a short limit.
            ErrorClass::RateLimit | ErrorClass::Quota => {
                failure.retry_after.filter(|wait| !others_left && *wait <= self.settings.small_cooldown_retry_threshold)
            }
            _ => None,
        }
    }

    async fn attempt(
        &self,
        target: &Target,
        credential: &Credential,
        body: Bytes,
        mode: Mode,
        deadline: Instant,
    ) -> Attempt {
        let send = openai::chat_completions(&self.http, &target.provider, credential, body).send();
        let response = match timeout_at(deadline, send).await {
            Err(_) => return Attempt::Deadline,
            Ok(Err(err)) => return Attempt::Failed(classify_transport(&err)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = read_error_body(response, deadline).await;
            return Attempt::Failed(classify_http(status.as_u16(), &headers, &body));
        }
        let result = match mode {
            Mode::Stream { include_usage } => self.commit_stream(target, response, include_usage).await,
            Mode::Aggregate => aggregate(target, response).await,
            Mode::Direct => self.direct(target, response).await,
        };
        match result {
            Ok(reply) => Attempt::Served(reply),
            Err(failure) => Attempt::Failed(failure),
        }
    }

    /// Reads events until the first content event (or the commit timeout) so that a failure
    /// before any output can still be retried elsewhere.
    async fn commit_stream(
        &self,
        target: &Target,
        response: reqwest::Response,
        include_usage: bool,
    ) -> Result<ChatReply, UpstreamFailure> {
        let commit_by = Instant::now() + self.settings.stream_commit_timeout;
        let mut events = UpstreamEvents::new(response);
        let mut held: Vec<Map<String, Value>> = Vec::new();
        loop {
            let event = match timeout_at(commit_by, events.next()).await {
                Err(_) => break,
                Ok(None) => return Err(premature_end(held.is_empty())),
                Ok(Some(Err(err))) => return Err(classify_transport(&err)),
                Ok(Some(Ok(event))) => event,
            };
            if event.data.trim() == "[DONE]" {
                return Err(UpstreamFailure::new(ErrorClass::ServerError, "upstream stream ended without any content"));
            }
            let chunk = parse_chunk(&event.data)?;
            if let Some(error) = stream_error(&chunk) {
                return Err(classify_stream_error(error));
            }
            let facts = ChunkFacts::of(&chunk);
            held.push(chunk);
            if facts.has_content {
                break;
            }
        }
        Ok(ChatReply::Stream(ChatStream::new(
            held,
            events,
            target.served_id.clone(),
            include_usage,
            self.redactor.clone(),
        )))
    }

    async fn direct(&self, target: &Target, response: reqwest::Response) -> Result<ChatReply, UpstreamFailure> {
        let body = match timeout(self.settings.read_timeout_non_streaming, response.bytes()).await {
            Err(_) => return Err(UpstreamFailure::new(ErrorClass::Connection, "upstream body read timed out")),
            Ok(Err(err)) => return Err(classify_transport(&err)),
            Ok(Ok(body)) => body,
        };
        let mut completion = parse_chunk(std::str::from_utf8(&body).unwrap_or_default())?;
        if let Some(error) = stream_error(&completion) {
            return Err(classify_stream_error(error));
        }
        let usage = completion.get("usage").filter(|u| u.is_object()).cloned();
        completion.insert("model".into(), Value::String(target.served_id.clone()));
        Ok(ChatReply::Complete { body: to_bytes(&completion), usage })
    }
}

/// What is assumed when a 429 names no wait: the first step of the backoff ladder.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);

async fn aggregate(target: &Target, response: reqwest::Response) -> Result<ChatReply, UpstreamFailure> {
    let mut events = UpstreamEvents::new(response);
    let mut aggregator = ChatAggregator::default();
    let mut done = false;
    while let Some(event) = events.next().await {
        let event = event.map_err(|err| classify_transport(&err))?;
        if event.data.trim() == "[DONE]" {
            done = true;
            break;
        }
        let chunk = parse_chunk(&event.data)?;
        if let Some(error) = stream_error(&chunk) {
            return Err(classify_stream_error(error));
        }
        aggregator.push(&chunk);
    }
    if !aggregator.has_output() {
        return Err(UpstreamFailure::new(ErrorClass::ServerError, "upstream answered with no content"));
    }
    if !done && !aggregator.finished() {
        return Err(premature_end(false));
    }
    aggregator.close();
    let usage = aggregator.usage().cloned();
    let Value::Object(completion) = aggregator.into_completion(&target.served_id) else {
        unreachable!("a completion is an object")
    };
    Ok(ChatReply::Complete { body: to_bytes(&completion), usage })
}

fn premature_end(nothing_received: bool) -> UpstreamFailure {
    let message = if nothing_received {
        "upstream stream ended without any content"
    } else {
        "upstream stream ended prematurely"
    };
    UpstreamFailure::new(ErrorClass::ServerError, message)
}

pub(crate) fn parse_chunk(data: &str) -> Result<Map<String, Value>, UpstreamFailure> {
    match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(UpstreamFailure::new(ErrorClass::ServerError, "upstream sent data that is not a JSON object")),
    }
}

pub(crate) fn to_bytes(map: &Map<String, Value>) -> Bytes {
    Bytes::from(serde_json::to_vec(map).expect("a JSON map always serialises"))
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
