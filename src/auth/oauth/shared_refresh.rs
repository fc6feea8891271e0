//! OAuth refresh single-flight across `serve` instances (a shared state store): one instance
//! refreshes a login while holding the store's lock for it and publishes the new token set; the
//! others wait for it and adopt it instead of spending the refresh token a second time (providers
//! that rotate refresh tokens would refuse the second use and the login would look dead).
//!
//! Published sets form a chain: each is stored as the successor of the grant secret (refresh
//! token, or iFlow cookie) it replaced, sealed with a key derived from that secret, so an instance
//! that held any earlier link can walk to the newest one, and the store never sees a usable token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{StoredCredential, TokenSet};
use crate::store::shared::SharedLogins;

/// How long a request waits for another instance's refresh before refreshing itself (the lock
/// expires after 30 s when its holder died).
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(35);
/// Between two looks at the chain while another instance refreshes (a publish wakes it sooner).
const LOOK_AGAIN: Duration = Duration::from_millis(250);
/// Links followed at most (a chain never grows this long between two refreshes of one instance).
const MAX_LINKS: usize = 64;

/// A login shared through the store: the store and the login's stable id.
pub struct SharedLogin {
    pub logins: Arc<dyn SharedLogins>,
    pub id: String,
}

/// Who refreshes.
pub enum Turn {
    /// Another instance refreshed: the credential with its token set.
    Adopted(Box<StoredCredential>),
    /// This instance holds the lock and refreshes (then publishes or unlocks).
    Refresh,
    /// The store cannot help (unreachable, or the login has no grant secret): refresh locally.
    Local,
}

/// The token set as it travels between instances (inside the sealed payload only).
#[derive(Serialize, Deserialize)]
struct Payload {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expiry_ms: Option<i64>,
    api_key: Option<String>,
    id_token: Option<String>,
    scope: Option<String>,
    token_type: Option<String>,
    resource_url: Option<String>,
    cookie_expire_time: Option<String>,
}

/// The secret a login's successors are keyed and sealed by: its refresh token, else its cookie.
fn grant_secret(stored: &StoredCredential) -> Option<String> {
    let secret = stored.tokens.refresh_token.as_ref().or(stored.cookie.as_ref())?;
    Some(secret.expose_secret().to_string()).filter(|s| !s.is_empty())
}

fn encode(stored: &StoredCredential) -> Vec<u8> {
    let expose = |s: &Option<SecretString>| s.as_ref().map(|s| s.expose_secret().to_string());
    let t = &stored.tokens;
    let payload = Payload {
        access_token: expose(&t.access_token),
        refresh_token: expose(&t.refresh_token),
        expiry_ms: t.expiry_ms,
        api_key: expose(&t.api_key),
        id_token: expose(&t.id_token),
        scope: t.scope.clone(),
        token_type: t.token_type.clone(),
        resource_url: t.resource_url.clone(),
        cookie_expire_time: stored.cookie_expire_time.clone(),
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// `stored` with a published token set in place of its own.
fn adopt(stored: &StoredCredential, bytes: &[u8]) -> Option<StoredCredential> {
    let p: Payload = serde_json::from_slice(bytes).ok()?;
    let secret = |s: Option<String>| s.map(SecretString::from);
    let mut adopted = stored.clone();
    adopted.tokens = TokenSet {
        access_token: secret(p.access_token),
        refresh_token: secret(p.refresh_token).or_else(|| stored.tokens.refresh_token.clone()),
        expiry_ms: p.expiry_ms,
        api_key: secret(p.api_key).or_else(|| stored.tokens.api_key.clone()),
        id_token: secret(p.id_token).or_else(|| stored.tokens.id_token.clone()),
        scope: p.scope.or_else(|| stored.tokens.scope.clone()),
        token_type: p.token_type.or_else(|| stored.tokens.token_type.clone()),
        resource_url: p.resource_url.or_else(|| stored.tokens.resource_url.clone()),
    };
    if p.cookie_expire_time.is_some() {
        adopted.cookie_expire_time = p.cookie_expire_time;
    }
    Some(adopted)
}

/// The newest token set published after `stored`'s, if any (walks the chain).
pub async fn newest(shared: &SharedLogin, stored: &StoredCredential) -> Result<Option<StoredCredential>, ()> {
    let Some(mut secret) = grant_secret(stored) else { return Ok(None) };
    let mut newest: Option<StoredCredential> = None;
    for _ in 0..MAX_LINKS {
        let next = shared.logins.successor(&shared.id, &secret).await.map_err(|_| ())?;
        let Some(next) = next.and_then(|bytes| adopt(newest.as_ref().unwrap_or(stored), &bytes)) else { break };
        let next_secret = grant_secret(&next);
        newest = Some(next);
        // A refresh token that does not rotate keys every refresh under itself: the end.
        match next_secret {
            Some(s) if s != secret => secret = s,
            _ => break,
        }
    }
    Ok(newest)
}

/// Decides who refreshes `stored`: adopts a published set that `satisfies` the caller, else takes
/// the lock, else waits for the instance holding it.
pub async fn take_turn(
    shared: &SharedLogin,
    stored: &StoredCredential,
    satisfies: impl Fn(&StoredCredential) -> bool,
) -> Turn {
    if grant_secret(stored).is_none() || !shared.logins.available() {
        return Turn::Local;
    }
    let started = Instant::now();
    loop {
        match newest(shared, stored).await {
            Ok(Some(newer)) if satisfies(&newer) => return Turn::Adopted(Box::new(newer)),
            Ok(_) => {}
            Err(()) => return Turn::Local,
        }
        match shared.logins.try_lock(&shared.id).await {
            Ok(true) => {
                // Published between the look above and the lock: nothing left to do.
                return match newest(shared, stored).await {
                    Ok(Some(newer)) if satisfies(&newer) => {
                        let _ = shared.logins.unlock(&shared.id).await;
                        Turn::Adopted(Box::new(newer))
                    }
                    _ => Turn::Refresh,
                };
            }
            Ok(false) if started.elapsed() < WAIT_FOR_OTHERS => {
                shared.logins.published(&shared.id, LOOK_AGAIN).await;
            }
            Ok(false) | Err(_) => return Turn::Local,
        }
    }
}

/// Publishes the set that replaced the grant secret `replaced` and gives the lock up.
pub async fn publish(shared: &SharedLogin, replaced: Option<&str>, refreshed: &StoredCredential) {
    let result = match replaced.filter(|r| !r.is_empty()) {
        Some(replaced) => shared.logins.publish(&shared.id, replaced, encode(refreshed)).await,
        None => shared.logins.unlock(&shared.id).await,
    };
    if let Err(err) = result {
        tracing::warn!("could not share the refreshed token with other instances: {err}");
    }
}

/// Gives the lock up after a failed refresh.
pub async fn unlock(shared: &SharedLogin) {
    let _ = shared.logins.unlock(&shared.id).await;
}

/// The grant secret a refresh of `stored` replaces.
pub fn replaced_secret(stored: &StoredCredential) -> Option<String> {
    grant_secret(stored)
}
