//! A live OAuth credential inside the server (credentials specification §6): the token the next
//! request uses, refreshed before it is due, single-flight (concurrent requests wait for the one
//! refresh in progress), written back to its file before the new token is used, and marked
//! `needs_reauth` when the provider refuses the refresh token. With a shared state store the
//! single flight spans every instance ([`super::shared_refresh`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use secrecy::{ExposeSecret, SecretString};

use super::refresh::{self, RefreshError};
use super::shared_refresh::{self, SharedLogin, Turn};
use super::{CredentialSource, OAuthEndpoints, OAuthProvider, StoredCredential, store};

/// What requests read without waiting: the token to send and the account's project.
#[derive(Default)]
struct Current {
    token: Option<SecretString>,
    /// Every secret of the login (tokens, API key, cookie), for redaction of upstream messages.
    secrets: Vec<SecretString>,
    project: Option<String>,
    resource_url: Option<String>,
}

pub struct OAuthHandle {
    pub provider: OAuthProvider,
    endpoints: OAuthEndpoints,
    /// The credential as stored; held across a refresh, which makes refreshes single-flight.
    stored: tokio::sync::Mutex<StoredCredential>,
    current: RwLock<Current>,
    needs_reauth: AtomicBool,
    /// Where rotated tokens of environment credentials are kept (§5).
    home: Option<PathBuf>,
    /// The reason of the last refusal, for `keys list` / `auth list`.
    reauth_reason: Mutex<Option<String>>,
    /// When the last refresh failed (unix ms), so waiters do not repeat it at once.
    failed_at_ms: AtomicI64,
    /// The last write of the credential file failed; the background pass tries again.
    unsaved: AtomicBool,
    /// The error of the last failed refresh, handed to callers that waited for it.
    last_error: Mutex<Option<RefreshError>>,
    /// The credential file, and its modification time when the login was found dead: a
    /// rewritten file (a new `auth add`) makes the credential worth trying again.
    file: Option<PathBuf>,
    dead_file_mtime: Mutex<Option<std::time::SystemTime>>,
    /// Other instances refreshing the same login (a shared state store), set once at start.
    shared: OnceLock<SharedLogin>,
}

/// Why a refresh is considered.
enum Need {
    /// The token is due (§6 buffers).
    Due,
    /// The upstream refused this token (401).
    Replace(String),
}

/// A failed refresh is tried again by requests after this long (the token still works meanwhile).
const RETRY_FAILED_REFRESH_MS: i64 = 30_000;

impl std::fmt::Debug for OAuthHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthHandle")
            .field("provider", &self.provider)
            .field("needs_reauth", &self.needs_reauth())
            .finish_non_exhaustive()
    }
}

impl OAuthHandle {
    pub fn new(credential: StoredCredential, endpoints: OAuthEndpoints, home: Option<PathBuf>) -> Self {
        let current = current_of(&credential);
        let flagged = flagged_needs_reauth(&credential);
        let file = match &credential.source {
            CredentialSource::File { path, .. } => Some(path.clone()),
            CredentialSource::Env { .. } => None,
        };
        let dead_file_mtime = Mutex::new(if flagged { file.as_deref().and_then(mtime) } else { None });
        Self {
            provider: credential.provider,
            endpoints,
            stored: tokio::sync::Mutex::new(credential),
            current: RwLock::new(current),
            needs_reauth: AtomicBool::new(flagged),
            home,
            reauth_reason: Mutex::new(None),
            failed_at_ms: AtomicI64::new(0),
            unsaved: AtomicBool::new(false),
            last_error: Mutex::new(None),
            file,
            dead_file_mtime,
            shared: OnceLock::new(),
        }
    }

    /// Refreshes of this login are single-flight across every instance sharing `logins`; `id`
    /// is the credential's stable id. Only the first call counts.
    pub fn share_through(&self, logins: Arc<dyn crate::store::shared::SharedLogins>, id: &str) {
        let _ = self.shared.set(SharedLogin { logins, id: id.to_string() });
    }

    /// The token requests carry now (the access token; iFlow: its API key).
    pub fn bearer(&self) -> Option<String> {
        let current = self.current.read().expect("token lock");
        current.token.as_ref().map(|t| t.expose_secret().to_string())
    }

    /// Every secret the login holds now, to be scrubbed from anything shown.
    pub fn secrets(&self) -> Vec<String> {
        let current = self.current.read().expect("token lock");
        current.secrets.iter().map(|s| s.expose_secret().to_string()).collect()
    }

    /// The Code Assist project of this account, once known.
    pub fn project(&self) -> Option<String> {
        self.current.read().expect("token lock").project.clone()
    }

