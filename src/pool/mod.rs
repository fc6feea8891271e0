//! Which credential of a provider to use for the next attempt, and what the attempt's outcome
//! does to it: priority tiers, balanced or sequential rotation with session stickiness,
//! per-credential concurrency leases, cooldowns and lockouts (resilience specification §3–§5,
//! §10). Decisions are pure functions in `select` and `state`; this module adds the shared,
//! locked state and the event-driven waiting.

pub mod caps;
mod persist;
pub mod report;
pub mod select;
pub mod settings;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;
use tokio::time::{Instant, timeout_at};

use crate::auth::{Credential, CredentialId};
use crate::catalog::pricing;
use crate::engine::classify::ErrorClass;
use crate::formats::openai::usage::TokenUsage;
use crate::providers::Registry;
use crate::store::{
    self, CooldownKindRecord, CooldownRecord, CredentialKey, FairCycleRecord, LadderRecord, LadderRecordKind,
    StateChange, StateSnapshot, StateStore, UsageCounters,
};
use persist::{WallClock, kind_record, restore, restore_fair_cycle};
use select::{Ask, Candidate, Selection, select};
pub use settings::{PoolSettings, ProviderPoolSettings, RotationMode};
use state::{Cooldown, CooldownKind, CredentialState, GLOBAL_SCOPE};

/// The reason recorded for cooldowns set by a custom cap.
const CUSTOM_CAP_REASON: &str = "custom_cap";

/// Sticky entries kept at most per provider; older entries are dropped first when it is full.
const MAX_STICKY_ENTRIES: usize = 10_000;
/// The session of requests that carry none.
const DEFAULT_SESSION: &str = "__default__";

/// Why no credential could be leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCredential {
    /// Eligible credentials exist but stayed at their limit until the deadline.
    Busy,
    /// Nothing is eligible: soonest quota cooldown end and soonest lockout end.
    Unavailable { quota_until: Option<Instant>, locked_until: Option<Instant> },
    /// The provider is not in the pool.
    UnknownProvider,
}

pub struct CredentialPool {
    settings: Arc<PoolSettings>,
    providers: HashMap<String, Arc<ProviderPool>>,
}

struct ProviderPool {
    settings: Arc<PoolSettings>,
    /// Where cooldowns, ladders and usage are persisted (none in some tests).
    store: Option<Arc<dyn StateStore>>,
    provider: String,
    credentials: Vec<Arc<Credential>>,
    state: Mutex<ProviderState>,
    released: Notify,
}

struct ProviderState {
    credentials: Vec<CredentialState>,
    /// Fair cycle: tracking key → credential index → when it was exhausted.
    exhausted: HashMap<String, HashMap<usize, Instant>>,
    /// (scope, session) → credential index and last use.
    sticky: HashMap<(String, String), (usize, Instant)>,
}

impl ProviderPool {
    fn persist(&self, changes: Vec<StateChange>) {
        if let (Some(store), false) = (&self.store, changes.is_empty()) {
            store.record(changes);
        }
    }

