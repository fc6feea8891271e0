//! The selection decision (resilience specification §3–§4): which credential of a provider to
//! attempt now for a scope, or why none can be. Pure: state and `now` in, decision out.

use tokio::time::Instant;

use super::settings::{ProviderPoolSettings, RotationMode};
use super::state::{Availability, CredentialState};
use crate::auth::CredentialId;

/// One credential as the selector sees it.
pub struct Candidate<'a> {
    pub id: &'a CredentialId,
    pub state: &'a CredentialState,
    /// Already given up on by this request.
    pub excluded: bool,
    /// Used up in the current fair cycle: skipped until its tier is used up too.
    pub exhausted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Attempt this credential (`last_resort`: it is resting after transient failures).
    Pick { index: usize, last_resort: bool },
    /// The sticky credential is eligible but at its limit: wait for it (bounded).
    WaitForSticky { index: usize },
    /// Eligible credentials exist but every one is at its limit: wait for a release.
    Busy,
    /// Nothing can be attempted: when the soonest quota cooldown and lockout end (over every
    /// credential), and when the soonest quota cooldown of a credential this request has not
    /// given up on ends (the only kind worth waiting for).
    Unavailable { quota_until: Option<Instant>, locked_until: Option<Instant>, waitable_until: Option<Instant> },
}

/// What the request asks for.
pub struct Ask<'a> {
    pub scope: &'a str,
    /// The credential this session is bound to, if any.
    pub sticky: Option<usize>,
    /// The request already waited its share for the sticky credential.
    pub sticky_wait_over: bool,
    pub now: Instant,
}

