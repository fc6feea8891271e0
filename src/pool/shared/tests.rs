//! The pool with a shared coordinator, on tokio's paused clock: slots held by other instances,
//! their releases (announced or lost), an unreachable store, and other instances' cooldowns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::config::Env;
use crate::formats::failure::ErrorClass;
use crate::pool::{CredentialPool, PoolSettings};
use crate::providers::Registry;
use crate::store::memory::MemoryStore;
use crate::store::shared::{BoxFuture, Coordinator, LeaseAnswer, LeaseAsk, SharedEvent, SharedLeaseId, SharedLogins};
use crate::store::{
    CooldownKindRecord, CooldownRecord, CredentialKey, StateChange, StateSnapshot, StateStore, StoreError, now_ms,
};

/// An in-memory stand-in for Redis: slot counts per credential, "other instances" simulated by
/// the test.
struct FakeShared {
    memory: MemoryStore,
    in_flight: Mutex<HashMap<String, u32>>,
    leases: Mutex<HashMap<u64, String>>,
    next: AtomicUsize,
    up: AtomicBool,
    calls: AtomicUsize,
    events: broadcast::Sender<SharedEvent>,
    /// Cooldowns in the store that no event announced (yet).
    cooldowns: Mutex<Vec<CooldownRecord>>,
}

impl FakeShared {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            memory: MemoryStore::new(),
            in_flight: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(1),
            up: AtomicBool::new(true),
            calls: AtomicUsize::new(0),
            events: broadcast::channel(64).0,
            cooldowns: Mutex::new(Vec::new()),
        })
    }

    /// Another instance takes a slot of `credential`.
    fn remote_take(&self, credential: &str) {
        *self.in_flight.lock().unwrap().entry(credential.to_string()).or_default() += 1;
    }

    /// Another instance frees a slot; `announce` publishes it (a crash's expiry does not).
    fn remote_free(&self, credential: &str, announce: bool) {
        *self.in_flight.lock().unwrap().get_mut(credential).unwrap() -= 1;
        if announce {
            let _ = self
                .events
                .send(SharedEvent::Released { provider: "openai".into(), credential: credential.to_string() });
        }
    }
}

struct Store(Arc<FakeShared>);

impl StateStore for Store {
    fn load(&self, now_ms: i64) -> Result<StateSnapshot, StoreError> {
        self.0.memory.load(now_ms)
    }
    fn record(&self, changes: Vec<StateChange>) {
        self.0.memory.record(changes);
    }
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn coordinator(&self) -> Option<Arc<dyn Coordinator>> {
        Some(self.0.clone())
    }
    fn logins(&self) -> Option<Arc<dyn SharedLogins>> {
        None
    }
}

