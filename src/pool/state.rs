//! What the pool remembers about each credential: requests in flight, cooldowns per scope,
//! ladder positions, usage — and the rules that turn an attempt's outcome into a cooldown
//! (resilience specification §10). Pure: every function takes `now`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::settings::PoolSettings;
use crate::formats::failure::ErrorClass;

pub use crate::store::GLOBAL_SCOPE;

/// An hour without failures in a scope resets its ladder.
const LADDER_RESET_AFTER: Duration = Duration::from_secs(3600);
/// Rolling usage window (balanced selection, persisted windows).
pub const USAGE_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CooldownKind {
    /// (a) rate limit or quota: never attempted before it ends; may be waited for.
    Quota,
    /// (b) server or connection failures: attempted only as a last resort.
    TransientRest,
    /// (c) auth, forbidden, billing: never attempted; the first selection afterwards is a probe.
    Lockout,
}

impl CooldownKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quota => "cooldown",
            Self::TransientRest => "rest",
            Self::Lockout => "locked",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cooldown {
    /// The scope it was set for (`_global_` for credential-wide lockouts).
    pub scope: String,
    pub until: Instant,
    pub kind: CooldownKind,
    pub reason: ErrorClass,
    pub set_at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Ladder {
    step: usize,
    last_failure: Instant,
}

#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub requests: u64,
    pub window_start: Instant,
    pub last_used: Instant,
}

/// Everything the pool tracks for one credential.
#[derive(Debug, Clone)]
pub struct CredentialState {
    pub priority: u32,
    pub active: u32,
    /// Requests in flight on other instances as the shared store last reported them (always 0
    /// without a shared store).
    pub remote_active: u32,
    pub cooldowns: HashMap<String, Cooldown>,
    backoff: HashMap<String, Ladder>,
    auth: HashMap<String, Ladder>,
    usage: HashMap<String, Usage>,
}

/// How a credential stands for a scope at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Eligible,
    /// Eligible only as a last resort.
    Resting,
    /// Quota cooldown until the instant (may be waited for).
    CoolingUntil(Instant),
    /// Locked out until the instant (never waited for).
    LockedUntil(Instant),
}

impl CredentialState {
    pub fn new(priority: u32) -> Self {
        Self {
            priority,
            active: 0,
            remote_active: 0,
            cooldowns: HashMap::new(),
            backoff: HashMap::new(),
            auth: HashMap::new(),
            usage: HashMap::new(),
        }
    }

    /// Requests in flight on this credential, here and (as last known) on other instances.
    pub fn in_flight(&self) -> u32 {
        self.active.saturating_add(self.remote_active)
    }

    /// Whether the credential may be attempted for `scope` now.
    pub fn availability(&self, scope: &str, now: Instant) -> Availability {
        // The common case, and the one a pool of thousands of keys checks for each of them.
        if self.cooldowns.is_empty() {
            return Availability::Eligible;
        }
        let mut result = Availability::Eligible;
        for key in [GLOBAL_SCOPE, scope] {
            let Some(c) = self.cooldowns.get(key).filter(|c| c.until > now) else { continue };
            result = match (c.kind, result) {
                (CooldownKind::Lockout, Availability::LockedUntil(t)) => Availability::LockedUntil(t.max(c.until)),
                (CooldownKind::Lockout, _) => Availability::LockedUntil(c.until),
                (_, Availability::LockedUntil(t)) => Availability::LockedUntil(t),
                (CooldownKind::Quota, Availability::CoolingUntil(t)) => Availability::CoolingUntil(t.max(c.until)),
                (CooldownKind::Quota, _) => Availability::CoolingUntil(c.until),
                (CooldownKind::TransientRest, Availability::Eligible) => Availability::Resting,
                (CooldownKind::TransientRest, other) => other,
            };
        }
        result
    }

