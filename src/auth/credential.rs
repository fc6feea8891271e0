//! A credential of an upstream provider, and the ids under which it is shown and stored.
//!
//! The secret is a `secrecy` type: it has no `Debug`/`Display` that could leak into a log, an
//! error body or a state file; code that needs the value calls `expose_secret()` explicitly.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::oauth::runtime::OAuthHandle;
use sha2::{Digest, Sha256};

/// Stable id of a credential: for an API key the first 12 hex characters of SHA-256(key), the
/// same id the Python LLM-API-Key-Proxy uses, so its usage records map one to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(String);

impl CredentialId {
    pub fn for_api_key(key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        Self(hex)
    }

    /// The id of an OAuth login: its provider and account (e-mail, else where it is stored).
    pub fn for_login(provider: &str, identity: &str) -> Self {
        Self::for_api_key(&format!("oauth:{provider}:{}", identity.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One credential of one provider: an API key, or an OAuth login whose token changes.
pub struct Credential {
    pub id: CredentialId,
    pub provider: String,
    /// Where it came from (`OPENAI_API_KEY_2`, `gemini_cli_oauth_1.json`, `env://qwen_code/1`),
    /// used by priorities and messages.
    pub source: String,
    /// `…` + the last 4 characters: safe to show anywhere.
    pub masked: String,
    secret: SecretString,
    /// The live OAuth state; `None` for API keys.
    pub oauth: Option<Arc<OAuthHandle>>,
}

impl Credential {
    pub fn api_key(provider: &str, source: &str, key: &str) -> Self {
        Self {
            id: CredentialId::for_api_key(key),
            provider: provider.to_string(),
            source: source.to_string(),
            masked: mask(key),
            secret: SecretString::from(key.to_string()),
            oauth: None,
        }
    }

    /// An OAuth credential: its id is derived from the provider and the account (or the file /
    /// variable it came from when the account is unknown).
    pub fn oauth(provider: &str, source: &str, identity: &str, masked: String, handle: Arc<OAuthHandle>) -> Self {
        Self {
            id: CredentialId::for_login(provider, identity),
            provider: provider.to_string(),
            source: source.to_string(),
            masked,
            secret: SecretString::from(String::new()),
            oauth: Some(handle),
        }
    }

    /// What goes on the wire now: the API key (borrowed, no copy per request), or the OAuth token
    /// currently held.
    pub fn secret(&self) -> Cow<'_, str> {
        match &self.oauth {
            Some(handle) => Cow::Owned(handle.bearer().unwrap_or_default()),
            None => Cow::Borrowed(self.secret.expose_secret()),
        }
    }

    /// How the credential is named to clients and operators (`x-llmkp-credential`, the
    /// `source` column of `keys list`): where it came from, never the secret, as visible ASCII.
    pub fn label(&self) -> String {
        self.source.chars().map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect()
    }

    /// An OAuth credential whose refresh token the provider refused: out of rotation until the
    /// user logs in again.
    pub fn needs_reauth(&self) -> bool {
        self.oauth.as_ref().is_some_and(|h| h.needs_reauth())
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("source", &self.source)
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

/// `…` + the last 4 characters; short keys show nothing of themselves.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "…".to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_id_is_first_twelve_hex_of_sha256() {
        // sha256("abc") = ba7816bf8f01cfea…
        assert_eq!(CredentialId::for_api_key("abc").as_str(), "ba7816bf8f01");
    }

    #[test]
    fn debug_and_mask_never_show_the_secret() {
        let c = Credential::api_key("openai", "OPENAI_API_KEY", "sk-test-1234567890abcd");
        let shown = format!("{c:?} {}", c.masked);
        assert!(!shown.contains("sk-test-1234567890abcd"));
        assert!(!shown.contains("1234567890"));
        assert_eq!(c.masked, "…abcd");
        assert_eq!(c.label(), "OPENAI_API_KEY");
        let odd = Credential::api_key("openai", "oauth_creds/ключ 1.json", "sk-test-1234567890abcd");
        assert!(odd.label().bytes().all(|b| b.is_ascii_graphic()), "{}", odd.label());
        assert_eq!(mask("short"), "…");
    }
}
