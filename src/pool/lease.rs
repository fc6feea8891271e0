//! A credential lease: the right to run one attempt on one credential, and what the attempt's
//! outcome does to the credential (usage, cooldowns, custom caps), persisted through the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::persist::WallClock;
use super::state::{self, Cooldown, CooldownKind, CredentialState};
use super::usage::TokenUsage;
use super::{CUSTOM_CAP_REASON, ProviderPool, apply_success, caps};
use crate::auth::Credential;
use crate::catalog::pricing;
use crate::formats::failure::ErrorClass;
use crate::formats::ir::Usage;
use crate::store::shared::SharedLeaseId;
use crate::store::{self, CooldownKindRecord, CooldownRecord, CredentialKey, StateChange, UsageCounters};

/// The right to run one attempt on one credential. Dropping it — on success, error, client
/// disconnect or panic — releases the concurrency slot exactly once and wakes waiters.
pub struct CredentialLease {
    pub(super) pool: Arc<ProviderPool>,
    pub(super) index: usize,
    pub credential: Arc<Credential>,
    pub scope: String,
    /// When the attempt's lease began (stale failures do not climb the ladder).
    pub started: Instant,
    /// Picked although resting after transient failures: no same-credential retry.
    pub last_resort: bool,
    /// The `provider/model` the attempt runs, for pricing its usage (set by the engine).
    pub priced_as: Option<String>,
    /// The slot held in the shared store, released with this lease.
    pub(super) shared: Option<SharedLeaseId>,
}

impl CredentialLease {
    fn key(&self) -> CredentialKey {
        self.pool.key_of(self.index)
    }

    fn persist(&self, changes: Vec<StateChange>) {
        if let Some(store) = &self.pool.store {
            store.record(changes);
        }
    }

    fn usage_change(&self, delta: UsageCounters) -> StateChange {
        let window_ms = i64::try_from(state::USAGE_WINDOW.as_millis()).unwrap_or(i64::MAX);
        StateChange::Usage { key: self.key(), scope: self.scope.clone(), at_ms: store::now_ms(), window_ms, delta }
    }

    /// The attempt succeeded: the scope's ladders and cooldown reset, its usage is counted.
    pub fn record_success(&self, usage: Option<Usage>) {
        let now = Instant::now();
        let (mut changes, capped) = {
            let mut state = self.pool.lock();
            let credential = &mut state.credentials[self.index];
            let cleared = apply_success(credential, self.key(), &self.scope);
            let capped = self.apply_cap(credential, now);
            (cleared, capped)
        };
        let delta = UsageCounters { successes: 1, ..self.counted(usage.as_ref()) };
        changes.push(self.usage_change(delta));
        if let Some(c) = capped {
            let clock = WallClock::now();
            changes.push(StateChange::Cooldown(CooldownRecord {
                key: self.key(),
                scope: c.scope.clone(),
                kind: CooldownKindRecord::Quota,
                reason: CUSTOM_CAP_REASON.to_string(),
                set_at_ms: clock.ms_of(c.set_at),
                until_ms: clock.ms_of(c.until),
            }));
        }
        self.persist(changes);
    }

    /// One request with this usage, priced at the list price of the bundled table (0 when the
    /// model is not in it).
    fn counted(&self, usage: Option<&Usage>) -> UsageCounters {
        let tokens = usage.map(TokenUsage::from_canonical).unwrap_or_default();
        let cost_usd = self.priced_as.as_deref().and_then(pricing::lookup).map_or(0.0, |info| {
            let output = tokens.completion + tokens.reasoning;
            pricing::cost(info, tokens.prompt, output, tokens.cache_read, tokens.cache_write)
        });
        let unpriced;
        let served = match &self.priced_as {
            Some(model) => model.as_str(),
            None => {
                unpriced = format!("{}/", self.pool.provider);
                &unpriced
            }
        };
        let counts = [tokens.prompt, tokens.completion, tokens.reasoning, tokens.cache_read, tokens.cache_write];
        crate::telemetry::usage(served, counts, cost_usd);
        UsageCounters {
            requests: 1,
            prompt_tokens: tokens.prompt,
            cache_read_tokens: tokens.cache_read,
            cache_write_tokens: tokens.cache_write,
            completion_tokens: tokens.completion,
            reasoning_tokens: tokens.reasoning,
            cost_usd,
            ..UsageCounters::default()
        }
    }

    /// The client went away from an answer the upstream had started to give: the request and
    /// the tokens so far count (the upstream was paid for them); the credential's standing does
    /// not change (no success, no failure, no cooldown).
    pub fn record_cancelled(&self, usage: Usage) {
        self.persist(vec![self.usage_change(self.counted(Some(&usage)))]);
    }

    /// A success that brings the credential to its custom cap for the scope cools it down.
    fn apply_cap(&self, credential: &mut CredentialState, now: Instant) -> Option<Cooldown> {
        let settings = self.pool.settings();
        let cap = caps::cap_for(&settings.caps, credential.priority, &self.scope)?;
        if credential.usage(&self.scope, now) < cap.value.requests(None) {
            return None;
        }
        let window_end = credential.window_end(&self.scope).unwrap_or(now);
        let until = match cap.cooldown {
            caps::CapCooldown::QuotaReset => window_end,
            caps::CapCooldown::Offset(extra) => window_end + extra,
            caps::CapCooldown::Fixed(wait) => now + wait,
        };
        let cooldown = Cooldown {
            scope: self.scope.clone(),
            until,
            kind: CooldownKind::Quota,
            reason: ErrorClass::Quota,
            set_at: now,
        };
        tracing::info!(
            provider = %self.pool.provider,
            credential = %self.credential.masked,
            scope = %self.scope,
            "custom cap reached; cooling for {} s",
            until.saturating_duration_since(now).as_secs()
        );
        crate::telemetry::cooldown(&self.pool.provider, CooldownKind::Quota.as_str());
        credential.restore_cooldown(cooldown.clone());
        Some(cooldown)
    }

    /// The attempt failed with `class`; `final_for_credential` when the request gives up on it.
    pub fn record_failure(
        &self,
        class: ErrorClass,
        retry_after: Option<Duration>,
        final_for_credential: bool,
    ) -> Option<Cooldown> {
        let now = Instant::now();
        let failure = state::Failure { class, retry_after, started: self.started, final_for_credential };
        let (cooldown, effects) = self.pool.apply_failure(self.index, &self.scope, failure, now);
        let counted = u64::from(class.counts_as_request());
        let mut changes =
            vec![self.usage_change(UsageCounters { requests: counted, failures: 1, ..UsageCounters::default() })];
        changes.extend(effects);
        self.persist(changes);
        cooldown
    }
}

impl Drop for CredentialLease {
    fn drop(&mut self) {
        {
            let mut state = self.pool.lock();
            let active = &mut state.credentials[self.index].active;
            *active = active.saturating_sub(1);
        }
        if let (Some(id), Some(coordinator)) = (self.shared, &self.pool.shared) {
            coordinator.release(id);
        }
        self.pool.released.notify_waiters();
    }
}