    /// How the credential stands overall (readiness, metrics): its credential-wide state, else
    /// the best of the scopes it has been used or cooled in — cooling only when every one of them
    /// is cooling.
    pub fn standing(&self, now: Instant) -> Availability {
        let mut scopes = self.usage.keys().chain(self.cooldowns.keys()).filter(|s| s.as_str() != GLOBAL_SCOPE);
        let Some(first) = scopes.next() else { return self.availability(GLOBAL_SCOPE, now) };
        let rank = |a: &Availability| match a {
            Availability::Eligible => 0,
            Availability::Resting => 1,
            Availability::CoolingUntil(_) => 2,
            Availability::LockedUntil(_) => 3,
        };
        std::iter::once(first)
            .chain(scopes)
            .map(|scope| self.availability(scope, now))
            .min_by_key(rank)
            .unwrap_or(Availability::Eligible)
    }

    /// Requests in the current usage window of `scope`.
    pub fn usage(&self, scope: &str, now: Instant) -> u64 {
        self.usage.get(scope).filter(|u| now.duration_since(u.window_start) < USAGE_WINDOW).map_or(0, |u| u.requests)
    }

    /// When the current usage window of `scope` ends.
    pub fn window_end(&self, scope: &str) -> Option<Instant> {
        self.usage.get(scope).map(|u| u.window_start + USAGE_WINDOW)
    }

    pub fn last_used(&self, scope: &str) -> Option<Instant> {
        self.usage.get(scope).map(|u| u.last_used)
    }

    /// A request started on this credential.
    pub fn record_start(&mut self, scope: &str, now: Instant) {
        let usage =
            self.usage.entry(scope.to_string()).or_insert(Usage { requests: 0, window_start: now, last_used: now });
        if now.duration_since(usage.window_start) >= USAGE_WINDOW {
            *usage = Usage { requests: 0, window_start: now, last_used: now };
        }
        usage.requests += 1;
        usage.last_used = now;
    }

    /// A success proves the credential works for the scope: its ladders and cooldown reset.
    pub fn record_success(&mut self, scope: &str) {
        self.backoff.remove(scope);
        self.auth.remove(scope);
        self.auth.remove(GLOBAL_SCOPE);
        self.cooldowns.remove(scope);
    }

    /// Applies a failed attempt's effect. A ladder climbs once per failure episode: the failure of
    /// an attempt that started before the current cooldown was set, and for the backoff ladder any
    /// failure while its cooldown is active (a resting credential tried as a last resort), belongs
    /// to the episode that set it — it does not climb, it can only extend the cooldown. `started` is when the attempt began;
    /// `final_for_credential` says the request gives up on this credential (transient rests are
    /// set only then). Returns the cooldown set.
    pub fn record_failure(
        &mut self,
        settings: &PoolSettings,
        scope: &str,
        failure: Failure,
        now: Instant,
    ) -> Option<Cooldown> {
        let Failure { class, retry_after, started, final_for_credential } = failure;
        let (kind, key, ladder_kind) = match class {
            ErrorClass::RateLimit | ErrorClass::Quota => (CooldownKind::Quota, scope, LadderKind::Backoff),
            ErrorClass::ServerError | ErrorClass::Connection if final_for_credential => {
                (CooldownKind::TransientRest, scope, LadderKind::Backoff)
            }
            ErrorClass::Auth | ErrorClass::Billing => (CooldownKind::Lockout, GLOBAL_SCOPE, LadderKind::Auth),
            ErrorClass::Forbidden => (CooldownKind::Lockout, scope, LadderKind::Auth),
            _ => return None,
        };
        let current = self.cooldowns.get(key).filter(|c| c.until > now).cloned();
        // A probe of a locked-out credential (`keys test`) is a new answer: only the backoff
        // ladder treats failures during its own cooldown as the same episode.
        let during = |c: &Cooldown| c.kind == kind && matches!(ladder_kind, LadderKind::Backoff);
        let stale = current.as_ref().is_some_and(|c| started < c.set_at || during(c));
        let (ladder, rungs) = match ladder_kind {
            LadderKind::Backoff => (&mut self.backoff, &settings.backoff_ladder),
            LadderKind::Auth => (&mut self.auth, &settings.auth_ladder),
        };
        let rung = climb(ladder, key, rungs.len(), stale, now);
        let duration = retry_after.unwrap_or(rungs[rung]).min(settings.max_cooldown).max(Duration::from_secs(1));
        let until = now + duration;
        if let Some(current) = current.filter(|c| c.until >= until && c.kind == kind) {
            return Some(current);
        }
        let cooldown = Cooldown { scope: key.to_string(), until, kind, reason: class, set_at: now };
        self.cooldowns.insert(key.to_string(), cooldown.clone());
        Some(cooldown)
    }

