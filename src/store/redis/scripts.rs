//! The server-side scripts: every shared decision is one atomic script, so two instances can
//! never both take the last slot, and a burst of failures seen by several instances climbs a
//! ladder once. Times inside scripts come from the Redis clock (`TIME`), so instances with skewed
//! clocks agree on when a lease expires.

use std::sync::LazyLock;

use redis::Script;

/// Takes the first candidate that no active cooldown keeps out and that has a free slot, the
/// session's bound credential first. A quota cooldown or a lockout keeps a candidate out; a
/// transient rest only when the pool did not ask for it as a last resort. Cooldown ends are
/// compared with the caller's clock, the one its own cache reads them by.
///
/// KEYS: one lease set per candidate, the cooldowns hash, then the sticky key (when ARGV[4] is
/// `1`).
/// ARGV: lease id, lease TTL (ms), n, sticky (`0`/`1`), wait for the bound credential (`0`/`1`),
/// session TTL (ms), now (ms, caller's clock), then the pieces of a cooldown field — its head
/// (`["provider",`), the scope's tail (`,"scope"]`) and the credential-wide tail — then per
/// candidate its credential id, limit (≤ 0 = unlimited), JSON-encoded id and last resort
/// (`0`/`1`).
/// Returns `{chosen (1-based, 0 = none), bound (1-based, 0 = none), {count per candidate (-1 =
/// not looked at)}, {the active cooldown records of the candidates looked at}}`.
pub static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local sticky = ARGV[4] == '1'
local at = tonumber(ARGV[7])
local head, tails = ARGV[8], {ARGV[9]}
if ARGV[10] ~= ARGV[9] then table.insert(tails, ARGV[10]) end
local function arg(i, j) return ARGV[10 + 4 * (i - 1) + j] end
local cooldowns = {}
local function cooling(i)
  local out = false
  for _, tail in ipairs(tails) do
    local raw = redis.call('HGET', KEYS[n + 1], head .. arg(i, 3) .. tail)
    if raw then
      local c = cjson.decode(raw)
      if tonumber(c.until_ms) > at then
        table.insert(cooldowns, raw)
        if c.kind ~= 'transient_rest' or arg(i, 4) ~= '1' then out = true end
      end
    end
  end
  return out
end
local bound = 0
if sticky then
  local s = redis.call('GET', KEYS[n + 2])
  if s then
    for i = 1, n do
      if arg(i, 1) == s then bound = i end
    end
  end
end
local order = {}
if bound > 0 then table.insert(order, bound) end
for i = 1, n do
  if i ~= bound then table.insert(order, i) end
end
local counts = {}
for i = 1, n do counts[i] = -1 end
for _, i in ipairs(order) do
  if not cooling(i) then
    local limit = tonumber(arg(i, 2))
    local key = KEYS[i]
    local c = 0
    if limit > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      c = redis.call('ZCARD', key)
    end
    if limit <= 0 or c < limit then
      if limit > 0 then
        redis.call('ZADD', key, now + ttl, ARGV[1])
        redis.call('PEXPIRE', key, ttl * 2)
        c = c + 1
      end
      counts[i] = c
      if sticky then redis.call('SET', KEYS[n + 2], arg(i, 1), 'PX', ARGV[6]) end
      return {i, bound, counts, cooldowns}
    end
    counts[i] = c
    if i == bound and ARGV[5] == '1' then return {0, bound, counts, cooldowns} end
  end
end
return {0, bound, counts, cooldowns}
",
    )
});

/// Frees slots and tells the other instances. KEYS: one lease set per lease. ARGV: channel, then
/// per lease its id and the message announcing it.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i = 1, #KEYS do
  if redis.call('ZREM', KEYS[i], ARGV[2 * i]) == 1 then
    redis.call('PUBLISH', ARGV[1], ARGV[2 * i + 1])
  end
end
return #KEYS
",
    )
});

/// Extends (ARGV[2] = `XX`) or re-registers (`ADD`, after an outage) this instance's live
/// leases. KEYS: a lease set per lease. ARGV: TTL (ms), mode, then one lease id per key.
pub static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  if ARGV[2] == 'XX' then
    redis.call('ZADD', KEYS[i], 'XX', now + ttl, ARGV[i + 2])
  else
    redis.call('ZADD', KEYS[i], now + ttl, ARGV[i + 2])
  end
  redis.call('PEXPIRE', KEYS[i], ttl * 2)
