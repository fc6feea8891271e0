//! The tokens an [`OAuthMock`](super::OAuthMock) issued, shared with mocks that check bearer tokens
//! ([`CodeAssistMock`](crate::support::code_assist_mock::CodeAssistMock)) or API keys.
//!
//! A *grant* is one login: it owns one current refresh token and the access tokens issued for it. Expiry uses the
//! wall clock (`SystemTime`), as the `expiry_date` of credential files does, so tokio's paused clock has no effect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Numbers tokens across every mock of the test binary, so two mocks never issue the same token.
static NEXT: AtomicU64 = AtomicU64::new(1);

fn next_n() -> u64 {
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// Which provider's endpoints issued a grant; tokens only work at the endpoints of their family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `ya29.mock-<n>` / `1//mock-<n>` (Gemini CLI, Antigravity).
    Google,
    /// `qwen-at-<n>` / `qwen-rt-<n>` (device flow).
    Qwen,
    /// `iflow-at-<n>` / `iflow-rt-<n>`, plus an API key `sk-iflow-<n>`.
    IFlow,
}

impl Family {
    /// `expires_in` when the mock sets none: Google 3599 s; Qwen 21600 s and iFlow 172800 s, longer than the
    /// gateway's refresh buffers (3 h, 24 h) so a fresh token is not due at once.
    pub fn default_expires_in(self) -> u64 {
        match self {
            Family::Google => 3599,
            Family::Qwen => 21_600,
            Family::IFlow => 172_800,
        }
    }

    fn prefixes(self) -> (&'static str, &'static str) {
        match self {
            Family::Google => ("ya29.mock-", "1//mock-"),
            Family::Qwen => ("qwen-at-", "qwen-rt-"),
            Family::IFlow => ("iflow-at-", "iflow-rt-"),
        }
    }
}

/// What a successful token call handed out.
#[derive(Clone, Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    /// The grant's current refresh token (unchanged when the refresh did not rotate).
    pub refresh_token: String,
    /// Whether `refresh_token` is new (always for a fresh grant; on refresh only when rotating).
    pub rotated: bool,
    pub expires_in: u64,
    /// Unix milliseconds at which the access token stops working.
    pub expiry_date_ms: u64,
    pub email: String,
    pub client_id: String,
    pub scope: String,
    /// iFlow grants: the API key user info reports.
    pub api_key: Option<String>,
}

/// A valid access token's grant.
#[derive(Clone, Debug)]
pub struct AccessInfo {
    pub family: Family,
    pub client_id: String,
    pub email: String,
    pub scope: String,
    pub api_key: Option<String>,
}

/// Why an access token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// Never issued by this registry (or issued for another family).
    Unknown,
    Expired,
    /// Superseded by a refresh of its grant (see `OAuthMock::set_revoke_on_refresh`) or revoked by a test.
    Revoked,
}

/// Why a refresh token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefreshError {
    /// Unknown, already rotated away, revoked, or of another family.
    InvalidGrant,
    /// Issued to another `client_id`.
    WrongClient,
}

/// How a refresh treats the grant.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RefreshPolicy {
    pub expires_in: u64,
    pub rotate: bool,
    pub revoke_old_access: bool,
    pub new_api_key: bool,
}

struct Grant {
    family: Family,
    client_id: String,
    email: String,
    scope: String,
    api_key: Option<String>,
}

struct Access {
    grant: usize,
    expires_at: SystemTime,
    revoked: bool,
}

struct Refresh {
    grant: usize,
    valid: bool,
}

#[derive(Default)]
struct Inner {
    grants: Vec<Grant>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    /// Valid API keys (iFlow OAuth grants and cookie keys) → e-mail or key name.
    api_keys: HashMap<String, String>,
}

impl Inner {
    fn new_access(&mut self, grant: usize, expires_in: u64) -> (String, SystemTime) {
        let (prefix, _) = self.grants[grant].family.prefixes();
        let token = format!("{prefix}{}", next_n());
        let expires_at = SystemTime::now() + Duration::from_secs(expires_in);
        self.access.insert(token.clone(), Access { grant, expires_at, revoked: false });
        (token, expires_at)
    }

    fn new_refresh(&mut self, grant: usize) -> String {
        let (_, prefix) = self.grants[grant].family.prefixes();
        let token = format!("{prefix}{}", next_n());
        self.refresh.insert(token.clone(), Refresh { grant, valid: true });
        token
    }

    fn issued(
        &self,
        grant: usize,
        access: (String, SystemTime),
        refresh: String,
        rotated: bool,
        expires_in: u64,
    ) -> IssuedTokens {
        let g = &self.grants[grant];
        let ms = access.1.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        IssuedTokens {
            access_token: access.0,
            refresh_token: refresh,
            rotated,
            expires_in,
            expiry_date_ms: ms,
            email: g.email.clone(),
            client_id: g.client_id.clone(),
            scope: g.scope.clone(),
            api_key: g.api_key.clone(),
        }
    }
}

/// Every token and API key one [`OAuthMock`](super::OAuthMock) issued; thread-safe, shared via `Arc`.
#[derive(Default)]
pub struct TokenRegistry {
    inner: Mutex<Inner>,
}

