//! How a request can end without an answer, in terms the ingress maps to a status and a body.

use std::time::Duration;

use serde_json::Value;

use crate::formats::failure::ErrorClass;

/// One upstream attempt that did not serve, as shown to clients (masked credential only).
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub credential: String,
    pub status: Option<u16>,
    pub class: ErrorClass,
    /// The upstream's message, secrets already redacted.
    pub message: String,
}

/// Summarises attempts by class: `2 rate_limit, 1 server_error`.
pub fn summarize(attempts: &[AttemptRecord]) -> String {
    let mut counts: Vec<(ErrorClass, usize)> = Vec::new();
    for a in attempts {
        match counts.iter_mut().find(|(c, _)| *c == a.class) {
            Some((_, n)) => *n += 1,
            None => counts.push((a.class, 1)),
        }
    }
    counts.iter().map(|(c, n)| format!("{n} {}", c.as_str())).collect::<Vec<_>>().join(", ")
}

/// Which provider/model a failure is about.
#[derive(Debug, Clone)]
pub struct FailureContext {
    pub provider: String,
    /// `provider/model` as requested.
    pub model: String,
    pub attempts: Vec<AttemptRecord>,
}

impl FailureContext {
    /// What the last failed attempt said: usually the most useful hint for the user.
    pub fn last_message(&self) -> &str {
        self.attempts.last().map_or("none", |a| a.message.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request itself is malformed (400).
    #[error("{message}")]
    InvalidRequest { message: String, param: Option<String> },
    /// The model id cannot be resolved to a configured provider (404).
    #[error("{message}")]
    ModelNotFound { message: String },
    /// The upstream refused the request as the client's mistake; its status is kept.
    #[error("{message}")]
    UpstreamRejected {
        status: u16,
        message: String,
        code: Option<String>,
        kind: Option<String>,
        param: Value,
        context: FailureContext,
    },
    /// Every credential tried was rate-limited or out of quota (429).
    #[error("all {credentials} credential(s) for provider '{}' are rate-limited or failing ({}); retry in {} s", .context.provider, summarize(&.context.attempts), retry_secs(.retry_after))]
    RateLimited { retry_after: Duration, credentials: usize, context: FailureContext },
    /// Credentials exist but every one stayed at its concurrency limit until the deadline (429).
    #[error("all credentials for provider '{}' are busy (concurrency limit) for model '{}'", .context.provider, .context.model)]
    CredentialsBusy { context: FailureContext },
    /// Every credential is locked out; no attempt was possible (503).
    #[error("all credentials for provider '{}' are locked out after authentication or billing failures{}", .context.provider, .retry_after.map(|d| format!("; retry in {} s", retry_secs(&d))).unwrap_or_default())]
    CredentialsUnavailable { retry_after: Option<Duration>, context: FailureContext },
    /// Every credential failed for upstream reasons (502).
    #[error("upstream failed for model '{}' after {} attempt(s) ({}); last error: {}", .context.model, .context.attempts.len(), summarize(&.context.attempts), .context.last_message())]
    UpstreamFailed { auth_only: bool, context: FailureContext },
    /// The request deadline passed before an upstream answered (504).
    #[error("no upstream answer for model '{}' within the {} s deadline", .context.model, .timeout.as_secs_f64())]
    DeadlineExceeded { timeout: Duration, context: FailureContext },
}

impl From<crate::formats::InvalidRequest> for EngineError {
    fn from(err: crate::formats::InvalidRequest) -> Self {
        Self::InvalidRequest { message: err.message, param: err.param }
    }
}

/// Retry-After seconds: whole seconds, rounded up, at least 1.
pub fn retry_secs(d: &Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

impl EngineError {
    pub fn attempts(&self) -> usize {
        match self {
            Self::UpstreamRejected { context, .. }
            | Self::RateLimited { context, .. }
            | Self::CredentialsBusy { context }
            | Self::CredentialsUnavailable { context, .. }
            | Self::UpstreamFailed { context, .. }
            | Self::DeadlineExceeded { context, .. } => context.attempts.len(),
            Self::InvalidRequest { .. } | Self::ModelNotFound { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_summarised_by_class_in_first_seen_order() {
        let a = |class| AttemptRecord { credential: "…abcd".into(), status: None, class, message: String::new() };
        let s = summarize(&[a(ErrorClass::RateLimit), a(ErrorClass::ServerError), a(ErrorClass::RateLimit)]);
        assert_eq!(s, "2 rate_limit, 1 server_error");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_secs(&Duration::from_millis(1200)), 2);
        assert_eq!(retry_secs(&Duration::ZERO), 1);
    }
}
