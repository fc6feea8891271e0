//! Which credential of a provider to use for the next attempt, and what the attempt's outcome
//! does to it: priority tiers, balanced or sequential rotation with session stickiness,
//! per-credential concurrency leases, cooldowns and lockouts (resilience specification §3–§5,
//! §10). Decisions are pure functions in `select` and `state`; this module adds the shared,
//! locked state and the event-driven waiting.
//!
//! With a shared store (several `serve` instances on one Redis) the pool stays the decision
//! maker and a cache: it ranks the candidates it would take and asks the store's coordinator for
//! the first with a free slot, in one round trip (`shared`); other instances' cooldowns, ladder
//! steps, fair-cycle marks, usage windows and released slots arrive as events and are merged into
//! the local state. Without one (or while it is unreachable) nothing of this runs.

pub mod caps;
mod carry;
mod lease;
mod persist;
pub mod report;
pub mod select;
pub mod settings;
mod shared;
pub mod standing;
pub mod state;
pub mod usage;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;
use tokio::time::{Instant, timeout_at};

use crate::auth::{Credential, CredentialId};
use crate::formats::failure::ErrorClass;
use crate::providers::Registry;
use crate::store::{
    CooldownRecord, CredentialKey, FairCycleRecord, LadderRecord, LadderRecordKind, StateChange, StateSnapshot,
    StateStore,
    shared::{Coordinator, SharedLeaseId},
};
pub use lease::CredentialLease;
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
    /// Applies other instances' events to the local state (shared store only).
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for CredentialPool {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
    }
}

struct ProviderPool {
    settings: Arc<PoolSettings>,
    /// Where cooldowns, ladders and usage are persisted (none in some tests).
    store: Option<Arc<dyn StateStore>>,
    /// Leases, sticky sessions and the final word on cooldowns, decided with other instances;
    /// `None` without a shared store.
    shared: Option<Arc<dyn Coordinator>>,
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

    /// The index of the credential with this stable id.
    fn index_of(&self, id: &str) -> Option<usize> {
        self.credentials.iter().position(|c| c.id.as_str() == id)
    }

    /// The coordinator to ask now: configured and reachable.
    fn shared_now(&self) -> Option<&Arc<dyn Coordinator>> {
        self.shared.as_ref().filter(|c| c.available())
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
            crate::telemetry::cooldown(&self.provider, c.kind.as_str());
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
        let coordinator = store.as_ref().and_then(|s| s.coordinator());
        // Listening starts before the snapshot is read: a change another instance makes in
        // between is in the snapshot, or among the events, or both (merging is idempotent).
        let events = coordinator.as_ref().map(|c| c.subscribe());
        let clock = WallClock::now();
        let snapshot = match store.as_ref().map(|s| s.load(clock.ms)) {
            Some(Ok(snapshot)) => snapshot,
            Some(Err(err)) => {
                tracing::warn!("cannot load persisted credential state, starting fresh: {err}");
                StateSnapshot::default()
            }
            None => StateSnapshot::default(),
        };
        if let Some(logins) = store.as_ref().and_then(|s| s.logins()) {
            for c in registry.providers().flat_map(|p| p.credentials.iter()) {
                if let Some(handle) = &c.oauth {
                    handle.share_through(logins.clone(), c.id.as_str());
                }
            }
        }
        let providers: HashMap<String, Arc<ProviderPool>> = registry
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
                    shared: coordinator.clone(),
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
        let listener = events.and_then(|events| shared::spawn_listener(&providers, events));
        Self { settings, providers, listener }
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

    /// Whether a request's session can change which credential serves it: some provider keeps
    /// conversations on one credential (sequential rotation or session affinity) and has more
    /// than one. When none does, callers may skip deriving the session key.
    pub fn uses_sessions(&self) -> bool {
        self.providers.values().any(|pool| {
            let settings = pool.settings();
            pool.credentials.len() > 1 && (settings.mode == RotationMode::Sequential || settings.session_affinity)
        })
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
            let sticky_wait_over = now >= sticky_until;
            let (decision, leased, ranked, changes) = {
                let mut state = pool.lock();
                let changes = reset_fair_cycle(pool, &mut state, scope, now);
                let selection = decide(pool, &mut state, scope, session, excluded, sticky_wait_over, now);
                let (leased, ranked) = match selection {
                    // Shared: the slot is taken in the store, from a ranked list (one round trip).
                    Selection::Pick { index, last_resort } if pool.shared_now().is_some() => {
                        let first = (index, last_resort);
                        (None, Some(shared::rank(pool, &mut state, scope, session, excluded, first, now)))
                    }
                    Selection::Pick { index, last_resort } => {
                        (Some(lease(pool, &mut state, index, scope, session, last_resort, None, now)), None)
                    }
                    _ => (None, None),
                };
                (selection, leased, ranked, changes)
            };
            pool.persist(changes);
            if let Some(lease) = leased {
                return Ok(lease);
            }
            let decision = match ranked {
                Some(ranked) => {
                    match shared::acquire(pool, &ranked, scope, session, excluded, sticky_wait_over).await {
                        Ok(lease) => return Ok(lease),
                        Err(next) => next,
                    }
                }
                None => decision,
            };
            let wait_until = match decision {
                // A slot was freed while the store was asked.
                Selection::Pick { .. } => continue,
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
            // Other instances' releases arrive as events; one lost (a crashed instance's lease
            // expiring says nothing) is caught by asking the store again after a while.
            let recheck = pool.shared_now().map(|_| Instant::now() + shared::RECHECK_BUSY);
            if timeout_at(recheck.map_or(wait_until, |r| r.min(wait_until)), released).await.is_err() {
                if Instant::now() >= deadline {
                    return Err(NoCredential::Busy);
                }
                if recheck.is_some() {
                    shared::forget_remote_counts(pool);
                }
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

#[allow(clippy::too_many_arguments)]
fn lease(
    pool: &Arc<ProviderPool>,
    state: &mut ProviderState,
    index: usize,
    scope: &str,
    session: &str,
    last_resort: bool,
    shared: Option<SharedLeaseId>,
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
        shared,
    }
}

#[cfg(test)]
mod tests;
