//! The store's background work: the writer (state changes at once, usage in batches, everything
//! kept while Redis is down and sent when it is back) and the keeper (extends live leases, probes
//! a lost Redis, and on reconnect re-registers leases and resynchronises every pool).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, MissedTickBehavior};

use super::changes::{UsageBatch, UsageQueue, freeze_usage, prune_cooldowns, queue_usage, send_changes, send_usage};
use super::leases::{heartbeat, release};
use super::snapshot::load_async;
use super::{Inner, LiveLease};
use crate::store::StateChange;
use crate::store::shared::SharedEvent;

/// Changes kept while Redis is down; beyond this the oldest are dropped (usage rows are summed,
/// so they stay few).
const MAX_PENDING_CHANGES: usize = 100_000;
/// How often a lost Redis is probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Every pool re-reads the whole store this often, making good any event it missed.
const RESYNC_EVERY: Duration = Duration::from_secs(30);
/// Background calls taking longer than this count as Redis being down.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

pub enum WriterCommand {
    /// Changes; `true` when they include others than usage (a lease waits for those).
    Record(Vec<StateChange>, bool),
    /// Free a lease slot now.
    Release(LiveLease),
    /// Send everything queued, then answer.
    Flush(std::sync::mpsc::Sender<()>),
    /// The same, for the keeper (before it resynchronises after an outage).
    Sync(tokio::sync::oneshot::Sender<()>),
}