impl TokenRegistry {
    /// A new grant with a fresh access and refresh token (and, for iFlow, an API key).
    pub fn issue(&self, family: Family, client_id: &str, email: &str, scope: &str, expires_in: u64) -> IssuedTokens {
        let mut inner = self.inner.lock().unwrap();
        let api_key = (family == Family::IFlow).then(|| format!("sk-iflow-{}", next_n()));
        if let Some(key) = &api_key {
            inner.api_keys.insert(key.clone(), email.to_owned());
        }
        let grant = inner.grants.len();
        inner.grants.push(Grant {
            family,
            client_id: client_id.to_owned(),
            email: email.to_owned(),
            scope: scope.to_owned(),
            api_key,
        });
        let access = inner.new_access(grant, expires_in);
        let refresh = inner.new_refresh(grant);
        inner.issued(grant, access, refresh, true, expires_in)
    }

    /// The family of a currently valid refresh token.
    pub fn refresh_family(&self, refresh_token: &str) -> Option<Family> {
        let inner = self.inner.lock().unwrap();
        let r = inner.refresh.get(refresh_token).filter(|r| r.valid)?;
        Some(inner.grants[r.grant].family)
    }

    /// Atomically refreshes the grant of `refresh_token` (one of `families`), issued to `client_id`.
    pub(crate) fn refresh(
        &self,
        refresh_token: &str,
        families: &[Family],
        client_id: &str,
        policy: RefreshPolicy,
    ) -> Result<IssuedTokens, RefreshError> {
        let mut inner = self.inner.lock().unwrap();
        let grant = match inner.refresh.get(refresh_token) {
            Some(r) if r.valid && families.contains(&inner.grants[r.grant].family) => r.grant,
            _ => return Err(RefreshError::InvalidGrant),
        };
        if inner.grants[grant].client_id != client_id {
            return Err(RefreshError::WrongClient);
        }
        if policy.revoke_old_access {
            inner.access.values_mut().filter(|a| a.grant == grant).for_each(|a| a.revoked = true);
        }
        if policy.new_api_key && inner.grants[grant].family == Family::IFlow {
            let key = format!("sk-iflow-{}", next_n());
            let email = inner.grants[grant].email.clone();
            if let Some(old) = inner.grants[grant].api_key.replace(key.clone()) {
                inner.api_keys.remove(&old);
            }
            inner.api_keys.insert(key, email);
        }
        let access = inner.new_access(grant, policy.expires_in);
        let refresh = if policy.rotate {
            inner.refresh.get_mut(refresh_token).expect("checked above").valid = false;
            inner.new_refresh(grant)
        } else {
            refresh_token.to_owned()
        };
        Ok(inner.issued(grant, access, refresh, policy.rotate, policy.expires_in))
    }

    /// The grant of a usable access token.
    pub fn check_access(&self, token: &str) -> Result<AccessInfo, AccessError> {
        let inner = self.inner.lock().unwrap();
        let access = inner.access.get(token).ok_or(AccessError::Unknown)?;
        if access.revoked {
            return Err(AccessError::Revoked);
        }
        if SystemTime::now() >= access.expires_at {
            return Err(AccessError::Expired);
        }
        let g = &inner.grants[access.grant];
        Ok(AccessInfo {
            family: g.family,
            client_id: g.client_id.clone(),
            email: g.email.clone(),
            scope: g.scope.clone(),
            api_key: g.api_key.clone(),
        })
    }

    /// Like [`check_access`](Self::check_access), but a token of another family counts as unknown.
    pub fn check_access_of(&self, token: &str, family: Family) -> Result<AccessInfo, AccessError> {
        self.check_access(token)
            .and_then(|info| if info.family == family { Ok(info) } else { Err(AccessError::Unknown) })
    }

    /// Makes an access token expired from now on (its refresh token keeps working).
    pub fn expire_access(&self, token: &str) {
        if let Some(a) = self.inner.lock().unwrap().access.get_mut(token) {
            a.expires_at = SystemTime::now() - Duration::from_secs(1);
        }
    }

    /// Revokes one access token.
    pub fn revoke_access(&self, token: &str) {
        if let Some(a) = self.inner.lock().unwrap().access.get_mut(token) {
            a.revoked = true;
        }
    }

    /// Revokes a refresh token (the next refresh with it answers `invalid_grant`).
    pub fn revoke_refresh(&self, token: &str) {
        if let Some(r) = self.inner.lock().unwrap().refresh.get_mut(token) {
            r.valid = false;
        }
    }

    pub fn refresh_valid(&self, token: &str) -> bool {
        self.inner.lock().unwrap().refresh.get(token).is_some_and(|r| r.valid)
    }

    /// Whether an iFlow API key (OAuth user info or cookie endpoint) is currently valid.
    pub fn api_key_valid(&self, key: &str) -> bool {
        self.inner.lock().unwrap().api_keys.contains_key(key)
    }

    /// Registers a new API key (cookie flow), invalidating `replaces`.
    pub(crate) fn swap_api_key(&self, replaces: Option<&str>, owner: &str) -> String {
        let mut inner = self.inner.lock().unwrap();
        if let Some(old) = replaces {
            inner.api_keys.remove(old);
        }
        let key = format!("sk-iflow-{}", next_n());
        inner.api_keys.insert(key.clone(), owner.to_owned());
        key
    }
}
