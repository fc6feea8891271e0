//! In-memory state store for tests: one mutex-guarded copy of the state that every `record`
//! changes at once. The folding rules (usage windows, replace/clear semantics) are the ones the
//! SQLite store applies, and [`fold_usage`] is shared with it so both stay identical.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::responses::StoredResponse;
use super::{
    CooldownRecord, CredentialKey, FairCycleRecord, LadderRecord, StateChange, StateSnapshot, StateStore, StoreError,
    UsageCounters, UsageRecord,
};

/// Folds one usage increment into the row of its (credential, scope), if any. A window that has
/// run its `window_ms` by `at_ms` restarts at `at_ms` with the delta; otherwise the delta is
/// added to it. Totals always grow; first/last use keep the earliest/latest time seen.
pub(crate) fn fold_usage(
    existing: Option<UsageRecord>,
    key: &CredentialKey,
    scope: &str,
    at_ms: i64,
    window_ms: i64,
    delta: &UsageCounters,
) -> UsageRecord {
    match existing {
        None => UsageRecord {
            key: key.clone(),
            scope: scope.to_owned(),
            window_start_ms: at_ms,
            window: *delta,
            total: *delta,
            first_used_ms: at_ms,
            last_used_ms: at_ms,
        },
        Some(mut row) => {
            if row.window_start_ms.saturating_add(window_ms) <= at_ms {
                row.window_start_ms = at_ms;
                row.window = *delta;
            } else {
                row.window.add(delta);
            }
            row.total.add(delta);
            row.first_used_ms = row.first_used_ms.min(at_ms);
            row.last_used_ms = row.last_used_ms.max(at_ms);
            row
        }
    }
}

type ScopeKey = (CredentialKey, String);