    /// Qwen Code: the API host of this account.
    pub fn resource_url(&self) -> Option<String> {
        self.current.read().expect("token lock").resource_url.clone()
    }

    /// Out of rotation until the user logs in again: true after a refused refresh token, until
    /// the credential file changes (the next refresh then re-reads it).
    pub fn needs_reauth(&self) -> bool {
        if !self.needs_reauth.load(Ordering::Relaxed) {
            return false;
        }
        let Some(file) = &self.file else { return true };
        let dead = *self.dead_file_mtime.lock().expect("mtime lock");
        dead.is_none() || mtime(file) == dead
    }

    /// Puts the login back into rotation (an operator's reset); a refused refresh marks it again.
    pub fn clear_needs_reauth(&self) {
        self.needs_reauth.store(false, Ordering::Relaxed);
        *self.dead_file_mtime.lock().expect("mtime lock") = None;
    }

    pub fn reauth_reason(&self) -> Option<String> {
        self.reauth_reason.lock().expect("reason lock").clone()
    }

    /// Refreshes the token when it is due (§6); a no-op otherwise. Concurrent callers wait for
    /// the one refresh in progress and then find the token fresh. The refresh runs in its own
    /// task: a caller that gives up (deadline, client gone) never cuts a rotation in half.
    pub async fn ensure_fresh(self: &Arc<Self>, http: &reqwest::Client) -> Result<(), RefreshError> {
        self.spawn_refresh(http, Need::Due).await
    }

    /// After an upstream 401: one refresh, unless another request already replaced the token
    /// `seen` was sent with.
    pub async fn force_refresh(self: &Arc<Self>, http: &reqwest::Client, seen: &str) -> Result<(), RefreshError> {
        self.spawn_refresh(http, Need::Replace(seen.to_string())).await
    }

    async fn spawn_refresh(self: &Arc<Self>, http: &reqwest::Client, need: Need) -> Result<(), RefreshError> {
        let (this, http) = (Arc::clone(self), http.clone());
        tokio::spawn(async move { this.refresh_if(&http, need).await })
            .await
            .unwrap_or_else(|err| Err(RefreshError::Transient(format!("refresh task failed: {err}"))))
    }

    /// Records the project discovered for this account and writes it to the file.
    pub async fn set_project(&self, project: &str, tier: Option<&str>) {
        let mut stored = self.stored.lock().await;
        stored.metadata.project_id = Some(project.to_string());
        if let Some(tier) = tier {
            stored.metadata.tier = Some(tier.to_string());
        }
        self.current.write().expect("token lock").project = Some(project.to_string());
        self.save(&stored);
    }

    /// A copy of the stored credential (for export, listing).
    pub async fn snapshot(&self) -> StoredCredential {
        self.stored.lock().await.clone()
    }

