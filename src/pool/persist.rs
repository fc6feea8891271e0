//! The boundary between the pool's monotonic clock and persisted records: converting instants
//! to unix milliseconds and back, and putting a snapshot back into credential state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::state::{Cooldown, CooldownKind, CredentialState};
use crate::auth::Credential;
use crate::formats::failure::ErrorClass;
use crate::store::{self, CooldownKindRecord, CooldownRecord, CredentialKey, LadderRecordKind, StateSnapshot};

/// Fair-cycle marks of one provider's credentials, by tracking key.
pub(super) fn restore_fair_cycle(
    provider: &str,
    credentials: &[Arc<Credential>],
    snapshot: &StateSnapshot,
    clock: &WallClock,
) -> HashMap<String, HashMap<usize, Instant>> {
    let mut marks: HashMap<String, HashMap<usize, Instant>> = HashMap::new();
    for f in snapshot.fair_cycle.iter().filter(|f| f.key.provider == provider) {
        if let Some(index) = credentials.iter().position(|c| c.id.as_str() == f.key.credential) {
            marks.entry(f.tracking.clone()).or_default().insert(index, clock.instant_of(f.exhausted_at_ms));
        }
    }
    marks
}

/// Converts between the pool's monotonic instants and persisted unix milliseconds.
pub(super) struct WallClock {
    at: Instant,
    pub(super) ms: i64,
}

impl WallClock {
    pub(super) fn now() -> Self {
        Self { at: Instant::now(), ms: store::now_ms() }
    }

    pub(super) fn ms_of(&self, instant: Instant) -> i64 {
        let delta = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if instant >= self.at {
            self.ms.saturating_add(delta(instant - self.at))
        } else {
            self.ms.saturating_sub(delta(self.at - instant))
        }
    }

    pub(super) fn instant_of(&self, ms: i64) -> Instant {
        let offset = Duration::from_millis(ms.abs_diff(self.ms));
        if ms >= self.ms { self.at + offset } else { self.at.checked_sub(offset).unwrap_or(self.at) }
    }
}

pub(super) fn kind_record(kind: CooldownKind) -> CooldownKindRecord {
    match kind {
        CooldownKind::Quota => CooldownKindRecord::Quota,
        CooldownKind::TransientRest => CooldownKindRecord::TransientRest,
        CooldownKind::Lockout => CooldownKindRecord::Lockout,
    }
}

/// A persisted cooldown on the pool's clock.
pub(super) fn cooldown_of(c: &CooldownRecord, clock: &WallClock) -> Cooldown {
    let kind = match c.kind {
        CooldownKindRecord::Quota => CooldownKind::Quota,
        CooldownKindRecord::TransientRest => CooldownKind::TransientRest,
        CooldownKindRecord::Lockout => CooldownKind::Lockout,
    };
    // A cap's cooldown (and any reason a newer build wrote) rests like a quota cooldown.
    let reason = ErrorClass::parse(&c.reason).unwrap_or(ErrorClass::Quota);
    Cooldown {
        scope: c.scope.clone(),
        until: clock.instant_of(c.until_ms),
        kind,
        reason,
        set_at: clock.instant_of(c.set_at_ms),
    }
}

/// Merges what the shared store holds for one credential into its state (another instance's
/// cooldowns, ladders and the shared usage windows): the later cooldown, the higher step and the
/// larger count win, so applying it twice changes nothing.
pub(super) fn merge(
    state: &mut CredentialState,
    provider: &str,
    id: &str,
    snapshot: &StateSnapshot,
    clock: &WallClock,
) {
    let mine = |key: &CredentialKey| key.provider == provider && key.credential == id;
    for c in snapshot.cooldowns.iter().filter(|c| mine(&c.key)) {
        state.merge_cooldown(cooldown_of(c, clock));
    }
    for l in snapshot.ladders.iter().filter(|l| mine(&l.key)) {
        let step = usize::try_from(l.step).unwrap_or(usize::MAX);
        state.merge_ladder(&l.scope, l.kind == LadderRecordKind::Auth, step, clock.instant_of(l.last_failure_ms));
    }
    for u in snapshot.usage.iter().filter(|u| mine(&u.key)) {
        let window_start = clock.instant_of(u.window_start_ms);
        state.merge_usage(&u.scope, u.window.requests, window_start, clock.instant_of(u.last_used_ms));
    }
}

/// Puts a credential's persisted cooldowns, ladders and usage window back into its state.
pub(super) fn restore(
    state: &mut CredentialState,
    provider: &str,
    id: &str,
    snapshot: &StateSnapshot,
    clock: &WallClock,
) {
    let mine = |key: &CredentialKey| key.provider == provider && key.credential == id;
    for c in snapshot.cooldowns.iter().filter(|c| mine(&c.key)) {
        state.restore_cooldown(cooldown_of(c, clock));
    }
    for l in snapshot.ladders.iter().filter(|l| mine(&l.key)) {
        let step = usize::try_from(l.step).unwrap_or(usize::MAX);
        state.restore_ladder(&l.scope, l.kind == LadderRecordKind::Auth, step, clock.instant_of(l.last_failure_ms));
    }
    for u in snapshot.usage.iter().filter(|u| mine(&u.key)) {
        let window_start = clock.instant_of(u.window_start_ms);
        state.restore_usage(&u.scope, u.window.requests, window_start, clock.instant_of(u.last_used_ms));
    }
}