    fn lock(&self) -> MutexGuard<'_, ProviderState> {
        // A panic while holding the lock leaves counts that are still consistent (every change
        // is a single assignment), so the state stays usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn settings(&self) -> &ProviderPoolSettings {
        self.settings.provider(&self.provider)
    }

    fn key_of(&self, index: usize) -> CredentialKey {
        CredentialKey { provider: self.provider.clone(), credential: self.credentials[index].id.as_str().to_string() }
    }

    /// Applies a failed attempt of credential `index` in `scope` to its state (cooldown, ladder,
    /// fair-cycle mark); returns the cooldown set and the changes to persist (usage aside).
    fn apply_failure(
        &self,
        index: usize,
        scope: &str,
        failure: state::Failure,
        now: Instant,
    ) -> (Option<Cooldown>, Vec<StateChange>) {
        let class = failure.class;
        let fair_cycle = &self.settings().fair_cycle;
        let (cooldown, ladder, exhausted) = {
            let mut state = self.lock();
            let credential = &mut state.credentials[index];
            let cooldown = credential.record_failure(&self.settings, scope, failure, now);
            let ladder = cooldown.as_ref().and_then(|c| {
                let auth = c.kind == CooldownKind::Lockout;
                credential.ladder(&c.scope, auth).map(|(step, last)| (c.scope.clone(), auth, step, last))
            });
            // A long cooldown uses the credential up for this fair cycle.
            let exhausted = fair_cycle.enabled
                && cooldown.as_ref().is_some_and(|c| {
                    c.kind != CooldownKind::TransientRest
                        && c.until.saturating_duration_since(now) >= fair_cycle.exhaustion_threshold
                });
            if exhausted {
                let tracking = fair_cycle.tracking_key(scope).to_string();
                state.exhausted.entry(tracking).or_default().insert(index, now);
            }
            (cooldown, ladder, exhausted)
        };
        let mut changes = Vec::new();
        let clock = WallClock::now();
        if let Some(c) = &cooldown {
            tracing::info!(
                provider = %self.provider,
                credential = %self.credentials[index].masked,
                scope = %scope,
                reason = class.as_str(),
                "credential {} for {} s",
                c.kind.as_str(),
                c.until.saturating_duration_since(now).as_secs()
            );
            changes.push(StateChange::Cooldown(CooldownRecord {
                key: self.key_of(index),
                scope: c.scope.clone(),
                kind: kind_record(c.kind),
                reason: c.reason.as_str().to_string(),
                set_at_ms: clock.ms_of(c.set_at),
                until_ms: clock.ms_of(c.until),
            }));
        }
        if exhausted {
            changes.push(StateChange::FairCycleExhausted(FairCycleRecord {
                key: self.key_of(index),
                tracking: fair_cycle.tracking_key(scope).to_string(),
                exhausted_at_ms: clock.ms,
            }));
        }
        if let Some((scope, auth, step, last)) = ladder {
            changes.push(StateChange::Ladder(LadderRecord {
                key: self.key_of(index),
                scope,
                kind: if auth { LadderRecordKind::Auth } else { LadderRecordKind::Backoff },
                step: u32::try_from(step).unwrap_or(u32::MAX),
                last_failure_ms: clock.ms_of(last),
            }));
        }
        (cooldown, changes)
    }
}

/// A success proves the credential works for `scope`: its ladders and cooldown there reset.
/// Returns the changes to persist (usage aside).
fn apply_success(credential: &mut CredentialState, key: CredentialKey, scope: &str) -> Vec<StateChange> {
    // Only what actually changes is persisted: most successes change nothing but usage.
    let had_cooldown = credential.cooldowns.contains_key(scope);
    let had_ladder = credential.ladder(scope, false).is_some() || credential.ladder(scope, true).is_some();
    let had_global_ladder = credential.ladder(GLOBAL_SCOPE, true).is_some();
    credential.record_success(scope);
    let mut changes = Vec::new();
    if had_ladder {
        changes.push(StateChange::ClearLadders { key: key.clone(), scope: scope.to_string() });
    }
    if had_global_ladder && scope != GLOBAL_SCOPE {
        changes.push(StateChange::ClearLadders { key: key.clone(), scope: GLOBAL_SCOPE.to_string() });
    }
    if had_cooldown {
        changes.push(StateChange::ClearCooldown { key, scope: scope.to_string() });
    }
    changes
}

