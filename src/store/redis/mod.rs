//! The shared state store for several `serve` instances (`LLMKP_STATE_URL=redis://…` or
//! `rediss://…`, Redis or a Redis-protocol server such as Valkey).
//!
//! Design: each instance's pool stays the decision maker and keeps its state in memory, as with
//! the embedded store; Redis is the authority for what must be decided together, through atomic
//! scripts (`scripts`):
//! - **leases** (`leases`): one script call takes the first free slot of a ranked candidate list
//!   (and reads and renews the session's sticky binding), one frees it. Leases expire after
//!   `LLMKP_STATE_LEASE_TTL` unless this instance extends them (`worker::keeper`), so a crashed
//!   instance's slots free themselves;
//! - **cooldowns, lockouts, ladder steps, fair-cycle marks** (`changes`): written at once by one
//!   script that keeps the later cooldown and the higher step, and published on `P:events`; the
//!   other instances merge them into their pools (`events`), so ranking the candidates stays a
//!   local read. The lease script has the final word: it passes over a candidate Redis knows to
//!   be cooling and returns that cooldown, so an announcement still on its way (or lost) never
//!   lets a cooling key be called; and a lease waits until this instance's own changes are in
//!   Redis, so a failure seen here counts everywhere before the retry it causes;
//! - **usage windows and totals**: summed per row and sent every `STATE_FLUSH_INTERVAL_MS` off
//!   the request path; the resulting windows are published so caps and balancing see every
//!   instance's requests (up to one interval late);
//! - **OAuth refresh single-flight** (`logins`): a lock per login and a sealed chain of published
//!   token sets.
//!
//! The request path costs one round trip to acquire (plus one after a failure, to write it
//! first) and one, in the background, to release. The store subscribes to `P:events` before
//! [`RedisStore::open`] returns and each pool listens before it reads its snapshot, so no change
//! falls between the two.
//!
//! Redis down: the first failure is logged once and [`StateStore::health`] reports degraded;
//! requests are decided on local state alone (limits then hold per instance), changes and usage
//! queue up, and a probe every second reconnects, re-registers live leases, sends the queue and
//! resynchronises every pool. A request never fails because Redis is down.
//!
//! Stored Responses (`responses`) live here too: `P:response:<id>` strings with their TTL and the
//! `P:responses` index that keeps them under the cap, so every instance sees every response.

mod changes;
mod connection;
mod events;
mod keys;
mod leases;
mod logins;
mod responses;
mod scripts;
mod snapshot;
mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng as _;
use tokio::sync::{Notify, broadcast, mpsc};

pub use connection::RedisSettings;
use connection::{Health, blocking, manager};
use keys::Keys;
use worker::WriterCommand;

use super::responses::StoredResponse;
use super::shared::{Coordinator, SharedEvent, SharedLogins};
use super::{StateChange, StateSnapshot, StateStore, StoreError, StoreHealth};

/// How long `flush` waits for the writer at most (Redis may be down).
const FLUSH_WAIT: Duration = Duration::from_secs(3);

/// A lease this instance holds in Redis.
struct LiveLease {
    key: String,
    member: String,
    provider: String,
    credential: String,
}

/// What the store's handles and tasks share.
struct Inner {
    settings: RedisSettings,
    shown_url: String,
    client: redis::Client,
    conn: redis::aio::ConnectionManager,
    keys: Keys,
    /// Random per process: lease ids and event senders.
    instance: String,
    health: Health,
    leases: Mutex<HashMap<u64, LiveLease>>,
    next_lease: AtomicU64,
    events: broadcast::Sender<SharedEvent>,
    logins_published: broadcast::Sender<String>,
    writer: mpsc::UnboundedSender<WriterCommand>,
    /// Batches of cooldown, ladder or fair-cycle changes handed to the writer and not yet in
    /// Redis…
    unapplied: AtomicU64,
    /// …and the writer's word that it has sent what it held.
    applied: Notify,
    resync: Notify,
}

impl Inner {
    /// Waits (about one round trip, never past the hot-path timeout, not at all while Redis is
    /// down) until Redis has every cooldown, ladder and fair-cycle change recorded here: a lease
    /// taken after a failure seen here then happens after every instance can see it. Without
    /// such changes pending (the common case) this is one atomic load.
    async fn changes_applied(&self) {
        if self.unapplied.load(Ordering::Acquire) == 0 || !self.health.is_up() {
            return;
        }
        let all_sent = async {
            loop {
                let applied = self.applied.notified();
                tokio::pin!(applied);
                applied.as_mut().enable();
                if self.unapplied.load(Ordering::Acquire) == 0 {
                    return;
                }
                applied.await;
            }
        };
        let _ = tokio::time::timeout(connection::HOT_PATH_TIMEOUT, all_sent).await;
    }

    /// Marks the store down (logged once) and turns `error` into the store's error.
    fn failed(&self, error: &dyn std::fmt::Display) -> StoreError {
        self.health.fail(error);
        StoreError::Shared { url: self.shown_url.clone(), message: error.to_string() }
    }
}

