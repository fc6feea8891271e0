//! The pool with a shared store: the ranked lease request (one round trip per acquire, in which
//! the store also keeps out candidates it knows to be cooling), what the store's answer teaches
//! the local state, and the listener that merges other instances' events
//! (cooldowns, ladders, fair-cycle marks, usage windows, released slots) into it.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use super::persist::{WallClock, cooldown_of, merge};
use super::select::Selection;
use super::{CredentialLease, ProviderPool, ProviderState, RotationMode, decide, lease};
use crate::auth::CredentialId;
use crate::store::shared::{LeaseAnswer, LeaseAsk, LeaseCandidate, SharedEvent, StickyAsk};
use crate::store::{self, CooldownRecord, LadderRecordKind, StateChange, StateSnapshot};

/// Candidates sent with one lease request at most (the store tries them in order).
const MAX_RANKED: usize = 16;
/// A request waiting for a slot held by another instance asks the store again after this long
/// when no release event came (the holder may have died: its lease expires without one).
pub(super) const RECHECK_BUSY: Duration = Duration::from_millis(500);

/// Ranked candidates: index, and whether it would be picked as a last resort.
pub(super) type Ranked = Vec<(usize, bool)>;

/// The candidates in the order the pool would take them, `first` (its own pick) first.
pub(super) fn rank(
    pool: &ProviderPool,
    state: &mut ProviderState,
    scope: &str,
    session: &str,
    excluded: &[CredentialId],
    first: (usize, bool),
    now: Instant,
) -> Ranked {
    let mut ranked = vec![first];
    let mut skip: Vec<CredentialId> = excluded.to_vec();
    skip.push(pool.credentials[first.0].id.clone());
    while ranked.len() < MAX_RANKED {
        match decide(pool, state, scope, session, &skip, true, now) {
            Selection::Pick { index, last_resort } => {
                ranked.push((index, last_resort));
                skip.push(pool.credentials[index].id.clone());
            }
            _ => break,
        }
    }
    ranked
}

/// Asks the store for the first ranked candidate with a free slot. `Err` carries the selection
/// made again with what the store reported (busy, wait for the sticky credential, or a pick when
/// a slot was freed meanwhile). An unreachable store leases the local pick, as without one.
pub(super) async fn acquire(
    pool: &Arc<ProviderPool>,
    ranked: &Ranked,
    scope: &str,
    session: &str,
    excluded: &[CredentialId],
    sticky_wait_over: bool,
) -> Result<CredentialLease, Selection> {
    let Some(coordinator) = pool.shared.clone() else {
        return Err(Selection::Busy);
    };
    let settings = pool.settings();
    let candidates: Vec<LeaseCandidate<'_>> = {
        let state = pool.lock();
        ranked
            .iter()
            .map(|&(i, last_resort)| LeaseCandidate {
                credential: pool.credentials[i].id.as_str(),
                max: settings.effective_max(state.credentials[i].priority),
                last_resort,
            })
            .collect()
    };
    let sticky = (settings.mode == RotationMode::Sequential || settings.session_affinity).then(|| StickyAsk {
        session,
        ttl: pool.settings.session_ttl,
        wait: !sticky_wait_over,
    });
    let ask = LeaseAsk { provider: &pool.provider, scope, now_ms: store::now_ms(), candidates, sticky };
    let answer = coordinator.acquire(ask).await;
    let now = Instant::now();
    let mut state = pool.lock();
    match answer {
        Ok(LeaseAnswer::Leased { index, lease: id, in_flight, cooldowns }) => {
            let (chosen, last_resort) = ranked[index];
            learn(pool, &mut state, ranked, &in_flight, &cooldowns, Some(chosen));
            Ok(lease(pool, &mut state, chosen, scope, session, last_resort, id, now))
        }
        Ok(LeaseAnswer::Full { sticky, in_flight, cooldowns }) => {
            learn(pool, &mut state, ranked, &in_flight, &cooldowns, None);
            // The session is bound to that credential on another instance: wait for it here too.
            if let Some(s) = sticky {
                state.sticky.insert((scope.to_string(), session.to_string()), (ranked[s].0, now));
            }
            Err(decide(pool, &mut state, scope, session, excluded, sticky_wait_over, now))
        }
        // Logged (once) by the store; requests never fail because it is down.
        Err(_) => {
            let (chosen, last_resort) = ranked[0];
            Ok(lease(pool, &mut state, chosen, scope, session, last_resort, None, now))
        }
    }
}

/// Records how many requests other instances have in flight per candidate, and the cooldowns
/// the store holds for them (another instance's, perhaps not announced here yet). `leased` is
/// about to count one more locally, which the store's count already includes.
fn learn(
    pool: &ProviderPool,
    state: &mut ProviderState,
    ranked: &Ranked,
    in_flight: &[Option<u32>],
    cooldowns: &[CooldownRecord],
    leased: Option<usize>,
) {
    for (&(index, _), count) in ranked.iter().zip(in_flight) {
        let Some(count) = count else { continue };
        let credential = &mut state.credentials[index];
        let local = credential.active + u32::from(leased == Some(index));
        credential.remote_active = count.saturating_sub(local);
    }
    if !cooldowns.is_empty() {
        let clock = WallClock::now();
        for record in cooldowns {
            merge_cooldown(pool, state, record, &clock);
        }
    }
}