impl CredentialPool {
    /// A pool over the registry's credentials, starting from what `store` remembers (active
    /// cooldowns and lockouts, ladder positions, usage windows).
    pub fn new(settings: PoolSettings, registry: &Registry, store: Option<Arc<dyn StateStore>>) -> Self {
        let settings = Arc::new(settings);
        let clock = WallClock::now();
        let snapshot = match store.as_ref().map(|s| s.load(clock.ms)) {
            Some(Ok(snapshot)) => snapshot,
            Some(Err(err)) => {
                tracing::warn!("cannot load persisted credential state, starting fresh: {err}");
                StateSnapshot::default()
            }
            None => StateSnapshot::default(),
        };
        let providers = registry
            .providers()
            .map(|p| {
                let provider_settings = settings.provider(&p.name);
                let credentials = p
                    .credentials
                    .iter()
                    .map(|c| {
                        let mut state = CredentialState::new(provider_settings.priority_of(&c.source));
                        restore(&mut state, &p.name, c.id.as_str(), &snapshot, &clock);
                        state
                    })
                    .collect();
                let pool = ProviderPool {
                    settings: settings.clone(),
                    store: store.clone(),
                    provider: p.name.clone(),
                    credentials: p.credentials.clone(),
                    state: Mutex::new(ProviderState {
                        credentials,
                        exhausted: restore_fair_cycle(&p.name, &p.credentials, &snapshot, &clock),
                        sticky: HashMap::new(),
                    }),
                    released: Notify::new(),
                };
                (p.name.clone(), Arc::new(pool))
            })
            .collect();
        Self { settings, providers }
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// Clears cooldowns, lockouts and ladder positions of every credential, of one provider, or
    /// of one credential (stable id); persists that. Returns how many credentials were reset.
    pub fn reset(&self, provider: Option<&str>, credential: Option<&str>) -> usize {
        let mut count = 0;
        for (name, pool) in self.providers.iter().filter(|(name, _)| provider.is_none_or(|p| p == name.as_str())) {
            let mut changes = Vec::new();
            {
                let mut state = pool.lock();
                for (c, s) in pool.credentials.iter().zip(state.credentials.iter_mut()) {
                    if credential.is_some_and(|id| id != c.id.as_str()) {
                        continue;
                    }
                    let key = CredentialKey { provider: name.clone(), credential: c.id.as_str().to_string() };
                    for scope in s.reset() {
                        changes.push(StateChange::ClearCooldown { key: key.clone(), scope: scope.clone() });
                        changes.push(StateChange::ClearLadders { key: key.clone(), scope });
                    }
                    count += 1;
                }
                let reset: Vec<usize> = pool
                    .credentials
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| credential.is_none_or(|id| id == c.id.as_str()))
                    .map(|(i, _)| i)
                    .collect();
                for (tracking, marks) in &mut state.exhausted {
                    let cleared: Vec<String> = reset
                        .iter()
                        .filter(|i| marks.remove(i).is_some())
                        .map(|&i| pool.credentials[i].id.as_str().to_string())
                        .collect();
                    if !cleared.is_empty() {
                        changes.push(StateChange::ClearFairCycle {
                            provider: name.clone(),
                            tracking: tracking.clone(),
                            credentials: cleared,
                        });
                    }
                }
            }
            pool.persist(changes);
            pool.released.notify_waiters();
        }
        count
    }

    /// The pool settings of `provider` (scope of a model, rotation mode).
    pub fn provider_settings(&self, provider: &str) -> Option<&ProviderPoolSettings> {
        self.providers.get(provider).map(|p| p.settings())
    }

    /// Leases a credential of `provider` for `scope`, waiting (event-driven, never past
    /// `deadline`) for a busy credential or a quota cooldown that ends in time.
    pub async fn acquire(
        &self,
        provider: &str,
        scope: &str,
        session: Option<&str>,
        excluded: &[CredentialId],
        deadline: Instant,
    ) -> Result<CredentialLease, NoCredential> {
        let pool = self.providers.get(provider).ok_or(NoCredential::UnknownProvider)?;
        let session = session.unwrap_or(DEFAULT_SESSION);
        let sticky_until = deadline.min(Instant::now() + pool.settings.sticky_wait);
        loop {
            let released = pool.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let now = Instant::now();
            let (decision, leased, changes) = {
                let mut state = pool.lock();
                let changes = reset_fair_cycle(pool, &mut state, scope, now);
                let selection = decide(pool, &mut state, scope, session, excluded, now >= sticky_until, now);
                let leased = match selection {
                    Selection::Pick { index, last_resort } => {
                        Some(lease(pool, &mut state, index, scope, session, last_resort, now))
                    }
                    _ => None,
                };
                (selection, leased, changes)
            };
            pool.persist(changes);
            if let Some(lease) = leased {
                return Ok(lease);
            }
            let wait_until = match decision {
                Selection::Pick { .. } => unreachable!("returned above"),
                Selection::WaitForSticky { .. } => sticky_until,
                Selection::Busy => deadline,
                Selection::Unavailable { waitable_until: Some(t), .. } if t < deadline => {
                    tokio::time::sleep_until(t).await;
                    continue;
                }
                Selection::Unavailable { quota_until, locked_until, .. } => {
                    return Err(NoCredential::Unavailable { quota_until, locked_until });
                }
            };
            if timeout_at(wait_until, released).await.is_err() && Instant::now() >= deadline {
                return Err(NoCredential::Busy);
            }
        }
    }

    /// Whether another credential (not `excluded`) could be leased right now without waiting.
    pub fn other_free(&self, provider: &str, scope: &str, excluded: &[CredentialId]) -> bool {
        let Some(pool) = self.providers.get(provider) else { return false };
        let mut state = pool.lock();
        let now = Instant::now();
        matches!(
            decide(pool, &mut state, scope, DEFAULT_SESSION, excluded, true, now),
            Selection::Pick { last_resort: false, .. }
        )
    }

