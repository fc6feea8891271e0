//! Writing state changes: cooldowns, lockouts, ladder steps and fair-cycle marks go out at once
//! (one script call per batch, which also tells the other instances); usage increments are
//! summed per row and sent in batches off the request path, and the windows they produce are
//! handed to every instance's pool.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;

use redis::AsyncCommands as _;

use super::Inner;
use super::keys;
use super::scripts::{APPLY, USAGE};
use crate::store::shared::SharedEvent;
use crate::store::{CredentialKey, StateChange, UsageCounters, UsageRecord};

/// Changes per script call at most.
const CHANGES_PER_CALL: usize = 200;
/// Usage rows per script call at most.
const ROWS_PER_CALL: usize = 100;

/// Summed usage increments of one (credential, scope) row.
#[derive(Debug, Clone)]
pub struct PendingUsage {
    pub at_ms: i64,
    pub window_ms: i64,
    pub delta: UsageCounters,
}

pub type UsageQueue = HashMap<(CredentialKey, String), PendingUsage>;

/// Adds one increment to the queue. Increments closer together than a flush interval share a
/// window, so summing them first changes nothing the window logic would see.
pub fn queue_usage(
    queue: &mut UsageQueue,
    key: CredentialKey,
    scope: String,
    at_ms: i64,
    window_ms: i64,
    delta: &UsageCounters,
) {
    let entry = queue.entry((key, scope)).or_insert(PendingUsage { at_ms, window_ms, delta: UsageCounters::default() });
    entry.at_ms = entry.at_ms.max(at_ms);
    entry.delta.add(delta);
}

const COOLDOWNS: u8 = 1;
const LADDERS: u8 = 2;
const FAIR_CYCLE: u8 = 3;

/// One script operation: op, field, value, event line, key index.
type Op = (&'static str, String, String, String, u8);

fn ops_of(change: &StateChange) -> Vec<Op> {
    let event = serde_json::to_string(change).unwrap_or_default();
    match change {
        StateChange::Cooldown(c) => {
            vec![("cooldown", keys::scoped(&c.key, &c.scope), json(c), event, COOLDOWNS)]
        }
        StateChange::ClearCooldown { key, scope } => {
            vec![("del", keys::scoped(key, scope), String::new(), event, COOLDOWNS)]
        }
        StateChange::Ladder(l) => {
            let field = keys::id(&[&l.key.provider, &l.key.credential, &l.scope, l.kind.as_str()]);
            vec![("ladder", field, json(l), event, LADDERS)]
        }
        StateChange::ClearLadders { key, scope } => ["backoff", "auth"]
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let field = keys::id(&[&key.provider, &key.credential, scope, kind]);
                ("del", field, String::new(), if i == 0 { event.clone() } else { String::new() }, LADDERS)
            })
            .collect(),
        StateChange::FairCycleExhausted(f) => {
            let field = keys::id(&[&f.key.provider, &f.key.credential, &f.tracking]);
            vec![("set", field, json(f), event, FAIR_CYCLE)]
        }
        StateChange::ClearFairCycle { provider, tracking, credentials } => credentials
            .iter()
            .enumerate()
            .map(|(i, credential)| {
                let field = keys::id(&[provider, credential, tracking]);
                ("del", field, String::new(), if i == 0 { event.clone() } else { String::new() }, FAIR_CYCLE)
            })
            .collect(),
        StateChange::Usage { .. } => Vec::new(),
    }
}

/// A record as a hash value (the scripts read `kind`, `until_ms`, `step`, `last_failure_ms`).
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Sends cooldown, ladder and fair-cycle changes; the other instances hear of those that changed
/// something.
pub async fn send_changes(inner: &Inner, changes: &[StateChange]) -> Result<(), redis::RedisError> {
    let ops: Vec<Op> = changes.iter().flat_map(ops_of).collect();
    let mut conn = inner.conn.clone();
    for chunk in ops.chunks(CHANGES_PER_CALL) {
        let mut invocation = APPLY.prepare_invoke();
        invocation
            .key(inner.keys.cooldowns())
            .key(inner.keys.ladders())
            .key(inner.keys.fair_cycle())
            .arg(&inner.instance)
            .arg(inner.keys.events());
        for (op, field, value, event, key) in chunk {
            invocation.arg(*op).arg(field).arg(value).arg(event).arg(*key);
        }
        invocation.invoke_async::<i64>(&mut conn).await?;
    }
    Ok(())
}