end
return #KEYS
",
    )
});

/// Applies cooldown, ladder and fair-cycle changes and publishes those that changed something.
/// A cooldown never shortens one of the same kind (the later end wins); a ladder never steps
/// back within the hour its steps count for.
///
/// KEYS: cooldowns, ladders, fair-cycle hashes. ARGV: instance id, channel, then per change: op
/// (`cooldown`, `ladder`, `set`, `del`), field, value, event line (empty: none), key index.
pub static APPLY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local events = {}
local i = 3
while i + 4 <= #ARGV do
  local op, field, value, event = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local k = KEYS[tonumber(ARGV[i + 4])]
  local applied = true
  if op == 'cooldown' or op == 'ladder' then
    local cur = redis.call('HGET', k, field)
    if cur then
      local c, n = cjson.decode(cur), cjson.decode(value)
      if op == 'cooldown' and c.kind == n.kind and c.until_ms >= n.until_ms then applied = false end
      if op == 'ladder' and c.step > n.step and n.last_failure_ms - c.last_failure_ms < 3600000 then applied = false end
    end
    if applied then redis.call('HSET', k, field, value) end
  elseif op == 'set' then
    redis.call('HSET', k, field, value)
  else
    redis.call('HDEL', k, field)
  end
  if applied and event ~= '' then table.insert(events, event) end
  i = i + 5
end
if #events > 0 then
  redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\nchange\n' .. table.concat(events, '\n'))
end
return #events
",
    )
});

/// Adds usage increments to their rows, restarting a row's window when it has run out.
///
/// KEYS: one row hash per row, then the index set, then the batch marker (a batch already
/// counted is not counted again: empty answer). ARGV per row (12): row id, at (ms), window (ms),
/// then requests, successes, failures, prompt, cache read, cache write, completion, reasoning
/// tokens and cost. Returns per row `{window start, window requests, last use}`.
pub static USAGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local names = {'requests', 'successes', 'failures', 'prompt_tokens', 'cache_read_tokens',
  'cache_write_tokens', 'completion_tokens', 'reasoning_tokens'}
local n = #KEYS - 2
if not redis.call('SET', KEYS[n + 2], '1', 'NX', 'EX', 86400) then return {} end
local out = {}
for r = 1, n do
  local k = KEYS[r]
  local b = (r - 1) * 12
  local at, win = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local ws = tonumber(redis.call('HGET', k, 'window_start_ms'))
  local reset = ws == nil or ws + win <= at
  if reset then
    ws = at
    redis.call('HSET', k, 'window_start_ms', ARGV[b + 2])
  end
  for j, name in ipairs(names) do
    local d = ARGV[b + 3 + j]
    if reset then redis.call('HSET', k, 'w.' .. name, d) else redis.call('HINCRBY', k, 'w.' .. name, d) end
    redis.call('HINCRBY', k, 't.' .. name, d)
  end
  local cost = ARGV[b + 12]
  if reset then redis.call('HSET', k, 'w.cost_usd', cost) else redis.call('HINCRBYFLOAT', k, 'w.cost_usd', cost) end
  redis.call('HINCRBYFLOAT', k, 't.cost_usd', cost)
  local f = tonumber(redis.call('HGET', k, 'first_used_ms'))
  if f == nil or at < f then redis.call('HSET', k, 'first_used_ms', ARGV[b + 2]) end
  local l = tonumber(redis.call('HGET', k, 'last_used_ms'))
  if l == nil or at > l then
    redis.call('HSET', k, 'last_used_ms', ARGV[b + 2])
    l = at
  end
  redis.call('SADD', KEYS[n + 1], ARGV[b + 1])
  table.insert(out, {ws, tonumber(redis.call('HGET', k, 'w.requests')), l})
end
return out
",
    )
});

/// Publishes a login's refreshed token set, keeps the newest `keep`, releases the lock held by
/// this instance and wakes the others. KEYS: chain, order, lock. ARGV: tag, sealed set, keep,
/// TTL (ms), owner, channel, message.
pub static LOGIN_PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
local keep = tonumber(ARGV[3])
for _, tag in ipairs(redis.call('LRANGE', KEYS[2], keep, -1)) do
  redis.call('HDEL', KEYS[1], tag)
end
redis.call('LTRIM', KEYS[2], 0, keep - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
",
    )
});

/// Deletes a lock only if this instance holds it. KEYS: lock. ARGV: owner.
pub static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});