    /// When the soonest quota cooldown and the soonest lockout of any credential of `provider`
    /// for `scope` end (`None` when there is none).
    pub fn unavailable_until(&self, provider: &str, scope: &str) -> (Option<Instant>, Option<Instant>) {
        let Some(pool) = self.providers.get(provider) else { return (None, None) };
        let now = Instant::now();
        let state = pool.lock();
        let mut quota: Option<Instant> = None;
        let mut locked: Option<Instant> = None;
        for credential in &state.credentials {
            match credential.availability(scope, now) {
                state::Availability::CoolingUntil(t) => quota = Some(quota.map_or(t, |q| q.min(t))),
                state::Availability::LockedUntil(t) => locked = Some(locked.map_or(t, |l| l.min(t))),
                state::Availability::Eligible | state::Availability::Resting => return (None, None),
            }
        }
        (quota, locked)
    }

    /// Requests in flight per credential of `provider` (for tests and status output).
    pub fn active_counts(&self, provider: &str) -> Vec<u32> {
        self.providers
            .get(provider)
            .map(|p| p.lock().credentials.iter().map(|c| c.active).collect())
            .unwrap_or_default()
    }

    /// Records the outcome of a health probe of one credential (`keys test`), made without a
    /// lease: the same rules as a lease's success or final failure, credential-wide (a success
    /// lifts a lockout, an invalid key is locked out), persisted the same way. Not counted as
    /// usage. Returns the cooldown set, if any; unknown providers and credentials change nothing.
    pub fn record_probe(
        &self,
        provider: &str,
        credential: &CredentialId,
        outcome: Result<(), (ErrorClass, Option<Duration>)>,
    ) -> Option<Cooldown> {
        let pool = self.providers.get(provider)?;
        let index = pool.credentials.iter().position(|c| &c.id == credential)?;
        let now = Instant::now();
        let (cooldown, changes) = match outcome {
            Ok(()) => {
                let mut state = pool.lock();
                (None, apply_success(&mut state.credentials[index], pool.key_of(index), GLOBAL_SCOPE))
            }
            Err((class, retry_after)) => {
                let failure = state::Failure { class, retry_after, started: now, final_for_credential: true };
                pool.apply_failure(index, GLOBAL_SCOPE, failure, now)
            }
        };
        pool.persist(changes);
        pool.released.notify_waiters();
        cooldown
    }
}

fn decide(
    pool: &ProviderPool,
    state: &mut ProviderState,
    scope: &str,
    session: &str,
    excluded: &[CredentialId],
    sticky_wait_over: bool,
    now: Instant,
) -> Selection {
    let ttl = pool.settings.session_ttl;
    let key = (scope.to_string(), session.to_string());
    let sticky = match state.sticky.get(&key) {
        Some((index, last)) if now.duration_since(*last) < ttl => Some(*index),
        Some(_) => {
            state.sticky.remove(&key);
            None
        }
        None => None,
    };
    let fair_cycle = &pool.settings().fair_cycle;
    let marks = state.exhausted.get(fair_cycle.tracking_key(scope)).filter(|_| fair_cycle.enabled);
    let candidates: Vec<Candidate<'_>> = pool
        .credentials
        .iter()
        .zip(&state.credentials)
        .enumerate()
        .map(|(i, (c, s))| Candidate {
            id: &c.id,
            state: s,
            excluded: excluded.contains(&c.id) || c.needs_reauth(),
            exhausted: marks.is_some_and(|m| m.contains_key(&i)),
        })
        .collect();
    let ask = Ask { scope, sticky, sticky_wait_over, now };
    let mut rng = rand::rng();
    select(pool.settings(), &candidates, &ask, &mut || rng.random::<f64>())
}

