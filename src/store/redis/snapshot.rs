//! Reading everything the store holds into a [`StateSnapshot`]: at start-up, for `keys list` /
//! `quota show` (a blocking connection), and when an instance resynchronises (the shared one).

use std::collections::HashMap;

use super::keys::{self, Keys};
use crate::store::{
    CooldownRecord, CredentialKey, FairCycleRecord, LadderRecord, StateSnapshot, UsageCounters, UsageRecord,
};

type Hash = HashMap<String, String>;

/// The first read: the three state hashes and the usage row ids.
pub fn first_read(keys: &Keys) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.hgetall(keys.cooldowns()).hgetall(keys.ladders()).hgetall(keys.fair_cycle()).smembers(keys.usage_index());
    pipe
}

/// The second read: every usage row.
pub fn rows_read(keys: &Keys, rows: &[String]) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    for row in rows {
        pipe.hgetall(keys.usage_row(row));
    }
    pipe
}

/// Reads with a blocking connection (the CLI).
pub fn load_blocking(conn: &mut redis::Connection, keys: &Keys, now_ms: i64) -> redis::RedisResult<StateSnapshot> {
    let (cooldowns, ladders, fair, rows): (Hash, Hash, Hash, Vec<String>) = first_read(keys).query(conn)?;
    let values: Vec<Hash> = if rows.is_empty() { Vec::new() } else { rows_read(keys, &rows).query(conn)? };
    Ok(build(&cooldowns, &ladders, &fair, &rows, &values, now_ms))
}

/// Reads with the shared connection; also returns the fields of ended cooldowns.
pub async fn load_async(
    conn: &mut redis::aio::ConnectionManager,
    keys: &Keys,
    now_ms: i64,
) -> redis::RedisResult<(StateSnapshot, Vec<String>)> {
    let (cooldowns, ladders, fair, rows): (Hash, Hash, Hash, Vec<String>) = first_read(keys).query_async(conn).await?;
    let values: Vec<Hash> = if rows.is_empty() { Vec::new() } else { rows_read(keys, &rows).query_async(conn).await? };
    let ended = cooldowns
        .iter()
        .filter(|(_, v)| serde_json::from_str::<CooldownRecord>(v).is_ok_and(|c| c.until_ms <= now_ms))
        .map(|(k, _)| k.clone())
        .collect();
    Ok((build(&cooldowns, &ladders, &fair, &rows, &values, now_ms), ended))
}

fn build(
    cooldowns: &Hash,
    ladders: &Hash,
    fair: &Hash,
    rows: &[String],
    values: &[Hash],
    now_ms: i64,
) -> StateSnapshot {
    let mut snapshot = StateSnapshot {
        cooldowns: cooldowns
            .values()
            .filter_map(|v| serde_json::from_str::<CooldownRecord>(v).ok())
            .filter(|c| c.until_ms > now_ms)
            .collect(),
        ladders: ladders.values().filter_map(|v| serde_json::from_str::<LadderRecord>(v).ok()).collect(),
        usage: rows.iter().zip(values).filter_map(|(row, hash)| usage_row(row, hash)).collect(),
        fair_cycle: fair.values().filter_map(|v| serde_json::from_str::<FairCycleRecord>(v).ok()).collect(),
    };
    // Stable order, as the embedded stores give it.
    snapshot.cooldowns.sort_by(|a, b| (&a.key, &a.scope).cmp(&(&b.key, &b.scope)));
    snapshot.ladders.sort_by(|a, b| (&a.key, &a.scope, a.kind.as_str()).cmp(&(&b.key, &b.scope, b.kind.as_str())));
    snapshot.usage.sort_by(|a, b| (&a.key, &a.scope).cmp(&(&b.key, &b.scope)));
    snapshot.fair_cycle.sort_by(|a, b| (&a.key, &a.tracking).cmp(&(&b.key, &b.tracking)));
    snapshot
}

fn usage_row(row: &str, hash: &Hash) -> Option<UsageRecord> {
    let parts = keys::parts(row)?;
    let [provider, credential, scope] = parts.as_slice() else { return None };
    let int = |name: &str| hash.get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let count = |name: &str| hash.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let counters = |p: &str| UsageCounters {
        requests: count(&format!("{p}.requests")),
        successes: count(&format!("{p}.successes")),
        failures: count(&format!("{p}.failures")),
        prompt_tokens: count(&format!("{p}.prompt_tokens")),
        cache_read_tokens: count(&format!("{p}.cache_read_tokens")),
        cache_write_tokens: count(&format!("{p}.cache_write_tokens")),
        completion_tokens: count(&format!("{p}.completion_tokens")),
        reasoning_tokens: count(&format!("{p}.reasoning_tokens")),
        cost_usd: hash.get(&format!("{p}.cost_usd")).and_then(|v| v.parse().ok()).unwrap_or(0.0),
    };
    hash.contains_key("window_start_ms").then(|| UsageRecord {
        key: CredentialKey { provider: provider.clone(), credential: credential.clone() },
        scope: scope.clone(),
        window_start_ms: int("window_start_ms"),
        window: counters("w"),
        total: counters("t"),
        first_used_ms: int("first_used_ms"),
        last_used_ms: int("last_used_ms"),
    })
}