    async fn refresh_if(&self, http: &reqwest::Client, need: Need) -> Result<(), RefreshError> {
        let waiting_since = now_ms();
        let mut stored = self.stored.lock().await;
        // A refresh that failed while this caller waited is not repeated for it.
        if self.failed_at_ms.load(Ordering::Relaxed) >= waiting_since
            && let Some(error) = self.last_error.lock().expect("error lock").clone()
        {
            return if still_valid(&stored) && matches!(need, Need::Due) { Ok(()) } else { Err(error) };
        }
        if self.needs_reauth.load(Ordering::Relaxed) {
            // A new login (`auth add` rewrote the file) brings the credential back.
            match self.reread_file(&stored) {
                Some(newer) if !flagged_needs_reauth(&newer) && secrets_of(&newer) != secrets_of(&stored) => {
                    *stored = newer;
                    *self.current.write().expect("token lock") = current_of(&stored);
                    self.needs_reauth.store(false, Ordering::Relaxed);
                    tracing::info!(provider = self.provider.name(), credential = %stored.display_id(), "new login found");
                }
                _ => {
                    // Changed, but not a new login: stay out until the next change.
                    *self.dead_file_mtime.lock().expect("mtime lock") = self.file.as_deref().and_then(mtime);
                    return Err(RefreshError::NeedsReauth(self.reauth_reason().unwrap_or_default()));
                }
            }
        }
        let needed = match &need {
            Need::Due => refresh::is_due(&stored, now_ms()),
            Need::Replace(seen) => token_of(&stored).as_deref() == Some(seen.as_str()),
        };
        if !needed {
            return Ok(());
        }
        // A refresh that just failed is not retried by every waiter while the token still works.
        let recent_failure = self.failed_at_ms.load(Ordering::Relaxed);
        if matches!(need, Need::Due) && now_ms() - recent_failure < RETRY_FAILED_REFRESH_MS && still_valid(&stored) {
            return Ok(());
        }
        // Another process (the official CLI, a second llmkp) may have refreshed the file already.
        if let Some(newer) = self.reread_file(&stored)
            && !refresh::is_due(&newer, now_ms())
            && token_of(&newer) != token_of(&stored)
        {
            *stored = newer;
            *self.current.write().expect("token lock") = current_of(&stored);
            return Ok(());
        }
        let replaced = stored.tokens.refresh_token.as_ref().map(|t| t.expose_secret().to_string());
        // Another instance may be refreshing (or have refreshed) this login: adopt its tokens.
        let shared = self.shared.get();
        let mut holds_lock = false;
        if let Some(shared) = shared {
            let satisfies = |candidate: &StoredCredential| match &need {
                Need::Due => !refresh::is_due(candidate, now_ms()),
                Need::Replace(seen) => token_of(candidate).as_deref() != Some(seen.as_str()),
            };
            match shared_refresh::take_turn(shared, &stored, satisfies).await {
                Turn::Adopted(newer) => {
                    *stored = *newer;
                    self.save_rotated(&stored, replaced.as_deref());
                    *self.current.write().expect("token lock") = current_of(&stored);
                    tracing::info!(provider = self.provider.name(), credential = %stored.masked(), "token refreshed by another instance");
                    return Ok(());
                }
                Turn::Refresh => holds_lock = true,
                Turn::Local => {}
            }
        }
        let replaced_grant = shared_refresh::replaced_secret(&stored);
        let refreshed = if stored.is_cookie() {
            // iFlow cookie logins renew their API key instead (§12 flow B).
            refresh::renew_cookie_api_key(http, &self.endpoints, &stored).await.map(|(api_key, expire_time, _)| {
                stored.cookie_expire_time = Some(expire_time);
                super::TokenSet { api_key: Some(api_key), ..stored.tokens.clone() }
            })
        } else {
            refresh::refresh(http, &self.endpoints, &stored).await
        };
        let result = match &refreshed {
            Ok(_) => "ok",
            Err(RefreshError::NeedsReauth(_)) => "needs_reauth",
            Err(_) => "failed",
        };
        crate::telemetry::oauth_refresh(self.provider.name(), result);
        match refreshed {
            Ok(tokens) => {
                stored.tokens = tokens;
                set_needs_reauth_flag(&mut stored, false);
                stored.metadata.last_check_timestamp = Some(now_ms() as f64 / 1000.0);
                self.save_rotated(&stored, replaced.as_deref());
                *self.current.write().expect("token lock") = current_of(&stored);
                tracing::info!(provider = self.provider.name(), credential = %stored.masked(), "token refreshed");
                if let (Some(shared), true) = (shared, holds_lock) {
                    shared_refresh::publish(shared, replaced_grant.as_deref(), &stored).await;
                }
                Ok(())
            }
            Err(err) => {
                if let (Some(shared), true) = (shared, holds_lock) {
                    shared_refresh::unlock(shared).await;
                }
                self.refresh_failed(&mut stored, &need, err)
            }
        }
    }

    /// A refresh that failed: a refused grant takes the login out; a token that still works stays.
    fn refresh_failed(
        &self,
        stored: &mut StoredCredential,
        need: &Need,
        err: RefreshError,
    ) -> Result<(), RefreshError> {
        match err {
            RefreshError::NeedsReauth(reason) => {
                self.needs_reauth.store(true, Ordering::Relaxed);
                // Remembered in the file, so `keys list`, `auth list` and the next start know.
                set_needs_reauth_flag(stored, true);
                self.save(stored);
                *self.dead_file_mtime.lock().expect("mtime lock") = self.file.as_deref().and_then(mtime);
                *self.reauth_reason.lock().expect("reason lock") = Some(reason.clone());
                tracing::error!(
                    provider = self.provider.name(),
                    credential = %stored.display_id(),
                    "the provider refused the refresh token ({reason}); run `llmkp auth add {}` to log in again",
                    self.provider.name()
                );
                Err(RefreshError::NeedsReauth(reason))
            }
            // A token that still works is kept through a failed refresh (resilience §10.3).
            other if still_valid(stored) && matches!(need, Need::Due) => {
                *self.last_error.lock().expect("error lock") = Some(other.clone());
                self.failed_at_ms.store(now_ms(), Ordering::Relaxed);
                tracing::warn!(
                    provider = self.provider.name(),
                    "token refresh failed ({other}); the current token is still valid"
                );
                Ok(())
            }
            other => {
                *self.last_error.lock().expect("error lock") = Some(other.clone());
                self.failed_at_ms.store(now_ms(), Ordering::Relaxed);
                Err(other)
            }
        }
    }

