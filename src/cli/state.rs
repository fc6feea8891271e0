//! Which state store a subcommand uses: the embedded SQLite file of the home directory, or the
//! shared Redis of `LLMKP_STATE_URL` (several `serve` instances). Every command that reads or
//! records credential state opens it here, so they all agree.

use std::sync::Arc;

use super::{CliError, Context};
use crate::store::redis::{RedisSettings, RedisStore};
use crate::store::shared::SharedLogins;
use crate::store::sqlite::SqliteStore;
use crate::store::{StateSnapshot, StateStore};

/// How a command writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// `serve`: the one writer of the embedded file (a second `serve` on the home stops, exit 2).
    Serve,
    /// A one-shot command next to a running `serve` (`chat`, `keys test`, `auth`).
    OneShot,
}

fn redis_settings(context: &Context) -> Option<RedisSettings> {
    let state = &context.settings.state;
    state.url.as_ref().map(|url| RedisSettings {
        url: url.clone(),
        prefix: state.prefix.clone(),
        lease_ttl: state.lease_ttl,
        flush_interval: context.settings.server.state_flush_interval,
    })
}

/// Opens the store for writing. A Redis that is down is not an error (the store serves degraded
/// and reconnects); a URL that cannot work is (exit 2).
pub async fn open(context: &Context, writer: Writer) -> Result<Arc<dyn StateStore>, CliError> {
    if let Some(settings) = redis_settings(context) {
        let store = RedisStore::open(settings).await.map_err(|e| CliError::usage(e.to_string()))?;
        return Ok(Arc::new(store));
    }
    let path = super::state_db_path(&context.home);
    let store = match writer {
        Writer::Serve => SqliteStore::open_with(&path, context.settings.server.state_flush_interval)
            .map_err(|err| CliError::usage(err.to_string()))?,
        Writer::OneShot => SqliteStore::open_shared(&path).map_err(|e| CliError::failed(e.to_string()))?,
    };
    Ok(Arc::new(store))
}

/// The OAuth refresh single-flight of the shared store, when one is configured (`auth` reads the
/// newest published tokens through it). A Redis that cannot be reached gives `None`.
pub async fn shared_logins(context: &Context) -> Option<Arc<dyn SharedLogins>> {
    let settings = redis_settings(context)?;
    let store = RedisStore::open(settings).await.inspect_err(|e| tracing::warn!("{e}")).ok()?;
    store.logins().filter(|l| l.available())
}

/// Everything the store holds, read-only (works while `serve` runs, and with no state yet).
pub fn snapshot(context: &Context, now_ms: i64) -> Result<StateSnapshot, CliError> {
    if let Some(settings) = redis_settings(context) {
        return RedisStore::read_snapshot(&settings, now_ms).map_err(|e| CliError::failed(e.to_string()));
    }
    let path = super::state_db_path(&context.home);
    let reader = SqliteStore::open_read_only(&path).map_err(|e| CliError::failed(e.to_string()))?;
    reader.load(now_ms).map_err(|e| CliError::failed(e.to_string()))
}
