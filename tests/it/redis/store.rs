//! The Redis store through its own API (no `serve`): what one instance records is in Redis before
//! its next lease is taken.

use std::time::Duration;

use llmkp::store::redis::{RedisSettings, RedisStore};
use llmkp::store::shared::{LeaseAnswer, LeaseAsk, LeaseCandidate};
use llmkp::store::{CooldownKindRecord, CooldownRecord, CredentialKey, StateChange, StateStore, now_ms};

use super::{prefix, redis_url};

/// The test Redis as a store under a prefix of its own (`None`: skip).
async fn open(test: &str) -> Option<RedisStore> {
    let settings = RedisSettings {
        url: redis_url()?,
        prefix: prefix(test),
        lease_ttl: Duration::from_secs(30),
        flush_interval: Duration::from_secs(1),
    };
    Some(RedisStore::open(settings).await.unwrap())
}

// One thread: nothing the store does in the background can run before the lease is asked for
// unless the lease waits for it.
#[tokio::test(flavor = "current_thread")]
async fn a_lease_asked_right_after_a_cooldown_was_recorded_passes_over_that_key() {
    let Some(store) = open("store").await else { return };
    let coordinator = store.coordinator().expect("a shared store coordinates");
    let now = now_ms();
    let cooling = CooldownRecord {
        key: CredentialKey { provider: "openai".into(), credential: "aaaaaaaaaaaa".into() },
        scope: "gpt-4o".into(),
        kind: CooldownKindRecord::Quota,
        reason: "rate_limit".into(),
        set_at_ms: now,
        until_ms: now + 60_000,
    };
    store.record(vec![StateChange::Cooldown(cooling.clone())]);
    let candidates = ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
        .map(|credential| LeaseCandidate { credential, max: None, last_resort: false })
        .to_vec();
    let ask = LeaseAsk { provider: "openai", scope: "gpt-4o", now_ms: now_ms(), candidates, sticky: None };
    match coordinator.acquire(ask).await.unwrap() {
        LeaseAnswer::Leased { index, cooldowns, .. } => {
            assert_eq!(index, 1, "the key cooled here a moment ago is passed over");
            assert_eq!(cooldowns, [cooling], "and its cooldown comes back with the answer");
        }
        full @ LeaseAnswer::Full { .. } => panic!("the other key was free: {full:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_rest_in_redis_gives_way_only_to_a_last_resort_and_a_credential_wide_lockout_never() {
    let Some(store) = open("store-kinds").await else { return };
    let coordinator = store.coordinator().unwrap();
    let record = |credential: &str, scope: &str, kind| {
        let now = now_ms();
        CooldownRecord {
            key: CredentialKey { provider: "openai".into(), credential: credential.into() },
            scope: scope.into(),
            kind,
            reason: "server_error".into(),
            set_at_ms: now,
            until_ms: now + 60_000,
        }
    };
    let resting = record("rrrrrrrrrrrr", "gpt-4o", CooldownKindRecord::TransientRest);
    let locked = record("llllllllllll", "_global_", CooldownKindRecord::Lockout);
    store.record(vec![StateChange::Cooldown(resting.clone()), StateChange::Cooldown(locked.clone())]);
    let ask = |credential: &'static str, last_resort: bool| LeaseAsk {
        provider: "openai",
        scope: "gpt-4o",
        now_ms: now_ms(),
        candidates: vec![LeaseCandidate { credential, max: Some(10), last_resort }],
        sticky: None,
    };
    let leased = |answer: LeaseAnswer| matches!(answer, LeaseAnswer::Leased { .. });
    assert!(!leased(coordinator.acquire(ask("rrrrrrrrrrrr", false)).await.unwrap()), "resting: not a first choice");
    assert!(leased(coordinator.acquire(ask("rrrrrrrrrrrr", true)).await.unwrap()), "but a last resort");
    match coordinator.acquire(ask("llllllllllll", true)).await.unwrap() {
        LeaseAnswer::Full { cooldowns, .. } => assert_eq!(cooldowns, [locked], "locked for every model"),
        leased @ LeaseAnswer::Leased { .. } => panic!("a locked key was leased: {leased:?}"),
    }
}
