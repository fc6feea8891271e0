//! Replaces every configured secret found in a text with `[redacted]` before the text leaves
//! the process (error bodies, logs).

use std::sync::Arc;

use serde_json::Value;

use crate::auth::oauth::runtime::OAuthHandle;
use crate::formats::failure::UpstreamFailure;

#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
    /// OAuth logins, whose tokens change while serving: read at each scrub.
    logins: Vec<Arc<OAuthHandle>>,
}

/// Shorter values would match ordinary words; no real key is this short.
const MIN_SECRET_LEN: usize = 4;

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= MIN_SECRET_LEN).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets, logins: Vec::new() }
    }

    /// Also scrub the live secrets of these OAuth logins.
    pub fn with_logins(mut self, logins: Vec<Arc<OAuthHandle>>) -> Self {
        self.logins = logins;
        self
    }

    pub fn scrub(&self, text: &str) -> String {
        self.scrub_text(text)
    }

    fn scrub_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        let mut live: Vec<String> = self.logins.iter().flat_map(|l| l.secrets()).collect();
        live.retain(|s| s.len() >= MIN_SECRET_LEN);
        live.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in live.iter().chain(&self.secrets) {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        out
    }

    /// Every string of a JSON value scrubbed (keys included: upstreams echo values anywhere).
    pub fn scrub_value(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.scrub(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.scrub_value(v)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (self.scrub(k), self.scrub_value(v))).collect())
            }
            other => other.clone(),
        }
    }

    /// A failure with every field that can reach a client or a log scrubbed: the message, and
    /// the upstream's `code`, `type` and `param`.
    pub fn scrub_failure(&self, failure: UpstreamFailure) -> UpstreamFailure {
        UpstreamFailure {
            message: self.scrub(&failure.message),
            code: failure.code.map(|c| self.scrub(&c)),
            kind: failure.kind.map(|k| self.scrub(&k)),
            param: self.scrub_value(&failure.param),
            ..failure
        }
    }
}

/// Detailed request logs are scrubbed with the engine's secrets.
impl crate::telemetry::detailed::Scrub for Redactor {
    fn scrub(&self, text: &str) -> String {
        self.scrub_text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_longest_first() {
        let r = Redactor::new(["sk-abc".to_string(), "sk-abcdef".to_string()]);
        assert_eq!(r.scrub("key sk-abcdef and sk-abc"), "key [redacted] and [redacted]");
    }

    #[test]
    fn every_field_of_a_failure_is_scrubbed() {
        let r = Redactor::new(["sk-secret".to_string()]);
        let failure = UpstreamFailure {
            code: Some("sk-secret".into()),
            kind: Some("bad sk-secret".into()),
            param: serde_json::json!({"sk-secret": ["x sk-secret", 1]}),
            ..UpstreamFailure::new(crate::formats::failure::ErrorClass::ClientError, "key sk-secret")
        };
        let scrubbed = r.scrub_failure(failure);
        let shown = format!("{} {:?} {:?} {}", scrubbed.message, scrubbed.code, scrubbed.kind, scrubbed.param);
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert_eq!(scrubbed.param, serde_json::json!({"[redacted]": ["x [redacted]", 1]}));
    }
}
