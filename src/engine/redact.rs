//! Replaces every configured secret found in a text with `[redacted]` before the text leaves
//! the process (error bodies, logs).

use std::sync::Arc;

use crate::auth::oauth::runtime::OAuthHandle;

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_longest_first() {
        let r = Redactor::new(["sk-abc".to_string(), "sk-abcdef".to_string()]);
        assert_eq!(r.scrub("key sk-abcdef and sk-abc"), "key [redacted] and [redacted]");
    }
}
