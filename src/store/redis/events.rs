//! The event channel: each instance publishes what it changed (`change`), the slots it freed
//! (`release`), the usage windows it counted (`usage`) and the logins it refreshed (`login`), and
//! subscribes to the others'. Messages are `<instance>\n<kind>\n<payload>`; an instance ignores
//! its own. A lost subscription is re-established and followed by a resynchronisation, since
//! messages sent meanwhile are gone.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;

use super::Inner;
use crate::store::shared::SharedEvent;
use crate::store::{StateChange, UsageRecord};

const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs until the store is dropped (the task is aborted), starting from `first`: the
/// subscription [`RedisStore::open`](super::RedisStore::open) made before returning, so every
/// change published after the store opened reaches this instance. Without one (Redis was down),
/// the first subscription is followed by a resynchronisation like every later one.
pub async fn subscriber(inner: Arc<Inner>, mut first: Option<redis::aio::PubSub>) {
    loop {
        let subscribed = match first.take() {
            Some(pubsub) => Ok(pubsub),
            None => subscribe(&inner).await.inspect(|_| inner.resync.notify_one()),
        };
        match subscribed {
            Ok(pubsub) => {
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    dispatch(&inner, message.get_payload_bytes());
                }
            }
            Err(e) => inner.health.fail(&e),
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

pub async fn subscribe(inner: &Inner) -> redis::RedisResult<redis::aio::PubSub> {
    let connect = async {
        let mut pubsub = inner.client.get_async_pubsub().await?;
        pubsub.subscribe(inner.keys.events()).await?;
        Ok(pubsub)
    };
    tokio::time::timeout(SUBSCRIBE_TIMEOUT, connect)
        .await
        .unwrap_or_else(|_| Err(redis::RedisError::from((redis::ErrorKind::Io, "subscribe timed out"))))
}

fn dispatch(inner: &Inner, payload: &[u8]) {
    let Ok(text) = std::str::from_utf8(payload) else { return };
    let mut lines = text.splitn(3, '\n');
    let (Some(from), Some(kind), body) = (lines.next(), lines.next(), lines.next().unwrap_or_default()) else {
        return;
    };
    if from == inner.instance {
        return;
    }
    match kind {
        "change" => {
            for line in body.lines() {
                if let Ok(change) = serde_json::from_str::<StateChange>(line) {
                    let _ = inner.events.send(SharedEvent::Change(change));
                }
            }
        }
        "release" => {
            if let Some((provider, credential)) = body.split_once('\n') {
                let event =
                    SharedEvent::Released { provider: provider.to_string(), credential: credential.to_string() };
                let _ = inner.events.send(event);
            }
        }
        "usage" => {
            if let Ok(rows) = serde_json::from_str::<Vec<UsageRecord>>(body) {
                let _ = inner.events.send(SharedEvent::Usage(rows));
            }
        }
        "login" => {
            let _ = inner.logins_published.send(body.to_string());
        }
        _ => {}
    }
}