pub fn select(
    settings: &ProviderPoolSettings,
    candidates: &[Candidate<'_>],
    ask: &Ask<'_>,
    uniform: &mut dyn FnMut() -> f64,
) -> Selection {
    let mut free = Vec::new();
    let mut resting_free = Vec::new();
    let mut busy = false;
    let mut quota_until: Option<Instant> = None;
    let mut locked_until: Option<Instant> = None;
    let mut waitable_until: Option<Instant> = None;
    let earliest = |slot: &mut Option<Instant>, t: Instant| *slot = Some(slot.map_or(t, |s| s.min(t)));
    for (index, c) in candidates.iter().enumerate() {
        let availability = c.state.availability(ask.scope, ask.now);
        match availability {
            Availability::CoolingUntil(t) => {
                earliest(&mut quota_until, t);
                if !c.excluded {
                    earliest(&mut waitable_until, t);
                }
            }
            Availability::LockedUntil(t) => earliest(&mut locked_until, t),
            Availability::Eligible | Availability::Resting if c.excluded || c.exhausted => {}
            Availability::Eligible | Availability::Resting => {
                let at_limit = settings.effective_max(c.state.priority).is_some_and(|max| c.state.in_flight() >= max);
                if at_limit {
                    busy = true;
                    if ask.sticky == Some(index) && !ask.sticky_wait_over && availability == Availability::Eligible {
                        return Selection::WaitForSticky { index };
                    }
                } else if availability == Availability::Eligible {
                    free.push(index);
                } else {
                    resting_free.push(index);
                }
            }
        }
    }
    if let Some(index) = choose(settings, candidates, &free, ask, uniform) {
        return Selection::Pick { index, last_resort: false };
    }
    if busy {
        return Selection::Busy;
    }
    if let Some(index) = choose(settings, candidates, &resting_free, ask, uniform) {
        return Selection::Pick { index, last_resort: true };
    }
    Selection::Unavailable { quota_until, locked_until, waitable_until }
}

/// Tier, then capacity phase, then the provider's strategy. The last tie-break is the order
/// credentials were configured in (`…_API_KEY_1` before `…_API_KEY_2`), which is stable across
/// restarts and what users expect, rather than the order of their hashed ids.
fn choose(
    settings: &ProviderPoolSettings,
    candidates: &[Candidate<'_>],
    pool: &[usize],
    ask: &Ask<'_>,
    uniform: &mut dyn FnMut() -> f64,
) -> Option<usize> {
    let best_tier = pool.iter().map(|&i| candidates[i].state.priority).min()?;
    let mut set: Vec<usize> = pool.iter().copied().filter(|&i| candidates[i].state.priority == best_tier).collect();
    if let Some(optimal) = settings.effective_optimal() {
        let under: Vec<usize> = set.iter().copied().filter(|&i| candidates[i].state.in_flight() < optimal).collect();
        if !under.is_empty() {
            set = under;
        }
    }
    let sticky_applies = settings.mode == RotationMode::Sequential || settings.session_affinity;
    if sticky_applies && let Some(sticky) = ask.sticky.filter(|s| set.contains(s)) {
        return Some(sticky);
    }
    let usage = |i: usize| candidates[i].state.usage(ask.scope, ask.now);
    let last_used = |i: usize| candidates[i].state.last_used(ask.scope);
    // Each candidate's usage is looked up once, not once per comparison.
    let keyed = |set: Vec<usize>| set.into_iter().map(|i| (i, usage(i), last_used(i)));
    match settings.mode {
        RotationMode::Sequential => keyed(set)
            .min_by(|(a, ua, la), (b, ub, lb)| ub.cmp(ua).then_with(|| lb.cmp(la)).then_with(|| a.cmp(b)))
            .map(|(i, _, _)| i),
        RotationMode::Balanced if settings.tolerance <= 0.0 => keyed(set)
            .min_by(|(a, ua, la), (b, ub, lb)| ua.cmp(ub).then_with(|| la.cmp(lb)).then_with(|| a.cmp(b)))
            .map(|(i, _, _)| i),
        RotationMode::Balanced => {
            let max = set.iter().map(|&i| usage(i)).max().unwrap_or(0);
            let weights: Vec<f64> =
                set.iter().map(|&i| ((max - usage(i)) as f64 + settings.tolerance + 1.0).max(0.1)).collect();
            let total: f64 = weights.iter().sum();
            let mut roll = uniform() * total;
            for (i, w) in set.iter().zip(&weights) {
                if roll < *w {
                    return Some(*i);
                }
                roll -= w;
            }
            set.last().copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Env;
    use crate::formats::failure::ErrorClass;
    use crate::pool::settings::PoolSettings;
    use crate::pool::state::Failure;

    fn provider(pairs: &[(&str, &str)]) -> ProviderPoolSettings {
        PoolSettings::from_env(&Env::from_pairs(pairs.iter().copied()), &["p"]).0.provider("p").clone()
    }

    /// A failed attempt after which the request gives up on the credential.
    fn give_up(state: &mut CredentialState, class: ErrorClass, retry_after: Option<Duration>, now: Instant) {
        let failure = Failure { class, retry_after, started: now, final_for_credential: true };
        state.record_failure(&PoolSettings::default(), "m", failure, now);
    }

    fn ids(n: usize) -> Vec<CredentialId> {
        (0..n).map(|i| CredentialId::for_api_key(&format!("key-{i}"))).collect()
    }

    fn run(
        settings: &ProviderPoolSettings,
        ids: &[CredentialId],
        states: &[CredentialState],
        excluded: &[usize],
        sticky: Option<usize>,
        now: Instant,
    ) -> Selection {
        let candidates: Vec<Candidate<'_>> = ids
            .iter()
            .zip(states)
            .enumerate()
            .map(|(i, (id, state))| Candidate { id, state, excluded: excluded.contains(&i), exhausted: false })
            .collect();
        let ask = Ask { scope: "m", sticky, sticky_wait_over: false, now };
        select(settings, &candidates, &ask, &mut || 0.5)
    }

    #[test]
    fn lower_priority_number_wins_and_lower_tiers_are_used_only_when_needed() {
        let s = provider(&[]);
        let ids = ids(2);
        let now = Instant::now();
        let states = vec![CredentialState::new(10), CredentialState::new(1)];
        assert_eq!(run(&s, &ids, &states, &[], None, now), Selection::Pick { index: 1, last_resort: false });
        assert_eq!(run(&s, &ids, &states, &[1], None, now), Selection::Pick { index: 0, last_resort: false });
    }

    #[test]
    fn sequential_stays_on_the_sticky_credential_then_on_the_most_used() {
        let s = provider(&[]);
        let ids = ids(3);
        let now = Instant::now();
        let mut states = vec![CredentialState::new(10), CredentialState::new(10), CredentialState::new(10)];
        states[2].record_start("m", now);
        assert_eq!(run(&s, &ids, &states, &[], Some(1), now), Selection::Pick { index: 1, last_resort: false });
        assert_eq!(run(&s, &ids, &states, &[], None, now), Selection::Pick { index: 2, last_resort: false });
    }

    #[test]
    fn busy_sticky_credential_is_waited_for_and_a_full_pool_is_busy() {
        let s = provider(&[("MAX_CONCURRENT_REQUESTS_PER_KEY_P", "1")]);
        let ids = ids(2);
        let now = Instant::now();
        let mut states = vec![CredentialState::new(10), CredentialState::new(10)];
        states[0].active = 1;
        assert_eq!(run(&s, &ids, &states, &[], Some(0), now), Selection::WaitForSticky { index: 0 });
        assert_eq!(run(&s, &ids, &states, &[], None, now), Selection::Pick { index: 1, last_resort: false });
        states[1].active = 1;
        assert_eq!(run(&s, &ids, &states, &[], None, now), Selection::Busy);
    }

    #[test]
    fn cooling_and_locked_credentials_are_reported_not_picked() {
        let s = provider(&[]);
        let ids = ids(2);
        let now = Instant::now();
        let mut states = vec![CredentialState::new(10), CredentialState::new(10)];
        give_up(&mut states[0], ErrorClass::RateLimit, Some(Duration::from_secs(7)), now);
        give_up(&mut states[1], ErrorClass::Auth, None, now);
        assert_eq!(
            run(&s, &ids, &states, &[], None, now),
            Selection::Unavailable {
                quota_until: Some(now + Duration::from_secs(7)),
                locked_until: Some(now + Duration::from_secs(300)),
                waitable_until: Some(now + Duration::from_secs(7)),
            }
        );
    }

    #[test]
    fn resting_credentials_are_a_last_resort() {
        let s = provider(&[]);
        let ids = ids(2);
        let now = Instant::now();
        let mut states = vec![CredentialState::new(10), CredentialState::new(10)];
        give_up(&mut states[0], ErrorClass::ServerError, None, now);
        states[0].record_start("m", now);
        assert_eq!(run(&s, &ids, &states, &[], None, now), Selection::Pick { index: 1, last_resort: false });
        assert_eq!(run(&s, &ids, &states, &[1], None, now), Selection::Pick { index: 0, last_resort: true });
    }

    #[test]
    fn balanced_with_zero_tolerance_picks_the_least_used() {
        let s = provider(&[
            ("ROTATION_MODE_P", "balanced"),
            ("ROTATION_TOLERANCE", "0"),
            ("OPTIMAL_CONCURRENT_REQUESTS_PER_KEY_P", "0"),
        ]);
        let ids = ids(3);
        let now = Instant::now();
        let mut states = vec![CredentialState::new(10), CredentialState::new(10), CredentialState::new(10)];
        states[0].record_start("m", now);
        states[2].record_start("m", now);
        assert_eq!(run(&s, &ids, &states, &[], None, now), Selection::Pick { index: 1, last_resort: false });
    }

    #[test]
    fn balanced_weights_follow_the_tolerance_formula() {
        // usages [0, 9], T = 3 → weights [13, 4]: a roll below 13/17 picks the first.
        let s = provider(&[("ROTATION_MODE_P", "balanced"), ("OPTIMAL_CONCURRENT_REQUESTS_PER_KEY_P", "0")]);
        let ids = ids(2);
        let now = Instant::now();
        let mut states = vec![CredentialState::new(10), CredentialState::new(10)];
        for _ in 0..9 {
            states[1].record_start("m", now);
        }
        let candidates: Vec<Candidate<'_>> = ids
            .iter()
            .zip(&states)
            .map(|(id, state)| Candidate { id, state, excluded: false, exhausted: false })
            .collect();
        let ask = Ask { scope: "m", sticky: None, sticky_wait_over: false, now };
        let pick = |roll: f64| select(&s, &candidates, &ask, &mut || roll);
        assert_eq!(pick(12.9 / 17.0), Selection::Pick { index: 0, last_resort: false });
        assert_eq!(pick(13.1 / 17.0), Selection::Pick { index: 1, last_resort: false });
    }

    #[test]
    fn capacity_phase_prefers_credentials_under_their_optimal_count() {
        let s = provider(&[("ROTATION_MODE_P", "balanced"), ("ROTATION_TOLERANCE", "0")]);
        let ids = ids(2);
        let now = Instant::now();
        let mut states = vec![CredentialState::new(10), CredentialState::new(10)];
        states[0].active = 1;
        states[1].record_start("m", now);
        assert_eq!(run(&s, &ids, &states, &[], None, now), Selection::Pick { index: 1, last_resort: false });
    }
}