impl Coordinator for FakeShared {
    fn available(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn acquire<'a>(&'a self, ask: LeaseAsk<'a>) -> BoxFuture<'a, Result<LeaseAnswer, StoreError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if !self.available() {
                return Err(StoreError::Shared { url: "fake".into(), message: "down".into() });
            }
            let mut in_flight = self.in_flight.lock().unwrap();
            let mut counts = vec![None; ask.candidates.len()];
            let mut cooldowns = Vec::new();
            for (i, c) in ask.candidates.iter().enumerate() {
                let active: Vec<CooldownRecord> = self
                    .cooldowns
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|r| r.key.credential == c.credential && r.until_ms > ask.now_ms)
                    .filter(|r| r.scope == ask.scope || r.scope == crate::store::GLOBAL_SCOPE)
                    .cloned()
                    .collect();
                let out = active.iter().any(|r| r.kind != CooldownKindRecord::TransientRest || !c.last_resort);
                cooldowns.extend(active);
                if out {
                    continue;
                }
                let Some(max) = c.max else {
                    // Like Redis: an unlimited key is leased without a slot.
                    return Ok(LeaseAnswer::Leased { index: i, lease: None, in_flight: counts, cooldowns });
                };
                let count = in_flight.entry(c.credential.to_string()).or_default();
                if *count < max {
                    *count += 1;
                    counts[i] = Some(*count);
                    let id = self.next.fetch_add(1, Ordering::Relaxed) as u64;
                    self.leases.lock().unwrap().insert(id, c.credential.to_string());
                    let lease = Some(SharedLeaseId(id));
                    return Ok(LeaseAnswer::Leased { index: i, lease, in_flight: counts, cooldowns });
                }
                counts[i] = Some(*count);
            }
            Ok(LeaseAnswer::Full { sticky: None, in_flight: counts, cooldowns })
        })
    }

    fn release(&self, lease: SharedLeaseId) {
        if let Some(credential) = self.leases.lock().unwrap().remove(&lease.0) {
            *self.in_flight.lock().unwrap().get_mut(&credential).unwrap() -= 1;
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<SharedEvent> {
        self.events.subscribe()
    }
}

fn pool(shared: &Arc<FakeShared>, pairs: &[(&str, &str)]) -> CredentialPool {
    let env = Env::from_pairs(pairs.iter().copied());
    let (registry, _) = Registry::from_env(&env);
    let settings = PoolSettings::from_env(&env, &registry.names()).0;
    CredentialPool::new(settings, &registry, Some(Arc::new(Store(shared.clone()))))
}

const ONE_KEY: &[(&str, &str)] = &[("OPENAI_API_KEY_1", "key-one"), ("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "1")];

fn id_of(pool: &CredentialPool, index: usize) -> String {
    pool.providers["openai"].credentials[index].id.as_str().to_string()
}

#[tokio::test(start_paused = true)]
async fn a_slot_held_by_another_instance_is_waited_for_until_its_release_is_announced() {
    let shared = FakeShared::new();
    let pool = Arc::new(pool(&shared, ONE_KEY));
    let key = id_of(&pool, 0);
    shared.remote_take(&key);
    let started = Instant::now();
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(
            async move { pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(30)).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "the only slot is another instance's");
    shared.remote_free(&key, true);
    let lease = waiter.await.unwrap().expect("leased");
    assert_eq!(Instant::now() - started, Duration::from_millis(100), "woken by the release event, not a timer");
    assert_eq!(shared.in_flight.lock().unwrap()[&key], 1, "the slot is now this instance's");
    drop(lease);
}

#[tokio::test(start_paused = true)]
async fn a_release_nobody_announced_is_found_by_asking_again() {
    let shared = FakeShared::new();
    let pool = Arc::new(pool(&shared, ONE_KEY));
    let key = id_of(&pool, 0);
    shared.remote_take(&key);
    let started = Instant::now();
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(30)).await.is_ok()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A crashed instance's lease expires: no event.
    shared.remote_free(&key, false);
    assert!(waiter.await.unwrap());
    assert_eq!(Instant::now() - started, super::RECHECK_BUSY);
}

#[tokio::test(start_paused = true)]
async fn leases_are_taken_and_freed_in_the_store_and_an_unreachable_store_leases_locally() {
    let shared = FakeShared::new();
    let pool = pool(&shared, ONE_KEY);
    let key = id_of(&pool, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    let lease = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    assert_eq!(shared.in_flight.lock().unwrap()[&key], 1);
    drop(lease);
    assert_eq!(shared.in_flight.lock().unwrap()[&key], 0, "freed with the lease");

    shared.up.store(false, Ordering::Relaxed);
    let calls = shared.calls.load(Ordering::Relaxed);
    let lease = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    assert_eq!(shared.calls.load(Ordering::Relaxed), calls, "a store known to be down is not asked");
    assert_eq!(pool.active_counts("openai"), [1]);
    drop(lease);
}

#[tokio::test(start_paused = true)]
async fn a_provider_without_limit_or_stickiness_asks_the_store_once_per_lease_and_holds_no_slot() {
    let shared = FakeShared::new();
    let pool = pool(&shared, &[("OPENAI_API_KEY_1", "key-one"), ("ROTATION_MODE_OPENAI", "balanced")]);
    let key = id_of(&pool, 0);
    for _ in 0..3 {
        let lease = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(5)).await.unwrap();
        assert!(shared.leases.lock().unwrap().is_empty(), "an unlimited key takes no slot");
        drop(lease);
    }
    assert_eq!(shared.calls.load(Ordering::Relaxed), 3, "the store has the final word on cooldowns");
    assert_eq!(shared.in_flight.lock().unwrap().get(&key).copied().unwrap_or(0), 0);
}

fn quota_cooldown(credential: &str, scope: &str, for_ms: i64) -> CooldownRecord {
    CooldownRecord {
        key: CredentialKey { provider: "openai".into(), credential: credential.to_string() },
        scope: scope.into(),
        kind: CooldownKindRecord::Quota,
        reason: ErrorClass::RateLimit.as_str().into(),
        set_at_ms: now_ms(),
        until_ms: now_ms() + for_ms,
    }
}

#[tokio::test(start_paused = true)]
async fn a_cooldown_in_the_store_that_no_event_announced_keeps_the_key_out_and_is_learnt() {
    let shared = FakeShared::new();
    let two_keys = &[("OPENAI_API_KEY_1", "key-one"), ("OPENAI_API_KEY_2", "key-two"), ONE_KEY[1]];
    let pool = pool(&shared, two_keys);
    let (first, second) = (id_of(&pool, 0), id_of(&pool, 1));
    shared.cooldowns.lock().unwrap().push(quota_cooldown(&first, "m", 60_000));
    let deadline = Instant::now() + Duration::from_secs(5);
    let lease = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    assert_eq!(lease.credential.id.as_str(), second, "the store keeps the cooling key out");
    drop(lease);
    // The answer taught the pool the cooldown: with the other key excluded it now knows there is
    // nothing to take, and when the cooldown ends.
    let excluded = [pool.providers["openai"].credentials[1].id.clone()];
    let refused = pool.acquire("openai", "m", None, &excluded, Instant::now() + Duration::from_millis(10)).await;
    assert!(
        matches!(refused, Err(crate::pool::NoCredential::Unavailable { quota_until: Some(_), .. })),
        "{:?}",
        refused.err()
    );
    // A credential-wide cooldown counts for every model; another model's does not.
    shared.cooldowns.lock().unwrap().push(quota_cooldown(&second, "other-model", 60_000));
    let lease = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    assert_eq!(lease.credential.id.as_str(), second);
    drop(lease);
    shared.cooldowns.lock().unwrap().push(quota_cooldown(&second, crate::store::GLOBAL_SCOPE, 60_000));
    let refused = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_millis(10)).await;
    assert!(matches!(refused, Err(crate::pool::NoCredential::Unavailable { .. })), "{:?}", refused.err());
}

#[tokio::test(start_paused = true)]
async fn a_cooldown_set_by_another_instance_keeps_the_key_out_here() {
    let shared = FakeShared::new();
    let pool = pool(&shared, &[("OPENAI_API_KEY_1", "key-one"), ("OPENAI_API_KEY_2", "key-two")]);
    let first = id_of(&pool, 0);
    let record = quota_cooldown(&first, "m", 60_000);
    let _ = shared.events.send(SharedEvent::Change(StateChange::Cooldown(record)));
    tokio::time::sleep(Duration::from_millis(1)).await;
    let lease = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(5)).await.unwrap();
    assert_ne!(lease.credential.id.as_str(), first, "the other instance's cooldown applies here");
}