/// Fair cycle: when every credential of a tier (of all tiers, cross-tier) is exhausted for the
/// scope's tracking key, or the cycle is older than its maximum length, the marks are cleared —
/// unless some cooldown of the group ends soon, in which case the reset waits for it.
fn reset_fair_cycle(pool: &ProviderPool, state: &mut ProviderState, scope: &str, now: Instant) -> Vec<StateChange> {
    let settings = &pool.settings().fair_cycle;
    let tracking = settings.tracking_key(scope);
    let Some(marks) = state.exhausted.get(tracking).filter(|m| settings.enabled && !m.is_empty()) else {
        return Vec::new();
    };
    let too_old = marks.values().min().is_some_and(|first| now.duration_since(*first) >= settings.duration);
    let mut groups: HashMap<u32, Vec<usize>> = HashMap::new();
    for (index, credential) in state.credentials.iter().enumerate() {
        let tier = if settings.cross_tier { 0 } else { credential.priority };
        groups.entry(tier).or_default().push(index);
    }
    let mut cleared = Vec::new();
    for members in groups.values() {
        let all_exhausted = members.iter().all(|i| marks.contains_key(i));
        let ending_soon = members.iter().any(|&i| match state.credentials[i].availability(scope, now) {
            state::Availability::CoolingUntil(t) | state::Availability::LockedUntil(t) => {
                t.saturating_duration_since(now) <= settings.reset_cooldown_threshold
            }
            _ => false,
        });
        if too_old || (all_exhausted && !ending_soon) {
            cleared.extend(members.iter().copied().filter(|i| marks.contains_key(i)));
        }
    }
    if cleared.is_empty() {
        return Vec::new();
    }
    if let Some(marks) = state.exhausted.get_mut(tracking) {
        marks.retain(|i, _| !cleared.contains(i));
    }
    tracing::info!(provider = %pool.provider, tracking, credentials = cleared.len(), "fair cycle reset");
    let credentials = cleared.iter().map(|&i| pool.credentials[i].id.as_str().to_string()).collect();
    vec![StateChange::ClearFairCycle { provider: pool.provider.clone(), tracking: tracking.to_string(), credentials }]
}

fn lease(
    pool: &Arc<ProviderPool>,
    state: &mut ProviderState,
    index: usize,
    scope: &str,
    session: &str,
    last_resort: bool,
    now: Instant,
) -> CredentialLease {
    let credential = &mut state.credentials[index];
    credential.active += 1;
    credential.record_start(scope, now);
    let settings = pool.settings();
    if settings.mode == RotationMode::Sequential || settings.session_affinity {
        if state.sticky.len() >= MAX_STICKY_ENTRIES {
            let ttl = pool.settings.session_ttl;
            state.sticky.retain(|_, (_, last)| now.duration_since(*last) < ttl);
            if state.sticky.len() >= MAX_STICKY_ENTRIES {
                state.sticky.clear();
            }
        }
        state.sticky.insert((scope.to_string(), session.to_string()), (index, now));
    }
    CredentialLease {
        pool: pool.clone(),
        index,
        credential: pool.credentials[index].clone(),
        scope: scope.to_string(),
        started: now,
        last_resort,
        priced_as: None,
    }
}

/// The right to run one attempt on one credential. Dropping it — on success, error, client
/// disconnect or panic — releases the concurrency slot exactly once and wakes waiters.
pub struct CredentialLease {
    pool: Arc<ProviderPool>,
    index: usize,
    pub credential: Arc<Credential>,
    pub scope: String,
    /// When the attempt's lease began (stale failures do not climb the ladder).
    pub started: Instant,
    /// Picked although resting after transient failures: no same-credential retry.
    pub last_resort: bool,
    /// The `provider/model` the attempt runs, for pricing its usage (set by the engine).
    pub priced_as: Option<String>,
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
    pub fn record_success(&self, tokens: Option<TokenUsage>) {
        let now = Instant::now();
        let (mut changes, capped) = {
            let mut state = self.pool.lock();
            let credential = &mut state.credentials[self.index];
            let cleared = apply_success(credential, self.key(), &self.scope);
            let capped = self.apply_cap(credential, now);
            (cleared, capped)
        };
        let delta = UsageCounters { successes: 1, ..self.counted(&tokens.unwrap_or_default()) };
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

    /// One request with these tokens, priced at the list price of the bundled table (0 when the
    /// model is not in it).
    fn counted(&self, tokens: &TokenUsage) -> UsageCounters {
        let cost_usd = self.priced_as.as_deref().and_then(pricing::lookup).map_or(0.0, |info| {
            let output = tokens.completion + tokens.reasoning;
            pricing::cost(info, tokens.prompt, output, tokens.cache_read, tokens.cache_write)
        });
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
    pub fn record_cancelled(&self, tokens: TokenUsage) {
        self.persist(vec![self.usage_change(self.counted(&tokens))]);
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
        self.pool.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests;
