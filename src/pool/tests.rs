//! Pool behaviour with tokio's paused clock: waiting, leases, cooldowns, stickiness, fair cycle,
//! caps and restoring persisted state.

use super::*;
use crate::config::Env;

fn pool(pairs: &[(&str, &str)]) -> CredentialPool {
    let env = Env::from_pairs(pairs.iter().copied());
    let (registry, _) = Registry::from_env(&env);
    let names: Vec<&str> = registry.names();
    let (settings, warnings) = PoolSettings::from_env(&env, &names);
    assert!(warnings.is_empty(), "{warnings:?}");
    CredentialPool::new(settings, &registry, None)
}

const TWO_KEYS: &[(&str, &str)] = &[
    ("OPENAI_API_KEY_1", "key-one"),
    ("OPENAI_API_KEY_2", "key-two"),
    ("MAX_CONCURRENT_REQUESTS_PER_KEY_OPENAI", "1"),
];

#[tokio::test(start_paused = true)]
async fn a_request_finding_every_key_busy_waits_for_a_release() {
    let pool = Arc::new(pool(TWO_KEYS));
    let deadline = Instant::now() + Duration::from_secs(30);
    let a = pool.acquire("openai", "m", Some("s1"), &[], deadline).await.unwrap();
    let b = pool.acquire("openai", "m", Some("s2"), &[], deadline).await.unwrap();
    assert_eq!(pool.active_counts("openai"), [1, 1]);
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.acquire("openai", "m", Some("s3"), &[], deadline).await.map(|l| l.credential.masked.clone())
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!waiter.is_finished());
    drop(b);
    assert!(waiter.await.unwrap().is_ok());
    drop(a);
    assert_eq!(pool.active_counts("openai"), [0, 0]);
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_busy_key_ends_at_the_deadline() {
    let pool = pool(&TWO_KEYS[..1].iter().chain(&TWO_KEYS[2..]).copied().collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(3);
    let _held = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    let started = Instant::now();
    assert_eq!(pool.acquire("openai", "m", Some("other"), &[], deadline).await.err(), Some(NoCredential::Busy));
    assert_eq!(Instant::now() - started, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn leases_are_released_when_the_holding_task_panics() {
    let pool = Arc::new(pool(TWO_KEYS));
    let task = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let _lease = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(5)).await.unwrap();
            panic!("handler bug");
        })
    };
    assert!(task.await.is_err());
    assert_eq!(pool.active_counts("openai"), [0, 0]);
}

