//! Durable state shared between `serve` and the other subcommands: cooldowns, lockouts, ladder
//! positions and usage per credential, behind one trait. Implementations: `memory` (tests),
//! `sqlite` (the embedded default, `<home>/state.db`) and `redis` (several `serve` instances,
//! `LLMKP_STATE_URL`), which also implements the shared decisions of [`shared`].
//!
//! Records never hold a secret: credentials are named by their stable id (a hash). Times are
//! unix milliseconds (the pool converts from its monotonic clock at this boundary).

pub mod memory;
pub mod redis;
pub mod responses;
pub mod shared;
pub mod sqlite;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use shared::StoreHealth;

/// Names one credential of one provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CredentialKey {
    pub provider: String,
    /// The stable id ([`crate::auth::CredentialId`]): never the secret.
    pub credential: String,
}

/// What a cooldown is for; mirrors the pool's kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CooldownKindRecord {
    Quota,
    TransientRest,
    Lockout,
}

impl CooldownKindRecord {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quota => "quota",
            Self::TransientRest => "transient_rest",
            Self::Lockout => "lockout",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "quota" => Some(Self::Quota),
            "transient_rest" => Some(Self::TransientRest),
            "lockout" => Some(Self::Lockout),
            _ => None,
        }
    }
}

/// The scope of what holds for a credential whatever the model (cooldowns, ladders).
pub const GLOBAL_SCOPE: &str = "_global_";

/// An active cooldown of a credential for a scope ([`GLOBAL_SCOPE`] = credential-wide).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CooldownRecord {
    pub key: CredentialKey,
    pub scope: String,
    pub kind: CooldownKindRecord,
    /// The error class that set it (`rate_limit`, `auth`, …).
    pub reason: String,
    pub set_at_ms: i64,
    pub until_ms: i64,
}

/// Which ladder a position belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderRecordKind {
    Backoff,
    Auth,
}

impl LadderRecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backoff => "backoff",
            Self::Auth => "auth",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "backoff" => Some(Self::Backoff),
            "auth" => Some(Self::Auth),
            _ => None,
        }
    }
}

/// How far a credential has climbed a ladder in a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderRecord {
    pub key: CredentialKey,
    pub scope: String,
    pub kind: LadderRecordKind,
    pub step: u32,
    pub last_failure_ms: i64,
}

/// Counters of one attempt (or several, summed). Tokens follow the accounting rules:
/// `prompt` is uncached input; cache reads and writes are counted apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageCounters {
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    pub prompt_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    /// Approximate cost in USD, when a price is known.
    pub cost_usd: f64,
}

impl UsageCounters {
    pub fn add(&mut self, other: &UsageCounters) {
        self.requests += other.requests;
        self.successes += other.successes;
        self.failures += other.failures;
        self.prompt_tokens += other.prompt_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.completion_tokens += other.completion_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cost_usd += other.cost_usd;
    }
}

/// Usage of a credential for one scope (model or quota group): the current window and totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub key: CredentialKey,
    pub scope: String,
    /// Start of the current window (rolling: the first request after the previous one ended).
    pub window_start_ms: i64,
    pub window: UsageCounters,
    pub total: UsageCounters,
    pub first_used_ms: i64,
    pub last_used_ms: i64,
}

/// A credential used up for a fair-cycle tracking key (a quota group or model, or `_credential_`
/// when the provider tracks whole credentials): skipped until its whole tier is used up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FairCycleRecord {
    pub key: CredentialKey,
    pub tracking: String,
    pub exhausted_at_ms: i64,
}

/// One change to persist. Usage changes are increments; the store folds them into the window
/// that `at_ms` falls in (a window older than `window_ms` is restarted at `at_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StateChange {
    /// Set (or replace) a cooldown.
    Cooldown(CooldownRecord),
    /// Remove a credential's cooldown for a scope (success, expiry, reset).
    ClearCooldown {
        key: CredentialKey,
        scope: String,
    },
    Ladder(LadderRecord),
    ClearLadders {
        key: CredentialKey,
        scope: String,
    },
    /// Mark a credential exhausted for a tracking key (replaces an earlier mark).
    FairCycleExhausted(FairCycleRecord),
    /// A cycle reset: clear the marks of these credentials (stable ids) of `provider` for `tracking`.
    ClearFairCycle {
        provider: String,
        tracking: String,
        credentials: Vec<String>,
    },
    Usage {
        key: CredentialKey,
        scope: String,
        at_ms: i64,
        window_ms: i64,
        delta: UsageCounters,
    },
}

impl StateChange {
    /// Changes that must reach disk before the next request is selected (long cooldowns,
    /// lockouts, resets): a crash right after must not forget them.
    pub fn is_urgent(&self) -> bool {
        match self {
            Self::Cooldown(c) => c.kind == CooldownKindRecord::Lockout || c.until_ms - c.set_at_ms >= 60_000,
            Self::ClearCooldown { .. } | Self::FairCycleExhausted(_) | Self::ClearFairCycle { .. } => true,
            Self::Ladder(_) | Self::ClearLadders { .. } | Self::Usage { .. } => false,
        }
    }
}

/// Everything persisted, as loaded at start or read by `keys list` / `quota show`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StateSnapshot {
    pub cooldowns: Vec<CooldownRecord>,
    pub ladders: Vec<LadderRecord>,
    pub usage: Vec<UsageRecord>,
    pub fair_cycle: Vec<FairCycleRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database {path}: {message}")]
    Database { path: String, message: String },
    #[error("another llmkp serve is already using {0}")]
    Locked(String),
    /// The shared store is unreachable or refused a command.
    #[error("shared state store {url}: {message}")]
    Shared { url: String, message: String },
    /// `LLMKP_STATE_URL` is not a URL the store understands.
    #[error("{0}")]
    Config(String),
}

/// Durable state. Writes are queued and batched (never on the async request path); reads are
/// for start-up and the CLI.
pub trait StateStore: Send + Sync {
    /// Everything persisted, expired cooldowns left out (`now_ms`).
    fn load(&self, now_ms: i64) -> Result<StateSnapshot, StoreError>;
    /// Queues changes; urgent ones are committed before this returns.
    fn record(&self, changes: Vec<StateChange>);
    /// Commits everything queued (graceful shutdown).
    fn flush(&self) -> Result<(), StoreError>;
    /// Whether the store answers (for readiness): embedded stores always do.
    fn health(&self) -> StoreHealth {
        StoreHealth::Ok
    }
    /// The shared leases and state events of several instances; `None` for embedded stores.
    fn coordinator(&self) -> Option<Arc<dyn shared::Coordinator>> {
        None
    }
    /// The OAuth refresh single-flight across instances; `None` for embedded stores.
    fn logins(&self) -> Option<Arc<dyn shared::SharedLogins>> {
        None
    }
    /// Keeps a response (blocking: call it off the async workers); beyond `max` stored responses
    /// the oldest go first.
    fn put_response(&self, _response: responses::StoredResponse, _max: usize) -> Result<(), StoreError> {
        Err(StoreError::Config("this state store keeps no responses".into()))
    }
    /// A stored response that has not expired by `now_ms`.
    fn get_response(&self, _id: &str, _now_ms: i64) -> Result<Option<responses::StoredResponse>, StoreError> {
        Ok(None)
    }
    /// Removes a stored response; whether there was one.
    fn delete_response(&self, _id: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// Milliseconds since the unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
