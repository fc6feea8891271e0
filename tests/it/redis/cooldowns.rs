//! A cooldown one instance sets is honoured by the others before and until it ends.

use std::time::Duration;

use llmkp::auth::CredentialId;
use llmkp::store::{CooldownKindRecord, CooldownRecord, CredentialKey};

use super::{post, prefix, redis_url, serve, vars};
use crate::support::gateway::chat_body;
use crate::support::openai_mock::OpenAiMock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_instance_cools_the_key_for_the_other_until_the_cooldown_ends() {
    let Some(url) = redis_url() else { return };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let prefix = prefix("cooldowns");
    // `rl…` answers 429 with `retry-after: 7` (long enough that a loaded machine still sends B's
    // requests inside the cooldown); the least used key is taken first.
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "rl-limited-key-0001"),
        ("OPENAI_API_KEY_2", "sk-spare-key-0002"),
        ("ROTATION_MODE_OPENAI", "balanced"),
        ("ROTATION_TOLERANCE", "0"),
        ("LLMKP_STATE_URL", &url),
        ("LLMKP_STATE_PREFIX", &prefix),
    ]);
    let (a, _home_a) = serve(&env).await;
    let (b, _home_b) = serve(&env).await;
    let client = reqwest::Client::new();
    let limited = || mock.keys_used().iter().filter(|k| k.starts_with("rl")).count();

    let response = post(&client, &a, &chat_body("openai/gpt-4o", "first")).await;
    assert_eq!(response.status(), 200, "A rotated to the spare key");
    assert_eq!(limited(), 1, "A met the 429");

    // B has never used either key itself: only the shared cooldown keeps it off the limited one.
    // (Sent together, so they all fall well inside the 7 s cooldown.)
    let bodies: Vec<_> = (0..3).map(|i| chat_body("openai/gpt-4o", &format!("b{i}"))).collect();
    let from_b = bodies.iter().map(|body| post(&client, &b, body));
    for response in futures::future::join_all(from_b).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(limited(), 1, "B made no call with the cooling key");

    tokio::time::sleep(Duration::from_millis(7300)).await;
    let response = post(&client, &b, &chat_body("openai/gpt-4o", "after")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(limited(), 2, "once the cooldown ended B used the key again (least used)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_test_against_the_shared_store_locks_a_dead_key_out_of_a_running_instance() {
    let Some(url) = redis_url() else { return };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let prefix = prefix("keys-test");
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "bad-revoked-key-0001"),
        ("OPENAI_API_KEY_2", "sk-working-key-0002"),
        ("LLMKP_STATE_URL", &url),
        ("LLMKP_STATE_PREFIX", &prefix),
    ]);
    let (a, _home_a) = serve(&env).await;
    let home = tempfile::tempdir().unwrap();
    let mut keys_test = super::command(home.path(), &env);
    keys_test.args(["keys", "test", "--json"]);
    let output = tokio::task::spawn_blocking(move || keys_test.output().unwrap()).await.unwrap();
    assert_eq!(output.status.code(), Some(1), "one of two keys failed");
    // The lockout reached the running instance: its first pick would otherwise be key one.
    let client = reqwest::Client::new();
    for i in 0..3 {
        assert_eq!(post(&client, &a, &chat_body("openai/gpt-4o", &format!("q{i}"))).await.status(), 200);
    }
    assert!(mock.keys_used().iter().all(|k| !k.starts_with("bad")), "{:?}", mock.keys_used());
}

/// A cooldown as another instance writes it to the shared store (`P:cooldowns`), without the
/// announcement that would normally follow it.
fn write_unannounced_cooldown(url: &str, prefix: &str, key: &str, scope: &str, kind: CooldownKindRecord) {
    let now = llmkp::store::now_ms();
    let credential = CredentialId::for_api_key(key).as_str().to_string();
    let field = serde_json::to_string(&["openai", &credential, scope]).unwrap();
    let record = CooldownRecord {
        key: CredentialKey { provider: "openai".into(), credential },
        scope: scope.into(),
        kind,
        reason: "rate_limit".into(),
        set_at_ms: now,
        until_ms: now + 60_000,
    };
    let mut conn = ::redis::Client::open(url).unwrap().get_connection().unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg(format!("{prefix}:cooldowns"))
        .arg(field)
        .arg(serde_json::to_string(&record).unwrap())
        .query(&mut conn)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_in_redis_whose_announcement_was_missed_still_keeps_the_key_out() {
    // Every lease is taken by a script in Redis (a key without a concurrency limit too), which
    // also reads the cooldowns there: one this instance never heard of still counts.
    let Some(url) = redis_url() else { return };
    let mock = OpenAiMock::start().await;
    let base = mock.base_url();
    let prefix = prefix("unannounced");
    let env = vars(&[
        ("OPENAI_API_BASE", &base),
        ("OPENAI_API_KEY_1", "sk-first-key-0001"),
        ("OPENAI_API_KEY_2", "sk-second-key-0002"),
        ("ROTATION_MODE_OPENAI", "balanced"),
        ("LLMKP_STATE_URL", &url),
        ("LLMKP_STATE_PREFIX", &prefix),
    ]);
    let (b, _home) = serve(&env).await;
    let client = reqwest::Client::new();
    write_unannounced_cooldown(&url, &prefix, "sk-first-key-0001", "gpt-4o", CooldownKindRecord::Quota);
    for i in 0..4 {
        let response = post(&client, &b, &chat_body("openai/gpt-4o", &format!("q{i}"))).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(mock.keys_used(), ["sk-second-key-0002"; 4], "the cooling key was never called");

    // A lockout of the other key, credential-wide: nothing is left, and the client is told when
    // the quota cooldown ends rather than sent to a locked key.
    write_unannounced_cooldown(&url, &prefix, "sk-second-key-0002", "_global_", CooldownKindRecord::Lockout);
    let response = post(&client, &b, &chat_body("openai/gpt-4o", "none left")).await;
    assert_eq!(response.status(), 429, "{:?}", response.text().await);
    assert_eq!(mock.keys_used().len(), 4, "no key was called");
}
