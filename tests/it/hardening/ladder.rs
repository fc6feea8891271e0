//! Defect 7c: the 5xx backoff ladder climbs once per failure episode. Overlapping requests that
//! all meet the same failing keys (a burst, or resting keys tried as a last resort) move them one
//! rung, not to the cap.

use std::sync::Arc;
use std::time::Duration;

use llmkp::store::memory::MemoryStore;
use llmkp::store::{StateStore, now_ms};

use crate::support::gateway::{Gateway, PROXY_KEY, chat_body};
use crate::support::openai_mock::OpenAiMock;

#[tokio::test]
async fn fifty_overlapping_requests_on_two_failing_keys_rest_them_for_the_first_rung_only() {
    let mock = OpenAiMock::start().await;
    let store = Arc::new(MemoryStore::new());
    let base = mock.base_url();
    let vars = [
        ("OPENAI_API_BASE", base.as_str()),
        ("OPENAI_API_KEY_1", "err-key-a-0001"),
        ("OPENAI_API_KEY_2", "err-key-b-0002"),
        ("PROXY_API_KEY", PROXY_KEY),
    ];
    let gw = Arc::new(Gateway::start_with_store(&vars, Some(store.clone() as Arc<dyn StateStore>)).await);
    // 50 requests over 2.5 s, each overlapping the next.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let gw = gw.clone();
        tasks.push(tokio::spawn(async move {
            gw.post("/v1/chat/completions", &chat_body("openai/gpt-4o", "hi")).await.status()
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 502);
    }
    let now = now_ms();
    let snapshot = store.load(now).unwrap();
    assert_eq!(snapshot.cooldowns.len(), 2, "{:?}", snapshot.cooldowns);
    for cooldown in &snapshot.cooldowns {
        let left = (cooldown.until_ms - now) as f64 / 1000.0;
        assert!(left <= 10.0, "{} rests {left} s: the ladder climbed past its first rung", cooldown.key.credential);
    }
    assert!(snapshot.ladders.iter().all(|l| l.step == 1), "{:?}", snapshot.ladders);
}
