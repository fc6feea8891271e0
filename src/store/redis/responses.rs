//! Stored Responses in Redis: one string per response with its TTL, and a sorted set by creation
//! time that keeps their number under the cap. Read and written with a short-lived blocking
//! connection (the engine calls the store off the async workers).

use redis::Commands;
use serde_json::{Value, json};

use super::connection::{RedisSettings, blocking};
use super::keys::Keys;
use crate::store::StoreError;
use crate::store::responses::StoredResponse;

fn shared_error(settings: &RedisSettings, e: impl std::fmt::Display) -> StoreError {
    StoreError::Shared { url: settings.shown_url(), message: e.to_string() }
}

pub fn put(settings: &RedisSettings, response: &StoredResponse, max: usize) -> Result<(), StoreError> {
    let keys = Keys::new(&settings.prefix);
    let mut conn = blocking(settings)?;
    let ttl_ms = u64::try_from(response.expires_ms.saturating_sub(response.created_ms)).unwrap_or(0).max(1);
    let value = json!({"owner": response.owner, "created_ms": response.created_ms, "expires_ms": response.expires_ms,
        "body": response.body})
    .to_string();
    let index = keys.responses();
    let run = || -> redis::RedisResult<()> {
        let _: () = conn.pset_ex(keys.response(&response.id), value, ttl_ms)?;
        let _: () = conn.zadd(&index, &response.id, response.created_ms)?;
        // Expired entries leave the index, then the oldest beyond the cap go.
        let _: () = conn.zrembyscore(&index, "-inf", response.created_ms - i64::try_from(ttl_ms).unwrap_or(0))?;
        let count: usize = conn.zcard(&index)?;
        if count > max.max(1) {
            let excess = isize::try_from(count - max.max(1)).unwrap_or(isize::MAX);
            let oldest: Vec<String> = conn.zrange(&index, 0, excess - 1)?;
            for id in &oldest {
                let _: () = conn.del(keys.response(id))?;
                let _: () = conn.zrem(&index, id)?;
            }
        }
        Ok(())
    };
    run().map_err(|e| shared_error(settings, e))
}

pub fn get(settings: &RedisSettings, id: &str, now_ms: i64) -> Result<Option<StoredResponse>, StoreError> {
    let keys = Keys::new(&settings.prefix);
    let mut conn = blocking(settings)?;
    let value: Option<String> = conn.get(keys.response(id)).map_err(|e| shared_error(settings, e))?;
    let Some(value) = value else { return Ok(None) };
    let Ok(value) = serde_json::from_str::<Value>(&value) else { return Ok(None) };
    let stored = StoredResponse {
        id: id.to_string(),
        owner: value["owner"].as_str().unwrap_or_default().to_string(),
        created_ms: value["created_ms"].as_i64().unwrap_or(0),
        expires_ms: value["expires_ms"].as_i64().unwrap_or(0),
        body: value["body"].as_str().unwrap_or_default().to_string(),
    };
    Ok((stored.expires_ms > now_ms).then_some(stored))
}

pub fn delete(settings: &RedisSettings, id: &str) -> Result<bool, StoreError> {
    let keys = Keys::new(&settings.prefix);
    let mut conn = blocking(settings)?;
    let removed: usize = conn.del(keys.response(id)).map_err(|e| shared_error(settings, e))?;
    let _: usize = conn.zrem(keys.responses(), id).map_err(|e| shared_error(settings, e))?;
    Ok(removed > 0)
}