#[derive(Debug, Default)]
struct MemoryState {
    cooldowns: BTreeMap<ScopeKey, CooldownRecord>,
    /// Keyed by the ladder kind's name as well (the kind itself is not `Ord`).
    ladders: BTreeMap<(CredentialKey, String, &'static str), LadderRecord>,
    usage: BTreeMap<ScopeKey, UsageRecord>,
    fair_cycle: BTreeMap<(CredentialKey, String), FairCycleRecord>,
    responses: BTreeMap<String, StoredResponse>,
}

impl MemoryState {
    fn apply(&mut self, change: StateChange) {
        match change {
            StateChange::Cooldown(c) => {
                self.cooldowns.insert((c.key.clone(), c.scope.clone()), c);
            }
            StateChange::ClearCooldown { key, scope } => {
                self.cooldowns.remove(&(key, scope));
            }
            StateChange::Ladder(l) => {
                self.ladders.insert((l.key.clone(), l.scope.clone(), l.kind.as_str()), l);
            }
            StateChange::ClearLadders { key, scope } => {
                self.ladders.retain(|(k, s, _), _| *k != key || *s != scope);
            }
            StateChange::FairCycleExhausted(f) => {
                self.fair_cycle.insert((f.key.clone(), f.tracking.clone()), f);
            }
            StateChange::ClearFairCycle { provider, tracking, credentials } => {
                self.fair_cycle.retain(|(k, t), _| {
                    !(k.provider == provider && *t == tracking && credentials.contains(&k.credential))
                });
            }
            StateChange::Usage { key, scope, at_ms, window_ms, delta } => {
                let id = (key, scope);
                let existing = self.usage.remove(&id);
                let row = fold_usage(existing, &id.0, &id.1, at_ms, window_ms, &delta);
                self.usage.insert(id, row);
            }
        }
    }
}

/// A [`StateStore`] that lives and dies with the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<MemoryState>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl StateStore for MemoryStore {
    fn load(&self, now_ms: i64) -> Result<StateSnapshot, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.cooldowns.retain(|_, c| c.until_ms > now_ms);
        Ok(StateSnapshot {
            cooldowns: state.cooldowns.values().cloned().collect(),
            ladders: state.ladders.values().cloned().collect(),
            usage: state.usage.values().cloned().collect(),
            fair_cycle: state.fair_cycle.values().cloned().collect(),
        })
    }

    fn record(&self, changes: Vec<StateChange>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for change in changes {
            state.apply(change);
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn put_response(&self, response: StoredResponse, max: usize) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.responses.insert(response.id.clone(), response);
        while state.responses.len() > max.max(1) {
            let oldest = state.responses.values().min_by_key(|r| r.created_ms).map(|r| r.id.clone());
            let Some(oldest) = oldest else { break };
            state.responses.remove(&oldest);
        }
        Ok(())
    }

    fn get_response(&self, id: &str, now_ms: i64) -> Result<Option<StoredResponse>, StoreError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(state.responses.get(id).filter(|r| r.expires_ms > now_ms).cloned())
    }

    fn delete_response(&self, id: &str) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(state.responses.remove(id).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CooldownKindRecord, LadderRecordKind};

    fn key(credential: &str) -> CredentialKey {
        CredentialKey { provider: "openai".into(), credential: credential.into() }
    }

    fn cooldown(credential: &str, scope: &str, until_ms: i64) -> CooldownRecord {
        CooldownRecord {
            key: key(credential),
            scope: scope.into(),
            kind: CooldownKindRecord::Quota,
            reason: "rate_limit".into(),
            set_at_ms: 1_000,
            until_ms,
        }
    }

    fn ladder(scope: &str, kind: LadderRecordKind, step: u32) -> LadderRecord {
        LadderRecord { key: key("a"), scope: scope.into(), kind, step, last_failure_ms: 500 }
    }

    fn usage(at_ms: i64, requests: u64, prompt_tokens: u64) -> StateChange {
        let delta = UsageCounters { requests, successes: requests, prompt_tokens, cost_usd: 0.5, ..Default::default() };
        StateChange::Usage { key: key("a"), scope: "gpt-4o".into(), at_ms, window_ms: 1_000, delta }
    }

    #[test]
    fn round_trips_every_change_kind() {
        let store = MemoryStore::new();
        store.record(vec![
            StateChange::Cooldown(cooldown("a", "_global_", 10_000)),
            StateChange::Cooldown(cooldown("b", "gpt-4o", 10_000)),
            StateChange::Ladder(ladder("_global_", LadderRecordKind::Backoff, 2)),
            StateChange::Ladder(ladder("_global_", LadderRecordKind::Auth, 1)),
            usage(2_000, 1, 10),
        ]);
        let snap = store.load(5_000).unwrap();
        assert_eq!(snap.cooldowns, vec![cooldown("a", "_global_", 10_000), cooldown("b", "gpt-4o", 10_000)]);
        assert_eq!(snap.ladders.len(), 2);
        assert_eq!(snap.usage.len(), 1);
        assert_eq!(snap.usage[0].total.prompt_tokens, 10);

        store.record(vec![
            StateChange::ClearCooldown { key: key("a"), scope: "_global_".into() },
            StateChange::ClearLadders { key: key("a"), scope: "_global_".into() },
        ]);
        let snap = store.load(5_000).unwrap();
        assert_eq!(snap.cooldowns, vec![cooldown("b", "gpt-4o", 10_000)]);
        assert!(snap.ladders.is_empty());
        assert_eq!(snap.usage.len(), 1, "clearing cooldowns and ladders keeps usage");
    }

    #[test]
    fn cooldowns_and_ladders_are_replaced_per_scope_and_kind() {
        let store = MemoryStore::new();
        store.record(vec![
            StateChange::Cooldown(cooldown("a", "_global_", 10_000)),
            StateChange::Cooldown(cooldown("a", "_global_", 20_000)),
            StateChange::Ladder(ladder("_global_", LadderRecordKind::Backoff, 1)),
            StateChange::Ladder(ladder("_global_", LadderRecordKind::Backoff, 3)),
            StateChange::Ladder(ladder("other", LadderRecordKind::Backoff, 1)),
        ]);
        store.record(vec![StateChange::ClearLadders { key: key("a"), scope: "other".into() }]);
        let snap = store.load(0).unwrap();
        assert_eq!(snap.cooldowns, vec![cooldown("a", "_global_", 20_000)]);
        assert_eq!(snap.ladders, vec![ladder("_global_", LadderRecordKind::Backoff, 3)]);
    }

    #[test]
    fn usage_accumulates_within_window_and_restarts_after_it() {
        let store = MemoryStore::new();
        store.record(vec![usage(1_000, 1, 10), usage(1_999, 2, 5)]);
        let row = store.load(0).unwrap().usage.remove(0);
        assert_eq!((row.window_start_ms, row.window.requests, row.window.prompt_tokens), (1_000, 3, 15));

        store.record(vec![usage(2_000, 4, 1)]);
        let row = store.load(0).unwrap().usage.remove(0);
        assert_eq!((row.window_start_ms, row.window.requests, row.window.prompt_tokens), (2_000, 4, 1));
        assert_eq!((row.total.requests, row.total.prompt_tokens, row.total.successes), (7, 16, 7));
        assert!((row.total.cost_usd - 1.5).abs() < 1e-9);
        assert_eq!((row.first_used_ms, row.last_used_ms), (1_000, 2_000));
    }

    #[test]
    fn usage_keeps_earliest_first_use_and_latest_last_use() {
        let row = fold_usage(None, &key("a"), "m", 5_000, 10_000, &UsageCounters::default());
        let row = fold_usage(Some(row), &key("a"), "m", 4_000, 10_000, &UsageCounters::default());
        let row = fold_usage(Some(row), &key("a"), "m", 7_000, 10_000, &UsageCounters::default());
        assert_eq!((row.first_used_ms, row.last_used_ms, row.window_start_ms), (4_000, 7_000, 5_000));
    }

    #[test]
    fn expired_cooldowns_are_not_loaded() {
        let store = MemoryStore::new();
        store.record(vec![
            StateChange::Cooldown(cooldown("a", "_global_", 5_000)),
            StateChange::Cooldown(cooldown("b", "_global_", 5_001)),
        ]);
        let snap = store.load(5_000).unwrap();
        assert_eq!(snap.cooldowns, vec![cooldown("b", "_global_", 5_001)]);
        assert!(store.flush().is_ok());
    }
}
