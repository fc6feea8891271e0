//! What several `serve` instances decide together when a shared store is configured: the
//! concurrency leases and sticky sessions the pool asks for, the state events it keeps its local
//! cache current with, the OAuth refresh single-flight the login runtime uses, and the store's
//! health. The embedded stores share nothing and implement none of this; the pool and the OAuth
//! runtime then take the purely local path they always had.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;

use super::{CooldownRecord, StateChange, StateSnapshot, StoreError, UsageRecord};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether the store answers. A degraded store never fails a request: the pool serves on its
/// local state and the store catches up once it is reachable again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StoreHealth {
    Ok,
    Degraded {
        /// Unix milliseconds of the first failure of this outage.
        since_ms: i64,
        /// The first error seen (never a secret: URLs are shown without their password).
        reason: String,
    },
}

impl StoreHealth {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }
}

/// One credential the pool would take, in its order of preference.
#[derive(Debug, Clone)]
pub struct LeaseCandidate<'a> {
    /// The stable id.
    pub credential: &'a str,
    /// Hard limit of requests in flight across every instance; `None` = unlimited.
    pub max: Option<u32>,
    /// The pool takes it as a last resort: a transient rest does not keep the store from
    /// leasing it (a quota cooldown or a lockout still does).
    pub last_resort: bool,
}

/// The session binding of a sticky provider (sequential mode, or balanced with affinity).
#[derive(Debug, Clone)]
pub struct StickyAsk<'a> {
    /// The session key; the store keeps only a hash of it.
    pub session: &'a str,
    /// Idle lifetime of the binding (`SESSION_TTL`).
    pub ttl: Duration,
    /// The bound credential is waited for when full rather than passed over.
    pub wait: bool,
}

/// One lease request: take the first candidate that no cooldown in the store keeps out and that
/// has a free slot (the session's bound credential first), in one round trip. The store is the
/// authority on cooldowns: one another instance set is honoured even before its announcement
/// reaches this instance's cache.
#[derive(Debug, Clone)]
pub struct LeaseAsk<'a> {
    pub provider: &'a str,
    /// The model (or other scope) the lease is for; cooldowns of it and credential-wide ones count.
    pub scope: &'a str,
    /// Now, in unix milliseconds on this instance's clock (the clock its cooldowns are read by).
    pub now_ms: i64,
    pub candidates: Vec<LeaseCandidate<'a>>,
    pub sticky: Option<StickyAsk<'a>>,
}

/// A lease held in the shared store, released by [`Coordinator::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedLeaseId(pub u64);

/// The answer to a [`LeaseAsk`]. `in_flight[i]` is the number of requests in flight on candidate
/// `i` across every instance as the store saw it (this lease included), `None` when the candidate
/// was not looked at or is unlimited. `cooldowns` are the active ones the store holds for the
/// candidates it looked at, for the pool's cache (it may not have heard of them yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAnswer {
    Leased {
        index: usize,
        lease: Option<SharedLeaseId>,
        in_flight: Vec<Option<u32>>,
        cooldowns: Vec<CooldownRecord>,
    },
    /// No candidate: every one is cooling or full, or the session's bound credential (`sticky`)
    /// is full and must be waited for.
    Full {
        sticky: Option<usize>,
        in_flight: Vec<Option<u32>>,
        cooldowns: Vec<CooldownRecord>,
    },
}

/// What other instances did, for the pool's local cache.
#[derive(Debug, Clone)]
pub enum SharedEvent {
    /// A change another instance recorded (cooldowns, ladders, fair-cycle marks).
    Change(StateChange),
    /// Another instance's lease of this credential ended: a slot may be free.
    Released { provider: String, credential: String },
    /// Usage windows as the store counts them after a batch of increments (every instance's).
    Usage(Vec<UsageRecord>),
    /// The store is reachable again (or the event stream lost messages): everything it holds.
    Resynced(StateSnapshot),
}

/// The pool's side of a shared store.
pub trait Coordinator: Send + Sync {
    /// Whether the store answers now; when it does not, the pool decides locally without asking.
    fn available(&self) -> bool;
    /// Takes a slot (one round trip). An error means the store is unreachable: the caller leases
    /// locally.
    fn acquire<'a>(&'a self, ask: LeaseAsk<'a>) -> BoxFuture<'a, Result<LeaseAnswer, StoreError>>;
    /// Frees a slot, in the background (never blocks; a lost release expires with the lease TTL).
    fn release(&self, lease: SharedLeaseId);
    /// The events of other instances, from now on.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SharedEvent>;
}

/// The OAuth runtime's side of a shared store: one instance refreshes a login, the others wait
/// and read what it published. Published token sets are sealed with a key derived from the grant
/// secret they replace, so the store never holds a usable token and only instances that already
/// held the login can read its successor.
pub trait SharedLogins: Send + Sync {
    fn available(&self) -> bool;
    /// Takes the refresh lock of `login` (a stable credential id): `true` when this instance may
    /// refresh now. The lock expires by itself if the holder dies.
    fn try_lock<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Gives the lock up without publishing (the refresh failed).
    fn unlock<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The token set published as the successor of the one whose grant secret is `secret`.
    fn successor<'a>(&'a self, login: &'a str, secret: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Publishes `tokens` as the successor of `replaced` (a grant secret), releases the lock and
    /// wakes the instances waiting for it.
    fn publish<'a>(
        &'a self,
        login: &'a str,
        replaced: &'a str,
        tokens: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Resolves when another instance publishes for `login`, or after `at_most`.
    fn published<'a>(&'a self, login: &'a str, at_most: Duration) -> BoxFuture<'a, ()>;
}