/// Another instance's cooldown, into the credential's state.
fn merge_cooldown(pool: &ProviderPool, state: &mut ProviderState, record: &CooldownRecord, clock: &WallClock) {
    if let Some(i) = pool.index_of(&record.key.credential) {
        state.credentials[i].merge_cooldown(cooldown_of(record, clock));
    }
}

/// Forgets what other instances were last seen holding, so the next decision asks the store.
pub(super) fn forget_remote_counts(pool: &ProviderPool) {
    for credential in &mut pool.lock().credentials {
        credential.remote_active = 0;
    }
}

/// Starts applying the coordinator's `events` (a receiver taken before the pools read their
/// snapshot) to the pools. Needs a Tokio runtime; some synchronous callers have none and keep
/// the state they loaded.
pub(super) fn spawn_listener(
    providers: &HashMap<String, Arc<ProviderPool>>,
    mut events: broadcast::Receiver<SharedEvent>,
) -> Option<tokio::task::JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let pools: HashMap<String, Weak<ProviderPool>> =
        providers.iter().map(|(name, pool)| (name.clone(), Arc::downgrade(pool))).collect();
    Some(runtime.spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => apply(&pools, event),
                // Missed events are made good by the store's next resynchronisation.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    }))
}

fn apply(pools: &HashMap<String, Weak<ProviderPool>>, event: SharedEvent) {
    let pool_of = |provider: &str| pools.get(provider).and_then(Weak::upgrade);
    match event {
        SharedEvent::Change(change) => {
            let provider = match &change {
                StateChange::Cooldown(c) => &c.key.provider,
                StateChange::ClearCooldown { key, .. } | StateChange::ClearLadders { key, .. } => &key.provider,
                StateChange::Ladder(l) => &l.key.provider,
                StateChange::FairCycleExhausted(f) => &f.key.provider,
                StateChange::ClearFairCycle { provider, .. } => provider,
                StateChange::Usage { .. } => return,
            };
            if let Some(pool) = pool_of(provider) {
                apply_change(&pool, change);
            }
        }
        SharedEvent::Released { provider, credential } => {
            let Some(pool) = pool_of(&provider) else { return };
            if let Some(index) = pool.index_of(&credential) {
                let remote = &mut pool.lock().credentials[index].remote_active;
                *remote = remote.saturating_sub(1);
            }
            pool.released.notify_waiters();
        }
        SharedEvent::Usage(rows) => {
            let snapshot = StateSnapshot { usage: rows, ..StateSnapshot::default() };
            for pool in pools.values().filter_map(Weak::upgrade) {
                merge_snapshot(&pool, &snapshot, false);
            }
        }
        SharedEvent::Resynced(snapshot) => {
            for pool in pools.values().filter_map(Weak::upgrade) {
                merge_snapshot(&pool, &snapshot, true);
                pool.released.notify_waiters();
            }
        }
    }
}

fn merge_snapshot(pool: &ProviderPool, snapshot: &StateSnapshot, complete: bool) {
    let clock = WallClock::now();
    let mut state = pool.lock();
    for (index, c) in pool.credentials.iter().enumerate() {
        let credential = &mut state.credentials[index];
        merge(credential, &pool.provider, c.id.as_str(), snapshot, &clock);
        if complete {
            credential.remote_active = 0;
        }
    }
    for f in snapshot.fair_cycle.iter().filter(|f| f.key.provider == pool.provider) {
        if let Some(index) = pool.index_of(&f.key.credential) {
            state
                .exhausted
                .entry(f.tracking.clone())
                .or_default()
                .entry(index)
                .or_insert(clock.instant_of(f.exhausted_at_ms));
        }
    }
}

fn apply_change(pool: &ProviderPool, change: StateChange) {
    let clock = WallClock::now();
    let mut state = pool.lock();
    match change {
        StateChange::Cooldown(record) => merge_cooldown(pool, &mut state, &record, &clock),
        StateChange::ClearCooldown { key, scope } => {
            if let Some(i) = pool.index_of(&key.credential) {
                state.credentials[i].clear_cooldown(&scope);
            }
            drop(state);
            pool.released.notify_waiters();
        }
        StateChange::Ladder(record) => {
            if let Some(i) = pool.index_of(&record.key.credential) {
                let step = usize::try_from(record.step).unwrap_or(usize::MAX);
                let last = clock.instant_of(record.last_failure_ms);
                state.credentials[i].merge_ladder(&record.scope, record.kind == LadderRecordKind::Auth, step, last);
            }
        }
        StateChange::ClearLadders { key, scope } => {
            if let Some(i) = pool.index_of(&key.credential) {
                state.credentials[i].clear_ladders(&scope);
            }
        }
        StateChange::FairCycleExhausted(record) => {
            if let Some(i) = pool.index_of(&record.key.credential) {
                let at = clock.instant_of(record.exhausted_at_ms);
                state.exhausted.entry(record.tracking).or_default().insert(i, at);
            }
        }
        StateChange::ClearFairCycle { tracking, credentials, .. } => {
            let cleared: Vec<usize> = credentials.iter().filter_map(|c| pool.index_of(c)).collect();
            if let Some(marks) = state.exhausted.get_mut(&tracking) {
                marks.retain(|i, _| !cleared.contains(i));
            }
        }
        StateChange::Usage { .. } => {}
    }
}

#[cfg(test)]
mod tests;