pub async fn writer(inner: Arc<Inner>, mut commands: UnboundedReceiver<WriterCommand>) {
    let mut changes = Changes { queue: VecDeque::new(), awaited: 0 };
    let mut usage = Usage { queue: UsageQueue::new(), batches: VecDeque::new() };
    let mut tick = tokio::time::interval(inner.settings.flush_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut batch = Vec::with_capacity(COMMANDS_PER_TURN);
    loop {
        tokio::select! {
            received = commands.recv_many(&mut batch, COMMANDS_PER_TURN) => {
                if received == 0 {
                    send_everything(&inner, &mut changes, &mut usage).await;
                    break;
                }
                // Everything that queued up while the last call ran is handled in one turn:
                // one call for all the releases, one for all the changes.
                let mut releases = Vec::new();
                let mut flushes = Vec::new();
                for command in batch.drain(..) {
                    match command {
                        WriterCommand::Record(recorded, awaited) => {
                            changes.awaited += u64::from(awaited);
                            for change in recorded {
                                match change {
                                    StateChange::Usage { key, scope, at_ms, window_ms, delta } => {
                                        queue_usage(&mut usage.queue, key, scope, at_ms, window_ms, &delta);
                                    }
                                    other => changes.queue.push_back(other),
                                }
                            }
                        }
                        WriterCommand::Release(live) => releases.push(live),
                        WriterCommand::Flush(reply) => flushes.push(Reply::Blocking(reply)),
                        WriterCommand::Sync(reply) => flushes.push(Reply::Async(reply)),
                    }
                }
                if changes.queue.len() > MAX_PENDING_CHANGES {
                    let excess = changes.queue.len() - MAX_PENDING_CHANGES;
                    changes.queue.drain(..excess);
                }
                for chunk in releases.chunks(500) {
                    if let Err(e) = release(&inner, chunk).await {
                        inner.failed(&e);
                    }
                }
                // Cooldowns and lockouts reach the other instances now, not at the next tick.
                if !changes.queue.is_empty() && inner.health.is_up() {
                    send_pending_changes(&inner, &mut changes).await;
                }
                if !flushes.is_empty() {
                    send_everything(&inner, &mut changes, &mut usage).await;
                    for reply in flushes {
                        reply.send();
                    }
                }
            },
            _ = tick.tick() => {
                if inner.health.is_up() {
                    send_everything(&inner, &mut changes, &mut usage).await;
                }
            }
        }
    }
}

/// Changes not yet in Redis, and how many batches a lease may be waiting for among them.
struct Changes {
    queue: VecDeque<StateChange>,
    awaited: u64,
}

async fn send_pending_changes(inner: &Inner, changes: &mut Changes) {
    let batch: Vec<StateChange> = changes.queue.iter().cloned().collect();
    match send_changes(inner, &batch).await {
        Ok(()) => {
            changes.queue.clear();
            inner.unapplied.fetch_sub(std::mem::take(&mut changes.awaited), Ordering::AcqRel);
            inner.applied.notify_waiters();
        }
        Err(e) => {
            inner.failed(&e);
        }
    }
}

/// Usage not yet in Redis: increments still being summed, and batches frozen for sending.
struct Usage {
    queue: UsageQueue,
    batches: VecDeque<UsageBatch>,
}

async fn send_everything(inner: &Inner, changes: &mut Changes, usage: &mut Usage) {
    if !changes.queue.is_empty() {
        send_pending_changes(inner, changes).await;
    }
    if !changes.queue.is_empty() {
        return;
    }
    freeze_usage(inner, &mut usage.queue, &mut usage.batches);
    while let Some(batch) = usage.batches.front() {
        match send_usage(inner, batch).await {
            Ok(()) => {
                usage.batches.pop_front();
            }
            Err(e) => {
                inner.failed(&e);
                return;
            }
        }
    }
}

/// Commands handled in one turn of the writer at most.
const COMMANDS_PER_TURN: usize = 1024;

/// Who waits for a flush.
enum Reply {
    Blocking(std::sync::mpsc::Sender<()>),
    Async(tokio::sync::oneshot::Sender<()>),
}

impl Reply {
    fn send(self) {
        match self {
            Self::Blocking(reply) => {
                let _ = reply.send(());
            }
            Self::Async(reply) => {
                let _ = reply.send(());
            }
        }
    }
}

/// Keeps leases alive and the connection watched; resynchronises after an outage.
pub async fn keeper(inner: Arc<Inner>) {
    let mut last_sync = Instant::now();
    loop {
        let pause = if inner.health.is_up() {
            (inner.settings.lease_ttl / 3).max(Duration::from_millis(100))
        } else {
            PROBE_EVERY
        };
        let forced = tokio::select! {
            () = tokio::time::sleep(pause) => false,
            () = inner.resync.notified() => true,
        };
        if inner.health.is_up() {
            match tokio::time::timeout(CALL_TIMEOUT, heartbeat(&inner, "XX")).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    inner.failed(&e);
                    continue;
                }
                Err(_) => {
                    inner.failed(&"no answer in time");
                    continue;
                }
            }
            // A lost subscription may mean a restarted Redis that forgot our leases.
            if forced {
                let _ = tokio::time::timeout(CALL_TIMEOUT, heartbeat(&inner, "ADD")).await;
            }
            if (forced || last_sync.elapsed() >= RESYNC_EVERY) && resync(&inner).await.is_ok() {
                last_sync = Instant::now();
            }
        } else if matches!(tokio::time::timeout(CALL_TIMEOUT, heartbeat(&inner, "ADD")).await, Ok(Ok(()))) {
            // Leases taken while Redis was away count again; what was recorded meanwhile goes
            // out before the pools re-read the store (or a cooldown cleared here would come back).
            let (reply, sent) = tokio::sync::oneshot::channel();
            let _ = inner.writer.send(WriterCommand::Sync(reply));
            let _ = tokio::time::timeout(CALL_TIMEOUT * 5, sent).await;
            if resync(&inner).await.is_ok() {
                inner.health.recover();
                last_sync = Instant::now();
            }
        }
    }
}

/// Reads everything and hands it to the pools.
async fn resync(inner: &Inner) -> Result<(), ()> {
    let mut conn = inner.conn.clone();
    let loaded = tokio::time::timeout(CALL_TIMEOUT, load_async(&mut conn, &inner.keys, crate::store::now_ms()))
        .await
        .unwrap_or_else(|_| Err(redis::RedisError::from((redis::ErrorKind::Io, "no answer in time"))));
    match loaded {
        Ok((snapshot, ended)) => {
            let _ = inner.events.send(SharedEvent::Resynced(snapshot));
            if let Err(e) = prune_cooldowns(inner, ended).await {
                inner.failed(&e);
            }
            Ok(())
        }
        Err(e) => {
            inner.failed(&e);
            Err(())
        }
    }
}