    fn reread_file(&self, stored: &StoredCredential) -> Option<StoredCredential> {
        let CredentialSource::File { path, number } = &stored.source else { return None };
        let bytes = std::fs::read(path).ok()?;
        store::parse_file(self.provider, path, *number, &bytes).ok()
    }

    /// Persists a refreshed credential before its token is used: files are rewritten; rotating
    /// environment credentials keep their new tokens in `.env-state` (§5).
    fn save_rotated(&self, stored: &StoredCredential, replaced: Option<&str>) {
        match (&stored.source, &self.home, replaced) {
            (CredentialSource::File { .. }, _, _) => self.save(stored),
            (CredentialSource::Env { .. }, Some(home), Some(replaced))
                if matches!(self.provider, OAuthProvider::QwenCode | OAuthProvider::Iflow) =>
            {
                if let Err(err) = store::save_env_state(home, stored, replaced) {
                    tracing::warn!(provider = self.provider.name(), "cannot keep the rotated tokens: {err}");
                }
            }
            _ => {}
        }
    }

    fn save(&self, stored: &StoredCredential) {
        let CredentialSource::File { path, .. } = &stored.source else { return };
        // `auth remove` deleted the login: it is not written back with live tokens.
        if !path.exists() {
            self.unsaved.store(false, Ordering::Relaxed);
            tracing::info!(provider = self.provider.name(), credential = %stored.display_id(), "the credential file was removed; not rewritten");
            return;
        }
        match store::write_file(stored) {
            Ok(()) => self.unsaved.store(false, Ordering::Relaxed),
            Err(err) => {
                self.unsaved.store(true, Ordering::Relaxed);
                tracing::warn!(
                    provider = self.provider.name(),
                    credential = %stored.display_id(),
                    "cannot write the credential file (retried every minute); the refresh token on disk may be stale: {err}"
                );
            }
        }
    }

    /// Writes the credential again when an earlier write failed (§6: retried with backoff).
    pub async fn retry_unsaved(&self) {
        if self.unsaved.load(Ordering::Relaxed) {
            let stored = self.stored.lock().await;
            self.save(&stored);
        }
    }
}

/// `_proxy_metadata.needs_reauth` (an llmkp field; the Python proxy ignores unknown fields).
pub fn flagged_needs_reauth(stored: &StoredCredential) -> bool {
    stored.raw.get("_proxy_metadata").and_then(|m| m.get("needs_reauth")).and_then(serde_json::Value::as_bool)
        == Some(true)
}

/// Sets or clears `_proxy_metadata.needs_reauth`.
pub fn set_needs_reauth_flag(stored: &mut StoredCredential, on: bool) {
    let metadata = stored.raw.entry("_proxy_metadata").or_insert_with(|| serde_json::json!({}));
    if let Some(metadata) = metadata.as_object_mut() {
        if on {
            metadata.insert("needs_reauth".into(), serde_json::Value::Bool(true));
        } else {
            metadata.remove("needs_reauth");
        }
    }
}

fn mtime(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The access token has not expired yet (buffers aside).
fn still_valid(stored: &StoredCredential) -> bool {
    let expiry = if stored.is_cookie() {
        stored.cookie_expire_time.as_deref().and_then(refresh::parse_expire_time)
    } else {
        stored.tokens.expiry_ms
    };
    token_of(stored).is_some() && expiry.is_some_and(|expiry| expiry > now_ms() + 5_000)
}

/// Every secret of a login, to tell a new login from a rewrite of the old one.
fn secrets_of(stored: &StoredCredential) -> Vec<String> {
    let tokens = &stored.tokens;
    [&tokens.access_token, &tokens.refresh_token, &tokens.api_key, &stored.cookie]
        .into_iter()
        .map(|s| s.as_ref().map(|s| s.expose_secret().to_string()).unwrap_or_default())
        .collect()
}

/// The token a request carries: iFlow sends its API key, everyone else the access token.
fn token_of(stored: &StoredCredential) -> Option<String> {
    let token = match stored.provider {
        OAuthProvider::Iflow => stored.tokens.api_key.as_ref(),
        _ => stored.tokens.access_token.as_ref(),
    };
    token.map(|t| t.expose_secret().to_string())
}

fn current_of(stored: &StoredCredential) -> Current {
    let tokens = &stored.tokens;
    let secrets = [&tokens.access_token, &tokens.refresh_token, &tokens.api_key, &tokens.id_token, &stored.cookie]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    Current {
        token: token_of(stored).map(SecretString::from),
        secrets,
        project: stored.metadata.project_id.clone(),
        resource_url: stored.tokens.resource_url.clone(),
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