/// The read-write store of `serve`, `chat`, `keys test` and `auth`. Dropping it stops its
/// background tasks (call [`StateStore::flush`] first).
pub struct RedisStore {
    inner: Arc<Inner>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RedisStore {
    /// Connects (or, when Redis is down, starts degraded and keeps trying). Fails only for a URL
    /// that cannot work. Needs a Tokio runtime.
    pub async fn open(settings: RedisSettings) -> Result<Self, StoreError> {
        let client = settings.client()?;
        let conn = manager(client.clone())?;
        let shown_url = settings.shown_url();
        let (writer, commands) = mpsc::unbounded_channel();
        let instance = format!("{:016x}", rand::rng().random::<u64>());
        let inner = Arc::new(Inner {
            keys: Keys::new(&settings.prefix),
            health: Health::new(shown_url.clone()),
            settings,
            shown_url,
            client,
            conn,
            instance,
            leases: Mutex::new(HashMap::new()),
            next_lease: AtomicU64::new(1),
            events: broadcast::channel(4096).0,
            logins_published: broadcast::channel(256).0,
            writer,
            unapplied: AtomicU64::new(0),
            applied: Notify::new(),
            resync: Notify::new(),
        });
        let mut conn = inner.conn.clone();
        let ping = redis::cmd("PING").to_owned();
        let answered =
            match tokio::time::timeout(connection::HOT_PATH_TIMEOUT * 2, ping.query_async::<String>(&mut conn)).await {
                Ok(Ok(_)) => true,
                Ok(Err(e)) => {
                    inner.health.fail(&e);
                    false
                }
                Err(_) => {
                    inner.health.fail(&"no answer in time");
                    false
                }
            };
        // Subscribed before the pools read their snapshot, so no other instance's change can
        // fall between the two.
        let first =
            if answered { events::subscribe(&inner).await.inspect_err(|e| inner.health.fail(e)).ok() } else { None };
        if first.is_some() {
            tracing::info!("shared state store {}", inner.shown_url);
        }
        let tasks = vec![
            tokio::spawn(worker::writer(inner.clone(), commands)),
            tokio::spawn(worker::keeper(inner.clone())),
            tokio::spawn(events::subscriber(inner.clone(), first)),
        ];
        Ok(Self { inner, tasks })
    }

    /// Everything the store holds, read with a blocking connection (the CLI's reports).
    pub fn read_snapshot(settings: &RedisSettings, now_ms: i64) -> Result<StateSnapshot, StoreError> {
        let mut conn = blocking(settings)?;
        snapshot::load_blocking(&mut conn, &Keys::new(&settings.prefix), now_ms)
            .map_err(|e| StoreError::Shared { url: settings.shown_url(), message: e.to_string() })
    }
}

impl StateStore for RedisStore {
    /// Reads with a short-lived blocking connection: called at start-up and for reports.
    fn load(&self, now_ms: i64) -> Result<StateSnapshot, StoreError> {
        Self::read_snapshot(&self.inner.settings, now_ms).inspect_err(|e| self.inner.health.fail(e))
    }

    fn record(&self, changes: Vec<StateChange>) {
        if changes.is_empty() {
            return;
        }
        let awaited = !changes.iter().all(|c| matches!(c, StateChange::Usage { .. }));
        if awaited {
            self.inner.unapplied.fetch_add(1, Ordering::AcqRel);
        }
        if self.inner.writer.send(WriterCommand::Record(changes, awaited)).is_err() && awaited {
            self.inner.unapplied.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = std::sync::mpsc::channel();
        let _ = self.inner.writer.send(WriterCommand::Flush(reply));
        answer.recv_timeout(FLUSH_WAIT).map_err(|_| StoreError::Shared {
            url: self.inner.shown_url.clone(),
            message: "pending changes could not be sent".into(),
        })?;
        match self.inner.health.get() {
            StoreHealth::Ok => Ok(()),
            StoreHealth::Degraded { reason, .. } => {
                Err(StoreError::Shared { url: self.inner.shown_url.clone(), message: reason })
            }
        }
    }

    fn health(&self) -> StoreHealth {
        self.inner.health.get()
    }

    fn coordinator(&self) -> Option<Arc<dyn Coordinator>> {
        Some(self.inner.clone())
    }

    fn logins(&self) -> Option<Arc<dyn SharedLogins>> {
        Some(self.inner.clone())
    }

    fn put_response(&self, response: StoredResponse, max: usize) -> Result<(), StoreError> {
        responses::put(&self.inner.settings, &response, max).inspect_err(|e| self.inner.health.fail(e))
    }

    fn get_response(&self, id: &str, now_ms: i64) -> Result<Option<StoredResponse>, StoreError> {
        responses::get(&self.inner.settings, id, now_ms).inspect_err(|e| self.inner.health.fail(e))
    }

    fn delete_response(&self, id: &str) -> Result<bool, StoreError> {
        responses::delete(&self.inner.settings, id).inspect_err(|e| self.inner.health.fail(e))
    }
}