    /// The ladder position of a scope: (next step, last failure); `auth` picks the lockout ladder.
    pub fn ladder(&self, scope: &str, auth: bool) -> Option<(usize, Instant)> {
        let ladders = if auth { &self.auth } else { &self.backoff };
        ladders.get(scope).map(|l| (l.step, l.last_failure))
    }

    /// Puts back persisted state at start-up.
    pub fn restore_cooldown(&mut self, cooldown: Cooldown) {
        self.cooldowns.insert(cooldown.scope.clone(), cooldown);
    }

    pub fn restore_ladder(&mut self, scope: &str, auth: bool, step: usize, last_failure: Instant) {
        let ladders = if auth { &mut self.auth } else { &mut self.backoff };
        ladders.insert(scope.to_string(), Ladder { step, last_failure });
    }

    pub fn restore_usage(&mut self, scope: &str, requests: u64, window_start: Instant, last_used: Instant) {
        self.usage.insert(scope.to_string(), Usage { requests, window_start, last_used });
    }

    /// A cooldown another instance set: kept unless this one already rests as long or longer
    /// for the same reason kind (the later end wins, as in the shared store).
    pub fn merge_cooldown(&mut self, cooldown: Cooldown) {
        let keep =
            self.cooldowns.get(&cooldown.scope).is_some_and(|c| c.kind == cooldown.kind && c.until >= cooldown.until);
        if !keep {
            self.cooldowns.insert(cooldown.scope.clone(), cooldown);
        }
    }

    pub fn clear_cooldown(&mut self, scope: &str) {
        self.cooldowns.remove(scope);
    }

    /// A ladder position another instance reached: the higher step wins.
    pub fn merge_ladder(&mut self, scope: &str, auth: bool, step: usize, last_failure: Instant) {
        let ladders = if auth { &mut self.auth } else { &mut self.backoff };
        let entry = ladders.entry(scope.to_string()).or_insert(Ladder { step, last_failure });
        entry.step = entry.step.max(step);
        entry.last_failure = entry.last_failure.max(last_failure);
    }

    pub fn clear_ladders(&mut self, scope: &str) {
        self.backoff.remove(scope);
        self.auth.remove(scope);
    }

    /// A usage window as the shared store counts it (every instance's requests): a newer window
    /// replaces this one, the same window keeps the larger count.
    pub fn merge_usage(&mut self, scope: &str, requests: u64, window_start: Instant, last_used: Instant) {
        match self.usage.get_mut(scope) {
            Some(u) if window_start <= u.window_start + Duration::from_secs(1) => {
                u.requests = u.requests.max(requests);
                u.last_used = u.last_used.max(last_used);
            }
            _ => self.restore_usage(scope, requests, window_start, last_used),
        }
    }

    /// Forgets every cooldown and ladder position; returns the scopes that had any.
    pub fn reset(&mut self) -> Vec<String> {
        let mut scopes: Vec<String> =
            self.cooldowns.keys().chain(self.backoff.keys()).chain(self.auth.keys()).cloned().collect();
        scopes.sort();
        scopes.dedup();
        self.cooldowns.clear();
        self.backoff.clear();
        self.auth.clear();
        scopes
    }