/// Usage rows frozen into one script call, retried as they are until Redis confirms them: its
/// id makes a retry after a lost answer a no-op, so usage is counted exactly once.
pub struct UsageBatch {
    id: String,
    rows: Vec<((CredentialKey, String), PendingUsage)>,
}

/// Moves the queued rows into batches (up to [`ROWS_PER_CALL`] rows each).
pub fn freeze_usage(inner: &Inner, queue: &mut UsageQueue, batches: &mut VecDeque<UsageBatch>) {
    let rows: Vec<_> = queue.drain().collect();
    for chunk in rows.chunks(ROWS_PER_CALL) {
        let id = format!("{}:{}", inner.instance, inner.next_lease.fetch_add(1, Ordering::Relaxed));
        batches.push_back(UsageBatch { id, rows: chunk.to_vec() });
    }
}

/// Sends one batch; the windows it produced go to this instance's pool and, published, to the
/// others' (best effort: the next resynchronisation brings them too).
pub async fn send_usage(inner: &Inner, batch: &UsageBatch) -> Result<(), redis::RedisError> {
    let mut conn = inner.conn.clone();
    let mut invocation = USAGE.prepare_invoke();
    for ((key, scope), pending) in &batch.rows {
        let row = keys::scoped(key, scope);
        invocation.key(inner.keys.usage_row(&row));
        let d = &pending.delta;
        invocation.arg(row).arg(pending.at_ms).arg(pending.window_ms);
        for value in [
            d.requests,
            d.successes,
            d.failures,
            d.prompt_tokens,
            d.cache_read_tokens,
            d.cache_write_tokens,
            d.completion_tokens,
            d.reasoning_tokens,
        ] {
            invocation.arg(value);
        }
        invocation.arg(d.cost_usd);
    }
    invocation.key(inner.keys.usage_index()).key(inner.keys.usage_batch(&batch.id));
    let answer: Vec<(i64, i64, i64)> = invocation.invoke_async(&mut conn).await?;
    let windows: Vec<UsageRecord> = batch
        .rows
        .iter()
        .zip(answer)
        .map(|(((key, scope), _), (window_start_ms, requests, last_used_ms))| {
            window_row(key, scope, window_start_ms, requests, last_used_ms)
        })
        .collect();
    if !windows.is_empty() {
        let _ = inner.events.send(SharedEvent::Usage(windows.clone()));
        let message = format!("{}\nusage\n{}", inner.instance, serde_json::to_string(&windows).unwrap_or_default());
        if let Err(e) = conn.publish::<_, _, i64>(inner.keys.events(), message).await {
            inner.failed(&e);
        }
    }
    Ok(())
}

/// A usage row as far as the pools need it (the window's request count and times).
fn window_row(key: &CredentialKey, scope: &str, window_start_ms: i64, requests: i64, last_used_ms: i64) -> UsageRecord {
    let window = UsageCounters { requests: u64::try_from(requests).unwrap_or(0), ..UsageCounters::default() };
    UsageRecord {
        key: key.clone(),
        scope: scope.to_string(),
        window_start_ms,
        window,
        total: UsageCounters::default(),
        first_used_ms: window_start_ms,
        last_used_ms,
    }
}

/// Deletes ended cooldowns (the hash otherwise keeps every cooldown ever set).
pub async fn prune_cooldowns(inner: &Inner, fields: Vec<String>) -> Result<(), redis::RedisError> {
    if fields.is_empty() {
        return Ok(());
    }
    let mut conn = inner.conn.clone();
    let _: i64 = conn.hdel(inner.keys.cooldowns(), fields).await?;
    Ok(())
}
