//! Reaching Redis: the URL (`redis://`, `rediss://` over rustls with the system's roots), the
//! multiplexed connection every instance shares, a blocking connection for the CLI's reads, and
//! the health flag: an outage is logged once, requests keep being served on local state, and the
//! store says so until a probe finds Redis again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::store::{StoreError, StoreHealth, now_ms};

/// A command on the request path that takes longer than this counts as Redis being down.
pub const HOT_PATH_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Reads of the CLI (a snapshot) wait this long at most.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// What `LLMKP_STATE_URL` and its companions resolve to.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    /// Every key starts with `<prefix>:`.
    pub prefix: String,
    /// A lease not extended for this long is gone (a crashed instance's slots free themselves).
    pub lease_ttl: Duration,
    /// Usage increments are sent in batches at most this far apart.
    pub flush_interval: Duration,
}

impl RedisSettings {
    /// The URL with its password masked, for logs and errors.
    pub fn shown_url(&self) -> String {
        shown_url(&self.url)
    }

    pub fn client(&self) -> Result<redis::Client, StoreError> {
        let lower = self.url.to_ascii_lowercase();
        if !(lower.starts_with("redis://") || lower.starts_with("rediss://")) {
            return Err(StoreError::Config(format!(
                "LLMKP_STATE_URL must start with redis:// or rediss://, not {}",
                self.shown_url()
            )));
        }
        redis::Client::open(self.url.as_str())
            .map_err(|e| StoreError::Config(format!("LLMKP_STATE_URL {} is not usable: {e}", self.shown_url())))
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((auth, host)) = rest.rsplit_once('@') else { return url.to_string() };
    let user = auth.split_once(':').map_or("", |(user, _)| user);
    format!("{scheme}://{user}:***@{host}")
}

/// The multiplexed connection; created without connecting, so a `serve` starts while Redis is
/// down and connects when it comes.
pub fn manager(client: redis::Client) -> Result<ConnectionManager, StoreError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(HOT_PATH_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client, config)
        .map_err(|e| StoreError::Config(format!("cannot set up the Redis connection: {e}")))
}

/// A blocking connection for one-shot reads.
pub fn blocking(settings: &RedisSettings) -> Result<redis::Connection, StoreError> {
    let client = settings.client()?;
    let failed = |e: redis::RedisError| StoreError::Shared { url: settings.shown_url(), message: e.to_string() };
    let conn = client.get_connection_with_timeout(CONNECT_TIMEOUT).map_err(failed)?;
    conn.set_read_timeout(Some(READ_TIMEOUT)).map_err(failed)?;
    conn.set_write_timeout(Some(READ_TIMEOUT)).map_err(failed)?;
    Ok(conn)
}

/// Up or down, logged once per change.
pub struct Health {
    up: AtomicBool,
    state: Mutex<StoreHealth>,
    url: String,
}

impl Health {
    pub fn new(url: String) -> Self {
        Self { up: AtomicBool::new(true), state: Mutex::new(StoreHealth::Ok), url }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub fn get(&self) -> StoreHealth {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Redis did not answer: from now on requests are decided locally until a probe succeeds.
    pub fn fail(&self, error: &dyn std::fmt::Display) {
        if self.up.swap(false, Ordering::Relaxed) {
            crate::telemetry::state_store_up(false);
            let reason = error.to_string();
            tracing::warn!(
                "shared state store {} unreachable ({reason}); serving on local state and reconnecting in the background",
                self.url
            );
            *self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                StoreHealth::Degraded { since_ms: now_ms(), reason };
        }
    }

    pub fn recover(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            crate::telemetry::state_store_up(true);
            tracing::info!("shared state store {} reachable again; state resynchronised", self.url);
            *self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = StoreHealth::Ok;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(shown_url("redis://:hunter2@db:6379/1"), "redis://:***@db:6379/1");
        assert_eq!(shown_url("rediss://app:p@ss@db"), "rediss://app:***@db");
        assert_eq!(shown_url("redis://127.0.0.1:6390"), "redis://127.0.0.1:6390");
    }

    #[test]
    fn only_redis_urls_are_accepted() {
        let settings = |url: &str| RedisSettings {
            url: url.into(),
            prefix: "p".into(),
            lease_ttl: Duration::from_secs(30),
            flush_interval: Duration::from_millis(500),
        };
        assert!(settings("redis://127.0.0.1:1/2").client().is_ok());
        assert!(settings("rediss://127.0.0.1:1").client().is_ok());
        let err = settings("http://127.0.0.1:1").client().unwrap_err().to_string();
        assert!(err.contains("redis://"), "{err}");
    }
}