#[tokio::test(start_paused = true)]
async fn leases_are_released_when_the_request_is_cancelled() {
    let pool = Arc::new(pool(TWO_KEYS));
    let task = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let _lease = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(5)).await.unwrap();
            tokio::time::sleep(Duration::from_secs(3600)).await;
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(pool.active_counts("openai"), [1, 0]);
    task.abort();
    let _ = task.await;
    assert_eq!(pool.active_counts("openai"), [0, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_short_quota_cooldown_is_waited_out_and_a_long_one_is_reported() {
    let pool = pool(&[("OPENAI_API_KEY_1", "key-one")]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let lease = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    lease.record_failure(ErrorClass::RateLimit, Some(Duration::from_secs(5)), true);
    drop(lease);
    let started = Instant::now();
    let again = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    assert_eq!(Instant::now() - started, Duration::from_secs(5));
    again.record_failure(ErrorClass::RateLimit, Some(Duration::from_secs(60)), true);
    drop(again);
    let started = Instant::now();
    match pool.acquire("openai", "m", None, &[], deadline).await {
        Err(NoCredential::Unavailable { quota_until: Some(t), locked_until: None }) => {
            assert_eq!(t - started, Duration::from_secs(60));
        }
        other => panic!("expected an immediate quota report, got {:?}", other.map(|l| l.index)),
    }
    assert_eq!(Instant::now(), started, "it never sleeps first and fails afterwards");
}

#[tokio::test(start_paused = true)]
async fn sequential_mode_is_sticky_per_session_until_the_key_cools_down() {
    let pool = pool(&TWO_KEYS[..2]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    let index = first.index;
    drop(first);
    for _ in 0..3 {
        assert_eq!(pool.acquire("openai", "m", None, &[], deadline).await.unwrap().index, index);
    }
    let lease = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    lease.record_failure(ErrorClass::RateLimit, None, true);
    drop(lease);
    assert_ne!(pool.acquire("openai", "m", None, &[], deadline).await.unwrap().index, index);
}

#[tokio::test(start_paused = true)]
async fn fair_cycle_skips_exhausted_keys_until_the_whole_tier_is_exhausted() {
    let pool = pool(&[("OPENAI_API_KEY_1", "key-one"), ("OPENAI_API_KEY_2", "key-two")]);
    let deadline = || Instant::now() + Duration::from_secs(30);
    // Key one gets a 10-minute quota cooldown: exhausted for this cycle.
    let one = pool.acquire("openai", "m", None, &[], deadline()).await.unwrap();
    assert_eq!(one.index, 0);
    one.record_failure(ErrorClass::Quota, Some(Duration::from_secs(600)), true);
    drop(one);
    tokio::time::advance(Duration::from_secs(601)).await;
    // Its cooldown is over, but key two has not been used up yet: key two serves.
    for _ in 0..3 {
        assert_eq!(pool.acquire("openai", "m", None, &[], deadline()).await.unwrap().index, 1);
    }
    let two = pool.acquire("openai", "m", None, &[], deadline()).await.unwrap();
    two.record_failure(ErrorClass::Quota, Some(Duration::from_secs(600)), true);
    drop(two);
    // Every key of the tier is exhausted and key one is free again: the cycle resets.
    assert_eq!(pool.acquire("openai", "m", None, &[], deadline()).await.unwrap().index, 0);
}

#[tokio::test(start_paused = true)]
async fn fair_cycle_reset_waits_for_a_cooldown_that_ends_soon() {
    let pool = pool(&[("OPENAI_API_KEY_1", "key-one"), ("OPENAI_API_KEY_2", "key-two")]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let one = pool.acquire("openai", "m", None, &[], deadline).await.unwrap();
    one.record_failure(ErrorClass::Quota, Some(Duration::from_secs(600)), true);
    drop(one);
    tokio::time::advance(Duration::from_secs(560)).await;
    let two = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(60)).await.unwrap();
    two.record_failure(ErrorClass::Quota, Some(Duration::from_secs(900)), true);
    drop(two);
    // Both exhausted; key one's cooldown ends in 40 s (< 90 s): no reset yet, the request
    // waits for key one rather than resetting early.
    let started = Instant::now();
    let again = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(60)).await.unwrap();
    assert_eq!(again.index, 0);
    assert_eq!(Instant::now() - started, Duration::from_secs(40));
}

#[tokio::test(start_paused = true)]
async fn a_custom_cap_cools_the_key_down_until_the_window_resets() {
    let pool = pool(&[
        ("OPENAI_API_KEY_1", "key-one"),
        ("OPENAI_API_KEY_2", "key-two"),
        ("CUSTOM_CAP_OPENAI_T10_GPT_4O", "2"),
    ]);
    let deadline = || Instant::now() + Duration::from_secs(30);
    let mut used = Vec::new();
    for _ in 0..4 {
        let lease = pool.acquire("openai", "gpt-4o", None, &[], deadline()).await.unwrap();
        used.push(lease.index);
        lease.record_success(None);
    }
    assert_eq!(used, [0, 0, 1, 1], "each key stops at its cap");
    match pool.acquire("openai", "gpt-4o", None, &[], deadline()).await {
        Err(NoCredential::Unavailable { quota_until: Some(t), .. }) => {
            let left = t - Instant::now();
            assert!(left > Duration::from_secs(23 * 3600), "until the 24 h window resets: {left:?}");
        }
        other => panic!("expected both keys capped, got {:?}", other.map(|l| l.index)),
    }
    // Other models are not capped.
    assert!(pool.acquire("openai", "o3", None, &[], deadline()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn persisted_state_is_restored_by_a_new_pool() {
    let store: Arc<dyn StateStore> = Arc::new(crate::store::memory::MemoryStore::new());
    let env = Env::from_pairs([("OPENAI_API_KEY_1", "key-one"), ("OPENAI_API_KEY_2", "key-two")]);
    let (registry, _) = Registry::from_env(&env);
    let settings = || PoolSettings::from_env(&env, &registry.names()).0;
    let first = CredentialPool::new(settings(), &registry, Some(store.clone()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let lease = first.acquire("openai", "m", None, &[], deadline).await.unwrap();
    lease.record_failure(ErrorClass::Auth, None, true);
    drop(lease);
    let second = CredentialPool::new(settings(), &registry, Some(store));
    let lease = second.acquire("openai", "m", None, &[], deadline).await.unwrap();
    assert_eq!(lease.index, 1, "the locked key stays locked after a restart");
    match second.unavailable_until("openai", "m") {
        (None, None) => {}
        other => panic!("key two is free, so nothing is unavailable: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_successful_probe_after_a_lockout_clears_the_persisted_ladders() {
    let store: Arc<dyn StateStore> = Arc::new(crate::store::memory::MemoryStore::new());
    let env = Env::from_pairs([("OPENAI_API_KEY_1", "key-one")]);
    let (registry, _) = Registry::from_env(&env);
    let pool = CredentialPool::new(PoolSettings::from_env(&env, &registry.names()).0, &registry, Some(store.clone()));
    let lease = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(30)).await.unwrap();
    lease.record_failure(ErrorClass::Auth, None, true);
    drop(lease);
    assert_eq!(store.load(crate::store::now_ms()).unwrap().ladders.len(), 1);
    tokio::time::advance(Duration::from_secs(301)).await;
    let probe = pool.acquire("openai", "m", None, &[], Instant::now() + Duration::from_secs(30)).await.unwrap();
    probe.record_success(None);
    let snapshot = store.load(crate::store::now_ms()).unwrap();
    assert!(snapshot.ladders.is_empty(), "the lockout ladder is forgotten on disk too: {:?}", snapshot.ladders);
}

#[tokio::test(start_paused = true)]
async fn a_gemini_429_with_retry_delay_17s_cools_that_key_for_17_seconds() {
    use crate::formats::failure::{ErrorClass, classify_http};
    let body = serde_json::json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
    "message": "You exceeded your current quota, please check your plan and billing details.",
    "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "PerMinute"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"},
    ]}});
    let failure = classify_http(429, &http::HeaderMap::new(), body.to_string().as_bytes());
    assert_eq!((failure.class, failure.retry_after), (ErrorClass::Quota, Some(Duration::from_secs(17))));

    let pool = pool(&[("GEMINI_API_KEY_1", "gm-one"), ("GEMINI_API_KEY_2", "gm-two")]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let lease = pool.acquire("gemini", "gemini-2.5-flash", None, &[], deadline).await.unwrap();
    let limited = lease.credential.id.clone();
    lease.record_failure(failure.class, failure.retry_after, true);
    let other =
        pool.acquire("gemini", "gemini-2.5-flash", None, std::slice::from_ref(&limited), deadline).await.unwrap();
    let other = other.credential.id.clone();
    // Only the limited key left to choose from: nothing until its 17 s are over.
    let only_limited = |pool: &CredentialPool| {
        let lease = pool.acquire("gemini", "gemini-2.5-flash", None, std::slice::from_ref(&other), Instant::now());
        futures::FutureExt::now_or_never(lease).unwrap().ok().map(|l| l.credential.id.clone())
    };
    assert_eq!(only_limited(&pool), None);
    tokio::time::advance(Duration::from_millis(16_900)).await;
    assert_eq!(only_limited(&pool), None, "still cooling at 16.9 s");
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(only_limited(&pool), Some(limited), "free again after 17 s");
}