    /// Active cooldowns (expired ones are dropped as a side effect).
    pub fn active_cooldowns(&mut self, now: Instant) -> impl Iterator<Item = (&String, &Cooldown)> {
        self.cooldowns.retain(|_, c| c.until > now);
        self.cooldowns.iter()
    }
}

/// One failed attempt, as the cooldown rules need it.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub class: ErrorClass,
    /// The upstream's own wait, when it named one.
    pub retry_after: Option<Duration>,
    /// When the attempt's lease began.
    pub started: Instant,
    /// The request gives up on this credential (transient rests are set only then).
    pub final_for_credential: bool,
}

#[derive(Clone, Copy)]
enum LadderKind {
    Backoff,
    Auth,
}

/// The rung to use for this failure: the next one, unless the failure is stale (same rung) or
/// the last failure is an hour old (start over).
fn climb(ladders: &mut HashMap<String, Ladder>, key: &str, rungs: usize, stale: bool, now: Instant) -> usize {
    let entry = ladders.entry(key.to_string()).or_insert(Ladder { step: 0, last_failure: now });
    if now.duration_since(entry.last_failure) >= LADDER_RESET_AFTER {
        entry.step = 0;
    }
    let rung = if stale { entry.step.saturating_sub(1) } else { entry.step };
    if !stale {
        entry.step += 1;
    }
    entry.last_failure = now;
    rung.min(rungs - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(state: &mut CredentialState, class: ErrorClass, retry: Option<u64>, now: Instant) -> Duration {
        let settings = PoolSettings::default();
        let c = state
            .record_failure(
                &settings,
                "m",
                Failure {
                    class,
                    retry_after: retry.map(Duration::from_secs),
                    started: now,
                    final_for_credential: true,
                },
                now,
            )
            .unwrap();
        c.until - now
    }

    #[test]
    fn backoff_ladder_escalates_per_failure_episode_and_resets_on_success() {
        let mut now = Instant::now();
        let mut s = CredentialState::new(10);
        let mut steps = Vec::new();
        for _ in 0..7 {
            let cooldown = fail(&mut s, ErrorClass::RateLimit, None, now);
            steps.push(cooldown.as_secs());
            // The next failure comes after this cooldown: a new episode.
            now += cooldown + Duration::from_secs(1);
        }
        assert_eq!(steps, [10, 30, 60, 120, 300, 300, 300]);
        s.record_success("m");
        assert_eq!(fail(&mut s, ErrorClass::RateLimit, None, now).as_secs(), 10);
    }

    #[test]
    fn failures_of_a_resting_credential_used_as_last_resort_do_not_climb() {
        let t0 = Instant::now();
        let mut s = CredentialState::new(10);
        assert_eq!(fail(&mut s, ErrorClass::ServerError, None, t0).as_secs(), 10);
        // Leased and failed again while resting (nothing else was free): same episode, extended.
        for ms in [200, 900, 2500] {
            let at = t0 + Duration::from_millis(ms);
            assert_eq!(fail(&mut s, ErrorClass::ServerError, None, at), Duration::from_secs(10), "at {ms} ms");
        }
        // After the rest, a new failure is a new episode.
        assert_eq!(fail(&mut s, ErrorClass::ServerError, None, t0 + Duration::from_secs(13)).as_secs(), 30);
    }

    #[test]
    fn upstream_retry_information_sets_the_duration_and_still_climbs() {
        let t0 = Instant::now();
        let mut s = CredentialState::new(10);
        assert_eq!(fail(&mut s, ErrorClass::Quota, Some(2), t0).as_secs(), 2);
        assert_eq!(fail(&mut s, ErrorClass::Quota, None, t0 + Duration::from_secs(3)).as_secs(), 30);
    }

    #[test]
    fn a_burst_of_parallel_failures_escalates_once() {
        let settings = PoolSettings::default();
        let t0 = Instant::now();
        let mut s = CredentialState::new(10);
        let first_at = t0 + Duration::from_millis(100);
        let first = s
            .record_failure(
                &settings,
                "m",
                Failure { class: ErrorClass::RateLimit, retry_after: None, started: t0, final_for_credential: true },
                first_at,
            )
            .unwrap();
        let later = t0 + Duration::from_millis(200);
        // Started before the cooldown was set: same rung (10 s), only extended to the later end.
        let second = s
            .record_failure(
                &settings,
                "m",
                Failure { class: ErrorClass::RateLimit, retry_after: None, started: t0, final_for_credential: true },
                later,
            )
            .unwrap();
        assert_eq!(first.until - first_at, Duration::from_secs(10));
        assert_eq!(second.until - later, Duration::from_secs(10));
        assert_eq!(fail(&mut s, ErrorClass::RateLimit, None, t0 + Duration::from_secs(11)).as_secs(), 30);
    }

    #[test]
    fn ladder_restarts_after_an_hour_without_failures() {
        let t0 = Instant::now();
        let mut s = CredentialState::new(10);
        fail(&mut s, ErrorClass::RateLimit, None, t0);
        fail(&mut s, ErrorClass::RateLimit, None, t0 + Duration::from_secs(20));
        assert_eq!(fail(&mut s, ErrorClass::RateLimit, None, t0 + Duration::from_secs(3700)).as_secs(), 10);
    }

    #[test]
    fn auth_failures_lock_the_whole_credential_on_the_auth_ladder() {
        let t0 = Instant::now();
        let mut s = CredentialState::new(10);
        assert_eq!(fail(&mut s, ErrorClass::Auth, None, t0).as_secs(), 300);
        assert_eq!(s.availability("other-model", t0), Availability::LockedUntil(t0 + Duration::from_secs(300)));
        let probe = t0 + Duration::from_secs(301);
        assert_eq!(s.availability("m", probe), Availability::Eligible, "eligible again: the next use is a probe");
        assert_eq!(fail(&mut s, ErrorClass::Auth, None, probe).as_secs(), 1800);
    }

    #[test]
    fn transient_rests_are_last_resort_and_only_when_giving_up() {
        let settings = PoolSettings::default();
        let t0 = Instant::now();
        let mut s = CredentialState::new(10);
        assert!(
            s.record_failure(
                &settings,
                "m",
                Failure { class: ErrorClass::ServerError, retry_after: None, started: t0, final_for_credential: false },
                t0
            )
            .is_none()
        );
        s.record_failure(
            &settings,
            "m",
            Failure { class: ErrorClass::ServerError, retry_after: None, started: t0, final_for_credential: true },
            t0,
        )
        .unwrap();
        assert_eq!(s.availability("m", t0), Availability::Resting);
        assert_eq!(s.availability("other", t0), Availability::Eligible, "scoped to the model");
    }

    #[test]
    fn client_errors_and_overload_change_nothing() {
        let settings = PoolSettings::default();
        let t0 = Instant::now();
        let mut s = CredentialState::new(10);
        for class in [ErrorClass::ClientError, ErrorClass::ContextWindow, ErrorClass::Overloaded] {
            assert!(
                s.record_failure(
                    &settings,
                    "m",
                    Failure { class, retry_after: None, started: t0, final_for_credential: true },
                    t0
                )
                .is_none()
            );
        }
        assert_eq!(s.availability("m", t0), Availability::Eligible);
    }

    #[test]
    fn usage_counts_in_a_rolling_window() {
        let t0 = Instant::now();
        let mut s = CredentialState::new(10);
        s.record_start("m", t0);
        s.record_start("m", t0 + Duration::from_secs(5));
        assert_eq!(s.usage("m", t0 + Duration::from_secs(6)), 2);
        assert_eq!(s.usage("m", t0 + USAGE_WINDOW), 0);
    }
}
