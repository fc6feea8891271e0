//! OAuth credentials (credentials specification §4–§13): the four OAuth providers and their
//! endpoints (`providers.rs`), the credential files and environment variables shared with the
//! Python LLM-API-Key-Proxy (`store.rs`, `export.rs`), the login flows and token refresh
//! (`flows.rs`, `refresh.rs`).

pub mod export;
pub mod flows;
pub mod providers;
pub mod refresh;
pub mod runtime;
pub mod shared_refresh;

pub mod store;

use std::path::PathBuf;

use secrecy::SecretString;
use serde_json::{Map, Value};

pub use providers::{OAuthEndpoints, OAuthProvider};

/// A token set as the provider issued it. Secrets are `secrecy` types; `expiry_ms` is unix
/// milliseconds (`None`: unknown, treated as due).
#[derive(Clone, Default)]
pub struct TokenSet {
    pub access_token: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    pub expiry_ms: Option<i64>,
    /// iFlow: the API key requests are made with (from user info or the cookie flow).
    pub api_key: Option<SecretString>,
    pub id_token: Option<SecretString>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
    /// Qwen Code: the API host the account is served from.
    pub resource_url: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token.as_ref().map(|_| "…"))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("expiry_ms", &self.expiry_ms)
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// `_proxy_metadata` of a credential file (§4.2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyMetadata {
    /// Account identity (duplicate detection, stable id); `None` when missing or `null`.
    pub email: Option<String>,
    pub last_check_timestamp: Option<f64>,
    pub project_id: Option<String>,
    pub tier: Option<String>,
    pub tier_full: Option<String>,
    pub display_name: Option<String>,
    /// iFlow: `"oauth"` or `"cookie"`.
    pub credential_type: Option<String>,
}

/// Where a credential lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `oauth_creds/<provider>_oauth_<number>.json`.
    File { path: PathBuf, number: u32 },
    /// `<PREFIX>_<index>_*` variables (index 0: the unnumbered form), `env://<provider>/<index>`.
    Env { index: u32 },
}

/// One OAuth (or iFlow cookie) credential as stored: the decoded tokens and metadata, plus the
/// whole JSON object it came from so fields llmkp does not know survive a rewrite (§4.2).
#[derive(Clone)]
pub struct StoredCredential {
    pub provider: OAuthProvider,
    pub source: CredentialSource,
    pub tokens: TokenSet,
    pub metadata: ProxyMetadata,
    /// iFlow cookie credentials: the `BXAuth` cookie and the API key's `expire_time`.
    pub cookie: Option<SecretString>,
    pub cookie_expire_time: Option<String>,
    /// Google family: the OAuth client that issued the tokens (file fields, else defaults).
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub token_uri: Option<String>,
    /// The JSON object as read (files), for lossless rewrites.
    pub raw: Map<String, Value>,
}

/// Never prints a secret: tokens through [`TokenSet`]'s own `Debug`, the raw object not at all
/// (unknown fields may hold secrets too).
impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("provider", &self.provider)
            .field("source", &self.source)
            .field("tokens", &self.tokens)
            .field("metadata", &self.metadata)
            .field("cookie", &self.cookie.as_ref().map(|_| "…"))
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl StoredCredential {
    /// An iFlow cookie credential (§4.5).
    pub fn is_cookie(&self) -> bool {
        match self.metadata.credential_type.as_deref() {
            Some(kind) => kind == "cookie",
            None => self.cookie.is_some() && self.tokens.refresh_token.is_none(),
        }
    }

    /// `…` + the last 4 characters of the refresh token (or API key): safe to show.
    pub fn masked(&self) -> String {
        use secrecy::ExposeSecret;
        let secret = self.tokens.refresh_token.as_ref().or(self.tokens.api_key.as_ref()).or(self.cookie.as_ref());
        secret.map_or_else(|| "…".to_string(), |s| super::credential::mask(s.expose_secret()))
    }

    /// The identity shown and used for duplicate detection.
    pub fn display_id(&self) -> String {
        match &self.source {
            CredentialSource::File { path, .. } => {
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
            }
            CredentialSource::Env { index } => format!("env://{}/{index}", self.provider.name()),
        }
    }
}
