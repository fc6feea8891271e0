//! Concurrency leases and sticky sessions across instances: one script call takes a slot (and
//! reads the cooldowns the store holds for the candidates, and reads and renews the session's
//! binding), one frees it. Leases carry a TTL that this instance
//! extends while they run, so the slots of an instance that dies free themselves.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use redis::AsyncCommands as _;

use super::connection::HOT_PATH_TIMEOUT;
use super::keys;
use super::scripts::{ACQUIRE, HEARTBEAT, RELEASE};
use super::worker::WriterCommand;
use super::{Inner, LiveLease};
use crate::store::shared::{BoxFuture, Coordinator, LeaseAnswer, LeaseAsk, SharedEvent, SharedLeaseId};
use crate::store::{CooldownRecord, GLOBAL_SCOPE, StoreError};

impl Coordinator for Inner {
    fn available(&self) -> bool {
        self.health.is_up()
    }

    fn acquire<'a>(&'a self, ask: LeaseAsk<'a>) -> BoxFuture<'a, Result<LeaseAnswer, StoreError>> {
        Box::pin(async move {
            self.changes_applied().await;
            let id = self.next_lease.fetch_add(1, Ordering::Relaxed);
            let member = format!("{}:{id}", self.instance);
            let ttl_ms = millis(self.settings.lease_ttl);
            let n = ask.candidates.len();
            let mut invocation = ACQUIRE.prepare_invoke();
            for c in &ask.candidates {
                invocation.key(self.keys.lease(ask.provider, c.credential));
            }
            invocation.key(self.keys.cooldowns());
            if let Some(sticky) = &ask.sticky {
                invocation.key(self.keys.sticky(ask.provider, ask.scope, sticky.session));
            }
            invocation
                .arg(&member)
                .arg(ttl_ms)
                .arg(n)
                .arg(u8::from(ask.sticky.is_some()))
                .arg(u8::from(ask.sticky.as_ref().is_some_and(|s| s.wait)))
                .arg(ask.sticky.as_ref().map_or(1, |s| millis(s.ttl)))
                .arg(ask.now_ms)
                .arg(keys::scoped_head(ask.provider))
                .arg(keys::scoped_tail(ask.scope))
                .arg(keys::scoped_tail(GLOBAL_SCOPE));
            for c in &ask.candidates {
                invocation
                    .arg(c.credential)
                    .arg(c.max.map_or(0, i64::from))
                    .arg(keys::encoded(c.credential))
                    .arg(u8::from(c.last_resort));
            }
            let mut conn = self.conn.clone();
            let (chosen, bound, counts, cooldowns): (i64, i64, Vec<i64>, Vec<String>) =
                match tokio::time::timeout(HOT_PATH_TIMEOUT, invocation.invoke_async(&mut conn)).await {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(e)) => return Err(self.failed(&e)),
                    Err(_) => return Err(self.failed(&"no answer in time")),
                };
            let in_flight: Vec<Option<u32>> = (0..n)
                .map(|i| {
                    let count = counts.get(i).copied().unwrap_or(-1);
                    (count >= 0 && ask.candidates[i].max.is_some()).then(|| u32::try_from(count).unwrap_or(u32::MAX))
                })
                .collect();
            let cooldowns: Vec<CooldownRecord> =
                cooldowns.iter().filter_map(|raw| serde_json::from_str(raw).ok()).collect();
            let index_of = |one_based: i64| usize::try_from(one_based - 1).ok().filter(|&i| i < n);
            Ok(match index_of(chosen) {
                Some(index) => {
                    let candidate = &ask.candidates[index];
                    let lease = candidate.max.is_some().then(|| {
                        let key = self.keys.lease(ask.provider, candidate.credential);
                        let live = LiveLease {
                            key,
                            member,
                            provider: ask.provider.to_string(),
                            credential: candidate.credential.to_string(),
                        };
                        self.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, live);
                        SharedLeaseId(id)
                    });
                    LeaseAnswer::Leased { index, lease, in_flight, cooldowns }
                }
                None => LeaseAnswer::Full { sticky: index_of(bound), in_flight, cooldowns },
            })
        })
    }

    fn release(&self, lease: SharedLeaseId) {
        let live = self.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&lease.0);
        // While Redis is down the lease expires by itself; a reconnect re-registers only the
        // leases still live. Releases go through the writer, so a flush (shutdown, the end of a
        // one-shot command) waits for them.
        if let Some(live) = live.filter(|_| self.health.is_up()) {
            let _ = self.writer.send(WriterCommand::Release(live));
        }
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SharedEvent> {
        self.events.subscribe()
    }
}

/// Frees slots in Redis and tells the other instances (one round trip for every lease released
/// meanwhile, off the request path).
pub async fn release(inner: &Inner, leases: &[LiveLease]) -> Result<(), redis::RedisError> {
    let mut invocation = RELEASE.prepare_invoke();
    invocation.arg(inner.keys.events());
    for live in leases {
        let message = format!("{}\nrelease\n{}\n{}", inner.instance, live.provider, live.credential);
        invocation.key(&live.key).arg(&live.member).arg(message);
    }
    let mut conn = inner.conn.clone();
    match tokio::time::timeout(HOT_PATH_TIMEOUT, invocation.invoke_async::<i64>(&mut conn)).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(redis::RedisError::from((redis::ErrorKind::Io, "no answer in time"))),
    }
}

/// Extends this instance's live leases (`XX`: only those still registered) or, after an outage,
/// registers them again (`ADD`).
pub async fn heartbeat(inner: &Arc<Inner>, mode: &str) -> Result<(), redis::RedisError> {
    let live: Vec<(String, String)> = inner
        .leases
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .values()
        .map(|l| (l.key.clone(), l.member.clone()))
        .collect();
    let mut conn = inner.conn.clone();
    for chunk in live.chunks(500) {
        let mut invocation = HEARTBEAT.prepare_invoke();
        invocation.arg(millis(inner.settings.lease_ttl)).arg(mode);
        for (key, member) in chunk {
            invocation.key(key).arg(member);
        }
        invocation.invoke_async::<i64>(&mut conn).await?;
    }
    if live.is_empty() {
        // Still proves the connection works.
        let _: bool = conn.exists(inner.keys.events()).await?;
    }
    Ok(())
}

pub fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}
